"""Measure how closely the simulator's replies, read through the real client, keep to their plan.

Usage: python benchmarks/sim_fidelity.py [--requests 64] [--concurrency 1 16]
           [--profile gpt-4o] [--time-scale 1.0] [--seed 0] [--prose] [--json OUT]

For each concurrency level a fresh simulator process is started (start_sim_process), so its
own send-lateness statistics (GET {base_url}/sim/stats) cover that level only. asyncio tasks
sharing one OpenAICompatibleClient then send --requests streamed match requests, each for a
different registration of a generated campaign, with early_stop=False so every chunk is read.
For each call, overshoot = the wall time of ``client.complete`` minus the latency the simulator
planned for it (its x-sim-intended-latency-s header). By default the requests carry the match
JSON Schema, so replies are JSON only (about 0.9 s each with gpt-4o); --prose sends the
matcher's prose-wrapped request instead (about 2 s each, so --requests 64 at concurrency 1
takes a little over two minutes).

Exits 1 when the overshoot p95 at concurrency 16 exceeds 5 % of the intended latency.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from igent.agents.protocol import (
    MATCH_SCHEMA,
    Task,
    capacity_block,
    match_answer,
    render_task,
    supplier_block,
)
from igent.campaign import generate_campaign, parse_registrations
from igent.domain import IncentiveBook, OfferBook
from igent.llm import (
    ChatRequest,
    OpenAICompatibleClient,
    RetryPolicy,
    extract_json,
    resolve_endpoint,
)
from igent.rules import RulesEngine
from igent.sim import SimConfig, start_sim_process

GATE_CONCURRENCY = 16
GATE_P95_PCT = 5.0
SYSTEM_PROMPT = "You are the matcher. Answer with the match JSON."


@dataclass(frozen=True)
class Call:
    """One measured call."""

    concurrency: int
    wall_s: float
    intended_s: float
    chunks_read: int
    correct: bool

    @property
    def overshoot_ms(self) -> float:
        return (self.wall_s - self.intended_s) * 1000

    @property
    def overshoot_pct(self) -> float:
        return 100 * (self.wall_s - self.intended_s) / self.intended_s


def percentile(values: list[float], q: float) -> float:
    """Return the nearest-rank ``q`` percentile (0-100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def build_tasks(count: int, seed: int) -> list[tuple[list[dict[str, str]], dict[str, Any]]]:
    """Return ``count`` match conversations with the rules engine's answer to each."""
    campaign = generate_campaign(
        num_registrations=count, num_suppliers=8, scenario="diverse", seed=seed
    )
    engine = RulesEngine(
        OfferBook.model_validate(campaign.offers),
        IncentiveBook.model_validate(campaign.incentives),
        campaign_date=dt.date(2026, 6, 1),
    )
    tasks = []
    for record in parse_registrations(json.dumps(campaign.registrations)):
        decision = engine.match(record, {})
        suppliers = engine.suppliers_for_zip(decision.zip_code or "")
        text = render_task(
            Task(
                kind="match",
                registration=dict(record.raw),
                suppliers=supplier_block(suppliers),
                capacity=capacity_block(suppliers, {}),
            )
        )
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": text},
        ]
        tasks.append((messages, match_answer(decision)))
    return tasks


async def run_level(
    base_url: str,
    concurrency: int,
    tasks: list[tuple[list[dict[str, str]], dict[str, Any]]],
    *,
    prose: bool,
) -> list[Call]:
    """Send every task with ``concurrency`` workers sharing one client; return the calls."""
    endpoint = resolve_endpoint("sim").model_copy(update={"base_url": base_url, "model": "sim"})
    client = OpenAICompatibleClient(
        endpoint, env={}, timeout_s=120.0, retry_policy=RetryPolicy(max_attempts=1)
    )
    schema = None if prose else MATCH_SCHEMA

    async def call(messages: list[dict[str, str]], expected: dict[str, Any]) -> Call:
        request = ChatRequest(messages=messages, stream=True, response_schema=schema)
        started = time.perf_counter()
        response = await client.complete(request)
        wall_s = time.perf_counter() - started
        if response.intended_latency_s is None:
            raise RuntimeError(f"no intended latency header from {base_url}: is it igent.sim?")
        parsed = response.parsed
        if parsed is None:
            parsed = extract_json(response.text, prefer="object")
        return Call(
            concurrency=concurrency,
            wall_s=wall_s,
            intended_s=response.intended_latency_s,
            chunks_read=response.chunks_read,
            correct=parsed == expected,
        )

    async def worker(queue: asyncio.Queue[int], calls: list[Call]) -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            calls.append(await call(*tasks[index]))

    async def run(indices: range) -> list[Call]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in indices:
            queue.put_nowait(index)
        calls: list[Call] = []
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker(queue, calls))
        return calls

    try:
        # Warm up: open the pool's connections and let the SDK build its models once.
        await run(range(len(tasks) - concurrency, len(tasks)))
        return await run(range(len(tasks) - concurrency))
    finally:
        await client.aclose()


