"""The same actor on RabbitMQ (amqp://): a message is decided and acknowledged after commit.

RabbitMQ is optional (Redis is the CI broker): this test skips when it does not answer.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import dramatiq
import pytest

from igent.store.backend import open_store
from igent.worker import WorkerRuntime, declare_actor, make_broker, registration_message
from igent.worker.spec import publish_spec
from tests.worker.conftest import CAMPAIGN, FAST_RETRIES, registrations, scarce_spec

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def test_a_registration_queued_on_rabbitmq_is_decided(tmp_path: Path) -> None:
    try:
        import pika

        pika.BlockingConnection(pika.URLParameters(AMQP_URL)).close()
    except Exception as exc:
        pytest.skip(f"RabbitMQ is not reachable at {AMQP_URL} ({exc!r}); optional broker")
    store = open_store(tmp_path / "ledger.sqlite")
    digest = publish_spec(store, scarce_spec({"S1": 1}))
    runtime = WorkerRuntime(open_store(tmp_path / "ledger.sqlite"))
    broker = make_broker(AMQP_URL)
    queue = f"igent-test-{uuid.uuid4().hex[:8]}"
    actor = declare_actor(broker, lambda: runtime, FAST_RETRIES, queue=queue)
    worker = dramatiq.Worker(broker, worker_threads=2, queues={queue})
    try:
        for index, raw in enumerate(registrations(2)):
            actor.send(registration_message(CAMPAIGN, raw, index, spec_digest=digest))
        worker.start()
        broker.join(queue, timeout=60_000)
        worker.join()
    finally:
        worker.stop()
        for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
            broker.channel.queue_delete(name)
        broker.close()
        runtime.close()
    assert store.counts(CAMPAIGN).by_status == {"matched": 1, "no_match": 1}
    store.close()
