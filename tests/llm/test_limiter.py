"""RateLimiter: concurrency cap and per-minute budgets, counted on a fake clock."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from igent.llm import ChatRequest, RateLimiter, TokenBucket
from tests.support.payloads import FakeClock, completion


async def test_concurrency_is_capped() -> None:
    limiter = RateLimiter(max_concurrency=3)
    active = 0
    peak = 0

    async def work() -> None:
        nonlocal active, peak
        async with limiter.slot():
            active += 1
            peak = max(peak, active)
            for _ in range(5):
                await asyncio.sleep(0)
            active -= 1

    await asyncio.gather(*(work() for _ in range(10)))

    assert peak == 3
    assert limiter.max_in_flight == 3
    assert limiter.in_flight == 0


async def test_requests_per_minute_spreads_calls_over_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=clock.sleep)
    starts: list[float] = []

    for _ in range(65):
        async with limiter.slot():
            starts.append(clock())

    assert starts[59] == starts[0]  # the first 60 use the full bucket
    assert starts[60] - starts[0] == 1.0  # then one per second
    assert starts[64] - starts[0] == 5.0


async def test_token_bucket_waits_for_enough_tokens() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, clock=clock, sleep=clock.sleep)

    assert await bucket.take(600) == 0
    assert await bucket.take(100) == 10.0  # 10 tokens per second
    assert clock.sleeps == [10.0]


async def test_token_budget_is_corrected_by_actual_usage() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=1000, clock=clock, sleep=clock.sleep)
    async with limiter.slot(estimated_tokens=1000):
        pass
    limiter.record_tokens(1000, 100)  # 900 come back

    async with limiter.slot(estimated_tokens=900):
        pass
    assert clock.sleeps == []


async def test_client_calls_go_through_the_limiter(make_client) -> None:
    in_flight = 0
    peak = 0
    pair = asyncio.Event()  # two calls in flight at once: what the limit allows

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 2:
            pair.set()
        # hold the call until a second one is in flight (not a fixed number of loop turns,
        # which a loaded machine can outrun); a limit of one would time out here
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pair.wait(), 2.0)
        for _ in range(10):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, json=completion("ok"))

    limiter = RateLimiter(max_concurrency=2)
    client = make_client(handler, limiter=limiter)
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}])

    replies = await asyncio.gather(*(client.complete(request) for _ in range(8)))

    assert [reply.text for reply in replies] == ["ok"] * 8
    assert peak == 2
    assert limiter.max_in_flight == 2
