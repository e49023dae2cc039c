"""The ledger's interface: the ``Store`` protocol and the values that cross it.

Every backend (``sqlite.py``, ``postgres.py``) keeps one ledger per campaign: each supplier's
capacity and use, and one decision per registration. A matched decision, its booking and its
purchase order are written in one transaction or not at all. Both backends share their SQL
through :class:`~igent.store.sql_ledger.SqlLedger`; only connections, transactions, streaming
and the commit path are their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, Protocol

DecisionStatus = Literal["matched", "no_match", "skipped", "failed", "unapproved", "cancelled"]

# Final decisions are never redone by a resume; ``failed`` and ``unapproved`` rows are recorded
# for reporting only: they hold no capacity and are retried.
FINAL_STATUSES: frozenset[str] = frozenset({"matched", "no_match", "skipped", "cancelled"})
RETRIED_STATUSES: frozenset[str] = frozenset({"failed", "unapproved"})


@dataclass(frozen=True)
class Decision:
    """One registration's outcome as the ledger stores it; ``payload`` is the output JSON."""

    registration_id: str
    record_index: int
    status: str
    supplier_id: str | None
    payload: Mapping[str, Any]
    audit: Mapping[str, Any] | None = None

    @property
    def is_booking(self) -> bool:
        """Whether committing this decision uses one unit of its supplier's capacity."""
        return self.status == "matched" and self.supplier_id is not None

    @property
    def is_final(self) -> bool:
        """Whether a resume keeps this decision (failed and unapproved ones are retried)."""
        return self.status in FINAL_STATUSES

    @cached_property
    def rest(self) -> dict[str, Any]:
        """The payload but its match and purchase order (timing, grading ...)."""
        return {k: v for k, v in self.payload.items() if k not in ("match", "purchase_order")}

    @cached_property
    def encoded(self) -> tuple[str, str | None, str]:
        """(match JSON, purchase order JSON or None, rest of the payload JSON), encoded once."""
        order = self.payload.get("purchase_order")
        return (
            encode_json(self.payload.get("match")),
            None if order is None else encode_json(order),
            encode_object(self.rest),
        )


class EncodedDict(dict[str, Any]):
    """A JSON object that comes with its encoding (``text``), e.g. from a cache of shapes.

    Everything else sees a plain dict; :func:`encode_json` returns ``text`` for it. Whoever
    builds one vouches that ``text`` is what encoding the dict would give (and mutates neither).
    """

    __slots__ = ("text",)

    def __init__(self, items: Mapping[str, Any], text: str) -> None:
        super().__init__(items)
        self.text = text


# Built once: ``json.dumps`` with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def encode_json(value: Any) -> str:
    """Encode one output value on one line (the ledger's and the JSONL files' encoding)."""
    if isinstance(value, EncodedDict):
        return value.text
    return _ENCODER.encode(value)


def encode_object(value: Mapping[str, Any]) -> str:
    """Encode a JSON object as :func:`encode_json` does, reusing the text of its values that
    come encoded (:class:`EncodedDict`)."""
    if not all(type(key) is str for key in value) or not any(
        isinstance(item, EncodedDict) for item in value.values()
    ):
        return encode_json(value)
    return (
        "{" + ", ".join(f"{_ENCODER.encode(k)}: {encode_json(v)}" for k, v in value.items()) + "}"
    )


@dataclass(frozen=True)
class OutputRow:
    """What the final documents need of one decision, without decoding its match."""

    registration_id: str
    status: str
    supplier_id: str | None
    match_json: str
    order_json: str | None
    reason: str | None
    source: str | None
    rest: dict[str, Any]


@dataclass(frozen=True)
class StoredDecision:
    """A decision read back from the ledger."""

    registration_id: str
    record_index: int
    run_id: str
    status: str
    supplier_id: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class SupplierCapacity:
    """A supplier's capacity and how much of it committed decisions use."""

    supplier_id: str
    capacity: int
    used: int

    @property
    def free(self) -> int:
        """Units left."""
        return self.capacity - self.used


