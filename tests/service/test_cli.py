"""``igent keys create`` and ``igent serve`` options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from igent.service.auth import hash_key
from igent.store.service_tables import ServiceTables
from tests.service.server import cli_env


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "igent.cli", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )


def test_keys_create_prints_the_key_once_and_stores_only_its_hash(tmp_path: Path):
    db = tmp_path / "svc.db"
    done = run_cli("keys", "create", "--role", "viewer", "--name", "dashboard", "--db", str(db))
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("igk_") and key not in done.stderr
    assert "viewer key" in done.stderr
    tables = ServiceTables(db)
    row = tables.find_key(hash_key(key))
    tables.close()
    assert row is not None and (row.role, row.name) == ("viewer", "dashboard")
    assert key.encode() not in db.read_bytes()


def test_keys_create_refuses_an_unknown_role(tmp_path: Path):
    done = run_cli("keys", "create", "--role", "admin", "--db", str(tmp_path / "svc.db"))
    assert done.returncode == 1
    assert "--role 'admin' is not a role; expected 'operator' or 'viewer'" in done.stderr


def test_serve_refuses_an_unsupported_database_url(tmp_path: Path):
    done = run_cli("serve", "--db", "mysql://igent:s3cr3t-pw@db/igent")
    assert done.returncode == 1
    assert "scheme 'mysql': not supported; use postgresql://" in done.stderr
    assert "s3cr3t-pw" not in done.stderr + done.stdout
    assert done.stdout == ""
