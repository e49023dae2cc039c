"""The run ledger: reservations never oversell, are idempotent, and survive a reopen."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from igent.errors import StoreError
from igent.store import CapacityState, Ledger, ResultWriter


@pytest.fixture
def ledger(tmp_path: Path):
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        opened.register_suppliers([("A", 2), ("B", 1)])
        yield opened


def test_reserve_counts_and_refuses_when_full(ledger: Ledger) -> None:
    assert ledger.reserve("R1", "A").accepted
    assert ledger.reserve("R2", "A").accepted
    refused = ledger.reserve("R3", "A")

    assert (refused.accepted, refused.used, refused.capacity) == (False, 2, 2)
    assert ledger.capacity() == {"A": (2, 2), "B": (0, 1)}


def test_reserve_is_idempotent_and_a_registration_holds_one_supplier(ledger: Ledger) -> None:
    first = ledger.reserve("R1", "A")
    again = ledger.reserve("R1", "A")
    other = ledger.reserve("R1", "B")

    assert first.accepted and again.accepted and again.already_held
    assert not other.accepted and other.already_held
    assert ledger.used() == {"A": 1, "B": 0}


def test_unknown_supplier_is_a_store_error(ledger: Ledger) -> None:
    with pytest.raises(StoreError, match="'Z' is not in the capacity store"):
        ledger.reserve("R1", "Z")


def test_threads_racing_for_the_last_units_never_oversell(ledger: Ledger) -> None:
    accepted: list[str] = []

    def claim(registration_id: str) -> None:
        if ledger.reserve(registration_id, "A").accepted:
            accepted.append(registration_id)

    threads = [threading.Thread(target=claim, args=(f"R{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(accepted) == 2
    assert ledger.used()["A"] == 2


def test_two_connections_share_one_count(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as one, Ledger(path) as two:
        one.register_suppliers([("A", 1)])
        assert one.reserve("R1", "A").accepted
        assert not two.reserve("R2", "A").accepted


def test_release_unfinished_frees_reservations_without_results_after_a_reopen(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.register_suppliers([("A", 3)])
        ledger.reserve("R1", "A")
        ledger.commit_result("R1", 0, {"registration_id": "R1", "record_index": 0})
        ledger.reserve("R2", "A")  # "killed" before its result was committed

    with Ledger(path) as reopened:
        assert reopened.used() == {"A": 2}
        assert reopened.release_unfinished() == ["R2"]
        assert reopened.used() == {"A": 1}
        assert reopened.finished_indexes() == {0}


def test_capacity_state_reload_reads_the_disk_and_cache_does_not(ledger: Ledger) -> None:
    cached, reloaded = CapacityState(ledger, cache=True), CapacityState(ledger, cache=False)
    reads = ledger.disk_reads

    cached.snapshot()
    assert ledger.disk_reads == reads
    reloaded.snapshot()
    assert ledger.disk_reads == reads + 1


def test_capacity_state_version_moves_only_on_new_reservations(ledger: Ledger) -> None:
    state = CapacityState(ledger)
    _, version = state.snapshot()

    state.reserve("R1", "B")
    state.reserve("R1", "B")  # idempotent: no new use
    used, after = state.snapshot()

    assert after == version + 1
    assert used["B"] == 1


def test_writer_batches_and_flushes_everything_on_exit(tmp_path: Path) -> None:
    with ResultWriter(tmp_path, batch_size=3, flush_interval_s=1e9) as writer:
        for index in range(4):
            writer.add(
                {
                    "registration_id": f"R{index}",
                    "record_index": index,
                    "match": {"registration_id": f"R{index}"},
                    "purchase_order": None if index == 1 else {"registration_id": f"R{index}"},
                }
            )
        assert writer.file_writes == 2  # one flush after three results

    matches = json.loads((tmp_path / "matches.json").read_text())
    orders = json.loads((tmp_path / "pos.json").read_text())
    assert [m["registration_id"] for m in matches] == ["R0", "R1", "R2", "R3"]
    assert [o["registration_id"] for o in orders] == ["R0", "R2", "R3"]
    assert writer.file_writes == 4
