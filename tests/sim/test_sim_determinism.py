"""Same seed and requests give the same replies and latencies, whatever the order."""

from __future__ import annotations

import asyncio

import httpx

from igent.sim import FaultConfig, SimConfig, SimServer

FAULTY = {
    "matcher": FaultConfig(wrong_answer=0.3, malformed_json=0.2, server_error=0.1),
    "critic": FaultConfig(false_reject=0.3),
}


def _bodies(task_message) -> list[dict]:
    bodies = []
    for n in range(6):
        bodies.append({"model": "sim", "messages": task_message("match"), "seed": n})
        bodies.append({"model": "sim", "messages": task_message("price"), "seed": n})
    return bodies


def _run(server: SimServer, bodies: list[dict], reverse: bool = False) -> dict[int, tuple]:
    async def call_all() -> dict[int, tuple]:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            order = list(range(len(bodies)))[:: -1 if reverse else 1]
            responses = await asyncio.gather(
                *(http.post("/chat/completions", json=bodies[i]) for i in order)
            )
        return {
            i: (r.status_code, r.content, r.headers["x-sim-intended-latency-s"])
            for i, r in zip(order, responses, strict=True)
        }

    return asyncio.run(call_all())


def test_same_seed_same_replies_and_latencies_in_any_order(task_message):
    config = SimConfig(profile="gpt-4o", time_scale=0.001, seed=7, faults=FAULTY)
    bodies = _bodies(task_message)
    with SimServer(config) as first:
        a = _run(first, bodies)
    with SimServer(config) as second:
        b = _run(second, bodies, reverse=True)
    assert a == b


def test_different_seed_gives_different_latencies(task_message):
    bodies = _bodies(task_message)
    with SimServer(SimConfig(time_scale=0.001, seed=1)) as first:
        a = _run(first, bodies)
    with SimServer(SimConfig(time_scale=0.001, seed=2)) as second:
        b = _run(second, bodies)
    assert [a[i][2] for i in a] != [b[i][2] for i in b]


def test_a_repeated_request_draws_anew(task_message):
    config = SimConfig(profile="gpt-4o", time_scale=0.001, seed=3)
    body = {"model": "sim", "messages": task_message("match")}
    with SimServer(config) as server, httpx.Client(base_url=server.base_url) as http:
        first = http.post("/chat/completions", json=body)
        second = http.post("/chat/completions", json=body)
    assert first.headers["x-sim-intended-latency-s"] != second.headers["x-sim-intended-latency-s"]
    assert first.json()["id"] != second.json()["id"]
