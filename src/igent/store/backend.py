"""Pick the ledger backend from a database URL: SQLite (default) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from igent.errors import ConfigError
from igent.store.base import Store

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str | Path | None) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return isinstance(url, str) and url.startswith(POSTGRES_SCHEMES)


def sqlite_path(url: str | Path) -> Path:
    """Return the file of a SQLite URL (``sqlite:///path``) or a plain path."""
    text = str(url)
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite://"))
    if text.startswith("sqlite://"):
        return Path(text.removeprefix("sqlite://"))
    if "://" in text:
        raise ConfigError(
            f"database URL {text.split('://')[0] + '://...'!r} is not supported; use "
            "postgresql://USER@HOST:PORT/DB or a SQLite file path (sqlite:///path/ledger.sqlite)"
        )
    return Path(text)


def open_store(url: str | Path, *, max_connections: int = 8) -> Store:
    """Open the ledger at ``url`` (``--db`` / ``IGENT_DATABASE_URL``), applying migrations.

    ``postgresql://...`` opens a :class:`~igent.store.postgres.PostgresStore` (psycopg is only
    imported then); anything else is a SQLite file path or ``sqlite:///path``.
    """
    if is_postgres_url(url):
        from igent.store.postgres import PostgresStore

        return PostgresStore(str(url), max_size=max_connections)
    from igent.store.sqlite import SqliteStore

    return SqliteStore(sqlite_path(url))


__all__ = ["POSTGRES_SCHEMES", "is_postgres_url", "open_store", "sqlite_path"]
