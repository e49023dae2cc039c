"""Scale-out workers: Dramatiq actors deciding registrations against a shared ledger.

- :func:`make_broker` builds the broker from a URL (``redis://`` or ``amqp://``) and
  :func:`make_worker` the Dramatiq worker that consumes it;
  :func:`declare_actor` declares the one actor, ``decide_registration``.
- :class:`WorkerRuntime` is one worker process's decider: the ledger Store (PostgreSQL for
  several machines), an event loop shared by the Dramatiq threads, one pipeline per campaign.
- :func:`publish_spec` stores a campaign's offers and settings in the ledger for the workers;
  :func:`registration_message` builds a message naming that spec.
- :class:`SharedRateLimiter` holds an endpoint's limits in Redis for all workers together.
"""

from igent.worker.actors import (
    ACTOR_NAME,
    RetryPolicy,
    declare_actor,
    enqueue,
    registration_message,
)
from igent.worker.broker import QUEUE, BrokerOptions, dead_letters, make_broker, make_worker
from igent.worker.limiter import SharedRateLimiter
from igent.worker.runtime import GiveUp, TransientFailure, WorkerRuntime, WorkerSettings
from igent.worker.spec import CampaignSpec, publish_spec, read_spec

__all__ = [
    "ACTOR_NAME",
    "QUEUE",
    "BrokerOptions",
    "CampaignSpec",
    "GiveUp",
    "RetryPolicy",
    "SharedRateLimiter",
    "TransientFailure",
    "WorkerRuntime",
    "WorkerSettings",
    "dead_letters",
    "declare_actor",
    "enqueue",
    "make_broker",
    "make_worker",
    "publish_spec",
    "read_spec",
    "registration_message",
]
