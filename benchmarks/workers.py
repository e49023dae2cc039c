"""Scale-out benchmark: 1, 2 and 4 igent workers (Redis + PostgreSQL) vs one SQLite process.

Usage: python benchmarks/workers.py [--quick] [--registrations N] [--workers 1,2,4]
       [--threads 8] [--time-scale 1] [--db postgresql://...] [--broker redis://...] [--json OUT]

The simulator runs in its own process (gpt-4o profile, time scale 1 by default); every run
decides the same registrations with ``p1m1v0_p2r`` (capacity raised so all can match):

- workers: W ``igent worker --threads T`` processes; the registrations are enqueued and the
  clock stops when the last decision is committed in PostgreSQL;
- SQLite single process: the same runner as ``igent run`` (``--concurrency T`` and ``W*T``),
  on the same simulator process.

Reported: registrations/min, p50/p95 of the time each registration spent in its pipeline, and
the broker + ledger overhead per registration: the wall time per registration of one worker
with one thread minus that of the in-process runner at concurrency 1, both with the instant
rules constellation (no model time), so what is left is the queue round trip, the ledger reads
and the PostgreSQL commit.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from igent.campaign.generator import generate_campaign
from igent.llm import OpenAICompatibleClient, load_registry, resolve_endpoint
from igent.store.backend import open_store
from igent.worker import BrokerOptions, declare_actor, make_broker
from igent.worker.submit import campaign_spec, enqueue_campaign, wait_for_decisions
from igent.workflows import InputPaths, RunOptions, resolve_constellation
from igent.workflows.runner import Runner
from igent.workflows.timing import percentile

CONSTELLATION = "p1m1v0_p2r"
CAMPAIGN_DATE = dt.date(2026, 6, 1)
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"


def write_campaign(directory: Path, size: int) -> InputPaths:
    """A seeded campaign of ``size`` registrations, capacity raised so all can match."""
    campaign = generate_campaign(num_registrations=size, num_suppliers=6, seed=3)
    for supplier in campaign.offers["SupplierOffers"]:
        supplier["Capacity"] = size
    paths = InputPaths(directory / "registrations.json", directory / "offers.json")
    paths.registrations.write_text(json.dumps(campaign.registrations))
    paths.offers.write_text(json.dumps(campaign.offers))
    return paths


def start_simulator(time_scale: float) -> tuple[subprocess.Popen[str], str]:
    """``python -m igent.sim`` in its own process; returns it and its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "igent.sim", "--port", "0", "--profile", "gpt-4o",
         "--time-scale", str(time_scale)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def start_workers(count: int, args: list[str]) -> list[subprocess.Popen[str]]:
    """Start ``count`` igent workers and wait until each is ready."""
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "igent.cli", "worker", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        for _ in range(count)
    ]
    for worker in workers:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("igent worker ready"), line
    return workers


