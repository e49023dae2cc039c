"""Decide one registration and commit it: the one core step of the CLI runner and the service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from igent.domain import RegistrationRecord
from igent.errors import StoreError
from igent.store import Decision, GroupCommitter
from igent.workflows.pipeline import Outcome, Pipeline

MAX_CONFLICT_REDOS = 3


def decision_key(record: RegistrationRecord) -> str:
    """The ledger key of a record: its registration number, or ``#index`` when invalid.

    An invalid record (a repeated number among them) is keyed by its position, so it never
    replaces the decision of the valid record that shares its number.
    """
    return record.registration_id if record.registration is not None else f"#{record.record_index}"


def is_skipped(record: RegistrationRecord, skip_status: Collection[str]) -> bool:
    """Whether ``--skip-status`` leaves this registration out (case-insensitive)."""
    status = record.registration.status if record.registration else None
    return status is not None and status.strip().casefold() in skip_status


def to_decision(record: RegistrationRecord, outcome: Outcome) -> Decision:
    """Turn a pipeline outcome into the decision the ledger stores."""
    status = str(outcome.match.get("status") or "no_match")
    supplier_id = outcome.match.get("supplier_id") if status == "matched" else None
    return Decision(
        registration_id=decision_key(record),
        record_index=record.record_index,
        status=status,
        supplier_id=None if supplier_id is None else str(supplier_id),
        payload=outcome.payload(),
    )


def audit_payload(task: asyncio.Future[dict[str, Any]], registration_id: str) -> dict[str, Any]:
    """The audit a finished audit task produced, or an error entry (an audit never fails a run)."""
    if task.cancelled():
        return {"registration_id": registration_id, "approved": None, "error": "cancelled"}
    error = task.exception()
    if error is not None:
        return {"registration_id": registration_id, "approved": None, "error": repr(error)}
    return task.result()


async def decide(
    pipeline: Pipeline,
    committer: GroupCommitter,
    record: RegistrationRecord,
    *,
    skip_status: Collection[str] = frozenset(),
    wait: bool = True,
) -> Decision:
    """Process ``record`` through the pipeline and commit its decision with its booking.

    With ``wait`` (the service) the call returns once the decision is committed; a booking
    refused by the ledger (another process filled the supplier) redoes the registration on
    fresh capacity, up to ``MAX_CONFLICT_REDOS`` times. Without ``wait`` (the CLI runner,
    which holds the ledger alone) the decision joins the next group commit and the call
    returns at once; an audit, if any, is committed with its decision once it is done.
    """
    for _ in range(MAX_CONFLICT_REDOS + 1):
        if is_skipped(record, skip_status):
            outcome = pipeline.skipped(record)
        else:
            outcome = await pipeline.process(record)
        decision = to_decision(record, outcome)
        hold_key = outcome.registration_id if record.registration is not None else None
        if outcome.audit is not None:
            audit = outcome.audit
            if not wait:
                committer.submit_after(audit, _with_audit(decision), hold_key=hold_key)
                return decision
            await asyncio.wait([audit])
            decision = replace(decision, audit=audit_payload(audit, outcome.registration_id))
        if await committer.submit(decision, hold_key=hold_key, wait=wait):
            return decision
    raise StoreError(
        f"registration {record.registration_id!r}: its supplier filled up under it "
        f"{MAX_CONFLICT_REDOS + 1} times in a row; another process is booking the same campaign"
    )


def _with_audit(decision: Decision) -> Callable[[asyncio.Future[Any]], Decision]:
    def attach(task: asyncio.Future[Any]) -> Decision:
        registration_id = str(decision.payload.get("registration_id"))
        return replace(decision, audit=audit_payload(task, registration_id))

    return attach
