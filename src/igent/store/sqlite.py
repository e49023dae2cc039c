"""The ledger in one SQLite file (WAL): every SQLite-specific statement lives here.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A committed
transaction survives the process being killed (kill -9, a crash, Ctrl-C) because it is in
the WAL file; after a power loss or OS crash the last transactions committed before it may be
lost (never half of one), and a resume redoes those registrations.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from igent.errors import StoreError
from igent.store.base import (
    FINAL_STATUSES,
    CapacityChange,
    CommitResult,
    Decision,
    DecisionCounts,
    OutputRow,
    StoredDecision,
    SupplierCapacity,
    encode_json,
)
from igent.store.migrations import migrations

_READ_CHUNK = 2000


class SqliteStore:
    """The :class:`~igent.store.base.Store` protocol on a SQLite file; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.disk_reads = 0
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = _connect(path)
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open ledger {str(path)!r}: {exc}") from exc

    def _migrate(self) -> None:
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        with self._transaction() as db:
            applied = {int(r[0]) for r in db.execute("SELECT version FROM schema_version")}
            for migration in migrations():
                if migration.version in applied:
                    continue
                for statement in _statements(migration.sql):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_version (version, name) VALUES (?, ?)",
                    (migration.version, migration.name),
                )

    def schema_version(self) -> int:
        """Return the highest applied migration number."""
        with self._lock:
            row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def ensure_campaign(self, campaign_id: str) -> bool:
        """Create the campaign if missing; return True when it was created."""
        with self._transaction() as db:
            return bool(
                db.execute(
                    "INSERT OR IGNORE INTO campaigns (campaign_id) VALUES (?)", (campaign_id,)
                ).rowcount
            )

    def campaigns(self) -> list[str]:
        """Return every campaign id in the ledger."""
        with self._lock:
            rows = self._db.execute("SELECT campaign_id FROM campaigns ORDER BY campaign_id")
            return [str(r[0]) for r in rows]

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
        with self._transaction() as db:
            for position, (supplier_id, capacity) in enumerate(capacities):
                row = db.execute(
                    "SELECT used FROM suppliers WHERE campaign_id = ? AND supplier_id = ?",
                    (campaign_id, supplier_id),
                ).fetchone()
                if row is not None and int(row[0]) > capacity:
                    raise StoreError(
                        f"supplier {supplier_id!r}: capacity {capacity} is below the {row[0]} "
                        f"already booked in campaign {campaign_id!r}; raise it to at least "
                        f"{row[0]} or cancel bookings first"
                    )
                db.execute(
                    "INSERT INTO suppliers (campaign_id, supplier_id, capacity, position) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id, supplier_id) DO UPDATE SET "
                    "capacity = excluded.capacity, position = excluded.position",
                    (campaign_id, supplier_id, capacity, position),
                )

    def suppliers(self, campaign_id: str) -> list[SupplierCapacity]:
        """Return the campaign's suppliers in offers order."""
        with self._lock:
            self.disk_reads += 1
            rows = self._db.execute(
                "SELECT supplier_id, capacity, used FROM suppliers WHERE campaign_id = ? "
                "ORDER BY position",
                (campaign_id,),
            ).fetchall()
        return [SupplierCapacity(str(s), int(c), int(u)) for s, c, u in rows]

    def commit(
        self,
        campaign_id: str,
        run_id: str,
        decisions: Sequence[Decision],
        audits: Sequence[Mapping[str, Any]] = (),
    ) -> CommitResult:
        """Write decisions (booking the matched ones) and audits in ONE transaction."""
        committed: list[str] = []
        conflicts: list[Decision] = []
        with self._transaction() as db:
            if _write_fresh(db, campaign_id, run_id, decisions):
                committed = [d.registration_id for d in decisions]
            else:
                for decision in decisions:
                    if _write_decision(db, campaign_id, run_id, decision):
                        committed.append(decision.registration_id)
                    else:
                        conflicts.append(decision)
            db.executemany(
                "INSERT OR REPLACE INTO audits (campaign_id, registration_id, run_id, payload) "
                "VALUES (?, ?, ?, ?)",
                [(campaign_id, str(a["registration_id"]), run_id, _encode(a)) for a in audits],
            )
        return CommitResult(tuple(committed), tuple(conflicts))

    def cancel(self, campaign_id: str, registration_id: str) -> bool:
        """Mark a matched decision cancelled and free its unit; False when none was matched."""
        with self._transaction() as db:
            row = db.execute(
                "UPDATE decisions SET status = 'cancelled' WHERE campaign_id = ? AND "
                "registration_id = ? AND status = 'matched' RETURNING supplier_id",
                (campaign_id, registration_id),
            ).fetchone()
            if row is None:
                return False
            _unbook(db, campaign_id, row[0])
            return True

    def remove(self, campaign_id: str, registration_ids: Iterable[str]) -> list[str]:
        """Delete decisions (withdrawn registrations), freeing their units; return those freed."""
        freed = []
        with self._transaction() as db:
            for registration_id in registration_ids:
                row = db.execute(
                    "DELETE FROM decisions WHERE campaign_id = ? AND registration_id = ? "
                    "RETURNING status, supplier_id",
                    (campaign_id, registration_id),
                ).fetchone()
                db.execute(
                    "DELETE FROM audits WHERE campaign_id = ? AND registration_id = ?",
                    (campaign_id, registration_id),
                )
                if row is not None and row[0] == "matched" and row[1] is not None:
                    _unbook(db, campaign_id, row[1])
                    freed.append(registration_id)
        return freed

    def decision(self, campaign_id: str, registration_id: str) -> StoredDecision | None:
        """Return one registration's decision, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE campaign_id = ? "
                "AND registration_id = ?",
                (campaign_id, registration_id),
            ).fetchone()
        return None if row is None else _stored(row)

    def decisions(self, campaign_id: str, run_id: str | None = None) -> Iterator[StoredDecision]:
        """Stream decisions in record order (one run's when ``run_id`` is given)."""
        for row in self._stream(
            f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE campaign_id = ?",
            campaign_id,
            run_id,
            "record_index, registration_id",
        ):
            yield _stored(row)

    def output_rows(self, campaign_id: str, run_id: str) -> Iterator[OutputRow]:
        """Stream one run's decisions in record order, match and order still encoded."""
        for rid, status, supplier_id, match, order, reason, source, rest in self._stream(
            "SELECT registration_id, status, supplier_id, match_json, order_json, "
            "json_extract(match_json, '$.reason'), json_extract(match_json, '$.source'), "
            "payload FROM decisions WHERE campaign_id = ?",
            campaign_id,
            run_id,
            "record_index, registration_id",
        ):
            yield OutputRow(
                str(rid), str(status), supplier_id, match, order, reason, source, json.loads(rest)
            )

    def decided_ids(self, campaign_id: str, *, final_only: bool = True) -> dict[str, str]:
        """Return registration_id -> run_id of decided registrations."""
        statuses = sorted(FINAL_STATUSES) if final_only else None
        sql = "SELECT registration_id, run_id FROM decisions WHERE campaign_id = ?"
        params: list[Any] = [campaign_id]
        if statuses is not None:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            params.extend(statuses)
        with self._lock:
            return {str(r): str(run) for r, run in self._db.execute(sql, params)}

    def renumber(self, campaign_id: str, indexes: Iterable[tuple[str, int]]) -> None:
        """Set the record index (output order) of existing decisions."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE decisions SET record_index = ? WHERE campaign_id = ? AND "
                "registration_id = ? AND record_index != ?",
                ((index, campaign_id, rid, index) for rid, index in indexes),
            )

    def run_rows(self, campaign_id: str, run_id: str) -> int:
        """Count one run's decisions (from the run index alone: no row is read)."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM decisions WHERE campaign_id = ? AND run_id = ?",
                (campaign_id, run_id),
            ).fetchone()
        return int(row[0])

    def counts(self, campaign_id: str, run_id: str | None = None) -> DecisionCounts:
        """Count decisions by status, and matched decisions per supplier."""
        where, params = "campaign_id = ?", [campaign_id]
        if run_id is not None:
            where += " AND run_id = ?"
            params.append(run_id)
        with self._lock:
            by_status = self._db.execute(
                f"SELECT status, COUNT(*) FROM decisions WHERE {where} GROUP BY status", params
            ).fetchall()
            booked = self._db.execute(
                "SELECT supplier_id, COUNT(*) FROM decisions WHERE campaign_id = ? AND "
                "status = 'matched' AND supplier_id IS NOT NULL GROUP BY supplier_id",
                (campaign_id,),
            ).fetchall()
        return DecisionCounts(
            {str(s): int(n) for s, n in by_status}, {str(s): int(n) for s, n in booked}
        )

    def audits(self, campaign_id: str, run_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Stream audit payloads in registration order."""
        for row in self._stream(
            "SELECT payload FROM audits WHERE campaign_id = ?", campaign_id, run_id, "rowid"
        ):
            yield json.loads(row[0])

    def _stream(
        self, sql: str, campaign_id: str, run_id: str | None, order: str
    ) -> Iterator[tuple[Any, ...]]:
        """Read rows in chunks on a connection of their own (a consistent WAL snapshot)."""
        params: list[Any] = [campaign_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        reader = _connect(self.path)
        try:
            reader.execute("BEGIN")
            cursor = reader.execute(f"{sql} ORDER BY {order}", params)
            while rows := cursor.fetchmany(_READ_CHUNK):
                yield from rows
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read ledger {str(self.path)!r}: {exc}") from exc
        finally:
            reader.close()

    def get_meta(self, campaign_id: str, key: str) -> Any:
        """Return the JSON value stored under ``key``, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE campaign_id = ? AND key = ?", (campaign_id, key)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, campaign_id: str, key: str, value: Any) -> None:
        """Store a JSON value under ``key``."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (campaign_id, key, value) VALUES (?, ?, ?)",
                (campaign_id, key, json.dumps(value)),
            )

    def reset(self, campaign_id: str) -> int:
        """Drop every decision and audit and zero the use; return how many bookings went."""
        with self._transaction() as db:
            count = int(
                db.execute(
                    "SELECT COUNT(*) FROM decisions WHERE campaign_id = ? AND status = 'matched'",
                    (campaign_id,),
                ).fetchone()[0]
            )
            db.execute("DELETE FROM decisions WHERE campaign_id = ?", (campaign_id,))
            db.execute("DELETE FROM audits WHERE campaign_id = ?", (campaign_id,))
            db.execute("UPDATE suppliers SET used = 0 WHERE campaign_id = ?", (campaign_id,))
        return count


_DECISION_COLUMNS = (
    "registration_id, record_index, run_id, status, supplier_id, match_json, order_json, payload"
)


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    return db


def _statements(sql: str) -> Iterator[str]:
    """Split a migration script into statements (executescript would commit mid-way)."""
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        yield pending


def _stored(row: tuple[Any, ...]) -> StoredDecision:
    rid, index, run_id, status, supplier_id, match, order, rest = row
    payload = json.loads(rest)
    payload["match"] = json.loads(match)
    payload["purchase_order"] = None if order is None else json.loads(order)
    return StoredDecision(str(rid), int(index), str(run_id), str(status), supplier_id, payload)


def _encode(value: Mapping[str, Any]) -> str:
    return encode_json(value)


_INSERT_DECISION = (
    "INSERT OR REPLACE INTO decisions (campaign_id, registration_id, record_index, run_id, "
    "status, supplier_id, match_json, order_json, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_AUDIT = (
    "INSERT OR REPLACE INTO audits (campaign_id, registration_id, run_id, payload) "
    "VALUES (?, ?, ?, ?)"
)
_ID_CHUNK = 500  # host parameters per IN (...) list, well under SQLite's limit


def _write_fresh(
    db: sqlite3.Connection, campaign_id: str, run_id: str, decisions: Sequence[Decision]
) -> bool:
    """Write a batch of first decisions with a few set-based statements.

    Taken only when no registration of the batch has a decision yet and every supplier has
    room for all its bookings, so the outcome is exactly the per-decision path's; otherwise
    nothing is written and False sends the batch down that path (moves, conflicts, errors).
    """
    ids = [d.registration_id for d in decisions]
    if len(set(ids)) != len(ids):
        return False
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        found = db.execute(
            "SELECT 1 FROM decisions WHERE campaign_id = ? AND registration_id IN "
            f"({','.join('?' * len(chunk))}) LIMIT 1",
            (campaign_id, *chunk),
        ).fetchone()
        if found is not None:
            return False
    wanted: dict[str, int] = {}
    for decision in decisions:
        if decision.is_booking:
            supplier_id = str(decision.supplier_id)
            wanted[supplier_id] = wanted.get(supplier_id, 0) + 1
    if wanted:
        room = dict(
            db.execute(
                "SELECT supplier_id, capacity - used FROM suppliers WHERE campaign_id = ?",
                (campaign_id,),
            ).fetchall()
        )
        if any(room.get(s, 0) < count for s, count in wanted.items()):
            return False
        db.executemany(
            "UPDATE suppliers SET used = used + ? WHERE campaign_id = ? AND supplier_id = ?",
            [(count, campaign_id, s) for s, count in wanted.items()],
        )
    rows = []
    for decision in decisions:
        match, order, rest = decision.encoded
        rows.append(
            (
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
        )
    db.executemany(_INSERT_DECISION, rows)
    db.executemany(
        _INSERT_AUDIT,
        [
            (campaign_id, d.registration_id, run_id, _encode(d.audit))
            for d in decisions
            if d.audit is not None
        ],
    )
    return True


def _write_decision(
    db: sqlite3.Connection, campaign_id: str, run_id: str, decision: Decision
) -> bool:
    """Write one decision inside the caller's transaction; False when its supplier is full."""
    previous = db.execute(
        "SELECT status, supplier_id FROM decisions WHERE campaign_id = ? AND registration_id = ?",
        (campaign_id, decision.registration_id),
    ).fetchone()
    held = previous[1] if previous is not None and previous[0] == "matched" else None
    if decision.is_booking and held != decision.supplier_id:
        moved = db.execute(
            "UPDATE suppliers SET used = used + 1 WHERE campaign_id = ? AND supplier_id = ? "
            "AND used < capacity",
            (campaign_id, decision.supplier_id),
        ).rowcount
        if not moved:
            known = db.execute(
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
        _unbook(db, campaign_id, held)
    match, order, rest = decision.encoded
    db.execute(
        _INSERT_DECISION,
        (
            campaign_id,
            decision.registration_id,
            decision.record_index,
            run_id,
            decision.status,
            decision.supplier_id,
            match,
            order,
            rest,
        ),
    )
    if decision.audit is not None:
        db.execute(
            _INSERT_AUDIT,
            (campaign_id, decision.registration_id, run_id, _encode(decision.audit)),
        )
    return True


def _unbook(db: sqlite3.Connection, campaign_id: str, supplier_id: str) -> None:
    db.execute(
        "UPDATE suppliers SET used = used - 1 WHERE campaign_id = ? AND supplier_id = ?",
        (campaign_id, supplier_id),
    )


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` under the store's lock; rolls back on error."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._lock.release()
            raise StoreError(f"cannot start a ledger transaction: {exc}") from exc
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                try:
                    self._db.execute("COMMIT")
                except sqlite3.Error as error:
                    self._db.execute("ROLLBACK")
                    raise StoreError(f"cannot commit to the ledger: {error}") from error
            else:
                self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"ledger transaction failed: {exc}") from exc
        finally:
            self._lock.release()
