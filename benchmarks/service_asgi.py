"""CPU per registration POST inside the service app, without uvicorn or a network.

Usage: python benchmarks/service_asgi.py [--registrations 800] [--concurrency 16] [--profile OUT]
       [--default-gc]

Builds ``create_app`` on a fresh SQLite file, creates a rules campaign, and drives
``POST /v1/campaigns/{c}/registrations`` through the ASGI interface directly, ``--concurrency``
at a time. Prints the process CPU time per request, the event loop thread's share of it, the
pipeline's own CPU per request and, with ``--profile``, the number of Python
function calls per request from cProfile (a count that does not depend on the machine's load:
use it to compare two checkouts side by side) and writes the profile to OUT.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from igent.campaign.demo import demo_campaign_paths
from igent.cli.serve import tune_gc
from igent.service import create_app
from igent.service.auth import create_key
from igent.settings import Settings
from igent.store.service_tables import ServiceTables

Call = Any  # the ASGI app


async def _call(app: Call, auth: bytes, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    data = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", auth),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def run(
    count: int, concurrency: int, profile: Path | None, tuned_gc: bool = True
) -> dict[str, Any]:
    """Post ``count`` registrations (after a warm-up) and return the figures."""
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="igent-asgi-bench-")),
        rate_limit_per_minute=10**9,
        request_deadline_s=60,
    )
    tables = ServiceTables(settings.database_path())
    key, _ = create_key(tables, "operator", "bench")
    tables.close()
    auth = f"Bearer {key}".encode()
    app = create_app(settings)
    if tuned_gc:
        tune_gc()  # as igent serve does
    offers = json.loads(demo_campaign_paths()["offers"].read_text(encoding="utf-8"))
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = 10 * count + 1000
    demo = json.loads(demo_campaign_paths()["registrations"].read_text(encoding="utf-8"))
    registrations = [
        {**demo[i % len(demo)], "RegistrationNumber": f"R-{i:06d}"} for i in range(count + 64)
    ]
    semaphore = asyncio.Semaphore(concurrency)

    async def post(registration: dict[str, Any]) -> None:
        async with semaphore:
            status, body = await _call(app, auth, "/v1/campaigns/c/registrations", registration)
            if status != 200:
                raise RuntimeError(f"{status}: {body[:200]!r}")

    async with app.router.lifespan_context(app):
        campaign = {"campaign_id": "c", "offers": offers, "campaign_date": "2026-06-01"}
        status, body = await _call(app, auth, "/v1/campaigns", campaign)
        if status != 201:
            raise RuntimeError(f"{status}: {body[:200]!r}")
        await asyncio.gather(*(post(r) for r in registrations[:64]))  # warm-up
        pipeline_s = _time_pipeline(app.state.context.desk.cached_runtime("c").pipeline)
        profiler = cProfile.Profile(time.process_time) if profile else None
        cpu, main_cpu = time.process_time(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(*(post(r) for r in registrations[64:]))
        if profiler is not None:
            profiler.disable()
        cpu_s, main_cpu_s = time.process_time() - cpu, time.thread_time() - main_cpu
    figures: dict[str, Any] = {
        "registrations": count,
        "concurrency": concurrency,
        "gc": "igent serve's (tune_gc)" if tuned_gc else "CPython default",
        "cpu_ms_per_request": round(cpu_s / count * 1000, 3),
        # The rest runs on the commit thread: the ledger's and the service's batch writes.
        "event_loop_thread_share": round(main_cpu_s / cpu_s, 3),
        # Pipeline.process (rules, capacity hold, pricing): the pipeline's own share.
        "pipeline_cpu_ms_per_request": round(pipeline_s[0] / count * 1000, 3),
    }
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
        calls = sum(entry[1] for entry in profiler.getstats())  # type: ignore[attr-defined]
        figures["python_calls_per_request"] = round(calls / count)
        figures["profile"] = str(profile)
    return figures


def _time_pipeline(pipeline: Any) -> list[float]:
    """Count the thread CPU seconds spent in ``pipeline.process`` into the returned list.

    A rules-only process() never waits (its commit lock is free when the loop reaches it),
    so the thread time between its start and end is its own.
    """
    spent = [0.0]
    process = pipeline.process

    async def timed(record: Any) -> Any:
        started = time.thread_time()
        try:
            return await process(record)
        finally:
            spent[0] += time.thread_time() - started

    pipeline.process = timed
    return spent


def main() -> None:
    """Parse options, run, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    parser.add_argument(
        "--default-gc", action="store_true", help="CPython's GC thresholds, not igent serve's"
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass
    figures = asyncio.run(
        run(args.registrations, args.concurrency, args.profile, not args.default_gc)
    )
    for name, value in figures.items():
        print(f"{name:>26}: {value}")


if __name__ == "__main__":
    main()
