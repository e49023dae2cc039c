"""A worker runtime's per-message ledger work, and the Dramatiq worker it runs under."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq.brokers.stub import StubBroker

from igent.store import Decision, Store
from igent.store.backend import open_store
from igent.worker import WorkerRuntime, WorkerSettings, make_worker
from igent.worker.actors import registration_message
from igent.worker.spec import publish_spec
from tests.worker.conftest import CAMPAIGN, registrations, scarce_spec

NEVER_STALE = 3600.0


@pytest.fixture
def runtime_for(ledger_url: str) -> Iterator[Any]:
    """Build runtimes on the test's ledger; every one is closed at the end."""
    made: list[WorkerRuntime] = []

    def build(**settings: Any) -> WorkerRuntime:
        made.append(WorkerRuntime(open_store(ledger_url), WorkerSettings(**settings)))
        return made[-1]

    yield build
    for runtime in made:
        runtime.close()


def _publish(store: Store, capacities: dict[str, int], count: int) -> list[dict[str, Any]]:
    digest = publish_spec(store, scarce_spec(capacities))
    return [
        registration_message(CAMPAIGN, raw, index, spec_digest=digest)
        for index, raw in enumerate(registrations(count))
    ]


def _count_supplier_reads(store: Store) -> list[int]:
    reads = [0]
    read = store.suppliers

    def counted(campaign_id: str) -> Any:
        reads[0] += 1
        return read(campaign_id)

    store.suppliers = counted  # type: ignore[method-assign]
    return reads


def test_supplier_counts_are_not_re_read_for_every_message_while_all_have_room(
    ledger: Store, runtime_for: Any
) -> None:
    messages = _publish(ledger, {"S1": 500, "S2": 500}, 6)
    runtime = runtime_for(capacity_refresh_s=NEVER_STALE)
    reads = _count_supplier_reads(runtime.store)

    for message in messages:
        assert runtime.decide_message(message, final_attempt=False) == "decided"

    assert reads == [2]  # the campaign's first load and its first refresh, not 6 more
    assert ledger.counts(CAMPAIGN).by_status == {"matched": 6}


def test_supplier_counts_are_re_read_for_every_message_when_a_supplier_is_nearly_full(
    ledger: Store, runtime_for: Any
) -> None:
    messages = _publish(ledger, {"S1": 500, "S2": 3}, 6)
    runtime = runtime_for(capacity_refresh_s=NEVER_STALE, capacity_slack=64)
    reads = _count_supplier_reads(runtime.store)

    for message in messages:
        runtime.decide_message(message, final_attempt=False)

    assert reads == [1 + 6]


def test_a_booking_refused_on_stale_counts_re_reads_them_and_redecides(
    ledger: Store, runtime_for: Any
) -> None:
    first, second = _publish(ledger, {"S1": 2}, 2)
    runtime = runtime_for(capacity_refresh_s=NEVER_STALE, capacity_slack=0)
    runtime.decide_message(first, final_attempt=False)
    # Another worker books the last unit; this runtime's counts still show one free.
    payload = {"registration_id": "R-other", "match": {"status": "matched"}}
    other = Decision("R-other", 99, "matched", "S1", {**payload, "purchase_order": None})
    assert ledger.commit(CAMPAIGN, "other-worker", [other]).committed == ("R-other",)

    assert runtime.decide_message(second, final_attempt=False) == "decided"

    stored = ledger.decision(CAMPAIGN, "R-0001")
    assert stored is not None and stored.status == "no_match"
    assert stored.payload["match"]["reason"] == "no_capacity"
    assert [(s.supplier_id, s.used) for s in ledger.suppliers(CAMPAIGN)] == [("S1", 2)]


def test_the_dramatiq_worker_holds_few_spare_messages_and_polls_an_idle_queue_often() -> None:
    broker = StubBroker()
    try:
        worker = make_worker(broker, 8)
        single = make_worker(broker, 1)
    finally:
        broker.close()

    assert (worker.queue_prefetch, single.queue_prefetch) == (10, 2)  # Dramatiq's own: 16, 2
    assert worker.worker_timeout == 100  # ms; Dramatiq's own: 1000


def test_a_give_up_never_replaces_a_decision_another_worker_committed_meanwhile(
    ledger: Store, runtime_for: Any
) -> None:
    [message] = _publish(ledger, {"S1": 5}, 1)
    winner, loser = runtime_for(), runtime_for()
    assert winner.decide_message(message, final_attempt=False) == "decided"
    read = loser.store.decision
    calls = [0]

    def read_before_the_winner(campaign_id: str, registration_id: str) -> Any:
        calls[0] += 1  # the loser's first look precedes the winner's commit
        return None if calls[0] == 1 else read(campaign_id, registration_id)

    loser.store.decision = read_before_the_winner  # type: ignore[method-assign]
    loser.record_failure(message, "HTTP 503 from the endpoint (gave up: 5 retries)")

    assert ledger.counts(CAMPAIGN).by_status == {"matched": 1}
    assert [s.used for s in ledger.suppliers(CAMPAIGN)] == [1]
