"""The service as real uvicorn processes: the README sequence, two processes on one SQLite
file never oversell, and kill -9 under load loses no acknowledged registration."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import demo_offers, demo_registrations
from tests.service.server import Server, cli_env, create_key_cli

pytestmark = pytest.mark.slow


def many_registrations(count: int) -> list[dict[str, Any]]:
    """``count`` registrations cycling the demo ones, with fresh numbers."""
    demo = demo_registrations()
    return [{**demo[i % len(demo)], "RegistrationNumber": f"R-{i:05d}"} for i in range(count)]


def wait_for(condition: Any, timeout_s: float = 60.0) -> None:
    """Poll ``condition`` until it is true (a bounded wait for a background job)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_readme_sequence_serve_key_campaign_registration_events_export(tmp_path: Path):
    db = tmp_path / "igent.db"
    key = create_key_cli(db)
    with Server(db) as server:
        assert server.first_line.startswith("igent service listening on http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            assert http.get("/healthz").json()["status"] == "ok"
            created = http.post(
                "/v1/campaigns",
                json={
                    "campaign_id": "demo",
                    "offers": demo_offers(),
                    "campaign_date": "2026-06-01",
                },
            )
            assert created.status_code == 201, created.text
            registration = demo_registrations()[0]
            decided = http.post("/v1/campaigns/demo/registrations", json=registration)
            assert decided.status_code == 200
            supplier = decided.json()["supplier_id"]
            events = http.get("/v1/campaigns/demo/events", params={"follow": "false"}).text
            assert "event: decision" in events and registration["RegistrationNumber"] in events
            with http.stream("GET", "/v1/campaigns/demo/events") as stream:  # follow mode
                first = next(stream.iter_lines())
                assert first.startswith("id: ")
            pos = http.get("/v1/campaigns/demo/exports/purchase-orders.csv").text
            rows = list(csv.DictReader(io.StringIO(pos)))
            assert rows and rows[0]["supplier_id"] == supplier
            assert http.get("/v1/campaigns").status_code == 200
        assert httpx.get(f"{server.url}/v1/campaigns").status_code == 401


async def _post_all(
    urls: list[str], key: str, registrations: list[dict[str, Any]], concurrency: int
) -> list[tuple[str, int, dict[str, Any]]]:
    """Post each registration to every URL, ``concurrency`` at a time; return the answers."""
    semaphore = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    clients = [httpx.AsyncClient(base_url=u, headers=headers, timeout=60) for u in urls]

    async def post(client: httpx.AsyncClient, registration: dict[str, Any]) -> Any:
        async with semaphore:
            r = await client.post("/v1/campaigns/scarce/registrations", json=registration)
            return registration["RegistrationNumber"], r.status_code, r.json()

    try:
        jobs = [post(c, r) for r in registrations for c in clients]
        return list(await asyncio.gather(*jobs))
    finally:
        for client in clients:
            await client.aclose()


def start_servers(stack: contextlib.ExitStack, db: Path, layout: str) -> list[str]:
    """Start two server processes on ``db`` and return two URLs to post each registration to.

    ``two serves``: two ``igent serve`` processes; ``--workers 2``: one ``igent serve --workers
    2`` (its two processes listen on one port), posted to twice over separate connections.
    """
    if layout == "two serves":
        return [stack.enter_context(Server(db)).url, stack.enter_context(Server(db)).url]
    server = stack.enter_context(Server(db, "--workers", "2"))
    if sys.platform == "linux":  # the workers start after the first line is printed
        wait_for(lambda: len(server.worker_pids()) == 2)
    return [server.url, server.url]


@pytest.mark.parametrize("layout", ["two serves", "--workers 2"])
def test_two_processes_on_one_sqlite_file_never_oversell(tmp_path: Path, layout: str):
    db = tmp_path / "igent.db"
    key = create_key_cli(db)
    offers = demo_offers()
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = 5
    registrations = many_registrations(200)
    with contextlib.ExitStack() as stack:
        urls = start_servers(stack, db, layout)
        http = httpx.Client(
            base_url=urls[0], headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        created = http.post("/v1/campaigns", json={"campaign_id": "scarce", "offers": offers})
        assert created.status_code == 201
        answers = asyncio.run(_post_all(urls, key, registrations, 32))
        campaign = http.get("/v1/campaigns/scarce").json()
        log = http.get("/v1/campaigns/scarce/exports/decisions.jsonl").text.splitlines()
        http.close()
    assert {status for _, status, _ in answers} == {200}, answers[:3]
    by_registration: dict[str, set[Any]] = {}
    for registration_id, _, body in answers:
        by_registration.setdefault(registration_id, set()).add(body["supplier_id"])
    assert all(len(s) == 1 for s in by_registration.values()), "two answers for one number"
    decisions = [json.loads(line) for line in log]
    assert len(decisions) == 200
    booked: dict[str, int] = {}
    for decision in decisions:
        if decision["status"] == "matched":
            booked[decision["supplier_id"]] = booked.get(decision["supplier_id"], 0) + 1
    for supplier in campaign["suppliers"]:
        assert supplier["used"] <= supplier["capacity"]
        assert booked.get(supplier["supplier_id"], 0) == supplier["used"]
    assert sum(booked.values()) == sum(s["capacity"] for s in campaign["suppliers"])


def test_kill_9_under_load_keeps_every_acknowledged_registration(tmp_path: Path):
    db = tmp_path / "igent.db"
    key = create_key_cli(db)
    headers = {"Authorization": f"Bearer {key}"}
    registrations = many_registrations(400)
    acknowledged: dict[str, str | None] = {}
    server = Server(db)
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        body = {"campaign_id": "scarce", "offers": demo_offers()}
        assert http.post("/v1/campaigns", json=body).status_code == 201
        batch = http.post("/v1/campaigns/scarce/registrations:batch", json=registrations[300:])
        job_url = batch.json()["url"]

    async def load() -> None:
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
            semaphore = asyncio.Semaphore(16)

            async def post(registration: dict[str, Any]) -> None:
                async with semaphore:
                    if len(acknowledged) >= 120:
                        return
                    try:
                        r = await client.post(
                            "/v1/campaigns/scarce/registrations", json=registration
                        )
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        acknowledged[registration["RegistrationNumber"]] = r.json()["supplier_id"]
                    if len(acknowledged) == 120:
                        server.kill()  # kill -9 with requests in flight

            await asyncio.gather(*(post(r) for r in registrations[:300]))

    asyncio.run(load())
    assert server.process.returncode == -9
    with Server(db) as restarted:
        with httpx.Client(base_url=restarted.url, headers=headers, timeout=30) as http:
            for registration_id, supplier in acknowledged.items():
                got = http.get(f"/v1/campaigns/scarce/registrations/{registration_id}")
                assert got.status_code == 200, registration_id
                assert got.json()["supplier_id"] == supplier
            wait_for(lambda: http.get(job_url).json()["status"] == "done")
            assert http.get(job_url).json()["done"] == 100
            campaign = http.get("/v1/campaigns/scarce").json()
            log = http.get("/v1/campaigns/scarce/exports/decisions.jsonl").text.splitlines()
    matched: dict[str, int] = {}
    for line in log:
        decision = json.loads(line)
        if decision["status"] == "matched":
            matched[decision["supplier_id"]] = matched.get(decision["supplier_id"], 0) + 1
    assert {s["supplier_id"]: s["used"] for s in campaign["suppliers"] if s["used"]} == matched


def readme_service_script() -> str:
    """The bash block of the README's "Service" section."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Service\n", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def test_readme_service_block_runs_as_written(tmp_path: Path):
    script = readme_service_script().replace("--port 8000", "--port 0")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "igent"  # this checkout's igent, as an installed console script
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m igent.cli "$@"\n')
    wrapper.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script + "wait\n"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=cli_env(PATH=path),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "event: decision" in done.stdout and '"R-1"' in done.stdout
    rows = list(csv.DictReader(io.StringIO((tmp_path / "pos.csv").read_text())))
    assert [r["registration_id"] for r in rows] == ["R-1"]
    assert float(rows[0]["total_price"]) > 0
    assert (tmp_path / "key.txt").read_text().startswith("igk_")
