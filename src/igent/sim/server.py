"""The simulator's HTTP app: OpenAI's chat completions and models endpoints."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from igent.sim.config import SimConfig
from igent.sim.draw import RequestLedger
from igent.sim.prefix_cache import PrefixCache
from igent.sim.profiles import PROFILES
from igent.sim.reply import ChatRequest, ReplyPlan, plan_reply
from igent.sim.wire import CREATED, completion_body, error_body, stream_events

# Long waits check for a gone client this often, so a hang ends with its client.
_DISCONNECT_POLL_S = 0.25


async def _sleep_until(deadline: float, request: Request) -> bool:
    """Sleep until the loop time ``deadline``; return False if the client went away."""
    loop = asyncio.get_running_loop()
    while (remaining := deadline - loop.time()) > 0:
        await asyncio.sleep(min(remaining, _DISCONNECT_POLL_S))
        if remaining > _DISCONNECT_POLL_S and await request.is_disconnected():
            return False
    return True


class SendLag:
    """How late chunks and replies left compared to their plan (the simulator's own error)."""

    def __init__(self, keep: int = 10_000) -> None:
        self._lags_s: deque[float] = deque(maxlen=keep)

    def record(self, lag_s: float) -> None:
        """Record one send that was ``lag_s`` seconds behind its deadline."""
        self._lags_s.append(lag_s)

    def summary(self) -> dict[str, float | int]:
        """Return the count, median, p99 and max lag of the recent sends, in seconds."""
        lags = sorted(self._lags_s)
        if not lags:
            return {"sends": 0, "p50_s": 0.0, "p99_s": 0.0, "max_s": 0.0}
        return {
            "sends": len(lags),
            "p50_s": lags[len(lags) // 2],
            "p99_s": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            "max_s": lags[-1],
        }


class PromptTally:
    """Input tokens the simulator billed, and how many of them came from the prompt cache.

    A client that stops reading a stream early never sees the usage chunk, so only the server
    knows the cached share; benchmarks read these running totals before and after a run.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.prompt_tokens = 0
        self.cached_tokens = 0

    def record(self, plan: ReplyPlan) -> None:
        """Count a reply that is billed (not a refused request)."""
        if plan.status_code == 200:
            self.requests += 1
            self.prompt_tokens += plan.prompt_tokens
            self.cached_tokens += plan.cached_tokens

    def summary(self) -> dict[str, int]:
        """Return the running totals."""
        return {
            "billed_requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
        }


CHUNK_OFFSETS_HEADER = "x-sim-chunk-offsets-ms"


def _headers(plan: ReplyPlan, extra_s: float = 0.0) -> dict[str, str]:
    headers = {
        "x-request-id": plan.request_id,
        "x-sim-intended-latency-s": f"{plan.latency.total_s + extra_s:.6f}",
        "x-sim-ttft-s": f"{plan.latency.ttft_s + extra_s:.6f}",
        "x-sim-fault": plan.fault or "none",
        "x-sim-role": plan.role,
    }
    if plan.fault == "rate_limit":
        headers["retry-after"] = f"{plan.retry_after_s:g}"
        headers["retry-after-ms"] = f"{plan.retry_after_s * 1000:.0f}"
    return headers


class _TruncatedStream(Response):
    """Send the first events, part of the next one, then drop the connection."""

    def __init__(
        self,
        events: Sequence[tuple[float, bytes]],
        start: float,
        headers: dict[str, str],
    ) -> None:
        super().__init__(media_type="text/event-stream", headers=headers)
        # The body is streamed, so drop the content-length: 0 Response adds for an empty body.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.events = events
        self.start = start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        loop = asyncio.get_running_loop()
        keep = max(1, len(self.events) // 2)
        for offset, data in self.events[:keep]:
            await asyncio.sleep(max(0.0, self.start + offset - loop.time()))
            await send({"type": "http.response.body", "body": data, "more_body": True})
        cut = self.events[keep][1] if keep < len(self.events) else b"data: {"
        partial = cut[: max(8, len(cut) // 2)]
        await send({"type": "http.response.body", "body": partial, "more_body": True})
        # Returning without the final body message makes the server close the connection.


def _stream(
    events: Sequence[tuple[float, bytes]], start: float, headers: dict[str, str], lag: SendLag
) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        for offset, data in events:
            # Absolute deadlines: per-chunk overhead does not add up over the stream.
            delay = start + offset - loop.time()
            # Always yield to the loop, even when late: a client that stopped reading is then
            # noticed before the next chunk, instead of asyncio logging "socket.send() raised
            # exception." for every chunk written into the closed connection.
            await asyncio.sleep(max(0.0, delay))
            lag.record(loop.time() - start - offset)
            yield data

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={**headers, "cache-control": "no-cache"},
    )


def create_sim_app(config: SimConfig) -> FastAPI:
    """Build the simulator app for ``config``."""
    app = FastAPI(title="igent simulator", docs_url=None, redoc_url=None)
    ledger = RequestLedger(config.seed)
    lag = SendLag()
    tally = PromptTally()
    prefix_cache = (
        PrefixCache(max_entries=config.prompt_cache_entries) if config.prompt_cache else None
    )

    @app.get("/v1/sim/stats")
    async def sim_stats() -> dict[str, float | int]:
        return {**lag.summary(), **tally.summary()}

    @app.get("/v1/models")
    async def list_models() -> dict[str, object]:
        data = [
            {"id": name, "object": "model", "created": CREATED, "owned_by": "igent-sim"}
            for name in PROFILES
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        start = asyncio.get_running_loop().time()
        try:
            raw = await request.body()
        except ClientDisconnect:
            # The client gave up before sending its request (timeout, Ctrl-C): nothing to answer.
            return Response(status_code=499)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            chat = ChatRequest.from_body(body)
        except ValueError as exc:
            return Response(
                error_body(f"invalid request: {exc}", "invalid_request_error", None),
                status_code=400,
                media_type="application/json",
            )
        digest, seen, rng = ledger.draw(body)
        plan = plan_reply(
            chat,
            config,
            rng,
            request_id=f"chatcmpl-sim{digest[:20]}{seen}",
            prefix_cache=prefix_cache,
        )
        tally.record(plan)
        return await _respond(plan, chat, start, request, lag)

    return app


async def _respond(
    plan: ReplyPlan, chat: ChatRequest, start: float, request: Request, lag: SendLag
) -> Response:
    extra_s = 0.0
    if plan.fault == "hang":
        extra_s = plan.hang_s
        if not await _sleep_until(start + extra_s, request):
            return Response(status_code=499)
    headers = _headers(plan, extra_s)
    if plan.status_code != 200:
        await _sleep_until(start + extra_s + plan.latency.total_s, request)
        if plan.fault == "rate_limit":
            body = error_body(
                "Rate limit reached for requests (simulated by igent.sim)",
                "requests",
                "rate_limit_exceeded",
            )
        else:
            body = error_body(
                "The server had an error while processing your request (simulated by igent.sim)",
                "server_error",
                None,
            )
        return Response(
            body, status_code=plan.status_code, headers=headers, media_type="application/json"
        )
    if chat.stream:
        events = stream_events(plan, chat.include_usage)
        # Send offsets of every chunk but [DONE], so a client that stops reading early can
        # tell the latency it intended up to the chunk where it stopped.
        headers[CHUNK_OFFSETS_HEADER] = ",".join(
            f"{(offset + extra_s) * 1000:.1f}" for offset, _ in events[:-1]
        )
        if plan.fault == "truncated_stream":
            return _TruncatedStream(events, start + extra_s, headers)
        return _stream(events, start + extra_s, headers, lag)
    body = completion_body(plan)
    deadline = start + extra_s + plan.latency.total_s
    if not await _sleep_until(deadline, request):
        return Response(status_code=499)
    lag.record(asyncio.get_running_loop().time() - deadline)
    return Response(body, headers=headers, media_type="application/json")
