"""The service tables run one SQL text on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from igent.errors import StoreError
from igent.store.base import Decision
from igent.store.postgres import to_format_style
from igent.store.postgres_service import open_service_database
from igent.store.service_tables import ClaimRequest, FinishedDecision, ServiceTables
from igent.store.sqlite import SqliteStore


@pytest.fixture
def tables(ledger_url: str) -> Iterator[ServiceTables]:
    store, opened = open_service_database(ledger_url)
    yield opened
    opened.close()
    store.close()


def test_a_new_claim_takes_the_next_sequence_number(tables: ServiceTables) -> None:
    first = tables.claim("C1", "R1", {"Contact_Zip": " 10115 "}, "op", "me", until=0.0)
    second = tables.claim("C1", "R2", {"Contact_Zip": "80331"}, "op", "me", until=0.0)
    tables.add_cancellation("C1", "R1", "op", "typo")
    again = tables.claim("C1", "R1", {"Contact_Zip": "20095"}, "op", "me", until=0.0)

    assert first.taken and second.taken and again.taken and again.previous == "cancelled"
    assert first.sequence < second.sequence < again.sequence
    assert tables.zip_codes("C1") == {"R1": "20095", "R2": "80331"}


def test_events_get_increasing_ids_and_read_back_after_one(tables: ServiceTables) -> None:
    first = tables.add_event("C1", "decision", {"n": 1})
    second = tables.add_event("C1", "decision", {"n": 2})

    assert first < second
    assert [e.data for e in tables.events_after("C1", first)] == [{"n": 2}]


def test_shared_sql_is_spelt_for_psycopg() -> None:
    sql = "SELECT 1 FROM t WHERE a LIKE '5%' AND b = ? AND c = ?"
    assert to_format_style(sql) == "SELECT 1 FROM t WHERE a LIKE '5%%' AND b = %s AND c = %s"


def test_claims_of_several_registrations_go_in_one_call(tables: ServiceTables) -> None:
    tables.claim("C1", "R3", {"Contact_Zip": "10115"}, "op", "me", until=0.0)
    tables.finish_decision("C1", "R3", [], {}, {})
    requests = [
        ClaimRequest("C1", "R1", {"Contact_Zip": "80331"}, "op", "me", 0.0),
        ClaimRequest("C1", "R2", {"Contact_Zip": "20095"}, "op", "me", 0.0),
        ClaimRequest("C1", "R3", {"Contact_Zip": "99999"}, "op", "me", 0.0),
    ]

    first, second, decided = tables.claim_many(requests)

    assert first.taken and second.taken and first.sequence < second.sequence
    assert not decided.taken and decided.state == "decided"
    assert decided.raw == {"Contact_Zip": "10115"}  # what is stored, to name the differences
    assert tables.zip_codes("C1") == {"R1": "80331", "R2": "20095", "R3": "10115"}


def test_service_rows_written_inside_a_ledger_commit_commit_with_it(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "igent.db")
    tables = ServiceTables.sharing(store)
    store.ensure_campaign("C1")
    store.set_suppliers("C1", [("A", 2)])
    for registration_id in ("R1", "R2"):
        tables.claim("C1", registration_id, {"Contact_Zip": "10115"}, "op", "me", until=0.0)
    failed: list[StoreError] = []

    def finish(decisions: Sequence[Decision]) -> None:
        try:
            tables.finish_decisions(
                "C1", [FinishedDecision(d.registration_id, [], {}, {}) for d in decisions]
            )
        except StoreError as exc:
            failed.append(exc)

    first = Decision("R1", 1, "matched", "A", {"registration_id": "R1"})
    store.commit("C1", "service", [first], then=finish)
    # A failure halfway (the event insert) undoes the service rows alone, not the booking.
    store._db.execute(
        "CREATE TEMP TRIGGER no_events BEFORE INSERT ON events "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    second = Decision("R2", 2, "matched", "A", {"registration_id": "R2"})
    store.commit("C1", "service", [second], then=finish)

    assert len(failed) == 1
    assert [s.used for s in store.suppliers("C1")] == [2]
    assert store.decision("C1", "R2") is not None
    assert [tables.submission("C1", r).state for r in ("R1", "R2")] == ["decided", "deciding"]
    store.close()
