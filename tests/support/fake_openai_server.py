"""A small OpenAI-compatible server on 127.0.0.1 that answers from a per-test script.

It behaves as real local servers do where igent must cope: it streams in chunks, reports
usage (also in streams when ``stream_options.include_usage`` is set, cached tokens
included), refuses a request larger than its context window the way llama.cpp does, can
cancel a running request when a new one arrives (llama-cpp-python's server), and can hold a
reply open until the client goes away. It counts what happened on its side: requests
started, completed and cancelled (the client closed the connection first).

    with FakeOpenAIServer() as server:
        server.script(Reply('{"supplier_id": "S1"}'), Reply(hold_after_chunks=0))
        endpoint = server.endpoint()

A reply in the script is a `Reply`, a plain string, or a function of the request body
returning either; when the script runs out, ``default`` answers.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from igent.llm import Endpoint


@dataclass
class Reply:
    """One scripted answer."""

    text: str = ""
    status: int = 200
    error: str = "scripted error"
    """The error message of a non-200 reply."""
    chunk_chars: int = 4
    prompt_tokens: int | None = None
    """Reported prompt tokens; None = about four characters per token of the prompt."""
    completion_tokens: int | None = None
    cached_tokens: int = 0
    hold_after_chunks: int | None = None
    """Send this many content chunks, then hold the reply open until the client goes away."""
    finish: bool = True
    """False: send the content, then drop the connection without finishing the reply."""
    usage: bool = True
    """Report usage (in a stream only when the client asked with include_usage)."""


Script = Reply | str | Callable[[dict[str, Any]], "Reply | str"]


def echo_prompt(body: dict[str, Any]) -> Reply:
    """Answer with the whole prompt, as a small base model often does."""
    return Reply("\n".join(str(m.get("content", "")) for m in body.get("messages", [])))


class AppServer:
    """Any ASGI app served by uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        host, port = self._socket.getsockname()[:2]
        self.base_url = f"http://{host}:{port}/v1"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        """Start serving; return once connections are accepted."""
        self._thread.start()
        ready = threading.Event()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the test server stopped during startup")
            ready.wait(0.01)

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


class FakeOpenAIServer:
    """The server in a background thread; use it as a context manager."""

    def __init__(self, *, model: str = "fake-model") -> None:
        self.model = model
        self._lock = threading.Condition()
        self.reset()
        self._http = AppServer(create_app(self))
        self.base_url = self._http.base_url

    def reset(self) -> None:
        """Forget the script, the counts and the options (between tests)."""
        with self._lock:
            self._script: deque[Script] = deque()
            self.default: Script = Reply('{"ok": true}')
            self.context_window: int | None = None
            self.cancel_on_concurrent = False
            self.requests: list[dict[str, Any]] = []
            self.started = 0
            self.completed = 0
            self.cancelled = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self._running: list[asyncio.Event] = []

    def script(self, *replies: Script) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self._script.extend(replies)

    def endpoint(self, **fields: Any) -> Endpoint:
        """Return an endpoint for this server (no key), with ``fields`` set."""
        values: dict[str, Any] = {
            "name": "fake",
            "base_url": self.base_url,
            "model": self.model,
            "supports_stream_usage": True,
            "price_input_per_1m": 2.5,
            "price_output_per_1m": 10.0,
        }
        return Endpoint(**{**values, **fields})

    def wait_for(
        self, predicate: Callable[[FakeOpenAIServer], bool], timeout_s: float = 10
    ) -> bool:
        """Wait until ``predicate(self)`` holds (the server thread notifies on every change)."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self), timeout=timeout_s)

    def start(self) -> FakeOpenAIServer:
        """Start serving; return once connections are accepted."""
        self._http.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._http.stop()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            script = self._script.popleft() if self._script else self.default
        reply = script(body) if callable(script) else script
        return Reply(reply) if isinstance(reply, str) else reply

    def _begin(self, body: dict[str, Any]) -> asyncio.Event:
        stop = asyncio.Event()
        with self._lock:
            self.started += 1
            if self.cancel_on_concurrent:
                for running in self._running:
                    running.set()
            self._running.append(stop)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._lock.notify_all()
        return stop

    def _end(self, stop: asyncio.Event, outcome: str) -> None:
        with self._lock:
            self._running.remove(stop)
            self.in_flight -= 1
            if outcome == "completed":
                self.completed += 1
            elif outcome == "cancelled":
                self.cancelled += 1
            self._lock.notify_all()


def create_app(server: FakeOpenAIServer) -> FastAPI:
    """Build the app serving ``server``'s script."""
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": server.model, "object": "model"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        with server._lock:
            server.requests.append(body)
        prompt_tokens = _estimate(body)
        window = server.context_window
        if window is not None and prompt_tokens + (body.get("max_tokens") or 0) > window:
            requested = prompt_tokens + (body.get("max_tokens") or 0)
            message = f"Requested tokens ({requested}) exceed context window of {window}"
            return _error(400, message, "context_length_exceeded")
        reply = server._next(body)
        if reply.status != 200:
            return _error(reply.status, reply.error, None)
        return _ScriptedReply(server, body, reply, prompt_tokens)

    return app


