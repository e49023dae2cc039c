"""Scale-out benchmark: 1, 2 and 4 igent workers (Redis + PostgreSQL) vs one SQLite process.

Usage: python benchmarks/workers.py [--quick] [--registrations N] [--workers 1,2,4] [--no-sqlite]
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
from igent.worker.submit import campaign_spec, enqueue_campaign
from igent.workflows import InputPaths, RunOptions, resolve_constellation
from igent.workflows.runner import Runner
from igent.workflows.timing import percentile

CONSTELLATION = "p1m1v0_p2r"
CAMPAIGN_DATE = dt.date(2026, 6, 1)
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POLL_S = 0.1


def write_campaign(directory: Path, size: int) -> InputPaths:
    """A seeded campaign of ``size`` registrations, capacity raised so all can match."""
    campaign = generate_campaign(num_registrations=size, num_suppliers=6, seed=3)
    for supplier in campaign.offers["SupplierOffers"]:
        supplier["Capacity"] = size
    directory.mkdir(parents=True, exist_ok=True)
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


def start_workers(count: int, args: list[str], prefix: list[str]) -> list[subprocess.Popen[str]]:
    """Start ``count`` igent workers (``prefix``: how to run igent) and wait for each."""
    workers = [
        subprocess.Popen(
            [*prefix, "worker", *args],
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


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, all its threads (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds used by the workers, their PostgreSQL backends, Redis and the simulator.

    PostgreSQL backends are found by the workers' ``application_name``; Redis reports its own
    CPU (``INFO cpu``), so a Redis shared with other users counts their commands too.
    """

    def __init__(self, workers: list[int], simulator: int, db: str, app: str, redis: Any):
        self.workers = workers
        self.simulator = simulator
        self.db = db
        self.app = app
        self.redis = redis

    def snapshot(self) -> dict[str, float]:
        """Cumulative CPU seconds per part, now."""
        with psycopg.connect(self.db, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.app,)
            ).fetchall()
        info = self.redis.info("cpu")
        return {
            "workers": sum(process_cpu_s(pid) for pid in self.workers),
            "postgres": sum(process_cpu_s(int(pid)) for (pid,) in rows),
            "redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            "simulator": process_cpu_s(self.simulator),
        }


def wait_decided(store: Any, campaign_id: str, total: int, timeout_s: float = 3600) -> None:
    """Poll the ledger's per-status counts until ``total`` decisions are there."""
    deadline = time.monotonic() + timeout_s
    while sum(store.counts(campaign_id).by_status.values()) < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"campaign {campaign_id!r}: not decided after {timeout_s:g} s")
        time.sleep(POLL_S)


def with_app_name(db: str, name: str) -> str:
    """``db`` with ``application_name`` set, so the workers' backends can be told apart."""
    return f"{db}{'&' if '?' in db else '?'}application_name={name}"


