"""Endpoint entries carry their own concurrency limit, applied by the client."""

from __future__ import annotations

import asyncio

import httpx

from igent.llm import ChatRequest, Endpoint
from tests.support.payloads import completion


async def test_endpoint_max_concurrency_caps_calls_in_flight(make_client, endpoint: Endpoint):
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return httpx.Response(200, json=completion("ok"))

    limited = endpoint.model_copy(update={"max_concurrency": 2})
    client = make_client(handler, endpoint=limited, sleep=asyncio.sleep)
    calls = [
        asyncio.create_task(
            client.complete(ChatRequest(messages=[{"role": "user", "content": "hi"}]))
        )
        for _ in range(6)
    ]
    for _ in range(5000):  # let the SDK reach the handler
        if peak >= 2:
            break
        await asyncio.sleep(0)
    for _ in range(500):  # give any call past the limit every chance to get in
        await asyncio.sleep(0)
    assert peak == 2
    release.set()
    replies = await asyncio.gather(*calls)

    assert [r.text for r in replies] == ["ok"] * 6
    assert peak == 2