class _ScriptedReply(Response):
    """Send a reply chunk by chunk, watching for the client going away."""

    def __init__(
        self, server: FakeOpenAIServer, body: dict[str, Any], reply: Reply, prompt_tokens: int
    ) -> None:
        super().__init__()
        self.server = server
        self.body_json = body
        self.reply = reply
        self.prompt_tokens = (
            reply.prompt_tokens if reply.prompt_tokens is not None else (prompt_tokens)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stop = self.server._begin(self.body_json)
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        outcome = "cancelled"
        try:
            if self.body_json.get("stream"):
                outcome = await self._stream(send, gone, stop)
            else:
                outcome = await self._whole(scope, receive, send, gone, stop)
        except OSError:
            outcome = "cancelled"  # the client closed the connection mid-send
        finally:
            watcher.cancel()
            self.server._end(stop, outcome)

    async def _hold(self, gone: asyncio.Event, stop: asyncio.Event) -> str:
        waits = [asyncio.create_task(gone.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        return "cancelled" if gone.is_set() else "aborted"

    async def _whole(
        self, scope: Scope, receive: Receive, send: Send, gone: asyncio.Event, stop: asyncio.Event
    ) -> str:
        reply = self.reply
        if reply.hold_after_chunks is not None:
            outcome = await self._hold(gone, stop)
            if outcome == "aborted":  # a newer request took the model
                response = _error(500, "request cancelled by a newer request", None)
                await response(scope, receive, send)
            return outcome
        payload = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": self.server.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": "stop",
                }
            ],
        }
        if reply.usage:
            payload["usage"] = self._usage()
        data = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        return "completed"

    async def _stream(self, send: Send, gone: asyncio.Event, stop: asyncio.Event) -> str:
        reply = self.reply
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        size = max(1, reply.chunk_chars)
        pieces = [reply.text[i : i + size] for i in range(0, len(reply.text), size)]
        hold_at = reply.hold_after_chunks
        for index, piece in enumerate(pieces):
            if index == hold_at and await self._hold(gone, stop) == "cancelled":
                return "cancelled"
            if gone.is_set():
                return "cancelled"
            if stop.is_set():
                break
            await send(_event(self._chunk({"content": piece}, None)))
            await asyncio.sleep(0)  # let a disconnect or a newer request be noticed
        if hold_at is not None and hold_at >= len(pieces) and not stop.is_set():
            if await self._hold(gone, stop) == "cancelled":
                return "cancelled"
        if stop.is_set() or not reply.finish:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return "aborted"
        await send(_event(self._chunk({}, "stop")))
        options = self.body_json.get("stream_options") or {}
        if reply.usage and options.get("include_usage"):
            chunk = self._chunk({}, None)
            chunk["choices"] = []
            chunk["usage"] = self._usage()
            await send(_event(chunk))
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
        return "completed"

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.server.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def _usage(self) -> dict[str, Any]:
        reply = self.reply
        completion = (
            reply.completion_tokens
            if reply.completion_tokens is not None
            else (len(reply.text) + 3) // 4
        )
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens},
        }


def _event(chunk: dict[str, Any]) -> dict[str, Any]:
    data = f"data: {json.dumps(chunk)}\n\n".encode()
    return {"type": "http.response.body", "body": data, "more_body": True}


def _estimate(body: dict[str, Any]) -> int:
    chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    return (chars + 3) // 4


def _error(status: int, message: str, code: str | None) -> JSONResponse:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=status)
