"""Where an in-process run books: the run directory's SQLite ledger, or a PostgreSQL database.

``python -m igent.workflows ... --db postgresql://...`` (or ``IGENT_DATABASE_URL``) books in
the shared PostgreSQL ledger (the one services and workers use) instead of a SQLite file; the
outputs are still written to the run directory, and ``--resume`` needs the same database again.
The run directory keeps only the database URL with its password masked (never the secret).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from igent.errors import ConfigError
from igent.store import SqliteStore, Store
from igent.store.backend import is_postgres_url


def db_label(db: str | None) -> str | None:
    """The database as the run directory records it: the URL with its password masked."""
    if db is None:
        return None
    from igent.store.postgres import redact_url  # psycopg: only for PostgreSQL runs

    return redact_url(db)


def check_resume_db(run_dir: Path, saved: str | None, db: str | None) -> None:
    """Refuse a resume whose ledger database differs from the one the run booked in."""
    given = db_label(db)
    if saved == given:
        return
    if saved is None:
        raise ConfigError(
            f"--resume {str(run_dir)!r}: the run booked in its own SQLite ledger, not in "
            f"{given!r}; drop --db (and unset IGENT_DATABASE_URL) to resume it"
        )
    raise ConfigError(
        f"--resume {str(run_dir)!r}: the run booked in PostgreSQL {saved!r}"
        + (f", not {given!r}" if given else "")
        + "; pass that database with --db URL or IGENT_DATABASE_URL to resume it"
    )


def open_run_store(ledger_path: Path, db: str | None) -> contextlib.closing[Store]:
    """Open the run's ledger (closed at the end of the ``with`` block)."""
    if db is None:
        return contextlib.closing(SqliteStore(ledger_path))
    if not is_postgres_url(db):
        raise ConfigError(f"--db {db!r}: expected postgresql://USER@HOST:PORT/DB")
    from igent.store.postgres import PostgresStore

    return contextlib.closing(PostgresStore(db))


__all__ = ["check_resume_db", "db_label", "open_run_store"]
