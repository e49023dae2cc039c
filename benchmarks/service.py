"""Benchmark the campaign service over real HTTP (igent serve on 127.0.0.1).

Usage: python benchmarks/service.py [--registrations 400] [--quick] [--llm] [--json OUT]

1. Service overhead: HTTP answer time (client side) minus the pipeline's own time
   (``timings.total_s`` in the answer) for the same registrations, rules constellation,
   concurrency 16: p50 and p95 (issue 10 targets: <= 5 ms and <= 15 ms).
2. Throughput of the rules constellation over HTTP at concurrency 32 (target >= 300/s).
3. With --llm: p1m1v0_p2r on the simulator's gpt-4o profile at time scale 1, concurrency 32
   (targets >= 500 registrations/min, p95 <= 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from igent.campaign.demo import demo_campaign_paths

PREFIX = "igent service listening on "


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["IGENT_RATE_LIMIT_PER_MINUTE"] = "100000000"
    env["IGENT_REQUEST_DEADLINE_S"] = "60"
    return env


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
) -> tuple[float, list[tuple[float, float]]]:
    """Post every registration; return wall seconds and (http_s, pipeline_s) per answer."""
    semaphore = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=120, limits=limits
    ) as client:
        await client.get("/healthz")  # open a connection first

        async def post(registration: dict[str, Any]) -> tuple[float, float]:
            async with semaphore:
                started = time.perf_counter()
                response = await client.post(
                    f"/v1/campaigns/{campaign_id}/registrations", json=registration
                )
                http_s = time.perf_counter() - started
            response.raise_for_status()
            return http_s, float(response.json()["timings"]["total_s"])

        started = time.perf_counter()
        results = await asyncio.gather(*(post(r) for r in registrations))
        return time.perf_counter() - started, list(results)


def run(count: int, llm: bool) -> dict[str, Any]:
    """Start a server, run the measurements, stop it; return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="igent-service-bench-"))
    db = folder / "igent.db"
    env = _env()
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
        [sys.executable, "-m", "igent.cli", "serve", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=(folder / "serve.log").open("w"),
        text=True,
        env=env,
    )
    assert server.stdout is not None
    url = server.stdout.readline()[len(PREFIX) :].strip()
    figures: dict[str, Any] = {"registrations": count, "cpus": os.cpu_count()}
    print(f"server log: {folder / 'serve.log'}", file=sys.stderr)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for campaign_id, constellation, model in (
                ("overhead", "rules", None),
                ("throughput", "rules", None),
                ("llm", "p1m1v0_p2r", "sim:gpt-4o"),
            ):
                body = {
                    "campaign_id": campaign_id,
                    "offers": _offers(10 * count),
                    "constellation": constellation,
                    "model": model,
                    "concurrency": 32,
                }
                http.post("/v1/campaigns", json=body).raise_for_status()
        # Warm-up: first requests build the campaign's pipeline.
        asyncio.run(_post_all(url, key, "overhead", _registrations(32, "W"), 16))
        _, answers = asyncio.run(_post_all(url, key, "overhead", _registrations(count, "O"), 16))
        overhead_ms = [(h - p) * 1000 for h, p in answers]
        figures["overhead_p50_ms"] = round(_percentile(overhead_ms, 50), 2)
        figures["overhead_p95_ms"] = round(_percentile(overhead_ms, 95), 2)
        figures["http_p50_ms"] = round(_percentile([h * 1000 for h, _ in answers], 50), 2)
        figures["pipeline_p50_ms"] = round(statistics.median(p * 1000 for _, p in answers), 3)
        asyncio.run(_post_all(url, key, "throughput", _registrations(32, "V"), 32))
        cpu_before = _cpu_s(server.pid)
        wall_s, _ = asyncio.run(_post_all(url, key, "throughput", _registrations(count, "T"), 32))
        cpu_s = _cpu_s(server.pid) - cpu_before
        figures["rules_per_s_c32"] = round(count / wall_s, 1)
        figures["server_cpu_ms_per_registration"] = round(cpu_s / count * 1000, 2)
        figures["rules_per_s_per_server_cpu_s"] = round(count / cpu_s, 1) if cpu_s else None
        figures["load_average_1m"] = round(os.getloadavg()[0], 2)
        if llm:
            llm_count = max(count // 2, 64)
            wall_s, answers = asyncio.run(
                _post_all(url, key, "llm", _registrations(llm_count, "L"), 32)
            )
            figures["llm_registrations"] = llm_count
            figures["llm_per_min_c32"] = round(llm_count / wall_s * 60, 1)
            figures["llm_p95_s"] = round(_percentile([h for h, _ in answers], 95), 3)
    finally:
        server.terminate()
        server.wait(timeout=60)
        server.stdout.close()
    return figures


def main() -> None:
    """Parse options, run, print the figures (and write JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="100 registrations, no --llm")
    parser.add_argument("--llm", action="store_true", help="also p1m1v0_p2r on sim:gpt-4o")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    count = 100 if args.quick else args.registrations
    figures = run(count, args.llm and not args.quick)
    for name, value in figures.items():
        print(f"{name:>22}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