def run_workers(
    count: int, threads: int, paths: InputPaths, db: str, broker_url: str,
    sim: subprocess.Popen[str], sim_url: str, constellation: str, prefix: list[str],
) -> dict[str, Any]:  # fmt: skip
    """Decide every registration with ``count`` workers; return throughput, latency and CPU.

    The workers first decide a warm-up campaign of ``count * threads`` registrations (imports,
    tokenizer, pooled connections: once per process), then the clock and the CPU meters run
    from the first enqueue of the measured campaign to its last committed decision.
    """
    namespace = f"igent-bench-{uuid.uuid4().hex[:8]}"
    tag = f"{count}x{threads}-{constellation}-{uuid.uuid4().hex[:6]}"
    args = ["--db", with_app_name(db, namespace), "--broker", broker_url,
            "--namespace", namespace, "--threads", str(threads), "--sim-url", sim_url]  # fmt: skip
    started_at = time.perf_counter()
    workers = start_workers(count, args, prefix)
    broker = make_broker(broker_url, BrokerOptions(namespace=namespace))
    store = open_store(db)
    actor = declare_actor(broker)
    client = broker.client  # type: ignore[attr-defined]
    meter = CpuMeter([w.pid for w in workers], sim.pid, db, namespace, client)
    try:
        boot = meter.snapshot()["workers"]
        warm = f"warm-{tag}"
        warm_paths = write_campaign(paths.registrations.parent / warm, count * threads)
        spec = campaign_spec(warm_paths, warm, constellation=constellation, model="sim:gpt-4o",
                             campaign_date=CAMPAIGN_DATE)  # fmt: skip
        wait_decided(
            store, warm, enqueue_campaign(actor, store, spec, warm_paths.registrations).sent
        )
        ready_s = time.perf_counter() - started_at
        campaign_id = f"bench-{tag}"
        spec = campaign_spec(paths, campaign_id, constellation=constellation, model="sim:gpt-4o",
                             campaign_date=CAMPAIGN_DATE)  # fmt: skip
        load_before = os.getloadavg()[0]
        cpu_before = meter.snapshot()
        started = time.perf_counter()
        sent = enqueue_campaign(actor, store, spec, paths.registrations).sent
        wait_decided(store, campaign_id, sent)
        wall_s = time.perf_counter() - started
        cpu_after = meter.snapshot()
        load_after = os.getloadavg()[0]
        payloads = [d.payload for d in store.decisions(campaign_id)]
        counts = store.counts(campaign_id).by_status
    finally:
        stop(workers)
        stale = list(client.scan_iter(f"{namespace}:*"))
        if stale:
            client.delete(*stale)
        broker.close()
        store.close()
    size = len(payloads)
    cpu_ms = {k: (cpu_after[k] - cpu_before[k]) / size * 1000 for k in cpu_after}
    return {
        "mode": f"{count} worker(s) x {threads} threads, PostgreSQL + Redis",
        "registrations": size,
        "wall_s": wall_s,
        "per_min": size / wall_s * 60,
        "statuses": counts,
        **pipeline_latencies(payloads),
        "cpu_ms_per_registration": cpu_ms,
        "cores_busy": sum(cpu_ms.values()) * size / 1000 / wall_s,
        "worker_boot_cpu_s": boot / count,
        "ready_s": ready_s,
        "loadavg": (load_before, load_after),
    }


def run_sqlite(
    concurrency: int, paths: InputPaths, sim: subprocess.Popen[str], sim_url: str,
    constellation: str, out: Path,
) -> dict[str, Any]:  # fmt: skip
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

    load_before = os.getloadavg()[0]
    cpu_before = time.process_time(), process_cpu_s(sim.pid)
    started = time.perf_counter()
    result = asyncio.run(run())
    wall_s = time.perf_counter() - started
    cpu_after = time.process_time(), process_cpu_s(sim.pid)
    rows = json.loads((result.run_dir / "timings.json").read_text())
    size = len(rows)
    cpu_ms = {
        "runner": (cpu_after[0] - cpu_before[0]) / size * 1000,
        "simulator": (cpu_after[1] - cpu_before[1]) / size * 1000,
    }
    return {
        "mode": f"SQLite single process, concurrency {concurrency}",
        "registrations": size,
        "wall_s": wall_s,
        "per_min": size / wall_s * 60,
        "p50_s": percentile([float(r.get("total_s") or 0) for r in rows], 50),
        "p95_s": percentile([float(r.get("total_s") or 0) for r in rows], 95),
        "cpu_ms_per_registration": cpu_ms,
        "cores_busy": sum(cpu_ms.values()) * size / 1000 / wall_s,
        "loadavg": (load_before, os.getloadavg()[0]),
    }


def cpu_text(row: dict[str, Any]) -> str:
    """CPU ms per registration, by part, as ``workers 12.0 + postgres 3.1 ...``."""
    parts = row["cpu_ms_per_registration"]
    return " + ".join(f"{name} {ms:.1f}" for name, ms in parts.items()) + (
        f" = {sum(parts.values()):.1f}"
    )


