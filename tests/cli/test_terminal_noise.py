"""The in-process simulator never puts asyncio or uvicorn tracebacks on the operator's terminal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from igent.sim import SimConfig
from igent.sim.server import SendLag, _stream, create_sim_app


def test_a_late_stream_yields_to_the_loop_between_chunks() -> None:
    """A stream behind schedule still lets the loop notice a client that stopped reading.

    Written back to back, chunks into a closed connection make asyncio log "socket.send()
    raised exception." once per chunk (seen with early extraction at high concurrency).
    """
    order: list[str] = []

    async def send(message: Any) -> None:
        order.append(message["type"])

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        events = [(0.0, b"data: {}\n\n") for _ in range(8)]
        response = _stream(events, loop.time() - 10.0, {}, SendLag())
        loop.call_soon(order.append, "loop turn")
        await response.stream_response(send)

    asyncio.run(scenario())

    assert order.index("loop turn") <= 2, order


def test_a_client_gone_before_its_request_body_gets_499_not_a_traceback() -> None:
    """ClientDisconnect while reading the request is answered, not raised into uvicorn's log."""
    app = create_sim_app(SimConfig())
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
        "query_string": b"", "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))

    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 499


def test_a_readable_request_is_still_answered() -> None:
    app = create_sim_app(SimConfig(time_scale=0.0))
    body = json.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
    ).encode()
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
        "query_string": b"", "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))

    assert sent[0]["status"] == 200
