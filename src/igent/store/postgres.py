"""The ledger in PostgreSQL (psycopg 3 + psycopg_pool): its connections and its own statements.

Same protocol and semantics as :class:`~igent.store.sqlite.SqliteStore`, for several processes
on several machines sharing one campaign ledger:

- booking is one atomic ``UPDATE suppliers SET used = used + 1 WHERE ... AND used < capacity
  RETURNING used`` (no row back: the supplier is full), and ``decisions`` has one row per
  (campaign, registration) (its primary key);
- a decision, its booking and its purchase order (in the payload) commit in one transaction;
  cancel marks the decision and frees the unit in one transaction;
- writers of the same registration are serialised by a transaction-scoped advisory lock on
  (campaign, registration), so two processes deciding it at once never book it twice;
- a transaction PostgreSQL aborts as a deadlock or serialisation failure is retried whole.

Migrations are the same ordered files as SQLite's (``store/migrations/NNNN_name.sql``); where
PostgreSQL needs other SQL, a variant ``NNNN_name.postgresql.sql`` next to it replaces it.
Migrating holds an advisory lock, so processes starting together apply each migration once.
Durability is PostgreSQL's: a committed transaction survives a crash of any igent process.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from igent.errors import StoreError
from igent.store.base import CommitResult, Decision
from igent.store.dialect import POSTGRESQL, Connection
from igent.store.migrations import Migration, migrations
from igent.store.sql_ledger import (
    READ_CHUNK,
    SCHEMA_VERSION_DDL,
    SqlLedger,
    write_audits,
    write_decision,
)

DIALECT = POSTGRESQL.name  # migration variants end in .postgresql.sql
_MIGRATION_LOCK = 0x1647E47  # advisory lock id held while migrating
_RETRIES = 5
_T = TypeVar("_T")


def redact_url(url: str) -> str:
    """Return ``url`` with its password masked (``user:PASSWORD@`` or ``?password=``), for
    messages and logs."""
    url = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.IGNORECASE)


def check_connection(url: str, timeout_s: int = 10) -> None:
    """Connect once, so a wrong URL or a database that is down fails at once, clearly."""
    try:
        psycopg.connect(url, connect_timeout=timeout_s).close()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise StoreError(
            f"cannot connect to ledger database {redact_url(url)!r}: {reason}; check the URL "
            "(--db / IGENT_DATABASE_URL) and that PostgreSQL is running"
        ) from None


def pg_migrations() -> list[Migration]:
    """Return the migrations in order, each replaced by its PostgreSQL variant if it has one."""
    variants: dict[int, Migration] = {}
    for entry in resources.files("igent.store.migrations").iterdir():
        stem, _, ext = entry.name.partition(".")
        number, _, name = stem.partition("_")
        if ext == f"{DIALECT}.sql" and number.isdigit():
            variants[int(number)] = Migration(int(number), name, entry.read_text("utf-8"))
    return [variants.get(m.version, m) for m in migrations()]


def open_pool(url: str, *, min_size: int, max_size: int, purpose: str) -> ConnectionPool:
    """Open a pool of autocommit connections and wait for the first; StoreError when it fails."""
    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=30.0,
        kwargs={"autocommit": True},
    )
    try:
        pool.open(wait=True, timeout=30.0)
    except Exception as exc:
        pool.close()
        raise StoreError(
            f"cannot connect to {purpose} database {redact_url(url)!r}: {exc}; check the URL "
            "(--db / IGENT_DATABASE_URL) and that PostgreSQL is running"
        ) from exc
    return pool


@functools.lru_cache(maxsize=512)
def to_format_style(sql: str) -> str:
    """Spell the shared SQL's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` as ``%%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class QmarkConnection:
    """A psycopg connection that takes the shared SQL (``?`` placeholders)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        """Run one statement."""
        return self.raw.execute(to_format_style(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        """Run one statement per row of parameters."""
        cursor = self.raw.cursor()
        cursor.executemany(to_format_style(sql), rows)
        return cursor


class PostgresStore(SqlLedger):
    """The :class:`~igent.store.base.Store` protocol on a PostgreSQL database; thread-safe."""

    dialect = POSTGRESQL

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 8, migrate: bool = True
    ) -> None:
        self.url = url
        self.disk_reads = 0
        check_connection(url)
        # a streaming read holds one connection
        self._pool = open_pool(url, min_size=min_size, max_size=max(max_size, 2), purpose="ledger")
        if migrate:
            try:
                self.upgrade()
            except BaseException:
                self._pool.close()
                raise

    # Schema
    def upgrade(self) -> list[int]:
        """Apply missing migrations in order, each in its own transaction; return those applied."""
        applied_now: list[int] = []
        with self._connection() as conn:
            for migration in pg_migrations():
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    conn.execute(SCHEMA_VERSION_DDL)
                    done = conn.execute(
                        "SELECT 1 FROM schema_version WHERE version = %s", (migration.version,)
                    ).fetchone()
                    if done is not None:
                        continue
                    conn.execute(migration.sql.encode("utf-8"))
                    conn.execute(
                        "INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                    applied_now.append(migration.version)
        return applied_now

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    # Plumbing
    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"ledger database {redact_url(self.url)!r}: {exc}") from exc

    def _run(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work`` in one transaction, retried whole on a deadlock or serialisation failure."""
        for attempt in range(_RETRIES):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return work(QmarkConnection(conn))
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure) as exc:
                if attempt == _RETRIES - 1:
                    raise StoreError(
                        f"ledger transaction on {redact_url(self.url)!r} kept conflicting with "
                        f"other writers ({exc.sqlstate}); retry the operation"
                    ) from exc
            except psycopg.Error as exc:
                raise StoreError(
                    f"ledger transaction on {redact_url(self.url)!r} failed: {exc}"
                ) from exc
        raise AssertionError("unreachable")

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._connection() as conn:
            row: tuple[Any, ...] | None = QmarkConnection(conn).execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return list(QmarkConnection(conn).execute(sql, params).fetchall())

    def _stream_rows(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        """Read rows in chunks through a server-side cursor (one consistent snapshot)."""
        with self._connection() as conn, conn.transaction():
            with conn.cursor(name=f"igent_{uuid.uuid4().hex[:12]}") as cur:
                cur.itersize = READ_CHUNK
                cur.execute(to_format_style(sql), params)
                yield from cur

    def _lock_registration(self, conn: Connection, campaign_id: str, registration_id: str) -> None:
        """Serialise writers of one registration until the transaction ends."""
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
            (f"{campaign_id}\x1f{registration_id}",),
        )

    # Decisions
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

        With ``keep_final`` (workers: first decision wins) a registration that already has a
        final decision keeps it; it is reported as committed and nothing of it is written.
        """

        def work(conn: Connection) -> CommitResult:
            # Lock every registration of the batch in one order: two batches never deadlock.
            for registration_id in sorted({d.registration_id for d in decisions}):
                self._lock_registration(conn, campaign_id, registration_id)
            committed: list[str] = []
            conflicts: list[Decision] = []
            for decision in decisions:
                if write_decision(
                    conn, POSTGRESQL, campaign_id, run_id, decision, keep_final=keep_final
                ):
                    committed.append(decision.registration_id)
                else:
                    conflicts.append(decision)
            write_audits(
                conn,
                POSTGRESQL,
                campaign_id,
                run_id,
                [(str(a["registration_id"]), a) for a in audits],
            )
            return CommitResult(tuple(committed), tuple(conflicts))

        return self._run(work)


__all__ = [
    "PostgresStore",
    "QmarkConnection",
    "check_connection",
    "open_pool",
    "pg_migrations",
    "redact_url",
    "to_format_style",
]