@dataclass(frozen=True)
class CommitResult:
    """What one commit wrote: decisions committed, and bookings refused because a supplier
    was full (another process filled it; only possible with a shared database)."""

    committed: tuple[str, ...] = ()
    conflicts: tuple[Decision, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every decision was committed."""
        return not self.conflicts


@dataclass(frozen=True)
class Reservation:
    """The outcome of a reserve call."""

    accepted: bool
    used: int
    capacity: int
    already_held: bool = False


@dataclass(frozen=True)
class CapacityChange:
    """A supplier whose capacity in the offers differs from the ledger's."""

    supplier_id: str
    before: int | None
    after: int | None
    used: int = 0


@dataclass
class DecisionCounts:
    """Per-status counts of a campaign's (or one run's) decisions."""

    by_status: dict[str, int] = field(default_factory=dict)
    booked_by_supplier: dict[str, int] = field(default_factory=dict)


class Store(Protocol):
    """A campaign ledger: capacity, decisions, audits and metadata, all campaign-scoped."""

    def close(self) -> None:
        """Release the connection."""

    def ensure_campaign(self, campaign_id: str) -> bool:
        """Create the campaign if missing; return True when it was created."""

    def campaigns(self) -> list[str]:
        """Return every campaign id in the ledger."""

    def capacity_changes(
        self, campaign_id: str, capacities: Sequence[tuple[str, int]]
    ) -> list[CapacityChange]:
        """Return how ``capacities`` (supplier_id, capacity) differ from the ledger's."""

    def set_suppliers(self, campaign_id: str, capacities: Sequence[tuple[str, int]]) -> None:
        """Add new suppliers and apply capacity changes in one transaction.

        Raises:
            StoreError: a capacity below what is booked (names the numbers); nothing changes.
        """

    def suppliers(self, campaign_id: str) -> list[SupplierCapacity]:
        """Return the campaign's suppliers in offers order."""

    def commit(
        self,
        campaign_id: str,
        run_id: str,
        decisions: Sequence[Decision],
        audits: Sequence[Mapping[str, Any]] = (),
        *,
        keep_final: bool = False,
    ) -> CommitResult:
        """Write decisions (booking the matched ones) and audits in ONE transaction.

        A booking is ``used = used + 1 WHERE used < capacity``; when no row moves, the
        supplier is full: that decision is not written and comes back in ``conflicts``.
        Re-committing a registration replaces its decision and moves its booking. With
        ``keep_final`` (workers: first decision wins) a registration that already has a final
        decision keeps it; it is reported as committed and nothing of it is written.
        """

    def cancel(self, campaign_id: str, registration_id: str) -> bool:
        """Mark a matched decision cancelled and free its unit; False when none was matched."""

    def remove(self, campaign_id: str, registration_ids: Iterable[str]) -> list[str]:
        """Delete decisions (withdrawn registrations), freeing their units; return those freed."""

    def decision(self, campaign_id: str, registration_id: str) -> StoredDecision | None:
        """Return one registration's decision, or None."""

    def decisions(self, campaign_id: str, run_id: str | None = None) -> Iterator[StoredDecision]:
        """Stream decisions in record order (one run's when ``run_id`` is given)."""

    def output_rows(self, campaign_id: str, run_id: str) -> Iterator[OutputRow]:
        """Stream one run's decisions in record order, match and order still encoded."""

    def decided_ids(self, campaign_id: str, *, final_only: bool = True) -> dict[str, str]:
        """Return registration_id -> run_id of decided registrations."""

    def renumber(self, campaign_id: str, indexes: Iterable[tuple[str, int]]) -> None:
        """Set the record index (output order) of existing decisions."""

    def run_rows(self, campaign_id: str, run_id: str) -> int:
        """Count one run's decisions."""

    def counts(self, campaign_id: str, run_id: str | None = None) -> DecisionCounts:
        """Count decisions by status, and matched decisions per supplier."""

    def audits(self, campaign_id: str, run_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Stream audit payloads in registration order."""

    def get_meta(self, campaign_id: str, key: str) -> Any:
        """Return the JSON value stored under ``key``, or None."""

    def set_meta(self, campaign_id: str, key: str, value: Any) -> None:
        """Store a JSON value under ``key``."""

    def reset(self, campaign_id: str) -> int:
        """Drop every decision and audit and zero the use; return how many bookings went."""
