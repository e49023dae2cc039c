"""Ledger migrations on both backends: from an empty database and from the previous version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from igent.store.backend import open_store
from igent.store.migrations import migrations
from igent.store.postgres import pg_migrations
from tests.support.services import fresh_schema

LATEST = migrations()[-1].version


def _apply_first_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);"
            + migrations()[0].sql
            + "INSERT INTO schema_version (version, name) VALUES (1, 'ledger');"
            "INSERT INTO campaigns (campaign_id) VALUES ('C1');"
            "INSERT INTO suppliers (campaign_id, supplier_id, capacity, used, position) "
            "VALUES ('C1', 'A', 2, 1, 0);"
            "INSERT INTO decisions (campaign_id, registration_id, record_index, run_id, status, "
            "supplier_id, match_json, payload) VALUES ('C1', 'R1', 0, 'run1', 'matched', 'A', "
            "'{}', '{}');"
        )


def _apply_first_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        conn.execute(pg_migrations()[0].sql.encode())
        conn.execute("INSERT INTO schema_version (version, name) VALUES (1, 'ledger')")
        conn.execute("INSERT INTO campaigns (campaign_id) VALUES ('C1')")
        conn.execute(
            "INSERT INTO suppliers (campaign_id, supplier_id, capacity, used, position) "
            "VALUES ('C1', 'A', 2, 1, 0)"
        )
        conn.execute(
            "INSERT INTO decisions (campaign_id, registration_id, record_index, run_id, status, "
            "supplier_id, match_json, payload) VALUES ('C1', 'R1', 0, 'run1', 'matched', 'A', "
            "'{}', '{}')"
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_empty_database_gets_every_migration(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        store = open_store(tmp_path / "ledger.sqlite")
        try:
            assert store.schema_version() == LATEST  # type: ignore[attr-defined]
        finally:
            store.close()
        return
    request.getfixturevalue("postgres_url")  # skip/fail with how-to when absent
    with fresh_schema("igent_mig") as url:
        store = open_store(url)
        try:
            assert store.schema_version() == LATEST  # type: ignore[attr-defined]
            assert store.upgrade() == []  # type: ignore[attr-defined]
        finally:
            store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_ledger_at_the_previous_version_is_upgraded_and_keeps_its_rows(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        request.getfixturevalue("postgres_url")  # skip/fail with how-to when absent
        context = fresh_schema("igent_mig")
        url: str | Path = context.__enter__()
        request.addfinalizer(lambda: context.__exit__(None, None, None))
        _apply_first_postgres(str(url))
    else:
        url = tmp_path / "ledger.sqlite"
        _apply_first_sqlite(url)

    store = open_store(url)
    try:
        assert store.schema_version() == LATEST  # type: ignore[attr-defined]
        assert [(s.supplier_id, s.used) for s in store.suppliers("C1")] == [("A", 1)]
        assert store.decision("C1", "R1") is not None
        store.commit("C1", "run2", [])  # the upgraded schema takes writes
    finally:
        store.close()


def test_the_postgresql_schema_has_the_same_columns_as_the_sqlite_one(
    tmp_path: Path, postgres_url: str
) -> None:
    """A migration changed for SQLite must be changed in its PostgreSQL variant too."""
    import psycopg

    sqlite_store = open_store(tmp_path / "ledger.sqlite")
    sqlite_store.close()
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        sqlite_columns = {
            (t, r[1]) for t in tables if not t.startswith("sqlite_")
            for r in db.execute(f"PRAGMA table_info({t})")
        }  # fmt: skip
    with fresh_schema("igent_cols") as url:
        open_store(url).close()
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ).fetchall()
    postgres_columns = {(t, c) for t, c in rows} - {("audits", "seq"), ("submissions", "seq")}
    assert postgres_columns == sqlite_columns


def test_igent_db_upgrade_migrates_a_postgresql_schema_and_db_status_reads_it(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    from igent.cli import app
    from igent.cli.errors import run_guarded

    request.getfixturevalue("postgres_url")  # skip/fail with how-to when absent
    with fresh_schema("igent_cli_mig") as url:
        assert run_guarded(app, ["db", "upgrade", "--db", url]) == 0
        assert capsys.readouterr().out.strip() == f"ledger schema at version {LATEST}"
        store = open_store(url)
        try:
            assert store.upgrade() == []  # type: ignore[attr-defined]  # nothing left to apply
        finally:
            store.close()
        assert run_guarded(app, ["db", "status", "--db", url, "--json"]) == 0
        assert f'"schema_version": {LATEST}' in capsys.readouterr().out