def print_report(rows: list[dict[str, Any]], seq: list[dict[str, Any]], counts: list[int],
                 size: int, time_scale: float) -> None:  # fmt: skip
    """The markdown table, the speed-ups and the overhead figures."""
    print(f"\n{size} registrations, {CONSTELLATION}, simulator gpt-4o at time scale "
          f"{time_scale:g} in its own process\n")  # fmt: skip
    print("| run | registrations/min | p50 s | p95 s | wall s | CPU ms/registration | "
          "cores busy | loadavg before, after |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    for row in [*rows, *seq]:
        load = ", ".join(f"{x:.1f}" for x in row["loadavg"])
        print(f"| {row['mode']} | {row['per_min']:.0f} | {row['p50_s']:.2f} | "
              f"{row['p95_s']:.2f} | {row['wall_s']:.1f} | {cpu_text(row)} | "
              f"{row['cores_busy']:.2f} | {load} |")  # fmt: skip
    first = rows[0]["per_min"]
    for row in rows[1 : len(counts)]:
        print(f"\nspeed-up {row['mode'].split(',')[0]} vs 1 worker: {row['per_min'] / first:.2f}x")
    boots = ", ".join(f"{r['worker_boot_cpu_s']:.2f}" for r in rows[: len(counts)])
    print(f"\nCPU s per worker process until ready (imports, ledger, broker): {boots}")
    worker_seq, sqlite_seq = seq
    overhead_ms = (worker_seq["wall_s"] - sqlite_seq["wall_s"]) / size * 1000
    print(f"\nbroker + ledger overhead per registration: {overhead_ms:.1f} ms wall "
          f"(1 worker x 1 thread {worker_seq['wall_s'] / size * 1000:.1f} ms vs in-process "
          f"SQLite {sqlite_seq['wall_s'] / size * 1000:.1f} ms, rules constellation); CPU "
          f"{cpu_text(worker_seq)} ms vs {cpu_text(sqlite_seq)} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 registrations, 1 and 2 workers")
    parser.add_argument("--registrations", type=int, default=960)
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--no-sqlite", action="store_true", help="skip the in-process rows")
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="write each worker's cProfile stats (all threads) under this folder",
    )  # fmt: skip
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
    prefix = [sys.executable, "-m", "igent.cli"]
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        prefix = [sys.executable, str(Path(__file__).with_name("profile_threads.py")),
                  str(args.profile.resolve())]  # fmt: skip
    schema = None
    if args.db is None:
        schema = f"igent_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(DEFAULT_DB, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        args.db = f"{DEFAULT_DB}?options=-csearch_path%3D{schema}"
    simulator, sim_url = start_simulator(args.time_scale)
    rows: list[dict[str, Any]] = []
    seq: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_campaign(Path(tmp), size)
            for count in counts:
                rows.append(run_workers(count, args.threads, paths, args.db, args.broker,
                                        simulator, sim_url, CONSTELLATION, prefix))  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
            if not args.no_sqlite:
                for concurrency in sorted({args.threads, max(counts) * args.threads}):
                    out = Path(tmp) / f"sqlite-{concurrency}"
                    rows.append(
                        run_sqlite(concurrency, paths, simulator, sim_url, CONSTELLATION, out)
                    )
                    print(json.dumps(rows[-1]), flush=True)
            # Overhead: the rules constellation (no model time), one at a time.
            seq.append(run_workers(1, 1, paths, args.db, args.broker, simulator, sim_url,
                                   "rules", prefix))  # fmt: skip
            seq.append(run_sqlite(1, paths, simulator, sim_url, "rules", Path(tmp) / "seq"))
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)
        if schema is not None:
            with psycopg.connect(DEFAULT_DB, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print_report(rows, seq, counts, size, args.time_scale)
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "sequential": seq}, indent=2))


if __name__ == "__main__":
    main()
