"""The run ledger: capacity reservations and finished results in one SQLite (WAL) file.

A reservation and the result that follows it are keyed by registration id, so a run killed at
any point can be resumed: finished registrations are skipped, and a reservation without a
result (killed between phase 1 and the commit) is released and redone.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from igent.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS suppliers (
    supplier_id TEXT PRIMARY KEY,
    capacity INTEGER NOT NULL,
    position INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0 CHECK (used <= capacity)
);
CREATE TABLE IF NOT EXISTS reservations (
    registration_id TEXT PRIMARY KEY, supplier_id TEXT NOT NULL REFERENCES suppliers(supplier_id)
);
CREATE INDEX IF NOT EXISTS reservations_by_supplier ON reservations (supplier_id);
CREATE TABLE IF NOT EXISTS results (
    record_index INTEGER PRIMARY KEY,
    registration_id TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Reservation:
    """The outcome of a reserve call."""

    accepted: bool
    used: int
    capacity: int
    already_held: bool = False


class Ledger:
    """Capacity store and result ledger of one run; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.disk_reads = 0
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open ledger {str(path)!r}: {exc}") from exc

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON value under ``key``."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
            )

    def get_meta(self, key: str) -> Any:
        """Return the JSON value stored under ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def register_suppliers(self, capacities: Iterable[tuple[str, int]]) -> None:
        """Record each supplier's capacity (first registration wins, so resumes keep theirs)."""
        with self._transaction() as db:
            for position, (supplier_id, capacity) in enumerate(capacities):
                db.execute(
                    "INSERT OR IGNORE INTO suppliers (supplier_id, capacity, position) "
                    "VALUES (?, ?, ?)",
                    (supplier_id, capacity, position),
                )

    def capacity(self) -> dict[str, tuple[int, int]]:
        """Read supplier_id -> (used, capacity) from disk."""
        with self._lock:
            self.disk_reads += 1
            rows = self._db.execute(
                "SELECT supplier_id, capacity, used FROM suppliers ORDER BY position"
            ).fetchall()
        return {supplier_id: (used, capacity) for supplier_id, capacity, used in rows}

    def used(self) -> dict[str, int]:
        """Read supplier_id -> used from disk."""
        return {supplier_id: used for supplier_id, (used, _) in self.capacity().items()}

    def reserve(self, registration_id: str, supplier_id: str) -> Reservation:
        """Reserve one unit of ``supplier_id`` for ``registration_id``; never oversells.

        Idempotent: reserving again for the same registration and supplier is accepted without
        using more capacity. A registration holding another supplier is refused.
        """
        try:
            return self._reserve(registration_id, supplier_id)
        except _NoRoom as full:  # the transaction rolled back the reservation row
            return full.reservation

    def _reserve(self, registration_id: str, supplier_id: str) -> Reservation:
        with self._transaction() as db:
            row = db.execute(
                "SELECT capacity, used FROM suppliers WHERE supplier_id = ?", (supplier_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"supplier {supplier_id!r} is not in the capacity store")
            capacity, used = int(row[0]), int(row[1])
            inserted = db.execute(
                "INSERT OR IGNORE INTO reservations (registration_id, supplier_id) VALUES (?, ?)",
                (registration_id, supplier_id),
            ).rowcount
            if not inserted:
                held = db.execute(
                    "SELECT supplier_id FROM reservations WHERE registration_id = ?",
                    (registration_id,),
                ).fetchone()
                return Reservation(held[0] == supplier_id, used, capacity, already_held=True)
            if used >= capacity:
                raise _NoRoom(Reservation(False, used, capacity))
            db.execute("UPDATE suppliers SET used = used + 1 WHERE supplier_id = ?", (supplier_id,))
            return Reservation(True, used + 1, capacity)

    def release(self, registration_id: str) -> None:
        """Drop the reservation of ``registration_id``, if any."""
        with self._transaction() as db:
            _release(db, [registration_id])

    def release_unfinished(self) -> list[str]:
        """Release reservations that have no committed result; return their registration ids."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT registration_id FROM reservations WHERE registration_id NOT IN "
                "(SELECT registration_id FROM results)"
            ).fetchall()
            _release(db, [r[0] for r in rows])
        return [r[0] for r in rows]

    def reset(self) -> int:
        """Drop every reservation and result; return how many reservations were dropped."""
        with self._transaction() as db:
            count = int(db.execute("SELECT COUNT(*) FROM reservations").fetchone()[0])
            db.execute("DELETE FROM reservations")
            db.execute("UPDATE suppliers SET used = 0")
            db.execute("DELETE FROM results")
        return count

    def commit_result(
        self, registration_id: str, record_index: int, payload: Mapping[str, Any]
    ) -> None:
        """Record a finished registration at once (durable before the call returns)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO results (registration_id, record_index, payload) "
                "VALUES (?, ?, ?)",
                (registration_id, record_index, json.dumps(payload, default=str)),
            )

    def results(self) -> list[dict[str, Any]]:
        """Return every committed result payload in record order."""
        with self._lock:
            rows = self._db.execute("SELECT payload FROM results ORDER BY record_index").fetchall()
        return [json.loads(r[0]) for r in rows]

    def finished_indexes(self) -> set[int]:
        """Return the record indexes of registrations with a committed result."""
        with self._lock:
            rows = self._db.execute("SELECT record_index FROM results").fetchall()
        return {int(r[0]) for r in rows}


class _NoRoom(Exception):
    """Raised inside a reserve transaction to roll it back when the supplier is full."""

    def __init__(self, reservation: Reservation) -> None:
        super().__init__("no room")
        self.reservation = reservation


def _release(db: sqlite3.Connection, registration_ids: list[str]) -> None:
    for registration_id in registration_ids:
        row = db.execute(
            "DELETE FROM reservations WHERE registration_id = ? RETURNING supplier_id",
            (registration_id,),
        ).fetchone()
        if row is not None:
            db.execute("UPDATE suppliers SET used = used - 1 WHERE supplier_id = ?", (row[0],))


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` under the ledger's lock; rolls back on error."""

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
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()
