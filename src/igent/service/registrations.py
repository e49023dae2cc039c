"""Registrations of the service: decide one (idempotently), read, list, cancel.

Every decision goes through the campaign's Pipeline and is committed to the ledger Store
(booking and decision in one transaction) before it is answered.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

from igent.domain import parse_registration_record
from igent.errors import DataError, StoreError
from igent.service.answers import encode_answer
from igent.service.campaigns import ROW_MAX_AGE_S, RUN_ID, CampaignDesk
from igent.service.claims import ClaimBatcher
from igent.service.errors import Conflict, CursorError, NotFound
from igent.service.finish import Finishing
from igent.service.metrics import ServiceMetrics
from igent.service.schemas import DecisionPublic, RegistrationPage
from igent.store import StoredDecision
from igent.store.service_tables import (
    CampaignRow,
    CancellationRow,
    Claim,
    ClaimRequest,
    ServiceTables,
    Submission,
)
from igent.workflows.decide import decide, decision_key

# A decision that stands: posting the same registration again answers it as it is.
STANDING = frozenset({"matched", "no_match", "skipped"})
RETRIED = frozenset({"failed", "unapproved"})
CLAIM_MARGIN_S = 10.0
_SCALARS = (str, int, float, bool)  # a tuple: isinstance checks it faster than a union
WAIT_STEP_S = 0.02


@dataclass(frozen=True)
class Filters:
    """Filters of the registration list."""

    status: str | None = None
    supplier_id: str | None = None
    reason: str | None = None
    zip_code: str | None = None

    def accepts(self, decision: StoredDecision, zip_codes: Mapping[str, str]) -> bool:
        """Return True when ``decision`` passes every filter given."""
        match = decision.payload.get("match") or {}
        registration_id = str(decision.payload.get("registration_id") or "")
        return (
            (self.status is None or decision.status == self.status)
            and (self.supplier_id is None or decision.supplier_id == self.supplier_id)
            and (self.reason is None or match.get("reason") == self.reason)
            and (self.zip_code is None or zip_codes.get(registration_id) == self.zip_code)
        )


class KeyedLocks:
    """One asyncio lock per key, dropped when no request holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    def hold(self, key: tuple[str, str]) -> _Held:
        """Hold the lock of ``key`` for an ``async with`` block."""
        return _Held(self._locks, key)

    def __len__(self) -> int:
        return len(self._locks)


class _Held:
    """``async with`` one key's lock (a class: every POST enters one, and a generator-based
    context manager costs several times as much)."""

    __slots__ = ("_key", "_lock", "_locks")

    def __init__(self, locks: dict[tuple[str, str], tuple[asyncio.Lock, int]], key: Any) -> None:
        self._locks = locks
        self._key = key
        lock, users = locks.get(key) or (asyncio.Lock(), 0)
        locks[key] = (lock, users + 1)
        self._lock = lock

    async def __aenter__(self) -> None:
        try:
            await self._lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()
        self._leave()

    def _leave(self) -> None:
        lock, users = self._locks[self._key]
        if users == 1:
            del self._locks[self._key]
        else:
            self._locks[self._key] = (lock, users - 1)


