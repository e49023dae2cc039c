"""The ledger protocol: bookings never oversell, decisions replace, cancel and remove free."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from igent.errors import StoreError
from igent.store import Decision, Store
from tests.store.conftest import CAMPAIGN, Opener


def decision(
    registration_id: str, supplier_id: str | None, status: str = "matched", index: int = 0
) -> Decision:
    payload: dict[str, Any] = {
        "registration_id": registration_id,
        "record_index": index,
        "match": {"registration_id": registration_id, "supplier_id": supplier_id},
        "purchase_order": None,
    }
    return Decision(registration_id, index, status, supplier_id, payload)


def used(store: Store) -> dict[str, int]:
    return {s.supplier_id: s.used for s in store.suppliers(CAMPAIGN)}


def test_commit_books_matched_decisions_and_reports_a_full_supplier_as_conflict(
    store: Store,
) -> None:
    first = store.commit(CAMPAIGN, "run1", [decision("R1", "B"), decision("R2", "A", index=1)])
    full = store.commit(CAMPAIGN, "run1", [decision("R3", "B", index=2)])

    assert first.committed == ("R1", "R2") and first.ok
    assert [d.registration_id for d in full.conflicts] == ["R3"]
    assert store.decision(CAMPAIGN, "R3") is None  # nothing written for a refused booking
    assert used(store) == {"A": 1, "B": 1}


def test_one_batch_books_in_order_until_a_supplier_is_full(store: Store) -> None:
    batch = [
        decision("R1", "B"),
        decision("R2", "B", index=1),  # B (capacity 1) is full by now
        decision("R3", "A", index=2),
        decision("R4", None, "no_match", index=3),
    ]
    result = store.commit(CAMPAIGN, "run1", batch)

    assert result.committed == ("R1", "R3", "R4")
    assert [d.registration_id for d in result.conflicts] == ["R2"]
    assert store.decision(CAMPAIGN, "R2") is None
    assert used(store) == {"A": 1, "B": 1}


def test_one_batch_mixing_new_and_recommitted_registrations_moves_the_booking(
    store: Store,
) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A")])
    result = store.commit(CAMPAIGN, "run1", [decision("R2", "A", index=1), decision("R1", "B")])

    assert result.committed == ("R2", "R1") and result.ok
    assert used(store) == {"A": 1, "B": 1}
    stored = store.decision(CAMPAIGN, "R1")
    assert stored is not None and stored.supplier_id == "B"


def test_failed_unapproved_and_no_match_hold_no_capacity(store: Store) -> None:
    store.commit(
        CAMPAIGN,
        "run1",
        [
            decision("R1", None, "failed"),
            decision("R2", None, "unapproved", 1),
            decision("R3", None, "no_match", 2),
        ],
    )

    assert used(store) == {"A": 0, "B": 0}
    assert set(store.decided_ids(CAMPAIGN)) == {"R3"}  # failed/unapproved are retried
    assert set(store.decided_ids(CAMPAIGN, final_only=False)) == {"R1", "R2", "R3"}
    assert store.counts(CAMPAIGN).by_status == {"failed": 1, "unapproved": 1, "no_match": 1}


def test_recommitting_a_registration_moves_its_booking(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A")])
    store.commit(CAMPAIGN, "run1", [decision("R1", "B")])
    assert used(store) == {"A": 0, "B": 1}
    store.commit(CAMPAIGN, "run1", [decision("R1", "B")])  # same booking: idempotent
    assert used(store) == {"A": 0, "B": 1}
    store.commit(CAMPAIGN, "run1", [decision("R1", None, "no_match")])
    assert used(store) == {"A": 0, "B": 0}


def test_cancel_and_remove_free_the_unit(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A"), decision("R2", "A", index=1)])

    assert store.cancel(CAMPAIGN, "R1")
    assert not store.cancel(CAMPAIGN, "R1")  # already cancelled
    cancelled = store.decision(CAMPAIGN, "R1")
    assert cancelled is not None and cancelled.status == "cancelled"
    assert store.remove(CAMPAIGN, ["R2", "R9"]) == ["R2"]
    assert used(store) == {"A": 0, "B": 0}


def test_capacity_below_booked_is_refused_with_the_numbers(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A"), decision("R2", "A", index=1)])

    changes = store.capacity_changes(CAMPAIGN, [("A", 1), ("C", 5)])
    with pytest.raises(StoreError, match="capacity 1 is below the 2 already booked"):
        store.set_suppliers(CAMPAIGN, [("A", 1), ("B", 1)])
    store.set_suppliers(CAMPAIGN, [("A", 3), ("B", 1), ("C", 5)])

    assert [(c.supplier_id, c.before, c.after) for c in changes] == [
        ("A", 2, 1),
        ("C", None, 5),
        ("B", 1, None),
    ]
    assert {s.supplier_id: s.capacity for s in store.suppliers(CAMPAIGN)} == {
        "A": 3,
        "B": 1,
        "C": 5,
    }


def test_unknown_supplier_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError, match="'Z' is not in the capacity store"):
        store.commit(CAMPAIGN, "run1", [decision("R1", "Z")])


def test_campaigns_are_separate_ledgers(store: Store) -> None:
    store.ensure_campaign("C2")
    store.set_suppliers("C2", [("A", 1)])
    store.commit("C2", "run2", [decision("R1", "A")])

    assert used(store) == {"A": 0, "B": 0}
    assert store.decision(CAMPAIGN, "R1") is None
    assert store.campaigns() == [CAMPAIGN, "C2"]


def test_decisions_stream_in_record_order_by_run(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R2", None, "no_match", 5)])
    store.commit(CAMPAIGN, "run2", [decision("R1", "A", index=7)])
    store.commit(CAMPAIGN, "run1", [decision("R3", "A", index=1)])
    store.renumber(CAMPAIGN, [("R2", 0)])

    assert [d.registration_id for d in store.decisions(CAMPAIGN)] == ["R2", "R3", "R1"]
    assert [d.registration_id for d in store.decisions(CAMPAIGN, "run1")] == ["R2", "R3"]


def test_audits_commit_with_their_decision(store: Store) -> None:
    with_audit = Decision(
        "R1", 0, "no_match", None, {"match": {}}, audit={"registration_id": "R1", "approved": True}
    )
    store.commit(CAMPAIGN, "run1", [with_audit], audits=[{"registration_id": "R2", "x": 1}])

    assert list(store.audits(CAMPAIGN, "run1")) == [
        {"registration_id": "R1", "approved": True},
        {"registration_id": "R2", "x": 1},
    ]


def test_meta_is_per_campaign(store: Store) -> None:
    store.set_meta(CAMPAIGN, "run:1", {"a": 1})
    assert store.get_meta(CAMPAIGN, "run:1") == {"a": 1}
    assert store.get_meta("other", "run:1") is None


def test_reset_drops_decisions_and_use(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A")])
    assert store.reset(CAMPAIGN) == 1
    assert used(store) == {"A": 0, "B": 0}
    assert list(store.decisions(CAMPAIGN)) == []


def test_two_connections_racing_for_the_last_units_never_oversell(open_ledger: Opener) -> None:
    with_setup = open_ledger()
    with_setup.ensure_campaign(CAMPAIGN)
    with_setup.set_suppliers(CAMPAIGN, [("A", 3)])
    stores = [open_ledger() for _ in range(4)]
    committed: list[str] = []

    def claim(index: int) -> None:
        for n in range(5):
            result = stores[index].commit(CAMPAIGN, f"run{index}", [decision(f"R{index}-{n}", "A")])
            committed.extend(result.committed)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    check = open_ledger()
    assert len(committed) == 3
    assert check.suppliers(CAMPAIGN)[0].used == 3
    assert check.counts(CAMPAIGN).booked_by_supplier == {"A": 3}


def test_the_same_registration_committed_by_racing_writers_is_booked_once(
    open_ledger: Opener,
) -> None:
    setup = open_ledger()
    setup.ensure_campaign(CAMPAIGN)
    setup.set_suppliers(CAMPAIGN, [("A", 5), ("B", 5)])
    stores = [open_ledger() for _ in range(4)]
    barrier = threading.Barrier(4)
    refused: dict[str, int] = {}  # registration -> writers whose move found the supplier full

    def commit(index: int) -> None:
        barrier.wait()
        for n in range(10):
            supplier = "A" if (index + n) % 2 else "B"
            result = stores[index].commit(CAMPAIGN, f"run{index}", [decision(f"R{n}", supplier)])
            for conflict in result.conflicts:
                refused[conflict.registration_id] = refused.get(conflict.registration_id, 0) + 1

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    booked = setup.counts(CAMPAIGN).booked_by_supplier
    assert {s.supplier_id: s.used for s in setup.suppliers(CAMPAIGN)} == booked
    assert all(s.used <= s.capacity for s in setup.suppliers(CAMPAIGN))
    matched = {f"R{n}" for n in range(10)} - {
        f"R{n}" for n in range(10) if setup.decision(CAMPAIGN, f"R{n}") is None
    }
    # one booking per registration, wherever it moved; a registration without one was refused
    # by every writer (its supplier full at each try), never dropped by a move
    assert sum(booked.values()) == len(matched)
    assert all(refused.get(f"R{n}") == 4 for n in range(10) if f"R{n}" not in matched)


def test_migrations_are_applied_once_and_recorded(open_ledger: Opener) -> None:
    first = open_ledger()
    assert first.schema_version() >= 2  # type: ignore[attr-defined]
    first.ensure_campaign(CAMPAIGN)
    again = open_ledger()
    assert again.campaigns() == [CAMPAIGN]
    assert again.schema_version() == first.schema_version()  # type: ignore[attr-defined]


def test_output_rows_carry_the_reason_and_source_of_each_match(store: Store) -> None:
    matched = decision("R1", "A")
    matched.payload["match"].update(reason="closest", source="rules")
    store.commit(CAMPAIGN, "run1", [matched, decision("R2", None, "no_match", 1)])

    rows = [(r.registration_id, r.reason, r.source) for r in store.output_rows(CAMPAIGN, "run1")]
    assert rows == [("R1", "closest", "rules"), ("R2", None, None)]


def test_campaign_and_meta_upserts_create_once_then_replace(store: Store) -> None:
    assert store.ensure_campaign("C2")
    assert not store.ensure_campaign("C2")
    store.set_meta(CAMPAIGN, "k", 1)
    store.set_meta(CAMPAIGN, "k", {"b": 2})
    assert store.get_meta(CAMPAIGN, "k") == {"b": 2}


def test_remove_frees_a_registration_named_twice_once(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R2", "A"), decision("R1", "B", index=1)])

    assert store.remove(CAMPAIGN, ["R2", "R1", "R2"]) == ["R1", "R2"]
    assert used(store) == {"A": 0, "B": 0}


def test_run_rows_counts_one_runs_decisions(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A"), decision("R2", None, "failed", 1)])
    store.commit(CAMPAIGN, "run2", [decision("R3", "A", index=2)])

    assert store.run_rows(CAMPAIGN, "run1") == 2
    assert store.run_rows(CAMPAIGN, "run2") == 1
    assert store.run_rows(CAMPAIGN, "run3") == 0


def test_keep_final_leaves_a_final_decision_and_its_booking_in_place(store: Store) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A"), decision("R2", None, "failed", 1)])

    result = store.commit(
        CAMPAIGN, "run2", [decision("R1", "B"), decision("R2", "B", index=1)], keep_final=True
    )

    assert result.committed == ("R1", "R2") and result.conflicts == ()
    first = store.decision(CAMPAIGN, "R1")
    assert first is not None and (first.run_id, first.supplier_id) == ("run1", "A")
    retried = store.decision(CAMPAIGN, "R2")  # failed is not final: the retry replaces it
    assert retried is not None and (retried.status, retried.supplier_id) == ("matched", "B")
    assert used(store) == {"A": 1, "B": 1}
