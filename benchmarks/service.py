"""Benchmark the campaign service over real HTTP (igent serve on 127.0.0.1).

Usage: python benchmarks/service.py [--registrations 2000] [--workers 1,2] [--quick] [--llm]
       [--json OUT]

For each server process count in ``--workers`` a fresh SQLite file and a fresh
``igent serve --port 0 --workers N``, then, with the rules constellation:

1. Service overhead = HTTP answer time (client side) minus the pipeline's own time
   (``timings.total_s`` in the answer): p50 and p95 at concurrency 1 (no queueing: the
   service time) and at concurrency 16 (issue 10 targets: <= 5 ms and <= 15 ms). The figures
   at 16 are split into service time (the concurrency-1 answer time) and queueing (the rest);
   by Little's law a closed loop of 16 clients sees 16 / throughput on average.
2. Throughput at concurrency 32 (target >= 300 registrations/s), with the server's CPU (user +
   system of every server process, from /proc) and the client's CPU per registration.
3. With --llm (first worker count only): p1m1v0_p2r on the simulator's gpt-4o profile at time
   scale 1, concurrency 32 (targets >= 500 registrations/min, p95 <= 3 s).

The load client runs in a process of its own: a minimal HTTP/1.1 client on asyncio streams
with one keep-alive connection per concurrent request (httpx costs several times its CPU, and
client and server share the machine's cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from igent.campaign.demo import demo_campaign_paths

PREFIX = "igent service listening on "
Answer = tuple[float, float]  # (HTTP seconds, pipeline seconds)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["IGENT_RATE_LIMIT_PER_MINUTE"] = "100000000"
    env["IGENT_REQUEST_DEADLINE_S"] = "60"
    return env


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants so far (Linux)."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(_cpu_s(int(child)) for child in children)


def _child_cpu_s(pid: int) -> list[float]:
    """CPU seconds of each child process of ``pid`` (the uvicorn workers), in pid order."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [_cpu_s(int(child)) for child in sorted(children, key=int)]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * pct / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _registrations(count: int, prefix: str) -> list[dict[str, Any]]:
    demo = json.loads(demo_campaign_paths()["registrations"].read_text(encoding="utf-8"))
    return [
        {**demo[i % len(demo)], "RegistrationNumber": f"{prefix}-{i:06d}"} for i in range(count)
    ]


def _offers(capacity: int) -> dict[str, Any]:
    offers = json.loads(demo_campaign_paths()["offers"].read_text(encoding="utf-8"))
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = capacity
    return offers


async def _post_all(
    url: str, key: str, campaign_id: str, registrations: list[dict[str, Any]], concurrency: int
) -> tuple[float, list[Answer]]:
    """Post every registration over ``concurrency`` keep-alive connections.

    Returns wall seconds and (HTTP seconds, pipeline seconds) per answer.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (
        f"POST /v1/campaigns/{campaign_id}/registrations HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    ).encode()
    requests = [
        head + b"Content-Length: %d\r\n\r\n" % len(body) + body
        for body in (json.dumps(r).encode() for r in registrations)
    ]
    answers: list[Answer] = [(0.0, 0.0)] * len(requests)
    next_index = 0

    async def connection() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(requests):
                index = next_index
                next_index += 1
                started = time.perf_counter()
                writer.write(requests[index])
                header = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                http_s = time.perf_counter() - started
                if not header.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"{header.splitlines()[0]!r}: {body[:200]!r}")
                answers[index] = (http_s, float(json.loads(body)["timings"]["total_s"]))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(min(concurrency, len(requests)))))
    return time.perf_counter() - started, answers


def _client_run(
    url: str, key: str, campaign_id: str, registrations: list[dict[str, Any]], concurrency: int
) -> tuple[float, float, list[Answer]]:
    """Run :func:`_post_all` in this (client) process; return wall s, client CPU s, answers."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass
    cpu = time.process_time()
    wall_s, answers = asyncio.run(_post_all(url, key, campaign_id, registrations, concurrency))
    return wall_s, time.process_time() - cpu, answers


def _client(
    pool: Any, url: str, key: str, campaign_id: str, regs: list[dict[str, Any]], concurrency: int
) -> tuple[float, float, list[Answer]]:
    result: tuple[float, float, list[Answer]] = pool.apply(
        _client_run, (url, key, campaign_id, regs, concurrency)
    )
    return result


