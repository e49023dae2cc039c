"""The ledger in PostgreSQL (psycopg 3 + psycopg_pool): every PostgreSQL statement lives here.

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

import json
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
from igent.store.migrations import Migration, migrations

DIALECT = "postgresql"
_MIGRATION_LOCK = 0x1647E47  # advisory lock id held while migrating
_READ_CHUNK = 2000
_RETRIES = 5
_T = TypeVar("_T")


def redact_url(url: str) -> str:
    """Return ``url`` with its password masked, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


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


class PostgresStore:
    """The :class:`~igent.store.base.Store` protocol on a PostgreSQL database; thread-safe."""

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 8, migrate: bool = True
    ) -> None:
        self.url = url
        self.disk_reads = 0
        check_connection(url)
        try:
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max(max_size, 2),  # a streaming read holds one connection
                open=True,
                timeout=30.0,
                kwargs={"autocommit": True},
            )
            self._pool.wait(timeout=30.0)
        except (psycopg.Error, Exception) as exc:
            raise StoreError(
                f"cannot connect to ledger database {redact_url(url)!r}: {exc}; check the URL "
                "(--db / IGENT_DATABASE_URL) and that PostgreSQL is running"
            ) from exc
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
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                        "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
                    )
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

    def schema_version(self) -> int:
        """Return the highest applied migration number."""
        row = self._one("SELECT MAX(version) FROM schema_version")
        return int(row[0] or 0) if row else 0

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Plumbing
    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"ledger database {redact_url(self.url)!r}: {exc}") from exc

    def _run(self, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run ``work`` in one transaction, retried whole on a deadlock or serialisation failure."""
        for attempt in range(_RETRIES):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return work(conn)
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
            row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return list(conn.execute(sql, params).fetchall())

    def ping(self) -> None:
        """Raise StoreError when the database does not answer."""
        self._one("SELECT 1")

    # Campaigns and suppliers
    def ensure_campaign(self, campaign_id: str) -> bool:
        """Create the campaign if missing; return True when it was created."""
        return self._run(
            lambda conn: bool(
                conn.execute(
                    "INSERT INTO campaigns (campaign_id) VALUES (%s) ON CONFLICT DO NOTHING",
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

        def work(conn: psycopg.Connection[Any]) -> None:
            for position, (supplier_id, capacity) in enumerate(capacities):
                row = conn.execute(
                    "SELECT used FROM suppliers WHERE campaign_id = %s AND supplier_id = %s "
                    "FOR UPDATE",
                    (campaign_id, supplier_id),
                ).fetchone()
                if row is not None and int(row[0]) > capacity:
                    raise StoreError(
                        f"supplier {supplier_id!r}: capacity {capacity} is below the {row[0]} "
                        f"already booked in campaign {campaign_id!r}; raise it to at least "
                        f"{row[0]} or cancel bookings first"
                    )
                conn.execute(
                    "INSERT INTO suppliers (campaign_id, supplier_id, capacity, position) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (campaign_id, supplier_id) DO UPDATE "
                    "SET capacity = excluded.capacity, position = excluded.position",
                    (campaign_id, supplier_id, capacity, position),
                )

        self._run(work)

    def suppliers(self, campaign_id: str) -> list[SupplierCapacity]:
        """Return the campaign's suppliers in offers order."""
        self.disk_reads += 1
        rows = self._all(
            "SELECT supplier_id, capacity, used FROM suppliers WHERE campaign_id = %s "
            "ORDER BY position",
            (campaign_id,),
        )
        return [SupplierCapacity(str(s), int(c), int(u)) for s, c, u in rows]

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

        def work(conn: psycopg.Connection[Any]) -> CommitResult:
            # Lock every registration of the batch in one order: two batches never deadlock.
            for registration_id in sorted({d.registration_id for d in decisions}):
                _lock_registration(conn, campaign_id, registration_id)
            committed: list[str] = []
            conflicts: list[Decision] = []
            for decision in decisions:
                if _write_decision(conn, campaign_id, run_id, decision, keep_final=keep_final):
                    committed.append(decision.registration_id)
                else:
                    conflicts.append(decision)
            for audit in audits:
                _write_audit(conn, campaign_id, str(audit["registration_id"]), run_id, audit)
            return CommitResult(tuple(committed), tuple(conflicts))

        return self._run(work)

    def cancel(self, campaign_id: str, registration_id: str) -> bool:
        """Mark a matched decision cancelled and free its unit; False when none was matched."""

        def work(conn: psycopg.Connection[Any]) -> bool:
            _lock_registration(conn, campaign_id, registration_id)
            row = conn.execute(
                "UPDATE decisions SET status = 'cancelled' WHERE campaign_id = %s AND "
                "registration_id = %s AND status = 'matched' RETURNING supplier_id",
                (campaign_id, registration_id),
            ).fetchone()
            if row is None:
                return False
            _unbook(conn, campaign_id, row[0])
            return True

        return self._run(work)

    def remove(self, campaign_id: str, registration_ids: Iterable[str]) -> list[str]:
        """Delete decisions (withdrawn registrations), freeing their units; return those freed."""
        ids = sorted(set(registration_ids))

        def work(conn: psycopg.Connection[Any]) -> list[str]:
            freed = []
            for registration_id in ids:
                _lock_registration(conn, campaign_id, registration_id)
                row = conn.execute(
                    "DELETE FROM decisions WHERE campaign_id = %s AND registration_id = %s "
                    "RETURNING status, supplier_id",
                    (campaign_id, registration_id),
                ).fetchone()
                conn.execute(
                    "DELETE FROM audits WHERE campaign_id = %s AND registration_id = %s",
                    (campaign_id, registration_id),
                )
                if row is not None and row[0] == "matched" and row[1] is not None:
                    _unbook(conn, campaign_id, row[1])
                    freed.append(registration_id)
            return freed

        return self._run(work)

    def decision(self, campaign_id: str, registration_id: str) -> StoredDecision | None:
        """Return one registration's decision, or None."""
        row = self._one(
            f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE campaign_id = %s "
            "AND registration_id = %s",
            (campaign_id, registration_id),
        )
        return None if row is None else _stored(row)

    def decisions(self, campaign_id: str, run_id: str | None = None) -> Iterator[StoredDecision]:
        """Stream decisions in record order (one run's when ``run_id`` is given)."""
        for row in self._stream(
            f"SELECT {_DECISION_COLUMNS} FROM decisions WHERE campaign_id = %s",
            campaign_id,
            run_id,
            "record_index, registration_id",
        ):
            yield _stored(row)

    def output_rows(self, campaign_id: str, run_id: str) -> Iterator[OutputRow]:
        """Stream one run's decisions in record order, match and order still encoded."""
        for rid, status, supplier_id, match, order, reason, source, rest in self._stream(
            "SELECT registration_id, status, supplier_id, match_json, order_json, "
            "match_json::jsonb ->> 'reason', match_json::jsonb ->> 'source', payload "
            "FROM decisions WHERE campaign_id = %s",
            campaign_id,
            run_id,
            "record_index, registration_id",
        ):
            yield OutputRow(
                str(rid), str(status), supplier_id, match, order, reason, source, json.loads(rest)
            )

    def decided_ids(self, campaign_id: str, *, final_only: bool = True) -> dict[str, str]:
        """Return registration_id -> run_id of decided registrations."""
        sql = "SELECT registration_id, run_id FROM decisions WHERE campaign_id = %s"
        params: list[Any] = [campaign_id]
        if final_only:
            sql += " AND status = ANY(%s)"
            params.append(sorted(FINAL_STATUSES))
        return {str(r): str(run) for r, run in self._all(sql, params)}

    def renumber(self, campaign_id: str, indexes: Iterable[tuple[str, int]]) -> None:
        """Set the record index (output order) of existing decisions."""
        rows = [(index, campaign_id, rid, index) for rid, index in indexes]

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE decisions SET record_index = %s WHERE campaign_id = %s AND "
                    "registration_id = %s AND record_index != %s",
                    rows,
                )

        if rows:
            self._run(work)

    def counts(self, campaign_id: str, run_id: str | None = None) -> DecisionCounts:
        """Count decisions by status, and matched decisions per supplier."""
        where, params = "campaign_id = %s", [campaign_id]
        if run_id is not None:
            where += " AND run_id = %s"
            params.append(run_id)
        by_status = self._all(
            f"SELECT status, COUNT(*) FROM decisions WHERE {where} GROUP BY status", params
        )
        booked = self._all(
            "SELECT supplier_id, COUNT(*) FROM decisions WHERE campaign_id = %s AND "
            "status = 'matched' AND supplier_id IS NOT NULL GROUP BY supplier_id",
            (campaign_id,),
        )
        return DecisionCounts(
            {str(s): int(n) for s, n in by_status}, {str(s): int(n) for s, n in booked}
        )

    def audits(self, campaign_id: str, run_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Stream audit payloads in the order they were written."""
        for row in self._stream(
            "SELECT payload FROM audits WHERE campaign_id = %s", campaign_id, run_id, "seq"
        ):
            yield json.loads(row[0])

    def _stream(
        self, sql: str, campaign_id: str, run_id: str | None, order: str
    ) -> Iterator[tuple[Any, ...]]:
        """Read rows in chunks through a server-side cursor (one consistent snapshot)."""
        params: list[Any] = [campaign_id]
        if run_id is not None:
            sql += " AND run_id = %s"
            params.append(run_id)
        with self._connection() as conn, conn.transaction():
            with conn.cursor(name=f"igent_{uuid.uuid4().hex[:12]}") as cur:
                cur.itersize = _READ_CHUNK
                cur.execute(f"{sql} ORDER BY {order}", params)
                yield from cur

    # Metadata
    def get_meta(self, campaign_id: str, key: str) -> Any:
        """Return the JSON value stored under ``key``, or None."""
        row = self._one(
            "SELECT value FROM meta WHERE campaign_id = %s AND key = %s", (campaign_id, key)
        )
        return None if row is None else json.loads(row[0])

    def set_meta(self, campaign_id: str, key: str, value: Any) -> None:
        """Store a JSON value under ``key``."""
        self._run(
            lambda conn: conn.execute(
                "INSERT INTO meta (campaign_id, key, value) VALUES (%s, %s, %s) "
                "ON CONFLICT (campaign_id, key) DO UPDATE SET value = excluded.value",
                (campaign_id, key, json.dumps(value)),
            )
        )

    def reset(self, campaign_id: str) -> int:
        """Drop every decision and audit and zero the use; return how many bookings went."""

        def work(conn: psycopg.Connection[Any]) -> int:
            conn.execute(
                "SELECT 1 FROM suppliers WHERE campaign_id = %s FOR UPDATE", (campaign_id,)
            )
            row = conn.execute(
                "SELECT COUNT(*) FROM decisions WHERE campaign_id = %s AND status = 'matched'",
                (campaign_id,),
            ).fetchone()
            conn.execute("DELETE FROM decisions WHERE campaign_id = %s", (campaign_id,))
            conn.execute("DELETE FROM audits WHERE campaign_id = %s", (campaign_id,))
            conn.execute("UPDATE suppliers SET used = 0 WHERE campaign_id = %s", (campaign_id,))
            return int(row[0]) if row else 0

        return self._run(work)


_DECISION_COLUMNS = (
    "registration_id, record_index, run_id, status, supplier_id, match_json, order_json, payload"
)


def _lock_registration(
    conn: psycopg.Connection[Any], campaign_id: str, registration_id: str
) -> None:
    """Serialise writers of one registration until the transaction ends."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
        (f"{campaign_id}\x1f{registration_id}",),
    )


