"""The ledger's SQL, written once: the :class:`~igent.store.base.Store` methods both backends share.

:class:`SqlLedger` holds every statement that SQLite and PostgreSQL spell alike (``?``
placeholders, see ``dialect.py``). A backend subclasses it and supplies only its connection
handling: ``_one``/``_all`` (short reads), ``_run`` (one transaction), ``_stream_rows`` (a long
read on one snapshot) and ``close``; plus ``commit``, whose write path each backend tunes for
itself (SQLite's group commit, PostgreSQL's per-registration advisory locks).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar

from igent.errors import StoreError
from igent.store.base import (
    FINAL_STATUSES,
    CapacityChange,
    Decision,
    DecisionCounts,
    OutputRow,
    StoredDecision,
    SupplierCapacity,
    encode_json,
)
from igent.store.dialect import Connection, Dialect

READ_CHUNK = 2000
SCHEMA_VERSION_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
)
DECISION_COLUMNS = (
    "registration_id, record_index, run_id, status, supplier_id, match_json, order_json, payload"
)
# ON CONFLICT ... DO UPDATE and RETURNING: PostgreSQL, and SQLite >= 3.35
UPSERT_DECISION = (
    "INSERT INTO decisions (campaign_id, registration_id, record_index, run_id, status, "
    "supplier_id, match_json, order_json, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (campaign_id, registration_id) DO UPDATE SET "
    "record_index = excluded.record_index, run_id = excluded.run_id, "
    "status = excluded.status, supplier_id = excluded.supplier_id, "
    "match_json = excluded.match_json, order_json = excluded.order_json, "
    "payload = excluded.payload"
)
_RECORD_ORDER = "record_index, registration_id"
_T = TypeVar("_T")


class SqlLedger(ABC):
    """The shared part of a SQL ledger; subclasses run the statements on their database."""

    dialect: ClassVar[Dialect]
    disk_reads: int
    """How many times the suppliers were read from the database (a run's statistics)."""

    # What a backend supplies
    @abstractmethod
    def close(self) -> None:
        """Release the connections."""

    @abstractmethod
    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Return the first row of a read, or None."""

    @abstractmethod
    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Return every row of a short read."""

    @abstractmethod
    def _run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one write transaction and return what it returns."""

    @abstractmethod
    def _stream_rows(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Yield the rows of a long read in chunks, all from one consistent snapshot."""

    def _lock_registration(self, conn: Connection, campaign_id: str, registration_id: str) -> None:
        """Serialise writers of one registration until the transaction ends (if needed)."""
        # none by default: SQLite's BEGIN IMMEDIATE already serialises every writer
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Schema
    def schema_version(self) -> int:
        """Return the highest applied migration number."""
        row = self._one("SELECT MAX(version) FROM schema_version")
        return int(row[0] or 0) if row else 0

    def ping(self) -> None:
        """Raise StoreError when the database does not answer."""
        self._one("SELECT 1")

    # Campaigns and suppliers
    def ensure_campaign(self, campaign_id: str) -> bool:
        """Create the campaign if missing; return True when it was created."""
        return self._run(
            lambda conn: bool(
                conn.execute(
                    "INSERT INTO campaigns (campaign_id) VALUES (?) ON CONFLICT DO NOTHING",
                    (campaign_id,),
                ).rowcount
            )
        )

    def campaigns(self) -> list[str]:
        """Return every campaign id in the ledger."""
        return [str(r[0]) for r in self._all("SELECT campaign_id FROM campaigns ORDER BY 1")]

    def capacity_changes(
        self, campaign_id: str, capacities: Sequence[tuple[str, int]]
    ) -> list[CapacityChange]:
        """Return how ``capacities`` differ from the ledger's (new, changed, gone suppliers)."""
        known = {s.supplier_id: s for s in self.suppliers(campaign_id)}
        changes = []
        for supplier_id, capacity in capacities:
            row = known.pop(supplier_id, None)
            if row is None:
                changes.append(CapacityChange(supplier_id, None, capacity))
            elif row.capacity != capacity:
                changes.append(CapacityChange(supplier_id, row.capacity, capacity, row.used))
        changes.extend(
            CapacityChange(s.supplier_id, s.capacity, None, s.used) for s in known.values()
        )
        return changes

    def set_suppliers(self, campaign_id: str, capacities: Sequence[tuple[str, int]]) -> None:
        """Add new suppliers and apply capacity changes in one transaction."""
        read_used = (
            "SELECT used FROM suppliers WHERE campaign_id = ? AND supplier_id = ?"
            + self.dialect.for_update
        )

        def work(conn: Connection) -> None:
            for position, (supplier_id, capacity) in enumerate(capacities):
                row = conn.execute(read_used, (campaign_id, supplier_id)).fetchone()
                if row is not None and int(row[0]) > capacity:
                    raise StoreError(
                        f"supplier {supplier_id!r}: capacity {capacity} is below the {row[0]} "
                        f"already booked in campaign {campaign_id!r}; raise it to at least "
                        f"{row[0]} or cancel bookings first"
                    )
                conn.execute(
                    "INSERT INTO suppliers (campaign_id, supplier_id, capacity, position) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id, supplier_id) DO UPDATE SET "
                    "capacity = excluded.capacity, position = excluded.position",
                    (campaign_id, supplier_id, capacity, position),
                )

        self._run(work)

    def suppliers(self, campaign_id: str) -> list[SupplierCapacity]:
        """Return the campaign's suppliers in offers order."""
        self.disk_reads += 1
        rows = self._all(
            "SELECT supplier_id, capacity, used FROM suppliers WHERE campaign_id = ? "
            "ORDER BY position",
            (campaign_id,),
        )
        return [SupplierCapacity(str(s), int(c), int(u)) for s, c, u in rows]

    # Decisions
    def cancel(self, campaign_id: str, registration_id: str) -> bool:
        """Mark a matched decision cancelled and free its unit; False when none was matched."""

        def work(conn: Connection) -> bool:
            self._lock_registration(conn, campaign_id, registration_id)
            row = conn.execute(
                "UPDATE decisions SET status = 'cancelled' WHERE campaign_id = ? AND "
                "registration_id = ? AND status = 'matched' RETURNING supplier_id",
                (campaign_id, registration_id),
            ).fetchone()
            if row is None:
                return False
            unbook(conn, campaign_id, row[0])
            return True

        return self._run(work)

    def remove(self, campaign_id: str, registration_ids: Iterable[str]) -> list[str]:
        """Delete decisions (withdrawn registrations), freeing their units; return those freed."""
        ids = sorted(set(registration_ids))  # one lock order: two writers never deadlock

        def work(conn: Connection) -> list[str]:
            freed = []
            for registration_id in ids:
                self._lock_registration(conn, campaign_id, registration_id)
                row = conn.execute(
                    "DELETE FROM decisions WHERE campaign_id = ? AND registration_id = ? "
                    "RETURNING status, supplier_id",
                    (campaign_id, registration_id),
                ).fetchone()
                conn.execute(
                    "DELETE FROM audits WHERE campaign_id = ? AND registration_id = ?",
                    (campaign_id, registration_id),
                )
                if row is not None and row[0] == "matched" and row[1] is not None:
                    unbook(conn, campaign_id, row[1])
                    freed.append(registration_id)
            return freed

        return self._run(work)

    def decision(self, campaign_id: str, registration_id: str) -> StoredDecision | None:
        """Return one registration's decision, or None."""
        row = self._one(
            f"SELECT {DECISION_COLUMNS} FROM decisions WHERE campaign_id = ? "
            "AND registration_id = ?",
            (campaign_id, registration_id),
        )
        return None if row is None else stored_decision(row)

    def decisions(self, campaign_id: str, run_id: str | None = None) -> Iterator[StoredDecision]:
        """Stream decisions in record order (one run's when ``run_id`` is given)."""
        for row in self._stream(
            f"SELECT {DECISION_COLUMNS} FROM decisions WHERE campaign_id = ?",
            campaign_id,
            run_id,
            _RECORD_ORDER,
        ):
            yield stored_decision(row)

    def output_rows(self, campaign_id: str, run_id: str) -> Iterator[OutputRow]:
        """Stream one run's decisions in record order, match and order still encoded."""
        reason = self.dialect.json_text("match_json", "reason")
        source = self.dialect.json_text("match_json", "source")
        for rid, status, supplier_id, match, order, why, origin, rest in self._stream(
            "SELECT registration_id, status, supplier_id, match_json, order_json, "
            f"{reason}, {source}, payload FROM decisions WHERE campaign_id = ?",
            campaign_id,
            run_id,
            _RECORD_ORDER,
        ):
            yield OutputRow(
                str(rid), str(status), supplier_id, match, order, why, origin, json.loads(rest)
            )

    def decided_ids(self, campaign_id: str, *, final_only: bool = True) -> dict[str, str]:
        """Return registration_id -> run_id of decided registrations."""
        sql = "SELECT registration_id, run_id FROM decisions WHERE campaign_id = ?"
        params: list[Any] = [campaign_id]
        if final_only:
            sql += f" AND status IN ({', '.join('?' * len(FINAL_STATUSES))})"
            params.extend(sorted(FINAL_STATUSES))
        return {str(r): str(run) for r, run in self._all(sql, params)}

    def renumber(self, campaign_id: str, indexes: Iterable[tuple[str, int]]) -> None:
        """Set the record index (output order) of existing decisions."""
        rows = [(index, campaign_id, rid, index) for rid, index in indexes]
        if rows:
            self._run(
                lambda conn: conn.executemany(
                    "UPDATE decisions SET record_index = ? WHERE campaign_id = ? AND "
                    "registration_id = ? AND record_index != ?",
                    rows,
                )
            )

    def run_rows(self, campaign_id: str, run_id: str) -> int:
        """Count one run's decisions (from the run index alone: no row is read)."""
        row = self._one(
            "SELECT COUNT(*) FROM decisions WHERE campaign_id = ? AND run_id = ?",
            (campaign_id, run_id),
        )
        return 0 if row is None else int(row[0])

    def counts(self, campaign_id: str, run_id: str | None = None) -> DecisionCounts:
        """Count decisions by status, and matched decisions per supplier."""
        where, params = "campaign_id = ?", [campaign_id]
        if run_id is not None:
            where += " AND run_id = ?"
            params.append(run_id)
        by_status = self._all(
            f"SELECT status, COUNT(*) FROM decisions WHERE {where} GROUP BY status", params
        )
        booked = self._all(
            "SELECT supplier_id, COUNT(*) FROM decisions WHERE campaign_id = ? AND "
            "status = 'matched' AND supplier_id IS NOT NULL GROUP BY supplier_id",
            (campaign_id,),
        )
        return DecisionCounts(
            {str(s): int(n) for s, n in by_status}, {str(s): int(n) for s, n in booked}
        )

    def audits(self, campaign_id: str, run_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Stream audit payloads in the order they were last written."""
        for row in self._stream(
            "SELECT payload FROM audits WHERE campaign_id = ?",
            campaign_id,
            run_id,
            self.dialect.audit_order,
        ):
            yield json.loads(row[0])

    def _stream(
        self, sql: str, campaign_id: str, run_id: str | None, order: str
    ) -> Iterator[tuple[Any, ...]]:
        """Stream a campaign's rows (one run's when ``run_id`` is given) in ``order``."""
        params: list[Any] = [campaign_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        return self._stream_rows(f"{sql} ORDER BY {order}", params)

    # Metadata
    def get_meta(self, campaign_id: str, key: str) -> Any:
        """Return the JSON value stored under ``key``, or None."""
        row = self._one(
            "SELECT value FROM meta WHERE campaign_id = ? AND key = ?", (campaign_id, key)
        )
        return None if row is None else json.loads(row[0])

    def set_meta(self, campaign_id: str, key: str, value: Any) -> None:
        """Store a JSON value under ``key``."""
        self._run(
            lambda conn: conn.execute(
                "INSERT INTO meta (campaign_id, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (campaign_id, key) DO UPDATE SET value = excluded.value",
                (campaign_id, key, json.dumps(value)),
            )
        )

    def reset(self, campaign_id: str) -> int:
        """Drop every decision and audit and zero the use; return how many bookings went."""

        def work(conn: Connection) -> int:
            # holds bookings of the campaign off until the reset commits (PostgreSQL)
            conn.execute(
                "SELECT 1 FROM suppliers WHERE campaign_id = ?" + self.dialect.for_update,
                (campaign_id,),
            )
            row = conn.execute(
                "SELECT COUNT(*) FROM decisions WHERE campaign_id = ? AND status = 'matched'",
                (campaign_id,),
            ).fetchone()
            conn.execute("DELETE FROM decisions WHERE campaign_id = ?", (campaign_id,))
            conn.execute("DELETE FROM audits WHERE campaign_id = ?", (campaign_id,))
            conn.execute("UPDATE suppliers SET used = 0 WHERE campaign_id = ?", (campaign_id,))
            return int(row[0]) if row else 0

        return self._run(work)


def stored_decision(row: Sequence[Any]) -> StoredDecision:
    """Rebuild a decision from a row of ``DECISION_COLUMNS``."""
    rid, index, run_id, status, supplier_id, match, order, rest = row
    payload = json.loads(rest)
    payload["match"] = json.loads(match)
    payload["purchase_order"] = None if order is None else json.loads(order)
    return StoredDecision(str(rid), int(index), str(run_id), str(status), supplier_id, payload)


def decision_row(campaign_id: str, run_id: str, decision: Decision) -> tuple[Any, ...]:
    """The parameters of ``UPSERT_DECISION`` for one decision."""
    match, order, rest = decision.encoded
    return (
        campaign_id,
        decision.registration_id,
        decision.record_index,
        run_id,
        decision.status,
        decision.supplier_id,
        match,
        order,
        rest,
    )


def write_decision(
    conn: Connection,
    dialect: Dialect,
    campaign_id: str,
    run_id: str,
    decision: Decision,
    *,
    keep_final: bool = False,
) -> bool:
    """Write one decision inside the caller's transaction; False when its supplier is full.

    The booking is ``used = used + 1 WHERE used < capacity``; re-committing a registration
    moves its booking. With ``keep_final`` a registration that already has a final decision
    keeps it (first decision wins): nothing is written and it counts as committed.
    """
    previous = conn.execute(
        "SELECT status, supplier_id FROM decisions WHERE campaign_id = ? AND registration_id = ?",
        (campaign_id, decision.registration_id),
    ).fetchone()
    if keep_final and previous is not None and previous[0] in FINAL_STATUSES:
        return True
    held = previous[1] if previous is not None and previous[0] == "matched" else None
    if decision.is_booking and held != decision.supplier_id:
        moved = conn.execute(
            "UPDATE suppliers SET used = used + 1 WHERE campaign_id = ? AND supplier_id = ? "
            "AND used < capacity RETURNING used",
            (campaign_id, decision.supplier_id),
        ).fetchone()
        if moved is None:
            known = conn.execute(
                "SELECT 1 FROM suppliers WHERE campaign_id = ? AND supplier_id = ?",
                (campaign_id, decision.supplier_id),
            ).fetchone()
            if known is None:
                raise StoreError(
                    f"registration {decision.registration_id!r}: supplier "
                    f"{decision.supplier_id!r} is not in the capacity store of campaign "
                    f"{campaign_id!r}"
                )
            return False
    if held is not None and (not decision.is_booking or held != decision.supplier_id):
        unbook(conn, campaign_id, held)
    conn.execute(UPSERT_DECISION, decision_row(campaign_id, run_id, decision))
    if decision.audit is not None:
        write_audits(
            conn, dialect, campaign_id, run_id, [(decision.registration_id, decision.audit)]
        )
    return True


def write_audits(
    conn: Connection,
    dialect: Dialect,
    campaign_id: str,
    run_id: str,
    audits: Iterable[tuple[str, Mapping[str, Any]]],
) -> None:
    """Insert or replace audits, given as (registration id, audit), in the caller's
    transaction."""
    conn.executemany(
        dialect.upsert_audit,
        [(campaign_id, rid, run_id, encode_json(audit)) for rid, audit in audits],
    )


def unbook(conn: Connection, campaign_id: str, supplier_id: str) -> None:
    """Free one unit of a supplier's capacity inside the caller's transaction."""
    conn.execute(
        "UPDATE suppliers SET used = used - 1 WHERE campaign_id = ? AND supplier_id = ?",
        (campaign_id, supplier_id),
    )


__all__ = [
    "DECISION_COLUMNS",
    "READ_CHUNK",
    "SCHEMA_VERSION_DDL",
    "UPSERT_DECISION",
    "SqlLedger",
    "decision_row",
    "stored_decision",
    "unbook",
    "write_audits",
    "write_decision",
]
