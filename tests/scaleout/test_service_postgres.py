"""The campaign service on PostgreSQL: two processes, the same registration posted to both."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from igent.store.backend import open_store
from tests.service.conftest import demo_offers, demo_registrations
from tests.service.server import PREFIX, cli_env
from tests.support.services import empty_ledger

pytestmark = pytest.mark.slow
REGISTRATIONS = 40


class PgServer:
    """An ``igent serve --port 0 --db postgresql://...`` process."""

    def __init__(self, db: str, log: Path) -> None:
        with log.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "igent.cli", "serve", "--port", "0", "--db", db],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=cli_env(IGENT_RATE_LIMIT_PER_MINUTE="1000000"),
            )
        self.log = log

    def wait_ready(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith(PREFIX), f"{line!r}: {self.log.read_text()}"
        return line[len(PREFIX) :].strip()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def pg_db(postgres_url: str) -> str:
    """The session's PostgreSQL schema, emptied (ledger and service tables)."""
    empty_ledger(postgres_url)
    return postgres_url


@pytest.fixture
def servers(pg_db: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two service processes on the same PostgreSQL database; yields their URLs."""
    started = [PgServer(pg_db, tmp_path / f"server-{n}.log") for n in range(2)]
    try:
        yield [server.wait_ready() for server in started]
    finally:
        for server in started:
            server.stop()


def _key(db: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "igent.cli", "keys", "create", "--role", "operator", "--db", db],
        capture_output=True, text=True, env=cli_env(), timeout=60, check=True,
    )  # fmt: skip
    return done.stdout.strip()


async def _post_to_both(
    urls: list[str], key: str, registrations: list[dict[str, Any]]
) -> list[list[tuple[int, dict[str, Any]]]]:
    headers = {"Authorization": f"Bearer {key}"}
    clients = [httpx.AsyncClient(base_url=u, headers=headers, timeout=60) for u in urls]

    async def post(client: httpx.AsyncClient, registration: dict[str, Any]) -> Any:
        response = await client.post("/v1/campaigns/scarce/registrations", json=registration)
        return response.status_code, response.json()

    try:
        answers = []
        for registration in registrations:  # each one at both processes at the same moment
            answers.append(list(await asyncio.gather(*(post(c, registration) for c in clients))))
        return answers
    finally:
        for client in clients:
            await client.aclose()


def test_the_same_registration_posted_to_two_processes_is_booked_once_with_one_answer(
    pg_db: str, servers: list[str]
) -> None:
    key = _key(pg_db)
    offers = demo_offers()
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = 3
    demo = demo_registrations()
    registrations = [
        {**demo[n % len(demo)], "RegistrationNumber": f"R-{n:05d}"} for n in range(REGISTRATIONS)
    ]
    created = httpx.post(
        f"{servers[0]}/v1/campaigns",
        json={"campaign_id": "scarce", "offers": offers},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert created.status_code == 201, created.text

    started = time.monotonic()
    answers = asyncio.run(_post_to_both(servers, key, registrations))
    assert time.monotonic() - started < 120

    for first, second in answers:
        assert first[0] == second[0] == 200, (first, second)
        assert first[1]["status"] == second[1]["status"]
        assert first[1]["supplier_id"] == second[1]["supplier_id"]  # the same answer
    store = open_store(pg_db)
    try:
        counts = store.counts("scarce")
        assert sum(counts.by_status.values()) == REGISTRATIONS  # one decision each
        used = {s.supplier_id: s.used for s in store.suppliers("scarce")}
        capacity = {s.supplier_id: s.capacity for s in store.suppliers("scarce")}
        assert {s: u for s, u in used.items() if u} == counts.booked_by_supplier  # one booking
        assert all(used[s] <= capacity[s] for s in used)
    finally:
        store.close()