def _stored(row: tuple[Any, ...]) -> StoredDecision:
    rid, index, run_id, status, supplier_id, match, order, rest = row
    payload = json.loads(rest)
    payload["match"] = json.loads(match)
    payload["purchase_order"] = None if order is None else json.loads(order)
    return StoredDecision(str(rid), int(index), str(run_id), str(status), supplier_id, payload)


def _encode(value: Mapping[str, Any]) -> str:
    return encode_json(value)


def _write_decision(
    conn: psycopg.Connection[Any],
    campaign_id: str,
    run_id: str,
    decision: Decision,
    *,
    keep_final: bool,
) -> bool:
    """Write one decision inside the caller's transaction; False when its supplier is full."""
    previous = conn.execute(
        "SELECT status, supplier_id FROM decisions WHERE campaign_id = %s AND registration_id = %s",
        (campaign_id, decision.registration_id),
    ).fetchone()
    if keep_final and previous is not None and previous[0] in FINAL_STATUSES:
        return True
    held = previous[1] if previous is not None and previous[0] == "matched" else None
    if decision.is_booking and held != decision.supplier_id:
        moved = conn.execute(
            "UPDATE suppliers SET used = used + 1 WHERE campaign_id = %s AND supplier_id = %s "
            "AND used < capacity RETURNING used",
            (campaign_id, decision.supplier_id),
        ).fetchone()
        if moved is None:
            known = conn.execute(
                "SELECT 1 FROM suppliers WHERE campaign_id = %s AND supplier_id = %s",
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
        _unbook(conn, campaign_id, held)
    match, order, rest = decision.encoded
    conn.execute(
        "INSERT INTO decisions (campaign_id, registration_id, record_index, run_id, status, "
        "supplier_id, match_json, order_json, payload) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (campaign_id, registration_id) DO UPDATE SET "
        "record_index = excluded.record_index, run_id = excluded.run_id, "
        "status = excluded.status, supplier_id = excluded.supplier_id, "
        "match_json = excluded.match_json, order_json = excluded.order_json, "
        "payload = excluded.payload",
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
        _write_audit(conn, campaign_id, decision.registration_id, run_id, decision.audit)
    return True


def _write_audit(
    conn: psycopg.Connection[Any],
    campaign_id: str,
    registration_id: str,
    run_id: str,
    audit: Mapping[str, Any],
) -> None:
    # ``seq`` takes a fresh number on replace too: audits read back in the order last written.
    conn.execute(
        "INSERT INTO audits (campaign_id, registration_id, run_id, payload) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (campaign_id, registration_id) DO UPDATE SET "
        "run_id = excluded.run_id, payload = excluded.payload, seq = excluded.seq",
        (campaign_id, registration_id, run_id, _encode(audit)),
    )


def _unbook(conn: psycopg.Connection[Any], campaign_id: str, supplier_id: str) -> None:
    conn.execute(
        "UPDATE suppliers SET used = used - 1 WHERE campaign_id = %s AND supplier_id = %s",
        (campaign_id, supplier_id),
    )


__all__ = ["PostgresStore", "check_connection", "pg_migrations", "redact_url"]
