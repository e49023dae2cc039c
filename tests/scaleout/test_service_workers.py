"""``igent serve --broker``: a batch upload is decided by a real ``igent worker`` process over
Redis, on PostgreSQL; the job URL follows the committed decisions to the end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from igent.service import create_app
from igent.service.auth import create_key
from igent.settings import Settings
from igent.store.backend import open_store
from igent.worker import BrokerOptions, make_broker
from igent.worker.broker import pending_messages
from tests.service.conftest import demo_offers, demo_registrations
from tests.support.services import empty_ledger

pytestmark = pytest.mark.slow
REGISTRATIONS = 60
CAPACITY = 4  # per supplier: 16 units for 60 registrations, scarce


@pytest.fixture
def worker(postgres_url: str, redis_url: str, namespace: str) -> Iterator[None]:
    """One ``igent worker`` process (4 threads) on the test's ledger and namespace."""
    empty_ledger(postgres_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "igent.cli", "worker", "--db", postgres_url,
         "--broker", redis_url, "--namespace", namespace, "--threads", "4"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("igent worker ready")
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
async def service(
    postgres_url: str, redis_url: str, namespace: str, worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The service on PostgreSQL with the Redis broker (ASGI), as an operator."""
    settings = Settings(database_url=postgres_url, broker_url=redis_url, broker_namespace=namespace)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.context.jobs.poll_s = 0.05
        operator, _ = create_key(app.state.context.tables, "operator", "test")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {operator}"},
        ) as http:
            yield http


async def _finished(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    job: dict[str, Any] = {}
    for _ in range(1200):
        job = (await http.get(url)).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {url} did not finish in 120 s: {job}")


async def test_a_batch_upload_is_decided_by_the_workers_once_within_capacity(
    service: httpx.AsyncClient, postgres_url: str, redis_url: str, namespace: str
) -> None:
    offers = demo_offers()
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = CAPACITY
    created = await service.post("/v1/campaigns", json={"campaign_id": "queued", "offers": offers})
    assert created.status_code == 201, created.text
    demo = demo_registrations()
    registrations = [
        {**demo[n % len(demo)], "RegistrationNumber": f"R-{n:05d}"} for n in range(REGISTRATIONS)
    ]

    response = await service.post(
        "/v1/campaigns/queued/registrations:batch", json=[*registrations, registrations[0]]
    )
    assert response.status_code == 202
    job = await _finished(service, response.headers["location"])
    repost = await service.post("/v1/campaigns/queued/registrations", json=registrations[7])
    seventh = registrations[7]["RegistrationNumber"]
    listed = await service.get(f"/v1/campaigns/queued/registrations/{seventh}")

    assert (job["status"], job["done"], job["errors"]) == ("done", REGISTRATIONS + 1, 0)
    assert repost.status_code == 200 and repost.json()["status"] == listed.json()["status"]
    store = open_store(postgres_url)
    try:
        counts = store.counts("queued")
        assert sum(counts.by_status.values()) == REGISTRATIONS  # one decision each
        assert {d.run_id for d in store.decisions("queued")} == {"worker"}
        used = {s.supplier_id: s.used for s in store.suppliers("queued")}
        assert {s: u for s, u in used.items() if u} == counts.booked_by_supplier
        assert all(u <= CAPACITY for u in used.values())
        assert counts.by_status.get("matched", 0) == 4 * CAPACITY  # scarce: every unit sold
    finally:
        store.close()
    broker = make_broker(redis_url, BrokerOptions(namespace=namespace))
    try:
        assert pending_messages(broker) == 0
    finally:
        broker.close()
