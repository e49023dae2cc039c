"""Worker test helpers: a scarce campaign spec, a stub broker with a running worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from igent.store import Store
from igent.store.backend import open_store
from igent.worker.actors import RetryPolicy, declare_actor
from igent.worker.broker import QUEUE
from igent.worker.runtime import WorkerRuntime
from igent.worker.spec import CampaignSpec
from tests.support.factories import CAMPAIGN_DATE, make_registration, make_supplier

CAMPAIGN = "scarce"
FAST_RETRIES = RetryPolicy(max_retries=2, min_backoff_ms=10, max_backoff_ms=20)


def scarce_spec(
    capacities: dict[str, int], constellation: str = "rules", **fields: Any
) -> CampaignSpec:
    """A campaign whose suppliers all serve ZIP 55101 with the given capacities."""
    suppliers = [make_supplier(s, capacity) for s, capacity in capacities.items()]
    return CampaignSpec(
        campaign_id=CAMPAIGN,
        offers={"CampaignID": CAMPAIGN, "SupplierOffers": suppliers},
        campaign_date=CAMPAIGN_DATE,
        constellation=constellation,
        **fields,
    )


def registrations(count: int) -> list[dict[str, Any]]:
    """``count`` registrations that every supplier can serve."""
    return [make_registration(RegistrationNumber=f"R-{n:04d}") for n in range(count)]


class StubWorker:
    """A stub broker, the deciding actor and an in-process Dramatiq worker."""

    def __init__(self, runtime: WorkerRuntime, policy: RetryPolicy = FAST_RETRIES) -> None:
        self.broker = StubBroker()
        self.broker.emit_after("process_boot")
        self.runtime = runtime
        self.actor = declare_actor(self.broker, lambda: runtime, policy)
        self.worker = dramatiq.Worker(self.broker, worker_timeout=20, worker_threads=4)

    def run(self, payloads: list[dict[str, Any]]) -> None:
        """Send every payload, start the worker, and wait until the queue is drained."""
        for payload in payloads:
            self.actor.send(payload)
        self.worker.start()
        self.broker.join(QUEUE, fail_fast=False, timeout=60_000)
        self.worker.join()
        self.worker.stop()  # settles the last acks and nacks (dead letters)

    def stop(self) -> None:
        """Close the broker."""
        self.broker.close()


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Store]:
    """An open ledger on each backend."""
    store = open_store(ledger_url)
    yield store
    store.close()


@pytest.fixture
def stub_worker(ledger_url: str) -> Iterator[Callable[..., StubWorker]]:
    """Build stub workers on the test's ledger; all are stopped at the end."""
    made: list[StubWorker] = []

    def build(**runtime_options: Any) -> StubWorker:
        runtime = WorkerRuntime(open_store(ledger_url), **runtime_options)
        made.append(StubWorker(runtime))
        return made[-1]

    yield build
    for worker in made:
        worker.stop()
        worker.runtime.close()
