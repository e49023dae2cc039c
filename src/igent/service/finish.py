"""Finish the service's decisions in batches, right behind the ledger's group commit.

Once a decision is in the ledger, the service marks its submission decided, keeps the model
calls and service info, and logs the decision event. :class:`DecisionFinisher` does that for a
whole group-commit batch at once, before any request of the batch is answered: on SQLite inside
the batch's ledger transaction (``SqliteStore.commit(then=...)``: one transaction per batch for
both), on PostgreSQL in a transaction right after it (the committer's ``after_commit``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from igent.errors import StoreError
from igent.service.calls import CallRecorder
from igent.store import Decision
from igent.store.service_tables import FinishedDecision, ServiceTables

log = logging.getLogger("igent.service")


@dataclass
class Finishing:
    """What a request waiting for its decision knows, and what the finisher fills in."""

    registration_id: str
    """The submission's key (the ledger key differs for an invalid registration)."""
    offer_version: int
    deadline_fallback: bool = False
    done: bool = False
    calls: list[Any] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


class DecisionFinisher:
    """Finish the committed decisions of one campaign runtime; safe across threads."""

    def __init__(
        self, tables: ServiceTables, campaign_id: str, recorder: CallRecorder | None
    ) -> None:
        self.tables = tables
        self.campaign_id = campaign_id
        self.recorder = recorder
        self._expected: dict[str, Finishing] = {}

    def expect(self, ledger_key: str, finishing: Finishing) -> None:
        """Finish the decision committed under ``ledger_key`` into ``finishing``."""
        self._expected[ledger_key] = finishing

    def forget(self, ledger_key: str) -> None:
        """Stop expecting ``ledger_key`` (its request is answered or failed)."""
        self._expected.pop(ledger_key, None)

    def after_commit(self, decisions: Sequence[Decision]) -> None:
        """Finish the decisions of one committed batch in one write.

        A failure here is not the batch's: raising would fail every request of it (and the
        committer), and inside the ledger's transaction undo its bookings too (a savepoint
        undoes only these rows). Each request then finishes its own decision in
        :meth:`finish` instead.
        """
        rows = []
        for decision in decisions:
            finishing = self._expected.get(decision.registration_id)
            if finishing is not None:  # else its request gave up (deadline): nobody reads it
                rows.append((finishing, self._row(decision, finishing)))
        try:
            self._write(rows)
        except StoreError as exc:
            for finishing, row in rows:
                finishing.calls = row.calls  # taken from the recorder: keep them for finish
            log.warning(
                "finishing %d committed decisions failed (%s); retried one by one", len(rows), exc
            )

    def finish(self, decision: Decision, finishing: Finishing) -> None:
        """Finish one decision now, if its batch did not (event loop)."""
        if not finishing.done:
            self._write([(finishing, self._row(decision, finishing))])

    def _row(self, decision: Decision, finishing: Finishing) -> FinishedDecision:
        calls = self.recorder.take(finishing.registration_id) if self.recorder else []
        calls = finishing.calls + calls  # kept from a batch whose finishing failed
        info = {
            "deadline_fallback": finishing.deadline_fallback,
            "offer_version": finishing.offer_version,
            # An invalid registration is keyed '#N' in the ledger (see decision_key).
            "ledger_key": decision.registration_id,
        }
        match = decision.payload.get("match") or {}
        event = {
            "registration_id": finishing.registration_id,
            "status": decision.status,
            "supplier_id": decision.supplier_id,
            "reason": match.get("reason"),
            "deadline_fallback": finishing.deadline_fallback,
        }
        return FinishedDecision(finishing.registration_id, calls, info, event)

    def _write(self, rows: Sequence[tuple[Finishing, FinishedDecision]]) -> None:
        if not rows:
            return
        self.tables.finish_decisions(self.campaign_id, [row for _, row in rows])
        for finishing, row in rows:
            finishing.calls, finishing.info, finishing.done = row.calls, row.info, True


__all__ = ["DecisionFinisher", "Finishing"]
