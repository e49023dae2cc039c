"""One worker process's decider: an event loop thread, the ledger, and a pipeline per campaign.

Dramatiq runs actors on plain threads; every registration is decided on this process's one
event loop (so the model clients, capacity holds and group commit are shared by all threads),
and the thread waits for the outcome. A message is acknowledged only after its decision is
committed: the actor returns only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from igent.campaign.loader import validate_document
from igent.domain import (
    IncentiveBook,
    OfferBook,
    RegistrationRecord,
    parse_registration_record,
)
from igent.errors import ConfigError
from igent.llm import ChatClient, OpenAICompatibleClient, load_registry, resolve_endpoint
from igent.rules import RulesEngine
from igent.store import FINAL_STATUSES, CapacityState, Decision, GroupCommitter, Store
from igent.worker.limiter import SharedRateLimiter
from igent.worker.spec import CampaignSpec, read_spec
from igent.workflows import RunOptions, build_agents, mock_client, resolve_constellation
from igent.workflows.decide import audit_payload, decision_key, is_skipped, to_decision
from igent.workflows.pipeline import Outcome, Pipeline

RUN_ID = "worker"
MAX_CONFLICT_REDOS = 8
TRANSIENT_REASONS = frozenset({"model_failed", "model_call_failed", "model_no_answer"})
_T = TypeVar("_T")

Result = Literal["decided", "already_decided"]


class TransientFailure(Exception):
    """The model or endpoint failed for now; the message is retried with backoff."""


class GiveUp(Exception):
    """The message cannot succeed: it goes to the dead-letter queue at once, with the reason."""


class StaleSpec(Exception):
    """The message was enqueued against a campaign spec this worker cannot see yet."""


@dataclass
class _Campaign:
    spec: CampaignSpec
    digest: str
    capacity: CapacityState
    pipeline: Pipeline
    committer: GroupCommitter
    supplier_capacity: dict[str, int]
    refreshed_at: float = float("-inf")


@dataclass
class WorkerSettings:
    """How a worker process decides: ledger, model endpoints and limits."""

    endpoints_file: Path | None = None
    sim_base_url: str | None = None
    redis_url: str | None = None
    commit_batch: int = 32
    commit_delay_s: float = 0.0
    """0: a batch is what finished while the previous batch was being written, no waiting."""
    capacity_refresh_s: float = 0.25
    """Re-read the durable supplier counts at most this often while every supplier has room."""
    capacity_slack: int = 64
    """A supplier with fewer free units than this has its counts re-read for every message."""
    model_timeout_s: float = 60.0


class WorkerRuntime:
    """Decide registrations for any campaign published in ``store``; thread-safe entry points."""

    def __init__(
        self,
        store: Store,
        settings: WorkerSettings | None = None,
        *,
        client: ChatClient | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or WorkerSettings()
        self.client = client
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._campaigns: dict[str, _Campaign] = {}
        self._clients: dict[str, ChatClient] = {}
        self._build_lock = asyncio.Lock()
        self._deciding: dict[tuple[str, str], asyncio.Lock] = {}
        self._redis: Any = None

    def run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coroutine`` on the worker's loop and wait for it (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Commit what is queued, close model clients, stop the loop and close the store."""
        with contextlib.suppress(Exception):
            self.run(self._aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
        if self._redis is not None:
            self._redis.close()
        self.store.close()

    async def _aclose(self) -> None:
        for campaign in self._campaigns.values():
            await campaign.committer.close()
        for client in self._clients.values():
            await client.aclose()

    def decide_message(self, message: Mapping[str, Any], *, final_attempt: bool) -> Result:
        """Decide one registration message and commit it; see :meth:`decide`."""
        return self.run(self.decide(message, final_attempt=final_attempt))

    async def decide(self, message: Mapping[str, Any], *, final_attempt: bool) -> Result:
        """Decide and commit one registration, once: a final decision already there stands.

        A model failure raises :class:`TransientFailure` (retried) unless this is the final
        attempt, when it is committed as a ``failed`` decision with its reason (no capacity)
        and :class:`GiveUp` is raised (the message goes to the dead letters).
        """
        campaign_id = str(message["campaign_id"])
        record = to_record(message)
        key = decision_key(record)
        # Two copies of one message in this process: the second waits and finds it decided.
        lock = self._deciding.setdefault((campaign_id, key), asyncio.Lock())
        try:
            async with lock:
                return await self._decide(campaign_id, key, record, message, final_attempt)
        finally:
            if not lock.locked():
                self._deciding.pop((campaign_id, key), None)

    async def _decide(
        self,
        campaign_id: str,
        key: str,
        record: RegistrationRecord,
        message: Mapping[str, Any],
        final_attempt: bool,
    ) -> Result:
        existing = await asyncio.to_thread(self.store.decision, campaign_id, key)
        if existing is not None and existing.status in FINAL_STATUSES:
            return "already_decided"  # a redelivered or duplicated message
        campaign = await self._campaign(campaign_id, str(message.get("spec", "")))
        for attempt in range(MAX_CONFLICT_REDOS + 1):
            await self._refresh(campaign, force=attempt > 0)  # other workers book too
            if is_skipped(record, frozenset(s.casefold() for s in campaign.spec.skip_status)):
                outcome = campaign.pipeline.skipped(record)
            else:
                outcome = await campaign.pipeline.process(record)
            decision = await _with_audit(to_decision(record, outcome), outcome)
            hold = outcome.registration_id if record.registration is not None else None
            reason = str(outcome.match.get("reason") or "")
            if decision.status in ("failed", "unapproved") or reason in TRANSIENT_REASONS:
                message_text = str(outcome.match.get("message") or reason or decision.status)
                if not final_attempt:
                    if hold is not None:
                        campaign.capacity.release(hold)
                    raise TransientFailure(f"registration {key!r}: {message_text}")
                decision = _failed(decision, reason or decision.status, message_text)
            try:
                committed = await campaign.committer.submit(decision, hold_key=hold, wait=True)
            except Exception as exc:
                # A failed group commit poisons its committer: rebuild the campaign's pipeline
                # for the next message, and retry this one.
                self._campaigns.pop(campaign_id, None)
                raise TransientFailure(
                    f"registration {key!r}: the ledger commit failed: {exc}"
                ) from None
            if committed:
                if decision.status == "failed":
                    raise GiveUp(f"registration {key!r}: {decision.payload['match']['message']}")
                return "decided"
        raise TransientFailure(
            f"registration {key!r}: its supplier filled up under it {MAX_CONFLICT_REDOS + 1} "
            "times in a row (other workers booking the same campaign); retried later"
        )

    async def _refresh(self, campaign: _Campaign, *, force: bool) -> None:
        """Re-read the campaign's durable supplier counts when they may have gone stale.

        Reading them for every message is a ledger round trip per registration. While every
        supplier has ``capacity_slack`` free units, counts up to ``capacity_refresh_s`` old
        cannot oversell anything: the booking is one atomic statement, and a booking refused
        there (a conflict) forces a re-read and a redo.
        """
        now = time.monotonic()
        if not force and now - campaign.refreshed_at < self.settings.capacity_refresh_s:
            used, _ = campaign.capacity.snapshot()
            slack = self.settings.capacity_slack
            if all(c - used.get(s, 0) >= slack for s, c in campaign.supplier_capacity.items()):
                return
        campaign.refreshed_at = now
        await asyncio.to_thread(campaign.capacity.refresh)

    def record_failure(self, message: Mapping[str, Any], reason: str) -> None:
        """Commit a ``failed`` decision naming ``reason`` (a message sent to the dead letters)."""
        campaign_id = str(message["campaign_id"])
        record = to_record(message)
        key = decision_key(record)
        existing = self.store.decision(campaign_id, key)
        if existing is not None and existing.status in FINAL_STATUSES:
            return
        payload = {
            "registration_id": key,
            "record_index": record.record_index,
            "match": {
                "registration_id": key,
                "status": "failed",
                "supplier_id": None,
                "reason": "worker_failed",
                "message": reason[:500],
            },
            "purchase_order": None,
        }
        failed = Decision(key, record.record_index, "failed", None, payload)
        # Another worker may have committed this registration since the look above.
        _FirstDecisionWins(self.store).commit(campaign_id, RUN_ID, [failed])

    async def _campaign(self, campaign_id: str, digest: str) -> _Campaign:
        current = self._campaigns.get(campaign_id)
        if current is not None and (not digest or current.digest == digest):
            return current
        async with self._build_lock:
            current = self._campaigns.get(campaign_id)
            if current is None or (digest and current.digest != digest):
                spec, stored_digest = read_spec(self.store, campaign_id)
                if digest and stored_digest != digest:
                    raise StaleSpec(
                        f"campaign {campaign_id!r}: the message names spec {digest!r} but the "
                        f"ledger holds {stored_digest!r}; it was re-published since"
                    )
                if current is not None:
                    await current.committer.close()
                current = self._build(spec, stored_digest)
                self._campaigns[campaign_id] = current
        return current

    def _build(self, spec: CampaignSpec, digest: str) -> _Campaign:
        offers = validate_document(OfferBook, spec.offers, "offers")
        incentives = validate_document(IncentiveBook, spec.incentives or {}, "incentives")
        engine = RulesEngine(offers, incentives, spec.campaign_date)
        constellation = resolve_constellation(spec.constellation)
        options = RunOptions(concurrency=8, transcripts=False, campaign_date=spec.campaign_date)
        client = self._client(spec.model) if constellation.uses_llm else None
        capacity = CapacityState(self.store, spec.campaign_id)
        pipeline = Pipeline(
            constellation, engine, capacity, build_agents(constellation, client, options), options
        )
        committer = GroupCommitter(
            _FirstDecisionWins(self.store),
            spec.campaign_id,
            RUN_ID,
            capacity,
            batch_size=self.settings.commit_batch,
            max_delay_s=self.settings.commit_delay_s,
        )
        supplier_capacity = {s.supplier_id: s.capacity for s in offers.suppliers}
        return _Campaign(spec, digest, capacity, pipeline, committer, supplier_capacity)

    def _client(self, spec: str | None) -> ChatClient:
        if self.client is not None:
            return self.client
        name = spec or "mock"
        if name not in self._clients:
            self._clients[name] = self._open_client(name)
        return self._clients[name]

    def _open_client(self, spec: str) -> ChatClient:
        if spec == "mock":
            return mock_client()
        registry = load_registry(self.settings.endpoints_file)
        if spec == "sim" or spec.startswith("sim:"):
            if not self.settings.sim_base_url:
                raise ConfigError(
                    f"model {spec!r} needs a running simulator: start `python -m igent.sim` "
                    "and pass its URL with igent worker --sim-url URL"
                )
            endpoint = resolve_endpoint("sim", registry).model_copy(
                update={
                    "base_url": self.settings.sim_base_url,
                    "model": spec.partition(":")[2] or "gpt-4o",
                }
            )
            api_key: str | None = "sim"
        else:
            endpoint = resolve_endpoint(spec, registry)
            api_key = None
        limiter = None
        if self.settings.redis_url:
            limiter = SharedRateLimiter.for_endpoint(self._redis_client(), endpoint)
        return OpenAICompatibleClient(
            endpoint, api_key=api_key, limiter=limiter, timeout_s=self.settings.model_timeout_s
        )

    def _redis_client(self) -> Any:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(str(self.settings.redis_url))
        return self._redis


class _FirstDecisionWins:
    """The store as workers commit to it: a final decision already there is never replaced.

    Two workers handed the same registration (a redelivery) may both decide it; the first
    commit stands and the second changes nothing (PostgreSQL checks it inside the commit's
    transaction, under the lock both backends take for a write).
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def commit(
        self,
        campaign_id: str,
        run_id: str,
        decisions: Any,
        audits: Any = (),
        *,
        keep_final: bool = True,
    ) -> Any:
        return self._store.commit(campaign_id, run_id, decisions, audits, keep_final=True)


def to_record(message: Mapping[str, Any]) -> RegistrationRecord:
    """The registration record a message carries (invalid when the enqueuer found it so)."""
    index = int(message["record_index"])
    if message.get("error"):
        return RegistrationRecord(index, message["registration"], None, str(message["error"]))
    return parse_registration_record(message["registration"], index)


async def _with_audit(decision: Decision, outcome: Outcome) -> Decision:
    if outcome.audit is None:
        return decision
    await asyncio.wait([outcome.audit])
    return replace(decision, audit=audit_payload(outcome.audit, outcome.registration_id))


def _failed(decision: Decision, reason: str, message: str) -> Decision:
    payload = dict(decision.payload)
    match = dict(payload.get("match") or {})
    match.update({"status": "failed", "supplier_id": None, "reason": reason, "message": message})
    payload.update({"match": match, "purchase_order": None})
    return replace(decision, status="failed", supplier_id=None, payload=payload)


def deadline_left_s(message: Mapping[str, Any], now: float | None = None) -> float:
    """Seconds until the message's registration deadline (``deadline_at``, epoch seconds)."""
    deadline_at = float(message.get("deadline_at") or 0)
    if not deadline_at:
        return float("inf")
    return deadline_at - (time.time() if now is None else now)


@contextlib.contextmanager
def opened_runtime(store: Store, settings: WorkerSettings) -> Iterator[WorkerRuntime]:
    """A runtime closed (queued decisions committed) at the end of the block."""
    runtime = WorkerRuntime(store, settings)
    try:
        yield runtime
    finally:
        runtime.close()


__all__ = [
    "RUN_ID",
    "GiveUp",
    "StaleSpec",
    "TransientFailure",
    "WorkerRuntime",
    "WorkerSettings",
    "deadline_left_s",
    "opened_runtime",
]
