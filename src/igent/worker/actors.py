"""The Dramatiq actor that decides registrations, and how messages are sent to it.

- A message is acknowledged only once its decision is committed (the actor returns then).
- A redelivered or duplicated message is harmless: a registration with a final decision is
  not decided again, and two workers racing on it commit one decision (first one wins).
- A model failure is retried with exponential backoff while the registration's deadline
  allows; then, or after ``max_retries``, the registration gets a ``failed`` decision naming
  the reason and the message goes to the dead-letter queue with that reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from igent.worker.broker import QUEUE
from igent.worker.runtime import (
    GiveUp,
    StaleSpec,
    TransientFailure,
    WorkerRuntime,
    deadline_left_s,
)

ACTOR_NAME = "decide_registration"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a failing message: count and exponential backoff bounds."""

    max_retries: int = 5
    min_backoff_ms: int = 500
    max_backoff_ms: int = 30_000


def declare_actor(
    broker: dramatiq.Broker,
    runtime: Callable[[], WorkerRuntime] | None = None,
    policy: RetryPolicy | None = None,
    *,
    queue: str = QUEUE,
) -> dramatiq.Actor[..., None]:
    """Declare the deciding actor on ``broker``; ``runtime`` is only needed where it runs.

    The enqueuing side passes no runtime; a worker passes a function returning its
    :class:`WorkerRuntime`.
    """
    policy = policy or RetryPolicy()
    if not any(isinstance(m, CurrentMessage) for m in broker.middleware):
        broker.add_middleware(CurrentMessage())

    def decide_registration(payload: dict[str, Any]) -> None:
        if runtime is None:
            raise GiveUp("this process only enqueues; run igent worker to decide")
        worker = runtime()
        message = CurrentMessage.get_current_message()
        retries = int(message.options.get("retries", 0)) if message is not None else 0
        out_of_time = deadline_left_s(payload) <= 0
        final = out_of_time or retries >= policy.max_retries
        try:
            worker.decide_message(payload, final_attempt=final)
        except GiveUp as exc:  # the failed decision is committed; only the reason to add
            why = "the deadline passed" if out_of_time else f"{retries} retries"
            _mark(message, f"{exc} (gave up: {why})")
            raise
        except (TransientFailure, StaleSpec) as exc:
            if not final:
                raise
            why = "the deadline passed" if out_of_time else f"{retries} retries"
            reason = f"{exc} (gave up: {why})"
            _give_up(worker, payload, message, reason)
        except Exception as exc:  # a bug or a store failure: retried, then dead-lettered
            if not final:
                raise
            _give_up(worker, payload, message, f"{type(exc).__name__}: {exc}")

    declare = dramatiq.actor(
        actor_name=ACTOR_NAME,
        queue_name=queue,
        broker=broker,
        max_retries=policy.max_retries,
        min_backoff=policy.min_backoff_ms,
        max_backoff=policy.max_backoff_ms,
        throws=(GiveUp,),
        time_limit=3_600_000,  # the registration deadline bounds a message, not this
    )
    return declare(decide_registration)


def _give_up(worker: WorkerRuntime, payload: Mapping[str, Any], message: Any, reason: str) -> None:
    worker.record_failure(payload, reason)
    _mark(message, reason)
    raise GiveUp(reason)


def _mark(message: Any, reason: str) -> None:
    """Keep the reason on the message, which the dead-letter queue stores."""
    if message is not None:
        message.options["igent_reason"] = reason


def registration_message(
    campaign_id: str,
    raw: Mapping[str, Any],
    record_index: int,
    *,
    spec_digest: str = "",
    deadline_s: float = 300.0,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload of one registration's message (JSON)."""
    return {
        "campaign_id": campaign_id,
        "registration": dict(raw),
        "record_index": record_index,
        "spec": spec_digest,
        "deadline_at": (time.time() if now is None else now) + deadline_s,
    }


def enqueue(actor: dramatiq.Actor[..., None], messages: Iterable[dict[str, Any]]) -> int:
    """Send each message; return how many were sent."""
    count = 0
    for payload in messages:
        actor.send(payload)
        count += 1
    return count


__all__ = [
    "ACTOR_NAME",
    "GiveUp",
    "RetryPolicy",
    "declare_actor",
    "enqueue",
    "registration_message",
]