def sim_stats(base_url: str) -> dict[str, float]:
    """Return the simulator's own send lateness summary."""
    response = httpx.get(f"{base_url}/sim/stats", timeout=10.0)
    response.raise_for_status()
    stats: dict[str, float] = response.json()
    return stats


def summarise(calls: list[Call], stats: dict[str, float]) -> dict[str, Any]:
    over_ms = [c.overshoot_ms for c in calls]
    over_pct = [c.overshoot_pct for c in calls]
    return {
        "concurrency": calls[0].concurrency,
        "requests": len(calls),
        "correct": sum(c.correct for c in calls),
        "intended_p50_s": percentile([c.intended_s for c in calls], 50),
        "chunks_p50": percentile([float(c.chunks_read) for c in calls], 50),
        "overshoot_ms": {q: percentile(over_ms, p) for q, p in (("p50", 50), ("p95", 95))}
        | {"max": max(over_ms)},
        "overshoot_pct": {q: percentile(over_pct, p) for q, p in (("p50", 50), ("p95", 95))}
        | {"max": max(over_pct)},
        "sim_send_lateness": stats,
    }


def print_table(summaries: list[dict[str, Any]], header: str) -> None:
    print(header)
    print()
    print(
        "| concurrency | requests | correct | intended p50 (s) | chunks p50 "
        "| overshoot p50 / p95 / max (ms) | overshoot p50 / p95 / max (% of intended) "
        "| sim send lateness p50 / p99 / max (ms) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in summaries:
        ms, pct, lag = s["overshoot_ms"], s["overshoot_pct"], s["sim_send_lateness"]
        print(
            f"| {s['concurrency']} | {s['requests']} | {s['correct']} "
            f"| {s['intended_p50_s']:.3f} | {s['chunks_p50']:.0f} "
            f"| {ms['p50']:.1f} / {ms['p95']:.1f} / {ms['max']:.1f} "
            f"| {pct['p50']:.2f} / {pct['p95']:.2f} / {pct['max']:.2f} "
            f"| {lag['p50_s'] * 1000:.2f} / {lag['p99_s'] * 1000:.2f} / {lag['max_s'] * 1000:.2f} "
            f"({lag['sends']} sends) |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64, help="measured calls per level")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 16], help="levels to measure"
    )
    parser.add_argument("--profile", default="gpt-4o", help="simulator latency profile")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulator time scale")
    parser.add_argument("--seed", type=int, default=0, help="simulator and campaign seed")
    parser.add_argument("--prose", action="store_true", help="ask for prose replies, no schema")
    parser.add_argument("--json", type=Path, default=None, help="write raw data to this file")
    args = parser.parse_args()
    if args.requests < 1 or min(args.concurrency) < 1:
        parser.error("--requests and --concurrency must be at least 1")

    summaries: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    started = time.perf_counter()
    for concurrency in args.concurrency:
        tasks = build_tasks(args.requests + concurrency, args.seed)
        config = SimConfig(profile=args.profile, time_scale=args.time_scale, seed=args.seed)
        process, base_url = start_sim_process(config)
        try:
            calls = asyncio.run(run_level(base_url, concurrency, tasks, prose=args.prose))
            stats = sim_stats(base_url)
        finally:
            process.terminate()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        summaries.append(summarise(calls, stats))
        raw += [asdict(c) | {"overshoot_ms": c.overshoot_ms} for c in calls]
    elapsed_s = time.perf_counter() - started

    shape = "prose replies" if args.prose else "JSON-only replies (match schema)"
    print_table(
        summaries,
        f"Simulator fidelity: profile {args.profile!r}, time scale {args.time_scale:g}, "
        f"seed {args.seed}, streamed match requests, {shape}, early_stop=False; "
        f"{elapsed_s:.0f} s on Python {platform.python_version()}",
    )
    gated = [s for s in summaries if s["concurrency"] == GATE_CONCURRENCY]
    failed = any(s["overshoot_pct"]["p95"] > GATE_P95_PCT for s in gated)
    if gated:
        verdict = "NOT MET" if failed else "MET"
        print(
            f"\ntarget: overshoot p95 <= {GATE_P95_PCT:g} % at concurrency "
            f"{GATE_CONCURRENCY}: {verdict}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"args": vars(args) | {"json": str(args.json)}, "levels": summaries, "calls": raw},
                indent=2,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
