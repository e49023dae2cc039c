"""The campaign service's own tables (migration 0002): keys, campaigns, jobs, events.

Decisions, bookings and capacity are not here: they live in the ledger tables, written only
through the ledger's Store. The SQL here serves SQLite and PostgreSQL alike (see
``store/dialect.py``); ``postgres_service.py`` runs it on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

from igent.errors import StoreError
from igent.store.dialect import SQLITE, Dialect
from igent.store.sqlite import SqliteStore

KeyRole = Literal["operator", "viewer"]
JobStatus = Literal["queued", "running", "done", "failed"]
MIGRATION = "0002_service.sql"
# Built once: ``json.dumps`` with options builds an encoder per call (hot: every claim and
# decision). The same text as json.dumps(raw, sort_keys=True) and json.dumps(x, default=str).
_SORTED = json.JSONEncoder(sort_keys=True)
_LENIENT = json.JSONEncoder(default=str)


def utc_now() -> str:
    """Return the current UTC time as ISO 8601 text."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class KeyRow:
    """A stored API key: its id, role and name (the key itself is never stored)."""

    key_id: str
    role: KeyRole
    name: str
    created_at: str


@dataclass(frozen=True)
class CampaignRow:
    """A campaign's service settings and current offer version."""

    campaign_id: str
    name: str
    constellation: str
    model: str | None
    campaign_date: str
    concurrency: int
    incentives: dict[str, Any]
    offer_version: int
    created_at: str


@dataclass(frozen=True)
class JobRow:
    """A background batch of registrations and its progress."""

    job_id: str
    campaign_id: str
    status: JobStatus
    total: int
    done: int
    errors: int
    error: str | None
    created_by: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class EventRow:
    """One entry of a campaign's event log."""

    event_id: int
    campaign_id: str
    kind: str
    data: dict[str, Any]
    created_at: str


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a registration for deciding."""

    taken: bool
    state: str
    raw: dict[str, Any]
    sequence: int
    """Increasing number of the submission (its output order), when taken."""
    previous: str | None = None
    """The state before a taken claim (None: never submitted)."""


@dataclass(frozen=True)
class ClaimRequest:
    """What :meth:`ServiceTables.claim` needs to claim one registration."""

    campaign_id: str
    registration_id: str
    raw: dict[str, Any]
    submitted_by: str
    owner: str
    until: float
    """Epoch seconds after which another process may take the claim over."""
    retry: bool = False


@dataclass(frozen=True)
class Submission:
    """A registration as submitted, its state and the model calls made for it."""

    raw: dict[str, Any]
    state: str
    calls: list[Any]
    info: dict[str, Any]


@dataclass(frozen=True)
class FinishedDecision:
    """A decided registration's model calls, service info and decision event."""

    registration_id: str
    calls: list[Any]
    info: dict[str, Any]
    event: dict[str, Any]


@dataclass(frozen=True)
class CancellationRow:
    """Who cancelled a registration, when and why."""

    cancelled_by: str
    reason: str
    cancelled_at: str


def migration_sql() -> str:
    """Return the text of the service migration shipped as package data."""
    return (resources.files("igent.store") / "migrations" / MIGRATION).read_text("utf-8")


