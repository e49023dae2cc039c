"""The Dramatiq broker from a URL: Redis (``redis://``) or RabbitMQ (``amqp://``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from igent.errors import ConfigError

QUEUE = "igent-registrations"


@dataclass(frozen=True)
class BrokerOptions:
    """How the broker notices a dead worker; the defaults suit production."""

    heartbeat_timeout_s: float = 60.0
    """Redis: a worker silent this long is dead and its unacknowledged messages are requeued."""
    maintenance_chance: int = 1000
    """Redis: out of a million broker commands, how many run that check."""
    namespace: str = "igent"
    """Redis: prefix of every key (separate deployments sharing one Redis)."""


def make_broker(url: str, options: BrokerOptions | None = None) -> dramatiq.Broker:
    """Return a broker for ``url`` (``redis://...``, ``amqp://...`` or ``stub://`` for tests)."""
    options = options or BrokerOptions()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(  # type: ignore[no-untyped-call]
            url=url,
            heartbeat_timeout=int(options.heartbeat_timeout_s * 1000),
            maintenance_chance=options.maintenance_chance,
            namespace=options.namespace,
        )
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    if url == "stub://":
        return StubBroker()
    raise ConfigError(
        f"broker URL {url.split('://')[0] + '://...'!r} is not supported; use "
        "redis://HOST:6379/0 or amqp://USER:PASS@HOST:5672/"
    )


def make_worker(
    broker: dramatiq.Broker, threads: int, *, queue: str = QUEUE, idle_poll_ms: int = 100
) -> dramatiq.Worker:
    """A Dramatiq worker of ``threads`` threads on ``queue``, tuned for many worker processes.

    - It holds at most a quarter more messages than it has threads (Dramatiq's default is
      twice as many): messages waiting behind the busy threads of one worker while another
      worker sits idle stretch the last wave of a batch, so 4 workers lost a quarter of their
      speed on 240 registrations. The few spare messages keep a freed thread from waiting for
      the next fetch (a consumer with nothing to fetch backs off up to ``idle_poll_ms``).
    - An idle consumer polls the queue again within ``idle_poll_ms`` (Dramatiq's default backs
      off to 1 s), so work sent to idle workers starts at once; the poll is one cheap Redis
      command per worker.
    """
    worker = dramatiq.Worker(
        broker, worker_threads=threads, queues={queue}, worker_timeout=idle_poll_ms
    )
    worker.queue_prefetch = threads + max(1, threads // 4)  # read by worker.start()
    return worker


def pending_messages(broker: dramatiq.Broker, queue: str = QUEUE) -> int:
    """Redis: messages sent and not yet acknowledged (queued, delayed or in progress)."""
    from dramatiq.brokers.redis import RedisBroker

    if not isinstance(broker, RedisBroker):
        raise ConfigError(f"counting pending messages of {type(broker).__name__} is not supported")
    names = (queue, dramatiq.common.dq_name(queue))
    return sum(int(broker.client.hlen(f"{broker.namespace}:{name}.msgs")) for name in names)


def dead_letters(broker: dramatiq.Broker, queue: str = QUEUE) -> list[dict[str, Any]]:
    """Return the messages in the dead-letter queue: payload, retries and the last error.

    Supported for Redis and the stub broker (RabbitMQ keeps them in ``QUEUE.XQ``; read
    them with its own tools).
    """
    from dramatiq.brokers.redis import RedisBroker

    raw: list[Any]
    if isinstance(broker, StubBroker):
        raw = [m.asdict() for m in broker.dead_letters if m.queue_name.startswith(queue)]
    elif isinstance(broker, RedisBroker):
        key = f"{broker.namespace}:{dramatiq.common.xq_name(queue)}.msgs"
        raw = [json.loads(v) for v in broker.client.hvals(key)]
    else:
        raise ConfigError(f"reading dead letters of {type(broker).__name__} is not supported")
    letters = []
    for message in raw:
        args = message.get("args") or [{}]
        options = message.get("options") or {}
        letters.append(
            {
                "message": args[0] if args else {},
                "retries": options.get("retries", 0),
                "reason": options.get("igent_reason") or _last_line(options.get("traceback")),
            }
        )
    return letters


def _last_line(text: object) -> str:
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


__all__ = [
    "QUEUE",
    "BrokerOptions",
    "dead_letters",
    "make_broker",
    "make_worker",
    "pending_messages",
]
