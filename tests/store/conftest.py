"""The ``store`` fixture: every ledger test runs against each backend (SQLite today)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from igent.store import SqliteStore, Store

CAMPAIGN = "C1"


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty ledger with campaign C1: suppliers A (capacity 2) and B (capacity 1)."""
    opened = SqliteStore(tmp_path / "ledger.sqlite")
    opened.ensure_campaign(CAMPAIGN)
    opened.set_suppliers(CAMPAIGN, [("A", 2), ("B", 1)])
    try:
        yield opened
    finally:
        opened.close()
