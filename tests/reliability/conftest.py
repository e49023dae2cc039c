"""Reliability fixtures: the runner's ledger on each backend (PostgreSQL: a schema per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.runs import RunLedger
from tests.support.services import fresh_schema, postgres_available, unavailable


@pytest.fixture(params=["sqlite", "postgresql"])
def run_ledger(request: pytest.FixtureRequest) -> Iterator[RunLedger]:
    """Each backend in turn; PostgreSQL in a schema of this test only (dropped afterwards)."""
    if request.param == "sqlite":
        yield RunLedger(None)
        return
    error = postgres_available()
    if error is not None:
        unavailable("PostgreSQL", error)
    with fresh_schema("igent_reliability") as url:
        yield RunLedger(url)
