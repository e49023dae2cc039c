"""The deciding actor on Dramatiq's StubBroker, against SQLite and PostgreSQL ledgers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from igent.errors import ModelCallError
from igent.llm import ChatRequest
from igent.llm.fake import FakeChatClient
from igent.store import Store
from igent.worker.actors import registration_message
from igent.worker.broker import dead_letters
from igent.worker.spec import publish_spec
from igent.workflows import mock_client
from tests.worker.conftest import CAMPAIGN, StubWorker, registrations, scarce_spec


def _messages(store: Store, count: int, **spec_fields: Any) -> list[dict[str, Any]]:
    spec = scarce_spec({"S1": 5, "S2": 3}, **spec_fields)
    digest = publish_spec(store, spec)
    return [
        registration_message(CAMPAIGN, raw, index, spec_digest=digest)
        for index, raw in enumerate(registrations(count))
    ]


def test_every_message_twice_decides_each_registration_once_within_capacity(
    ledger: Store, stub_worker: Callable[..., StubWorker]
) -> None:
    messages = _messages(ledger, 20)
    worker = stub_worker()

    worker.run(messages + messages)  # every message delivered twice

    counts = ledger.counts(CAMPAIGN)
    assert counts.by_status == {"matched": 8, "no_match": 12}
    assert counts.booked_by_supplier == {"S1": 5, "S2": 3}
    assert {s.supplier_id: s.used for s in ledger.suppliers(CAMPAIGN)} == {"S1": 5, "S2": 3}
    assert dead_letters(worker.broker) == []


def test_a_redelivered_message_of_a_decided_registration_changes_nothing(
    ledger: Store, stub_worker: Callable[..., StubWorker]
) -> None:
    messages = _messages(ledger, 3)
    stub_worker().run(messages)
    before = {d.registration_id: d.payload for d in ledger.decisions(CAMPAIGN)}

    stub_worker().run(messages)  # a second worker gets the same messages again

    assert {d.registration_id: d.payload for d in ledger.decisions(CAMPAIGN)} == before


class _FlakyClient:
    """Fails the first ``failures`` calls with a retryable ModelCallError, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.inner: FakeChatClient = mock_client()
        self.calls = 0

    async def complete(self, request: ChatRequest) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise ModelCallError(
                "HTTP 503 from the endpoint",
                endpoint="sim",
                model="gpt-4o",
                status=503,
                retryable=True,
            )
        return await self.inner.complete(request)

    async def aclose(self) -> None:
        pass


def test_a_transient_model_failure_is_retried_and_then_decided(
    ledger: Store, stub_worker: Callable[..., StubWorker]
) -> None:
    messages = _messages(ledger, 1, constellation="p1m1_p2m2", model="mock")
    client = _FlakyClient(failures=1)
    worker = stub_worker(client=client)

    worker.run(messages)

    stored = ledger.decision(CAMPAIGN, "R-0000")
    assert stored is not None and stored.status == "matched"
    assert client.calls >= 2
    assert dead_letters(worker.broker) == []


def test_a_message_that_keeps_failing_is_dead_lettered_with_its_reason_on_the_registration(
    ledger: Store, stub_worker: Callable[..., StubWorker]
) -> None:
    messages = _messages(ledger, 1, constellation="p1m1_p2m2", model="mock")
    worker = stub_worker(client=_FlakyClient(failures=10_000))

    worker.run(messages)

    stored = ledger.decision(CAMPAIGN, "R-0000")
    assert stored is not None and stored.status == "failed"
    assert stored.payload["match"]["reason"] == "model_call_failed"
    assert "503" in stored.payload["match"]["message"]
    assert {s.supplier_id: s.used for s in ledger.suppliers(CAMPAIGN)} == {"S1": 0, "S2": 0}
    letters = dead_letters(worker.broker)
    assert [letter["message"]["registration"]["RegistrationNumber"] for letter in letters] == [
        "R-0000"
    ]
    assert "503" in letters[0]["reason"] and "gave up: 2 retries" in letters[0]["reason"]


def test_a_message_past_its_deadline_is_not_retried(
    ledger: Store, stub_worker: Callable[..., StubWorker]
) -> None:
    messages = _messages(ledger, 1, constellation="p1m1_p2m2", model="mock")
    messages[0]["deadline_at"] = 1.0  # long past
    client = _FlakyClient(failures=10_000)
    worker = stub_worker(client=client)

    worker.run(messages)

    letters = dead_letters(worker.broker)
    assert len(letters) == 1 and letters[0]["retries"] == 0
    assert "deadline passed" in letters[0]["reason"]
