"""Minimal chat-completion bodies, JSON and SSE, for tests over httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx


def completion(
    text: str | None = "",
    *,
    model: str = "gpt-4o",
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """Return a non-streamed chat.completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def tool_call(name: str, arguments: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    """Return one tool call as it appears in a completion message."""
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def chunk(
    content: str | None = None,
    *,
    finish_reason: str | None = None,
    model: str = "gpt-4o",
    tool_calls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return one chat.completion.chunk with a content delta."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def usage_chunk(prompt_tokens: int = 10, completion_tokens: int = 5) -> dict[str, Any]:
    """Return the final usage-only chunk sent when stream_options.include_usage is set."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "gpt-4o",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def text_chunks(
    pieces: Sequence[str], *, finish: bool = True, usage: bool = True
) -> list[dict[str, Any]]:
    """Return content chunks for ``pieces``, then a finish chunk and a usage chunk."""
    chunks = [chunk(piece) for piece in pieces]
    if finish:
        chunks.append(chunk(finish_reason="stop"))
    if usage:
        chunks.append(usage_chunk())
    return chunks


def split(text: str, size: int) -> list[str]:
    """Cut ``text`` into pieces of ``size`` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def sse_events(chunks: Sequence[dict[str, Any]], *, done: bool = True) -> list[bytes]:
    """Return each chunk as one SSE event, then ``[DONE]``."""
    events = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks]
    if done:
        events.append(b"data: [DONE]\n\n")
    return events


class CountingStream(httpx.AsyncByteStream):
    """An SSE body handed out event by event, counting how many were pulled.

    With ``drop_after`` set it raises a protocol error after that many events, like a peer
    closing the connection mid-reply.
    """

    def __init__(self, events: Sequence[bytes], *, drop_after: int | None = None) -> None:
        self.events = list(events)
        self.pulled = 0
        self.closed = False
        self.drop_after = drop_after

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            if self.closed:  # like a socket: nothing more arrives once the response is closed
                raise httpx.ReadError("response closed")
            if self.drop_after is not None and self.pulled >= self.drop_after:
                raise httpx.RemoteProtocolError("peer closed connection mid-stream")
            self.pulled += 1
            yield event

    async def aclose(self) -> None:
        self.closed = True


def sse_response(
    stream: CountingStream, *, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Return a streamed text/event-stream response over ``stream``."""
    return httpx.Response(
        status,
        headers={"content-type": "text/event-stream", **(headers or {})},
        stream=stream,
    )


SENTINEL_KEY = "sk-SENTINEL-0123456789abcdef"


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is awaited or ``advance`` is called."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def body_of(request: httpx.Request) -> dict[str, Any]:
    """Return the JSON body the SDK sent."""
    result: dict[str, Any] = json.loads(request.content)
    return result
