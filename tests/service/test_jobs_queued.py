"""Batch uploads with a broker (``igent serve --broker``): workers decide, the job follows
the ledger. Dramatiq's StubBroker and an in-process worker; SQLite service database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pytest
from fastapi import FastAPI

from igent.errors import ModelCallError
from igent.llm import ChatRequest
from igent.service import create_app
from igent.service.jobs import JobRunner
from igent.service.queued_jobs import QueuedJobRunner
from igent.settings import Settings
from igent.store.backend import open_store
from igent.worker.actors import ACTOR_NAME, RetryPolicy, declare_actor
from igent.worker.broker import QUEUE, dead_letters
from igent.worker.runtime import WorkerRuntime
from igent.workflows import mock_client
from tests.service.conftest import create_campaign, demo_registrations, make_keys

FAST_RETRIES = RetryPolicy(max_retries=1, min_backoff_ms=10, max_backoff_ms=20)


class _FailsFor:
    """The mock model, except that every call about ``registration_id`` fails (HTTP 503)."""

    def __init__(self, registration_id: str) -> None:
        self.registration_id = registration_id
        self.inner = mock_client()

    async def complete(self, request: ChatRequest) -> Any:
        if self.registration_id in json.dumps(request.messages):
            raise ModelCallError(
                "HTTP 503 from the endpoint", endpoint="sim", model="m", status=503, retryable=True
            )
        return await self.inner.complete(request)

    async def aclose(self) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", broker_url="stub://")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.context.jobs.poll_s = 0.01
        yield app


@pytest.fixture
async def http(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    operator, _ = make_keys(settings.database_path())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {operator}"},
    ) as client:
        yield client


async def _sent(jobs: QueuedJobRunner, job_id: str) -> None:
    """Wait until the job's messages are sent (the job is running and not sending)."""
    for _ in range(3000):
        job = jobs.tables.job(job_id)
        if job is not None and job.status != "queued" and job_id not in jobs._sending:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} never finished sending")


async def _finished(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    for _ in range(3000):
        job: dict[str, Any] = (await http.get(url)).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {url} did not finish: {job}")


async def _work(broker: dramatiq.Broker, settings: Settings, client: Any) -> None:
    """Run one worker on the stub broker until the queue is drained."""
    runtime = WorkerRuntime(open_store(settings.database_path()), client=client)
    broker.emit_after("process_boot")
    # The worker's side of the actor (in production, another process declares it).
    broker.actors.pop(ACTOR_NAME, None)
    declare_actor(broker, lambda: runtime, FAST_RETRIES)
    worker = dramatiq.Worker(broker, worker_timeout=20, worker_threads=2)
    worker.start()
    try:
        await asyncio.to_thread(broker.join, QUEUE, fail_fast=False, timeout=60_000)
        await asyncio.to_thread(worker.join)
    finally:
        await asyncio.to_thread(worker.stop)
        runtime.close()


def test_without_a_broker_batch_jobs_run_in_process(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))
    jobs = app.state.context.jobs
    try:
        assert type(jobs) is JobRunner
    finally:
        app.state.context.close()


async def test_a_batch_is_decided_by_workers_and_its_job_shows_their_decisions(
    app: FastAPI, http: httpx.AsyncClient, settings: Settings
) -> None:
    jobs = app.state.context.jobs
    assert isinstance(jobs, QueuedJobRunner)
    await create_campaign(http, constellation="p1m1_p2m2", model="mock")
    registrations = demo_registrations()[:12]
    doomed = registrations[4]["RegistrationNumber"]

    response = await http.post(
        "/v1/campaigns/demo/registrations:batch", json=[*registrations, {"nope": 1}]
    )
    assert response.status_code == 202
    url = response.headers["location"]
    await _sent(jobs, response.json()["job_id"])
    waiting = (await http.get(url)).json()
    await _work(jobs.actor.broker, settings, _FailsFor(doomed))
    job = await _finished(http, url)

    assert (waiting["status"], waiting["done"]) == ("running", 1)  # only the invalid item
    assert (job["status"], job["total"], job["done"], job["errors"]) == ("done", 13, 13, 2)
    errors = {e["index"]: e["error"] for e in job["item_errors"]}
    assert "RegistrationNumber" in errors[12]
    assert errors[4] == "failed (model_call_failed): HTTP 503 from the endpoint"
    letters = dead_letters(jobs.actor.broker)
    assert [x["message"]["registration"]["RegistrationNumber"] for x in letters] == [doomed]
    assert "HTTP 503 from the endpoint (gave up: 1 retries)" in letters[0]["reason"]
    failed = (await http.get(f"/v1/campaigns/demo/registrations/{doomed}")).json()
    assert (failed["status"], failed["message"]) == ("failed", "HTTP 503 from the endpoint")
    page = (await http.get("/v1/campaigns/demo/registrations", params={"limit": 500})).json()
    statuses = [item["status"] for item in page["items"]]
    assert len(statuses) == 12 and statuses.count("failed") == 1
    campaign = (await http.get("/v1/campaigns/demo")).json()
    booked = sum(s["used"] for s in campaign["suppliers"])
    assert booked == statuses.count("matched") > 0
    assert all(s["used"] <= s["capacity"] for s in campaign["suppliers"])


