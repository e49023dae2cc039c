"""Shared per-endpoint limits: 4 processes on one endpoint stay within its requests/min."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import Request, Response

from igent.sim import SimConfig
from igent.sim.server import create_sim_app
from igent.worker.limiter import SharedRateLimiter

PER_MINUTE = 600  # one request every 0.1 s for all processes together
PROCESSES = 4
CALLS = 8  # per process, all at once

CLIENT = """
import asyncio, sys
import redis
from igent.llm import ChatRequest, OpenAICompatibleClient, load_registry, resolve_endpoint
from igent.worker.limiter import SharedRateLimiter

base_url, redis_url, name, per_minute, calls = sys.argv[1:6]
endpoint = resolve_endpoint("sim", load_registry()).model_copy(
    update={"base_url": base_url, "name": name, "requests_per_minute": float(per_minute)}
)
limiter = SharedRateLimiter.for_endpoint(redis.Redis.from_url(redis_url), endpoint)
client = OpenAICompatibleClient(endpoint, api_key="sim", limiter=limiter)
request = ChatRequest(messages=[{"role": "user", "content": "Say hello."}])

async def main():
    await asyncio.gather(*(client.complete(request) for _ in range(int(calls))))
    await client.aclose()

asyncio.run(main())
"""


@pytest.fixture
def simulator() -> Iterator[tuple[str, list[float]]]:
    """The simulator on 127.0.0.1, recording when each chat request arrives."""
    arrivals: list[float] = []
    app = create_sim_app(SimConfig(profile="instant", time_scale=0.0))

    @app.middleware("http")
    async def record(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path.endswith("/chat/completions"):
            arrivals.append(time.monotonic())
        response: Response = await call_next(request)
        return response

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the simulator did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1", arrivals
    server.should_exit = True
    thread.join(timeout=10)


def _forget(redis_url: str, name: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    stale = list(client.scan_iter(f"igent:limit:{name}:*"))
    if stale:
        client.delete(*stale)
    client.close()


def _most_in_any_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, arrival in enumerate(times):
        while arrival - times[start] >= window_s:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_four_processes_sharing_an_endpoint_stay_within_its_requests_per_minute(
    simulator: tuple[str, list[float]], redis_url: str
) -> None:
    base_url, arrivals = simulator
    name = f"sim-limit-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [base_url, redis_url, name, str(PER_MINUTE), str(CALLS)]
    processes = [
        subprocess.Popen([sys.executable, "-c", CLIENT, *args], env=env) for _ in range(PROCESSES)
    ]
    for process in processes:
        assert process.wait(timeout=120) == 0
    _forget(redis_url, name)

    assert len(arrivals) == PROCESSES * CALLS
    # The minute scaled down to 3 s: at most PER_MINUTE / 20 requests in it, plus one burst.
    assert _most_in_any_window(arrivals, 3.0) <= PER_MINUTE // 20 + 1
    spread_s = max(arrivals) - min(arrivals)
    assert spread_s >= (len(arrivals) - 2) * 60 / PER_MINUTE  # spaced out, not merely few


async def test_calls_in_flight_are_capped_across_limiters_sharing_redis(redis_url: str) -> None:
    import asyncio

    import redis

    client = redis.Redis.from_url(redis_url)
    name = f"sim-inflight-{uuid.uuid4().hex[:8]}"
    limiters = [SharedRateLimiter(client, name, max_concurrency=2) for _ in range(3)]
    in_flight = most = 0

    async def call(limiter: SharedRateLimiter) -> None:
        nonlocal in_flight, most
        async with limiter.slot():
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.05)
            in_flight -= 1

    await asyncio.gather(*(call(limiters[n % 3]) for n in range(9)))
    client.close()
    _forget(redis_url, name)

    assert most == 2


async def test_tokens_per_minute_are_spaced_across_limiters_sharing_redis(redis_url: str) -> None:
    import asyncio

    import redis

    client = redis.Redis.from_url(redis_url)
    name = f"sim-tokens-{uuid.uuid4().hex[:8]}"
    # 60,000 tokens/min = 1,000 a second: six calls of 200 tokens need >= 1 s together
    limiters = [
        SharedRateLimiter(client, name, tokens_per_minute=60_000, margin=0.0) for _ in range(3)
    ]
    starts: list[float] = []

    async def call(limiter: SharedRateLimiter) -> None:
        async with limiter.slot(estimated_tokens=200):
            starts.append(time.monotonic())

    await asyncio.gather(*(call(limiters[n % 3]) for n in range(6)))
    client.close()
    _forget(redis_url, name)

    # the first call goes at once; the other five wait for 200 tokens each of the one budget
    assert max(starts) - min(starts) >= 5 * 0.2 * 0.9
