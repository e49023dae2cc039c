"""What the shared store SQL needs to know of each database: the few spellings that differ.

SQL in ``store/`` is written once, with SQLite's ``?`` placeholders and the ``INSERT ... ON
CONFLICT`` and ``RETURNING`` forms both databases accept; the PostgreSQL backend turns ``?``
into ``%s`` where it runs a statement. What cannot be spelt the same way is a :class:`Dialect`
field. How a transaction runs and how rows are streamed belong to each backend's connection
handling (``sqlite.py``, ``postgres.py``), not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol


class Cursor(Protocol):
    """The part of a DB-API cursor the shared SQL uses."""

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""

    def fetchone(self) -> Any:
        """Return the next row, or None."""

    def fetchall(self) -> Any:
        """Return the remaining rows."""


class Connection(Protocol):
    """A connection inside a transaction that takes ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        """Run one statement."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Cursor:
        """Run one statement per row of parameters."""


@dataclass(frozen=True)
class Dialect:
    """The spellings that differ between SQLite and PostgreSQL."""

    name: Literal["sqlite", "postgresql"]
    json_field: str
    """Text of one top-level key of a JSON text column: ``{column}`` and ``{key}`` filled in."""
    for_update: str
    """Suffix that locks the rows a SELECT reads until the transaction ends ('' where writers
    are serialised anyway: SQLite's ``BEGIN IMMEDIATE``)."""
    audit_order: str
    """Column that orders audits as last written."""
    upsert_audit: str
    """Insert or replace one audit (campaign, registration, run, payload) so that it reads back
    as the last written."""

    def json_text(self, column: str, key: str) -> str:
        """Return the expression that reads ``key`` of the JSON in ``column``."""
        return self.json_field.format(column=column, key=key)


SQLITE = Dialect(
    name="sqlite",
    json_field="json_extract({column}, '$.{key}')",
    for_update="",
    # INSERT OR REPLACE gives a replaced audit a new rowid
    audit_order="rowid",
    upsert_audit="INSERT OR REPLACE INTO audits (campaign_id, registration_id, run_id, payload) "
    "VALUES (?, ?, ?, ?)",
)
POSTGRESQL = Dialect(
    name="postgresql",
    json_field="{column}::jsonb ->> '{key}'",
    for_update=" FOR UPDATE",
    audit_order="seq",
    # ``seq`` takes a fresh number on replace too: audits read back in the order last written
    upsert_audit="INSERT INTO audits (campaign_id, registration_id, run_id, payload) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id, registration_id) DO UPDATE SET "
    "run_id = excluded.run_id, payload = excluded.payload, seq = excluded.seq",
)

__all__ = ["POSTGRESQL", "SQLITE", "Connection", "Cursor", "Dialect"]
