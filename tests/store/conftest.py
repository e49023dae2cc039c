"""The ``store`` fixture: every ledger test runs against each backend (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from igent.store import Store
from igent.store.backend import open_store

# ``ledger_url`` (sqlite, postgresql) comes from tests/support/services.py.
CAMPAIGN = "C1"
Opener = Callable[[], Store]


@pytest.fixture
def open_ledger(ledger_url: str) -> Iterator[Opener]:
    """Open further connections to the test's ledger; all are closed at the end."""
    opened: list[Store] = []

    def opener() -> Store:
        store = open_store(ledger_url)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_ledger: Opener) -> Store:
    """An empty ledger with campaign C1: suppliers A (capacity 2) and B (capacity 1)."""
    opened = open_ledger()
    opened.ensure_campaign(CAMPAIGN)
    opened.set_suppliers(CAMPAIGN, [("A", 2), ("B", 1)])
    return opened