def stop(processes: list[subprocess.Popen[str]]) -> None:
    """SIGTERM every process and wait for it."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()


def pipeline_latencies(payloads: list[dict[str, Any]]) -> dict[str, float]:
    """p50/p95 of the pipeline time per registration, in seconds."""
    totals = [float((p.get("timing") or {}).get("total_s") or 0.0) for p in payloads]
    return {"p50_s": percentile(totals, 50), "p95_s": percentile(totals, 95)}


def run_workers(
    count: int, threads: int, paths: InputPaths, db: str, broker_url: str, sim_url: str,
    constellation: str,
) -> dict[str, Any]:  # fmt: skip
    """Decide every registration with ``count`` workers; return throughput and latencies."""
    namespace = f"igent-bench-{uuid.uuid4().hex[:8]}"
    campaign_id = f"bench-{count}x{threads}-{constellation}-{uuid.uuid4().hex[:6]}"
    args = ["--db", db, "--broker", broker_url, "--namespace", namespace,
            "--threads", str(threads), "--sim-url", sim_url]  # fmt: skip
    workers = start_workers(count, args)
    broker = make_broker(broker_url, BrokerOptions(namespace=namespace))
    store = open_store(db)
    try:
        spec = campaign_spec(
            paths, campaign_id, constellation=constellation, model="sim:gpt-4o",
            campaign_date=CAMPAIGN_DATE,
        )  # fmt: skip
        started = time.perf_counter()
        sent = enqueue_campaign(declare_actor(broker), store, spec, paths.registrations)
        wait_for_decisions(store, campaign_id, sent.keys, timeout_s=3600, poll_s=0.05)
        wall_s = time.perf_counter() - started
        payloads = [d.payload for d in store.decisions(campaign_id)]
        counts = store.counts(campaign_id).by_status
    finally:
        stop(workers)
        client = broker.client  # type: ignore[attr-defined]
        stale = list(client.scan_iter(f"{namespace}:*"))
        if stale:
            client.delete(*stale)
        broker.close()
        store.close()
    return {
        "mode": f"{count} worker(s) x {threads} threads, PostgreSQL + Redis",
        "registrations": len(payloads),
        "wall_s": wall_s,
        "per_min": len(payloads) / wall_s * 60,
        "statuses": counts,
        **pipeline_latencies(payloads),
    }


def run_sqlite(
    concurrency: int, paths: InputPaths, sim_url: str, constellation: str, out: Path
) -> dict[str, Any]:
    """The in-process runner on a SQLite ledger, on the same simulator process."""
    endpoint = resolve_endpoint("sim", load_registry()).model_copy(
        update={"base_url": sim_url, "model": "gpt-4o"}
    )
    chosen = resolve_constellation(constellation)
    options = RunOptions(concurrency=concurrency, transcripts=False, campaign_date=CAMPAIGN_DATE)

    async def run() -> Any:
        client = OpenAICompatibleClient(endpoint, api_key="sim")
        try:
            runner = Runner(
                chosen, paths, options, out, client=client if chosen.uses_llm else None,
                model_info={"spec": "sim:gpt-4o"},
            )  # fmt: skip
            return await runner.run()
        finally:
            await client.aclose()

    started = time.perf_counter()
    result = asyncio.run(run())
    wall_s = time.perf_counter() - started
    rows = json.loads((result.run_dir / "timings.json").read_text())
    return {
        "mode": f"SQLite single process, concurrency {concurrency}",
        "registrations": len(rows),
        "wall_s": wall_s,
        "per_min": len(rows) / wall_s * 60,
        "p50_s": percentile([float(r.get("total_s") or 0) for r in rows], 50),
        "p95_s": percentile([float(r.get("total_s") or 0) for r in rows], 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 registrations, 1 and 2 workers")
    parser.add_argument("--registrations", type=int, default=240)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument(
        "--db",
        default=os.environ.get("IGENT_DATABASE_URL"),
        help=f"ledger (default: a fresh schema in {DEFAULT_DB}, dropped at the end)",
    )
    parser.add_argument("--broker", default=os.environ.get("IGENT_BROKER_URL", DEFAULT_BROKER))
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    size = 40 if args.quick else args.registrations
    counts = [1, 2] if args.quick else [int(n) for n in args.workers.split(",")]
    schema = None
    if args.db is None:
        schema = f"igent_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(DEFAULT_DB, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        args.db = f"{DEFAULT_DB}?options=-csearch_path%3D{schema}"
    simulator, sim_url = start_simulator(args.time_scale)
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_campaign(Path(tmp), size)
            for count in counts:
                rows.append(
                    run_workers(
                        count, args.threads, paths, args.db, args.broker, sim_url, CONSTELLATION
                    )  # fmt: skip
                )
                print(json.dumps(rows[-1]), flush=True)
            for concurrency in sorted({args.threads, max(counts) * args.threads}):
                out = Path(tmp) / f"sqlite-{concurrency}"
                rows.append(run_sqlite(concurrency, paths, sim_url, CONSTELLATION, out))
                print(json.dumps(rows[-1]), flush=True)
            # Overhead: the rules constellation (no model time), one at a time.
            worker_seq = run_workers(1, 1, paths, args.db, args.broker, sim_url, "rules")
            sqlite_seq = run_sqlite(1, paths, sim_url, "rules", Path(tmp) / "sqlite-seq")
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
        if schema is not None:
            with psycopg.connect(DEFAULT_DB, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    overhead_ms = (worker_seq["wall_s"] - sqlite_seq["wall_s"]) / size * 1000
    print(f"\n{size} registrations, {CONSTELLATION}, simulator gpt-4o at time scale "
          f"{args.time_scale:g} in its own process\n")  # fmt: skip
    print("| run | registrations/min | p50 s | p95 s | wall s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['mode']} | {row['per_min']:.0f} | {row['p50_s']:.2f} | "
              f"{row['p95_s']:.2f} | {row['wall_s']:.1f} |")  # fmt: skip
    first = rows[0]["per_min"]
    for row in rows[1 : len(counts)]:
        print(f"\nspeed-up {row['mode'].split(',')[0]} vs 1 worker: {row['per_min'] / first:.2f}x")
    print(f"\nbroker + ledger overhead per registration: {overhead_ms:.1f} ms "
          f"(1 worker x 1 thread {worker_seq['wall_s'] / size * 1000:.1f} ms vs in-process "
          f"SQLite {sqlite_seq['wall_s'] / size * 1000:.1f} ms, rules constellation)")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "overhead_ms": overhead_ms}, indent=2))


if __name__ == "__main__":
    main()