async def test_a_batch_of_decided_registrations_finishes_without_sending_anything(
    app: FastAPI, http: httpx.AsyncClient, settings: Settings
) -> None:
    jobs = app.state.context.jobs
    registrations = await _three_decided_by_workers(app, http, settings)
    changed = {**registrations[0], "Contact_Zip": "00000"}

    again = await http.post(
        "/v1/campaigns/demo/registrations:batch", json=[*registrations, changed]
    )
    await _sent(jobs, again.json()["job_id"])
    job = await _finished(http, again.json()["url"])

    assert (job["done"], job["errors"]) == (4, 1)
    assert "Contact_Zip differ" in job["item_errors"][0]["error"]
    assert jobs.actor.broker.queues[QUEUE].qsize() == 0  # nothing was sent the second time


def test_serve_takes_the_broker_from_the_option_or_igent_broker_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from igent.cli.serve import settings_with

    assert settings_with(None, None, broker_url=None).broker_url is None
    monkeypatch.setenv("IGENT_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert settings_with(None, None, broker_url=None).broker_url == "redis://127.0.0.1:6379/0"
    chosen = settings_with(None, None, broker_url="amqp://guest:guest@127.0.0.1:5672/")
    assert chosen.broker_url == "amqp://guest:guest@127.0.0.1:5672/"


async def test_a_cancelled_registration_uploaded_again_is_decided_again_by_the_workers(
    app: FastAPI, http: httpx.AsyncClient, settings: Settings
) -> None:
    jobs = app.state.context.jobs
    registrations = await _three_decided_by_workers(app, http, settings)
    registration_id = registrations[0]["RegistrationNumber"]
    url = f"/v1/campaigns/demo/registrations/{registration_id}"
    assert (await http.get(url)).json()["status"] == "matched"
    cancelled = await http.post(f"{url}:cancel", json={"reason": "changed plans"})
    assert cancelled.json()["status"] == "cancelled"

    again = await http.post("/v1/campaigns/demo/registrations:batch", json=registrations[:1])
    await _sent(jobs, again.json()["job_id"])
    sent = jobs.actor.broker.queues[QUEUE].qsize()
    await _work(jobs.actor.broker, settings, None)
    job = await _finished(http, again.json()["url"])

    assert sent == 1  # the cancelled registration goes to the workers again
    assert (job["status"], job["done"], job["errors"]) == ("done", 1, 0)
    assert (await http.get(url)).json()["status"] == "matched"
    campaign = (await http.get("/v1/campaigns/demo")).json()
    assert sum(s["used"] for s in campaign["suppliers"]) == 3


async def test_a_progress_read_while_a_job_is_sent_never_takes_an_earlier_decision(
    app: FastAPI, http: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = app.state.context.jobs
    await create_campaign(http, constellation="p1m1_p2m2", model="mock")
    registration = demo_registrations()[0]
    doomed = registration["RegistrationNumber"]
    first = (await http.post("/v1/campaigns/demo/registrations:batch", json=[registration])).json()
    await _sent(jobs, first["job_id"])
    await _work(jobs.actor.broker, settings, _FailsFor(doomed))
    assert (await _finished(http, first["url"]))["errors"] == 1  # failed: to be redone
    enqueue = jobs._enqueue

    def read_progress_first(job: Any) -> int:
        jobs.refresh(job.job_id)  # GET /jobs/{id} arriving while the job is being sent
        return enqueue(job)

    monkeypatch.setattr(jobs, "_enqueue", read_progress_first)
    again = (await http.post("/v1/campaigns/demo/registrations:batch", json=[registration])).json()
    await _sent(jobs, again["job_id"])
    await _work(jobs.actor.broker, settings, None)
    job = await _finished(http, again["url"])

    assert (job["status"], job["done"], job["errors"]) == ("done", 1, 0)
    decided = (await http.get(f"/v1/campaigns/demo/registrations/{doomed}")).json()
    assert decided["status"] in ("matched", "no_match")


async def _three_decided_by_workers(
    app: FastAPI, http: httpx.AsyncClient, settings: Settings
) -> list[dict[str, Any]]:
    """Create the rules campaign and have the workers decide a batch of three; return it."""
    jobs = app.state.context.jobs
    await create_campaign(http)  # the rules constellation
    registrations = demo_registrations()[:3]
    first = (await http.post("/v1/campaigns/demo/registrations:batch", json=registrations)).json()
    await _sent(jobs, first["job_id"])
    await _work(jobs.actor.broker, settings, None)
    await _finished(http, first["url"])
    return registrations
