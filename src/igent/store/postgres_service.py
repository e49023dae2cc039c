"""The campaign service's tables on PostgreSQL, and the service database picked by its URL.

:class:`PgServiceTables` runs the methods of :class:`ServiceTables` (one SQL text for both,
see ``store/dialect.py``): it supplies the connections and the one statement PostgreSQL spells
its own way (a new claim takes the next number of ``submissions_seq``). Writes are serialised
by one transaction-scoped advisory lock, as SQLite's ``BEGIN IMMEDIATE`` does, so the
read-then-write methods (claiming a registration, the next offer version) stay atomic across
every service process sharing the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from igent.errors import StoreError
from igent.store.backend import is_postgres_url
from igent.store.base import Store
from igent.store.dialect import POSTGRESQL
from igent.store.postgres import PostgresStore, QmarkConnection, open_pool, redact_url
from igent.store.service_tables import ServiceTables, utc_now

_WRITE_LOCK = 0x1647E48  # advisory lock id held by every service-table write


class PgServiceTables(ServiceTables):
    """The service tables (migration 0002's PostgreSQL variant) in a PostgreSQL database."""

    dialect = POSTGRESQL
    _claim_sql = (
        "INSERT INTO submissions (campaign_id, registration_id, raw, state, "
        "claim_owner, claim_until, submitted_by, submitted_at) "
        "VALUES (?, ?, ?, 'deciding', ?, ?, ?, ?) "
        "ON CONFLICT (campaign_id, registration_id) DO UPDATE SET raw = excluded.raw, "
        "state = excluded.state, claim_owner = excluded.claim_owner, "
        "claim_until = excluded.claim_until, submitted_by = excluded.submitted_by, "
        "submitted_at = excluded.submitted_at, calls = '[]', info = '{}', "
        "seq = nextval('submissions_seq') RETURNING seq"
    )

    def __init__(
        self, url: str, *, now: Callable[[], str] = utc_now, max_connections: int = 8
    ) -> None:
        self.path = Path(redact_url(url))  # shown in messages only
        self.url = url
        self._now = now
        self._owned = True
        self._pool = open_pool(url, min_size=1, max_size=max_connections, purpose="service")

    def _claim_new(self, db: Any, params: Sequence[Any]) -> int | None:
        # Always the read-then-write claim (under the advisory lock each write takes).
        return None

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                yield QmarkConnection(conn)
        except psycopg.errors.UniqueViolation as exc:
            raise StoreError(f"service database {self.path}: {exc.diag.message_primary}") from exc
        except psycopg.Error as exc:
            raise StoreError(f"service database {self.path}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn:
                return list(QmarkConnection(conn).execute(sql, params).fetchall())
        except psycopg.Error as exc:
            raise StoreError(f"service database {self.path}: {exc}") from exc


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