class ServiceTables:
    """Read and write the service tables of one SQLite database; safe across threads."""

    dialect: ClassVar[Dialect] = SQLITE
    # A new claim takes the next sequence number: INSERT OR REPLACE gives its row a new rowid.
    _claim_sql: ClassVar[str] = (
        "INSERT OR REPLACE INTO submissions (campaign_id, registration_id, raw, state, "
        "claim_owner, claim_until, submitted_by, submitted_at) "
        "VALUES (?, ?, ?, 'deciding', ?, ?, ?, ?) RETURNING rowid"
    )

    def __init__(
        self,
        path: Path,
        *,
        now: Callable[[], str] = utc_now,
        connection: sqlite3.Connection | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.path = path
        self._now = now
        self._lock = lock or threading.RLock()
        self._owned = connection is None
        try:
            if connection is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                connection.execute("PRAGMA busy_timeout=30000")
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                # Idempotent (IF NOT EXISTS): harmless when the store's migrator applied it.
                connection.executescript(migration_sql())
            self._db = connection
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open service database {str(path)!r}: {exc}") from exc

    @classmethod
    def sharing(cls, store: SqliteStore) -> ServiceTables:
        """Use the store's own connection and lock (its migrations created these tables).

        One connection per process means the service's writes and the ledger's commits never
        wait on each other's SQLite lock (a busy wait would stall the event loop).
        """
        return cls(store.path, connection=store._db, lock=store._lock)

    def close(self) -> None:
        """Close the connection (unless it is the store's)."""
        if self._owned:
            with self._lock:
                self._db.close()

    def joins(self, store: object) -> bool:
        """Whether writes here made inside ``store``'s transaction (on its commit thread,
        e.g. in ``SqliteStore.commit(then=...)``) join that transaction: they share its
        connection."""
        return isinstance(store, SqliteStore) and self._db is store._db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:
                # Only the ledger's own transaction is open here (its connection and lock,
                # this thread): join it, under a savepoint so that a failure undoes only
                # these writes and never the ledger's.
                with self._savepoint():
                    yield self._db
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"service database {str(self.path)!r}: {exc}") from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        try:
            self._db.execute("SAVEPOINT service")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK TO service")
                self._db.execute("RELEASE service")
                raise
            self._db.execute("RELEASE service")
        except sqlite3.Error as exc:
            raise StoreError(f"service database {str(self.path)!r}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"service database {str(self.path)!r}: {exc}") from exc

    def ping(self) -> None:
        """Raise StoreError when the database cannot be read."""
        self._read("SELECT 1")

    # API keys
    def add_key(self, key_id: str, key_hash: str, role: KeyRole, name: str) -> KeyRow:
        """Store a new key's hash."""
        created_at = self._now()
        with self._write() as db:
            db.execute(
                "INSERT INTO api_keys (key_id, key_hash, role, name, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key_id, key_hash, role, name, created_at),
            )
        return KeyRow(key_id, role, name, created_at)

    def find_key(self, key_hash: str) -> KeyRow | None:
        """Return the live key with this hash, or None."""
        rows = self._read(
            "SELECT key_id, role, name, created_at FROM api_keys "
            "WHERE key_hash = ? AND revoked_at IS NULL",
            (key_hash,),
        )
        return KeyRow(*rows[0]) if rows else None

    # Campaigns and offer versions
    def add_campaign(self, campaign: CampaignRow, offers: str, created_by: str) -> None:
        """Store a new campaign with offer version 1; StoreError if the id is taken."""
        with self._write() as db:
            taken = db.execute(
                "SELECT 1 FROM service_campaigns WHERE campaign_id = ?", (campaign.campaign_id,)
            ).fetchone()
            if taken:
                raise StoreError(f"campaign {campaign.campaign_id!r} already exists")
            db.execute(
                "INSERT INTO service_campaigns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    campaign.campaign_id,
                    campaign.name,
                    campaign.constellation,
                    campaign.model,
                    campaign.campaign_date,
                    campaign.concurrency,
                    json.dumps(campaign.incentives),
                    campaign.offer_version,
                    campaign.created_at,
                ),
            )
            db.execute(
                "INSERT INTO offer_versions VALUES (?, ?, ?, ?, ?)",
                (campaign.campaign_id, campaign.offer_version, offers, created_by, self._now()),
            )

    def campaign(self, campaign_id: str) -> CampaignRow | None:
        """Return one campaign, or None."""
        rows = self._read("SELECT * FROM service_campaigns WHERE campaign_id = ?", (campaign_id,))
        return _campaign(rows[0]) if rows else None

    def campaigns(self) -> list[CampaignRow]:
        """Return every campaign, oldest first."""
        rows = self._read("SELECT * FROM service_campaigns ORDER BY created_at, campaign_id")
        return [_campaign(row) for row in rows]

    def offers(self, campaign_id: str, version: int) -> str:
        """Return the offers document of one version."""
        rows = self._read(
            "SELECT offers FROM offer_versions WHERE campaign_id = ? AND version = ?",
            (campaign_id, version),
        )
        if not rows:
            raise StoreError(f"campaign {campaign_id!r} has no offer version {version}")
        return str(rows[0][0])

    def add_offer_version(self, campaign_id: str, offers: str, created_by: str) -> int:
        """Store a new offer version and make it current; return its number."""
        with self._write() as db:
            row = db.execute(
                "SELECT MAX(version) FROM offer_versions WHERE campaign_id = ?", (campaign_id,)
            ).fetchone()
            version = int(row[0] or 0) + 1
            db.execute(
                "INSERT INTO offer_versions VALUES (?, ?, ?, ?, ?)",
                (campaign_id, version, offers, created_by, self._now()),
            )
            db.execute(
                "UPDATE service_campaigns SET offer_version = ? WHERE campaign_id = ?",
                (version, campaign_id),
            )
        return version

    # Submitted registrations
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
        """Take the right to decide a registration, across processes sharing the database.

        Taken when the registration is new, was cancelled, or its last claim expired (a
        process died while deciding); with ``retry`` also when it was decided with the same
        content (failed or unapproved decisions are redone). Otherwise returns what is stored.
        """
        request = ClaimRequest(campaign_id, registration_id, raw, submitted_by, owner, until, retry)
        return self.claim_many([request])[0]

    def claim_many(self, requests: Sequence[ClaimRequest]) -> list[Claim]:
        """:meth:`claim` for several registrations (distinct ones) in one transaction.

        One write transaction for a group of concurrent requests instead of one each: a
        SQLite commit costs far more than the insert it commits (locks, WAL frames).
        """
        now = self._now()
        params = [
            (
                r.campaign_id,
                r.registration_id,
                _SORTED.encode(r.raw),
                r.owner,
                r.until,
                r.submitted_by,
                now,
            )
            for r in requests
        ]
        try:
            with self._write() as db:
                return [
                    self._claim_in(db, request, row)
                    for request, row in zip(requests, params, strict=True)
                ]
        except sqlite3.Error as exc:
            raise StoreError(f"service database {str(self.path)!r}: {exc}") from exc

    def _claim_in(self, db: Any, request: ClaimRequest, params: Sequence[Any]) -> Claim:
        """Claim one registration inside the caller's write transaction."""
        sequence = self._claim_new(db, params)
        if sequence is not None:
            return Claim(True, "deciding", request.raw, sequence)
        row = db.execute(
            "SELECT raw, state, claim_owner, claim_until FROM submissions "
            "WHERE campaign_id = ? AND registration_id = ?",
            (request.campaign_id, request.registration_id),
        ).fetchone()
        free = (
            row is None
            or row[1] == "cancelled"
            or (row[1] == "deciding" and (row[3] < time.time() or row[2] == request.owner))
            or (row[1] == "decided" and request.retry and row[0] == params[2])
        )
        if not free:
            return Claim(False, row[1], json.loads(row[0]), 0)
        taken = db.execute(self._claim_sql, params).fetchone()
        previous = None if row is None else str(row[1])
        return Claim(True, "deciding", request.raw, int(taken[0]), previous)

    def _claim_new(self, db: Any, params: Sequence[Any]) -> int | None:
        """Claim a registration never submitted before in one statement (no read first);
        return its sequence number, or None when a row exists.

        Safe on SQLite: every writer holds the database's one write lock, so this insert never
        falls between another process's read and write.
        """
        cursor = db.execute(
            "INSERT INTO submissions (campaign_id, registration_id, raw, state, "
            "claim_owner, claim_until, submitted_by, submitted_at) "
            "VALUES (?, ?, ?, 'deciding', ?, ?, ?, ?) "
            "ON CONFLICT (campaign_id, registration_id) DO NOTHING",
            params,
        )
        return int(cursor.lastrowid or 0) if cursor.rowcount == 1 else None

    def finish_decision(
        self,
        campaign_id: str,
        registration_id: str,
        calls: list[Any],
        info: dict[str, Any],
        event: dict[str, Any],
    ) -> None:
        """Release a claim once its decision is committed, keep the model calls and service
        info, and log the decision event, in one transaction."""
        self.finish_decisions(campaign_id, [FinishedDecision(registration_id, calls, info, event)])

    def finish_decisions(self, campaign_id: str, finished: Sequence[FinishedDecision]) -> None:
        """:meth:`finish_decision` for many registrations, in one transaction."""
        now = self._now()
        with self._write() as db:
            db.executemany(
                "UPDATE submissions SET state = 'decided', claim_until = 0, calls = ?, info = ? "
                "WHERE campaign_id = ? AND registration_id = ?",
                [
                    (
                        _LENIENT.encode(f.calls),
                        json.dumps(f.info),
                        campaign_id,
                        f.registration_id,
                    )
                    for f in finished
                ],
            )
            db.executemany(
                "INSERT INTO events (campaign_id, kind, data, created_at) VALUES (?, ?, ?, ?)",
                [(campaign_id, "decision", _LENIENT.encode(f.event), now) for f in finished],
            )

    def release_claim(self, campaign_id: str, registration_id: str) -> None:
        """Give a claim up without a decision (deciding failed)."""
        with self._write() as db:
            db.execute(
                "UPDATE submissions SET claim_until = 0 WHERE campaign_id = ? AND "
                "registration_id = ? AND state = 'deciding'",
                (campaign_id, registration_id),
            )

    def submission(self, campaign_id: str, registration_id: str) -> Submission | None:
        """Return the registration as last submitted, or None."""
        rows = self._read(
            "SELECT raw, state, calls, info FROM submissions WHERE campaign_id = ? AND "
            "registration_id = ?",
            (campaign_id, registration_id),
        )
        if not rows:
            return None
        raw, state, calls, info = rows[0]
        return Submission(json.loads(raw), state, json.loads(calls), json.loads(info))

    def zip_codes(self, campaign_id: str) -> dict[str, str]:
        """Return registration_id -> Contact_Zip of a campaign's submissions."""
        zip_field = self.dialect.json_text("raw", "Contact_Zip")
        rows = self._read(
            f"SELECT registration_id, {zip_field} FROM submissions WHERE campaign_id = ?",
            (campaign_id,),
        )
        return {str(rid): str(zip_code).strip() for rid, zip_code in rows}

    def cancelled_ids(self, campaign_id: str) -> set[str]:
        """Return the ids of a campaign's registrations whose last submission is cancelled."""
        rows = self._read(
            "SELECT registration_id FROM submissions WHERE campaign_id = ? AND state = 'cancelled'",
            (campaign_id,),
        )
        return {str(registration_id) for (registration_id,) in rows}

    def audit(self, campaign_id: str, registration_id: str) -> dict[str, Any] | None:
        """Return the ledger's audit verdict for a registration, if any."""
        rows = self._read(
            "SELECT payload FROM audits WHERE campaign_id = ? AND registration_id = ?",
            (campaign_id, registration_id),
        )
        return json.loads(rows[0][0]) if rows else None

    # Cancellations
    def add_cancellation(
        self, campaign_id: str, registration_id: str, cancelled_by: str, reason: str
    ) -> CancellationRow:
        """Record who cancelled a registration and why; it may then be submitted anew."""
        row = CancellationRow(cancelled_by, reason, self._now())
        with self._write() as db:
            db.execute(
                "UPDATE submissions SET state = 'cancelled', claim_until = 0 "
                "WHERE campaign_id = ? AND registration_id = ?",
                (campaign_id, registration_id),
            )
            db.execute(
                "INSERT INTO cancellations "
                "(campaign_id, registration_id, cancelled_by, reason, cancelled_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (campaign_id, registration_id, cancelled_by, reason, row.cancelled_at),
            )
        return row

    def cancellations(self, campaign_id: str, registration_id: str) -> list[CancellationRow]:
        """Return the cancellations of a registration, oldest first."""
        rows = self._read(
            "SELECT cancelled_by, reason, cancelled_at FROM cancellations "
            "WHERE campaign_id = ? AND registration_id = ? ORDER BY cancellation_id",
            (campaign_id, registration_id),
        )
        return [CancellationRow(*row) for row in rows]

    # Jobs
    def add_job(
        self, job_id: str, campaign_id: str, items: Sequence[Any], created_by: str
    ) -> JobRow:
        """Store a batch job and its items (durable before the 202 is sent)."""
        now = self._now()
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (job_id, campaign_id, status, total, created_by, created_at, "
                "updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, campaign_id, len(items), created_by, now, now),
            )
            db.executemany(
                "INSERT INTO job_items (job_id, item_index, raw) VALUES (?, ?, ?)",
                [(job_id, index, json.dumps(item)) for index, item in enumerate(items)],
            )
        job = self.job(job_id)
        assert job is not None
        return job

    def job(self, job_id: str) -> JobRow | None:
        """Return one job with its progress, or None."""
        rows = self._read(_JOB_SELECT + " WHERE j.job_id = ?", (job_id,))
        return JobRow(*rows[0]) if rows else None

    def unfinished_jobs(self) -> list[JobRow]:
        """Return the jobs not done yet (to resume after a restart), oldest first."""
        rows = self._read(
            _JOB_SELECT + " WHERE j.status IN ('queued', 'running') ORDER BY j.created_at"
        )
        return [JobRow(*row) for row in rows]

    def pending_items(self, job_id: str) -> list[tuple[int, Any]]:
        """Return (index, item) of the items of a job not processed yet."""
        rows = self._read(
            "SELECT item_index, raw FROM job_items WHERE job_id = ? AND state = 'pending' "
            "ORDER BY item_index",
            (job_id,),
        )
        return [(int(index), json.loads(raw)) for index, raw in rows]

    def finish_item(
        self, job_id: str, item_index: int, registration_id: str | None, error: str | None
    ) -> None:
        """Mark one job item processed (or failed, with the message)."""
        with self._write() as db:
            moved = db.execute(
                "UPDATE job_items SET state = ?, registration_id = ?, error = ? "
                "WHERE job_id = ? AND item_index = ? AND state = 'pending'",
                ("error" if error else "done", registration_id, error, job_id, item_index),
            ).rowcount
            if not moved:  # another process finished it (both resumed the job)
                return
            db.execute(
                "UPDATE jobs SET done = done + 1, updated_at = ? WHERE job_id = ?",
                (self._now(), job_id),
            )

    def set_job_status(self, job_id: str, status: JobStatus, error: str | None = None) -> None:
        """Move a job to ``status``."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status = ?, error = ?, updated_at = ? WHERE job_id = ?",
                (status, error, self._now(), job_id),
            )

    def job_errors(self, job_id: str, limit: int = 100) -> list[tuple[int, str]]:
        """Return (index, message) of the job items that could not be processed."""
        rows = self._read(
            "SELECT item_index, error FROM job_items WHERE job_id = ? AND state = 'error' "
            "ORDER BY item_index LIMIT ?",
            (job_id, limit),
        )
        return [(int(index), str(error)) for index, error in rows]

    # Events
    def add_event(self, campaign_id: str, kind: str, data: dict[str, Any]) -> int:
        """Append an event; return its id (the SSE id)."""
        with self._write() as db:
            row = db.execute(
                "INSERT INTO events (campaign_id, kind, data, created_at) VALUES (?, ?, ?, ?) "
                "RETURNING event_id",
                (campaign_id, kind, json.dumps(data, default=str), self._now()),
            ).fetchone()
            return int(row[0])

    def events_after(self, campaign_id: str, after_id: int, limit: int = 500) -> list[EventRow]:
        """Return a campaign's events with an id above ``after_id``, oldest first."""
        rows = self._read(
            "SELECT event_id, campaign_id, kind, data, created_at FROM events "
            "WHERE campaign_id = ? AND event_id > ? ORDER BY event_id LIMIT ?",
            (campaign_id, after_id, limit),
        )
        return [EventRow(int(r[0]), r[1], r[2], json.loads(r[3]), r[4]) for r in rows]


_JOB_SELECT = (
    "SELECT j.job_id, j.campaign_id, j.status, j.total, j.done, "
    "(SELECT COUNT(*) FROM job_items i WHERE i.job_id = j.job_id AND i.state = 'error'), "
    "j.error, j.created_by, j.created_at, j.updated_at FROM jobs j"
)


def _campaign(row: tuple[Any, ...]) -> CampaignRow:
    values = list(row)
    values[6] = json.loads(values[6])
    return CampaignRow(*values)


__all__ = [
    "CampaignRow",
    "CancellationRow",
    "Claim",
    "ClaimRequest",
    "EventRow",
    "FinishedDecision",
    "JobRow",
    "KeyRole",
    "KeyRow",
    "ServiceTables",
    "Submission",
    "utc_now",
]
