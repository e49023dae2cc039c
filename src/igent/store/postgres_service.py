"""The campaign service's tables on PostgreSQL, and the service database picked by its URL.

:class:`PgServiceTables` runs the same methods as :class:`ServiceTables` (one SQL text for
both: ``?`` placeholders become ``%s``); the few statements SQLite spells its own way
(``INSERT OR REPLACE``, ``json_extract``, ``lastrowid``) are overridden here. Writes are
serialised by one transaction-scoped advisory lock, as SQLite's ``BEGIN IMMEDIATE`` does, so
the read-then-write methods (claiming a registration, the next offer version) stay atomic
across every service process sharing the database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from igent.errors import StoreError
from igent.store.backend import is_postgres_url
from igent.store.base import Store
from igent.store.postgres import PostgresStore, redact_url
from igent.store.service_tables import Claim, ServiceTables, utc_now

_WRITE_LOCK = 0x1647E48  # advisory lock id held by every service-table write


class _Connection:
    """A psycopg connection that takes the service tables' SQLite-style ``?`` SQL."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(_to_pg(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> psycopg.Cursor[Any]:
        cursor = self._conn.cursor()
        cursor.executemany(_to_pg(sql), rows)
        return cursor


def _to_pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PgServiceTables(ServiceTables):
    """The service tables (migration 0002's PostgreSQL variant) in a PostgreSQL database."""

    def __init__(
        self, url: str, *, now: Callable[[], str] = utc_now, max_connections: int = 8
    ) -> None:
        self.path = Path(redact_url(url))  # shown in messages only
        self.url = url
        self._now = now
        self._owned = True
        try:
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=max_connections,
                open=True,
                timeout=30.0,
                kwargs={"autocommit": True},
            )
            self._pool.wait(timeout=30.0)
        except Exception as exc:
            raise StoreError(
                f"cannot connect to service database {redact_url(url)!r}: {exc}"
            ) from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                yield _Connection(conn)
        except psycopg.errors.UniqueViolation as exc:
            raise StoreError(f"service database {self.path}: {exc.diag.message_primary}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"service database {self.path}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn:
                return list(conn.execute(_to_pg(sql), params).fetchall())
        except psycopg.Error as exc:
            raise StoreError(f"service database {self.path}: {exc}") from exc

    def claim(
        self,
        campaign_id: str,
        registration_id: str,
        raw: dict[str, Any],
        submitted_by: str,
        owner: str,
        until: float,
        *,
        retry: bool = False,
    ) -> Claim:
        """Take the right to decide a registration, across processes sharing the database."""
        text = json.dumps(raw, sort_keys=True)
        with self._write() as db:
            row = db.execute(
                "SELECT raw, state, claim_owner, claim_until FROM submissions "
                "WHERE campaign_id = ? AND registration_id = ?",
                (campaign_id, registration_id),
            ).fetchone()
            free = (
                row is None
                or row[1] == "cancelled"
                or (row[1] == "deciding" and (row[3] < time.time() or row[2] == owner))
                or (row[1] == "decided" and retry and row[0] == text)
            )
            if not free:
                return Claim(False, row[1], json.loads(row[0]), 0)
            sequence = db.execute(
                "INSERT INTO submissions (campaign_id, registration_id, raw, state, "
                "claim_owner, claim_until, submitted_by, submitted_at) "
                "VALUES (?, ?, ?, 'deciding', ?, ?, ?, ?) "
                "ON CONFLICT (campaign_id, registration_id) DO UPDATE SET raw = excluded.raw, "
                "state = excluded.state, claim_owner = excluded.claim_owner, "
                "claim_until = excluded.claim_until, submitted_by = excluded.submitted_by, "
                "submitted_at = excluded.submitted_at, calls = '[]', info = '{}', "
                "seq = nextval('submissions_seq') RETURNING seq",
                (campaign_id, registration_id, text, owner, until, submitted_by, self._now()),
            ).fetchone()
            previous = None if row is None else str(row[1])
            return Claim(True, "deciding", raw, int(sequence[0]), previous)

    def zip_codes(self, campaign_id: str) -> dict[str, str]:
        """Return registration_id -> Contact_Zip of a campaign's submissions."""
        rows = self._read(
            "SELECT registration_id, raw::jsonb ->> 'Contact_Zip' FROM submissions "
            "WHERE campaign_id = ?",
            (campaign_id,),
        )
        return {str(rid): str(zip_code).strip() for rid, zip_code in rows}

    def add_event(self, campaign_id: str, kind: str, data: dict[str, Any]) -> int:
        """Append an event; return its id (the SSE id)."""
        with self._write() as db:
            row = db.execute(
                "INSERT INTO events (campaign_id, kind, data, created_at) VALUES (?, ?, ?, ?) "
                "RETURNING event_id",
                (campaign_id, kind, json.dumps(data, default=str), self._now()),
            ).fetchone()
            return int(row[0])


def open_service_database(target: str | Path) -> tuple[Store, ServiceTables]:
    """Open the service's ledger Store and tables: a PostgreSQL URL or a SQLite file."""
    if is_postgres_url(target):
        store = PostgresStore(str(target))  # applies every migration, 0002_service included
        try:
            return store, PgServiceTables(str(target))
        except BaseException:
            store.close()
            raise
    from igent.store.sqlite import SqliteStore

    sqlite_store = SqliteStore(Path(target))
    return sqlite_store, ServiceTables.sharing(sqlite_store)


def open_service_tables(target: str | Path) -> ServiceTables:
    """Open only the service tables (``igent keys create``)."""
    if is_postgres_url(target):
        PostgresStore(str(target)).close()  # migrate first
        return PgServiceTables(str(target))
    return ServiceTables(Path(target))


__all__ = ["PgServiceTables", "open_service_database", "open_service_tables"]