def _start_server(folder: Path, workers: int, env: dict[str, str]) -> tuple[Any, str, str]:
    db = folder / "igent.db"
    key = subprocess.run(
        [
            sys.executable,
            "-m",
            "igent.cli",
            "keys",
            "create",
            "--role",
            "operator",
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout.strip()
    server = subprocess.Popen(
        [sys.executable, "-m", "igent.cli", "serve", "--port", "0", "--db", str(db)]
        + (["--workers", str(workers)] if workers != 1 else []),
        stdout=subprocess.PIPE,
        stderr=(folder / "serve.log").open("w"),
        text=True,
        env=env,
    )
    assert server.stdout is not None
    url = server.stdout.readline()[len(PREFIX) :].strip()
    print(f"server ({workers} workers) log: {folder / 'serve.log'}", file=sys.stderr)
    return server, url, key


def _measure(
    pool: Any, url: str, key: str, server_pid: int, count: int, workers: int
) -> dict[str, Any]:
    """Overhead at concurrency 1 and 16, throughput at 32, on one running server."""
    figures: dict[str, Any] = {}
    # Warm-up: the first requests build each campaign's pipeline in every server process.
    warm = max(32, 32 * workers)
    _client(pool, url, key, "overhead", _registrations(warm, "W"), 16)
    _client(pool, url, key, "throughput", _registrations(warm, "V"), 32)
    solo_count = max(50, count // 4)
    _, _, solo = _client(pool, url, key, "overhead", _registrations(solo_count, "S"), 1)
    workers_before = _child_cpu_s(server_pid)
    wall_s, _, answers = _client(pool, url, key, "overhead", _registrations(count, "O"), 16)
    if workers > 1:
        # Balance at concurrency 16: each worker's share of the server CPU (even: 0.5 / 0.5).
        spent = [a - b for a, b in zip(_child_cpu_s(server_pid), workers_before, strict=False)]
        figures["c16_worker_cpu_shares"] = [round(s / (sum(spent) or 1), 2) for s in spent]
    overhead_ms = [(h - p) * 1000 for h, p in answers]
    solo_ms = [(h - p) * 1000 for h, p in solo]
    http_ms = [h * 1000 for h, _ in answers]
    solo_http_ms = [h * 1000 for h, _ in solo]
    figures["overhead_c1_p50_ms"] = round(_percentile(solo_ms, 50), 2)
    figures["overhead_c1_p95_ms"] = round(_percentile(solo_ms, 95), 2)
    figures["overhead_p50_ms"] = round(_percentile(overhead_ms, 50), 2)
    figures["overhead_p95_ms"] = round(_percentile(overhead_ms, 95), 2)
    figures["pipeline_p50_ms"] = round(statistics.median(p * 1000 for _, p in answers), 3)
    # Split of the concurrency-16 answer time: the time one request needs alone (service)
    # and the wait behind the others (queueing); Little's law: mean = 16 / throughput.
    figures["c16_per_s"] = round(count / wall_s, 1)
    figures["c16_littles_law_ms"] = round(16 / (count / wall_s) * 1000, 2)
    figures["c16_http_mean_ms"] = round(statistics.fmean(http_ms), 2)
    figures["c16_service_p50_ms"] = round(_percentile(solo_http_ms, 50), 2)
    figures["c16_queueing_p50_ms"] = round(
        _percentile(http_ms, 50) - _percentile(solo_http_ms, 50), 2
    )
    cpu_before = _cpu_s(server_pid)
    wall_s, client_cpu_s, _ = _client(pool, url, key, "throughput", _registrations(count, "T"), 32)
    cpu_s = _cpu_s(server_pid) - cpu_before
    figures["rules_per_s_c32"] = round(count / wall_s, 1)
    figures["server_cpu_ms_per_registration"] = round(cpu_s / count * 1000, 3)
    figures["client_cpu_ms_per_registration"] = round(client_cpu_s / count * 1000, 3)
    figures["rules_per_s_per_server_cpu_s"] = round(count / cpu_s, 1) if cpu_s else None
    return figures


def run(count: int, workers_list: list[int], llm: bool) -> dict[str, Any]:
    """Start a server per worker count, run the measurements, stop it; return the figures."""
    env = _env()
    figures: dict[str, Any] = {
        "registrations": count,
        "cpus": os.cpu_count(),
        "load_average_1m_before": round(os.getloadavg()[0], 2),
    }
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        for position, workers in enumerate(workers_list):
            folder = Path(tempfile.mkdtemp(prefix="igent-service-bench-"))
            server, url, key = _start_server(folder, workers, env)
            try:
                headers = {"Authorization": f"Bearer {key}"}
                campaigns = [("overhead", "rules", None), ("throughput", "rules", None)]
                if llm and position == 0:
                    campaigns.append(("llm", "p1m1v0_p2r", "sim:gpt-4o"))
                with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                    for campaign_id, constellation, model in campaigns:
                        body = {
                            "campaign_id": campaign_id,
                            "offers": _offers(10 * count + 1000),
                            "constellation": constellation,
                            "model": model,
                            "concurrency": 32,
                        }
                        http.post("/v1/campaigns", json=body).raise_for_status()
                measured = _measure(pool, url, key, server.pid, count, workers)
                figures.update({f"w{workers}_{name}": value for name, value in measured.items()})
                if llm and position == 0:
                    llm_count = max(count // 2, 64)
                    wall_s, _, answers = _client(
                        pool, url, key, "llm", _registrations(llm_count, "L"), 32
                    )
                    figures["llm_registrations"] = llm_count
                    figures["llm_per_min_c32"] = round(llm_count / wall_s * 60, 1)
                    figures["llm_p95_s"] = round(_percentile([h for h, _ in answers], 95), 3)
            finally:
                server.terminate()
                server.wait(timeout=60)
                assert server.stdout is not None
                server.stdout.close()
    figures["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    return figures


def main() -> None:
    """Parse options, run, print the figures (and write JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=2000)
    parser.add_argument(
        "--workers", default="1,2", help="server process counts to measure, comma-separated"
    )
    parser.add_argument("--quick", action="store_true", help="100 registrations, no --llm")
    parser.add_argument("--llm", action="store_true", help="also p1m1v0_p2r on sim:gpt-4o")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    count = 100 if args.quick else args.registrations
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    figures = run(count, workers, args.llm and not args.quick)
    for name, value in figures.items():
        print(f"{name:>34}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
