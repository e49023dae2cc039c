"""The ledger in one SQLite file (WAL): its connection, transactions and group-commit path.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A committed
transaction survives the process being killed (kill -9, a crash, Ctrl-C) because it is in
the WAL file; after a power loss or OS crash the last transactions committed before it may be
lost (never half of one), and a resume redoes those registrations.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from igent.errors import StoreError
from igent.store.base import CommitResult, Decision
from igent.store.dialect import SQLITE, Connection
from igent.store.migrations import migrations
from igent.store.sql_ledger import (
    READ_CHUNK,
    SCHEMA_VERSION_DDL,
    UPSERT_DECISION,
    SqlLedger,
    decision_row,
    write_audits,
    write_decision,
)

_T = TypeVar("_T")


class SqliteStore(SqlLedger):
    """The :class:`~igent.store.base.Store` protocol on a SQLite file; thread-safe."""

    dialect = SQLITE

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
        self._db.execute(SCHEMA_VERSION_DDL)
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

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._db.execute(sql, params).fetchone()
        return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _run(self, work: Callable[[Connection], _T]) -> _T:
        with self._transaction() as db:
            return work(db)

    def _stream_rows(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Read rows in chunks on a connection of their own (a consistent WAL snapshot)."""
        reader = _connect(self.path)
        try:
            reader.execute("BEGIN")
            cursor = reader.execute(sql, params)
            while rows := cursor.fetchmany(READ_CHUNK):
                yield from rows
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read ledger {str(self.path)!r}: {exc}") from exc
        finally:
            reader.close()

    def commit(
        self,
        campaign_id: str,
        run_id: str,
        decisions: Sequence[Decision],
        audits: Sequence[Mapping[str, Any]] = (),
        *,
        keep_final: bool = False,
        then: Callable[[Sequence[Decision]], None] | None = None,
    ) -> CommitResult:
        """Write decisions (booking the matched ones) and audits in ONE transaction.

        A batch of first decisions that all fit takes a set-based path (``_write_fresh``);
        anything else is written decision by decision (moves, full suppliers, ``keep_final``).
        ``then`` runs inside the transaction, after the writes, with the committed decisions:
        what it writes on this store's connection commits with them (the service's rows).
        """
        committed: list[str] = []
        conflicts: list[Decision] = []
        with self._transaction() as db:
            if _write_fresh(db, campaign_id, run_id, decisions):
                committed = [d.registration_id for d in decisions]
            else:
                for decision in decisions:
                    if write_decision(
                        db, SQLITE, campaign_id, run_id, decision, keep_final=keep_final
                    ):
                        committed.append(decision.registration_id)
                    else:
                        conflicts.append(decision)
            write_audits(
                db, SQLITE, campaign_id, run_id, [(str(a["registration_id"]), a) for a in audits]
            )
            if then is not None and committed:
                conflicted = {d.registration_id for d in conflicts}
                then([d for d in decisions if d.registration_id not in conflicted])
        return CommitResult(tuple(committed), tuple(conflicts))


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    # A checkpoint copies the WAL into the database and syncs it: every 1,000 pages (SQLite's
    # default, 4 MB) a 100k-registration run (~350 MB of ledger) syncs ~90 times, about 1 s of
    # its 14. Every 10,000 pages keeps the WAL under ~40 MB; what a commit guarantees is the same.
    db.execute("PRAGMA wal_autocheckpoint=10000")
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
    db.executemany(UPSERT_DECISION, [decision_row(campaign_id, run_id, d) for d in decisions])
    audits = [(d.registration_id, d.audit) for d in decisions if d.audit is not None]
    write_audits(db, SQLITE, campaign_id, run_id, audits)
    return True


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