class RegistrationDesk:
    """Decide, read, list and cancel a campaign's registrations."""

    def __init__(
        self,
        campaigns: CampaignDesk,
        tables: ServiceTables,
        metrics: ServiceMetrics,
        *,
        deadline_s: float,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.campaigns = campaigns
        self.store = campaigns.store
        self.tables = tables
        self.metrics = metrics
        self.deadline_s = deadline_s
        self.clock = clock
        # Identifies this process's claims in a database shared with other processes.
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._locks = KeyedLocks()
        self._claims = ClaimBatcher(tables)

    async def submit(self, campaign_id: str, raw: Mapping[str, Any], submitted_by: str) -> Answer:
        """Decide one registration, or answer the standing decision for the same content."""
        # A new offer version from another process is picked up within ROW_MAX_AGE_S.
        row = self.campaigns.row(campaign_id, max_age_s=ROW_MAX_AGE_S)
        registration_id = str(raw["RegistrationNumber"]).strip()
        if not registration_id:
            raise DataError("field 'RegistrationNumber' is empty; give each registration its id")
        async with self._locks.hold((campaign_id, registration_id)):
            return await self._submit(row, registration_id, dict(raw), submitted_by)

    async def _submit(
        self, row: CampaignRow, registration_id: str, raw: dict[str, Any], submitted_by: str
    ) -> Answer:
        campaign_id = row.campaign_id
        started = self.clock()
        retry = False
        while True:
            until = time.time() + self.deadline_s + CLAIM_MARGIN_S
            request = ClaimRequest(
                campaign_id, registration_id, raw, submitted_by, self.owner, until, retry
            )
            claim = await self._claims.claim(request)
            if claim.taken:
                break
            differing = differing_fields(claim.raw, raw)
            if differing:
                raise Conflict(
                    f"registration {registration_id!r} was already submitted with other "
                    f"content: {', '.join(differing)} differ; cancel it first to change it",
                    fields=differing,
                )
            if claim.state == "decided":
                stored = self._stored(campaign_id, registration_id)
                if stored is not None and stored.status in STANDING:
                    return Answer.of(self.view(campaign_id, stored))
                retry = True  # failed or unapproved: decide again
                continue
            if self.clock() - started > self.deadline_s:
                raise StoreError(
                    f"registration {registration_id!r} is being decided by another request "
                    "that did not finish in time; retry the request"
                )
            # Another process is deciding the same registration: its answer will be ours.
            await asyncio.sleep(WAIT_STEP_S)
        try:
            return await self._decide(row, raw, claim, started)
        except BaseException:
            self.tables.release_claim(campaign_id, registration_id)
            raise

    async def _decide(
        self, row: CampaignRow, raw: dict[str, Any], claim: Claim, started: float
    ) -> Answer:
        campaign_id = row.campaign_id
        runtime = await self.campaigns.runtime(campaign_id, row)
        runtime.refresh_capacity()  # other processes may have booked or cancelled
        record = parse_registration_record(raw, claim.sequence)
        remaining = max(0.0, self.deadline_s - (self.clock() - started))
        ledger_key = decision_key(record)
        finishing = Finishing(record.registration_id, runtime.row.offer_version)
        runtime.finisher.expect(ledger_key, finishing)
        try:
            try:
                deciding = decide(runtime.pipeline, runtime.committer, record)
                if runtime.recorder is None:
                    # No model to wait for: the rules would be the fallback too, so no
                    # deadline (wait_for costs a task and a timer per request).
                    decision = await deciding
                else:
                    decision = await asyncio.wait_for(deciding, remaining)
            except TimeoutError:
                # The deadline passed: answer with the rules instead (the response says so).
                runtime.capacity.release(record.registration_id)
                finishing.deadline_fallback = True
                decision = await decide(runtime.fallback, runtime.committer, record)
        except StoreError:
            self.campaigns.forget(campaign_id)  # a failed committer is not reused
            raise
        finally:
            runtime.finisher.forget(ledger_key)
        runtime.finisher.finish(decision, finishing)  # done with its batch, normally
        calls, info = finishing.calls, finishing.info
        timing = decision.payload.get("timing") or {}
        self.metrics.observe_decision(
            self.clock() - started,
            int(timing.get("llm_calls", 0)),
            int(timing.get("prompt_tokens", 0)),
            int(timing.get("completion_tokens", 0)),
            float(timing.get("cost_usd", 0.0)),
        )
        stored = StoredDecision(
            decision.registration_id,
            decision.record_index,
            RUN_ID,
            decision.status,
            decision.supplier_id,
            dict(decision.payload),
        )
        submission = Submission(raw, "decided", calls, info)
        audit = dict(decision.audit) if decision.audit is not None else None
        cancellations = (
            []
            if claim.previous is None
            else self.tables.cancellations(campaign_id, record.registration_id)
        )
        return Answer.from_fields(
            public_fields(campaign_id, stored, submission, cancellations, audit)
        )

    def _stored(self, campaign_id: str, registration_id: str) -> StoredDecision | None:
        stored = self.store.decision(campaign_id, registration_id)
        if stored is None:
            submission = self.tables.submission(campaign_id, registration_id)
            key = submission.info.get("ledger_key") if submission is not None else None
            if key and key != registration_id:
                stored = self.store.decision(campaign_id, str(key))
        return stored

    def get(self, campaign_id: str, registration_id: str) -> DecisionPublic:
        """Return one registration's decision; NotFound when it has none."""
        self.campaigns.row(campaign_id)
        stored = self._stored(campaign_id, registration_id)
        if stored is None:
            raise NotFound(
                f"campaign {campaign_id!r} has no registration {registration_id!r}; "
                "POST it to /v1/campaigns/{campaign_id}/registrations"
            )
        return self.view(campaign_id, stored)

    def page(
        self, campaign_id: str, filters: Filters, cursor: str | None, limit: int
    ) -> RegistrationPage:
        """Return up to ``limit`` decisions after ``cursor`` that pass ``filters``."""
        self.campaigns.row(campaign_id)
        after = decode_cursor(cursor)
        zip_codes = self.tables.zip_codes(campaign_id) if filters.zip_code else {}
        items: list[DecisionPublic] = []
        last: tuple[int, str] | None = None
        more = False
        # The ledger streams decisions ordered by (record_index, registration_id): the cursor.
        decisions = self.store.decisions(campaign_id)
        try:
            for decision in decisions:
                position = (decision.record_index, decision.registration_id)
                if after is not None and position <= after:
                    continue
                if not filters.accepts(decision, zip_codes):
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append(self.view(campaign_id, decision, with_extras=False))
                last = position
        finally:
            if isinstance(decisions, Generator):  # release the reader's connection now
                decisions.close()
        next_cursor = encode_cursor(last) if more and last is not None else None
        return RegistrationPage(items=items, next_cursor=next_cursor)

    async def cancel(
        self, campaign_id: str, registration_id: str, cancelled_by: str, reason: str
    ) -> DecisionPublic:
        """Cancel a registration: free its capacity at once and record who and why."""
        self.campaigns.row(campaign_id)
        async with self._locks.hold((campaign_id, registration_id)):
            stored = self._stored(campaign_id, registration_id)
            if stored is None:
                raise NotFound(
                    f"campaign {campaign_id!r} has no registration {registration_id!r} to cancel"
                )
            submission = self.tables.submission(campaign_id, registration_id)
            if stored.status == "cancelled" or (
                submission is not None and submission.state == "cancelled"
            ):
                return self.view(campaign_id, stored)  # cancelling twice is harmless
            freed = await asyncio.to_thread(self.store.cancel, campaign_id, stored.registration_id)
            self.tables.add_cancellation(campaign_id, registration_id, cancelled_by, reason)
            runtime = self.campaigns.cached_runtime(campaign_id)
            if runtime is not None:
                runtime.refresh_capacity(max_age_s=0.0)
            self.tables.add_event(
                campaign_id,
                "cancelled",
                {
                    "registration_id": registration_id,
                    "supplier_id": stored.supplier_id if freed else None,
                    "capacity_freed": freed,
                    "reason": reason,
                },
            )
        return self.get(campaign_id, registration_id)

    def view(
        self, campaign_id: str, stored: StoredDecision, *, with_extras: bool = True
    ) -> DecisionPublic:
        """Return the wire form of a stored decision (with model calls, audit, cancellations)."""
        registration_id = str(stored.payload.get("registration_id") or stored.registration_id)
        submission = self.tables.submission(campaign_id, registration_id)
        cancelled = submission is not None and submission.state == "cancelled"
        if not with_extras:
            cancellations = (
                self.tables.cancellations(campaign_id, registration_id) if cancelled else []
            )
            return to_public(campaign_id, stored, submission, cancellations, None, calls=False)
        return to_public(
            campaign_id,
            stored,
            submission,
            self.tables.cancellations(campaign_id, registration_id),
            self.tables.audit(campaign_id, stored.registration_id),
        )


def to_public(
    campaign_id: str,
    stored: StoredDecision,
    submission: Submission | None,
    cancellations: list[CancellationRow],
    audit: dict[str, Any] | None,
    *,
    calls: bool = True,
) -> DecisionPublic:
    """Return the wire form of a decision and what the service knows about it."""
    fields = public_fields(campaign_id, stored, submission, cancellations, audit, calls=calls)
    return DecisionPublic(**fields)


def public_fields(
    campaign_id: str,
    stored: StoredDecision,
    submission: Submission | None,
    cancellations: list[CancellationRow],
    audit: dict[str, Any] | None,
    *,
    calls: bool = True,
) -> dict[str, Any]:
    """Return the fields of :func:`to_public`'s answer, in DecisionPublic's order."""
    payload = stored.payload
    match = payload.get("match") or {}
    registration_id = str(payload.get("registration_id") or stored.registration_id)
    cancelled = submission is not None and submission.state == "cancelled"
    info = submission.info if submission is not None else {}
    timing = payload.get("timing") or {}
    return {
        "campaign_id": campaign_id,
        "registration_id": registration_id,
        "status": "cancelled" if cancelled else stored.status,
        "supplier_id": stored.supplier_id if stored.status == "matched" else None,
        "reason": match.get("reason"),
        "message": str(match.get("message") or ""),
        "source": match.get("source"),
        "candidates": list(match.get("candidates") or []),
        "purchase_order": payload.get("purchase_order"),
        "timings": {k: v for k, v in timing.items() if isinstance(v, _SCALARS)},
        "model_calls": submission.calls if (submission is not None and calls) else [],
        "audit": audit,
        "deadline_fallback": bool(info.get("deadline_fallback", False)),
        "cancellations": [vars(c) for c in cancellations],
        "offer_version": info.get("offer_version"),
    }


@dataclass(frozen=True)
class Answer:
    """A decided registration's answer: its id and its JSON (a DecisionPublic)."""

    registration_id: str
    body: bytes

    @classmethod
    def of(cls, decision: DecisionPublic) -> Answer:
        """Encode ``decision``."""
        return cls(decision.registration_id, decision.model_dump_json().encode())

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> Answer:
        """Encode :func:`public_fields`' fields, validated by the model only when needed."""
        body = encode_answer(fields)
        if body is None:
            return cls.of(DecisionPublic(**fields))
        return cls(fields["registration_id"], body)


def differing_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Return the names of the fields whose values differ, sorted."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def encode_cursor(position: tuple[int, str]) -> str:
    """Return an opaque cursor for a list position."""
    text = f"{position[0]}:{position[1]}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    """Read a cursor made by :func:`encode_cursor`; a bad one is an IgentError (422)."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        index, _, registration_id = text.partition(":")
        return int(index), registration_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise CursorError(
            f"cursor {cursor[:40]!r} is not one this service issued; use next_cursor as given"
        ) from exc


__all__ = [
    "Answer",
    "CursorError",
    "Filters",
    "RegistrationDesk",
    "decode_cursor",
    "differing_fields",
    "encode_cursor",
    "public_fields",
    "to_public",
]
