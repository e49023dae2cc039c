"""In-memory holds, group commit, the run lock and atomic files."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from igent.errors import StoreError
from igent.store import (
    CapacityState,
    GroupCommitter,
    OutputLog,
    RunLock,
    Store,
    write_text_atomic,
)
from tests.store.conftest import CAMPAIGN
from tests.store.test_store import decision, used


def test_holds_never_oversell_and_write_nothing_durable(store: Store) -> None:
    state = CapacityState(store, CAMPAIGN)

    assert state.reserve("R1", "B").accepted
    refused = state.reserve("R2", "B")
    again = state.reserve("R1", "B")
    other = state.reserve("R1", "A")

    assert (refused.accepted, refused.used, refused.capacity) == (False, 1, 1)
    assert again.accepted and again.already_held
    assert not other.accepted and other.already_held
    assert used(store) == {"A": 0, "B": 0}  # a hold is memory only
    assert state.snapshot()[0] == {"A": 0, "B": 1}


def test_release_frees_a_hold_and_moves_the_version(store: Store) -> None:
    state = CapacityState(store, CAMPAIGN)
    state.reserve("R1", "B")
    _, before = state.snapshot()

    state.release("R1")
    snapshot, after = state.snapshot()

    assert snapshot["B"] == 0 and after == before + 1
    assert state.reserve("R2", "B").accepted


def test_capacity_reload_reads_the_store_and_cache_does_not(store: Store) -> None:
    cached = CapacityState(store, CAMPAIGN, cache=True)
    reloaded = CapacityState(store, CAMPAIGN, cache=False)
    store.commit(CAMPAIGN, "other", [decision("X", "A")])  # another writer

    assert cached.snapshot()[0]["A"] == 0
    assert reloaded.snapshot()[0]["A"] == 1


async def test_group_commit_batches_and_settles_holds(store: Store) -> None:
    state = CapacityState(store, CAMPAIGN)
    appended: list[str] = []
    committer = GroupCommitter(
        store,
        CAMPAIGN,
        "run1",
        state,
        batch_size=2,
        max_delay_s=3600,
        after_commit=lambda batch: appended.extend(d.registration_id for d in batch),
    )
    for index, supplier in enumerate(["A", "A", "B"]):
        rid = f"R{index}"
        assert state.reserve(rid, supplier).accepted
        await committer.submit(decision(rid, supplier, index=index), hold_key=rid)
    await committer.close()

    assert committer.stats.transactions == 2
    assert appended == ["R0", "R1", "R2"]
    assert used(store) == {"A": 2, "B": 1}
    assert state.holds == 0
    assert state.snapshot()[0] == {"A": 2, "B": 1}


async def test_waiting_submit_reports_a_conflict_when_another_writer_filled_the_supplier(
    store: Store,
) -> None:
    state = CapacityState(store, CAMPAIGN)
    assert state.reserve("R1", "B").accepted
    store.commit(CAMPAIGN, "other-process", [decision("X", "B")])
    committer = GroupCommitter(store, CAMPAIGN, "run1", state, max_delay_s=0)

    ok = await committer.submit(decision("R1", "B"), hold_key="R1", wait=True)
    await committer.close()

    assert not ok
    assert committer.stats.conflicts == 1
    assert state.snapshot()[0]["B"] == 1  # refreshed from the store, hold dropped
    assert state.holds == 0


async def test_a_failed_commit_aborts_later_submits(store: Store) -> None:
    committer = GroupCommitter(store, CAMPAIGN, "run1", batch_size=1)
    with pytest.raises(StoreError):
        await committer.submit(decision("R1", "Z"))
        await committer.flush()
    with pytest.raises(StoreError):
        await committer.submit(decision("R2", "A"))


def test_output_log_appends_and_restarts_from_earlier_decisions(
    store: Store, tmp_path: Path
) -> None:
    store.commit(CAMPAIGN, "run1", [decision("R1", "A")])
    log = OutputLog(tmp_path)
    log.open((row.match_json, row.order_json) for row in store.output_rows(CAMPAIGN, "run1"))
    log.append([decision("R2", None, "no_match", 1)])
    log.close()

    lines = (tmp_path / "matches.jsonl").read_text().splitlines()
    assert ['"R1"' in lines[0], '"R2"' in lines[1], len(lines)] == [True, True, 2]


def test_second_holder_of_the_run_lock_is_refused_with_the_pid(tmp_path: Path) -> None:
    ledger = tmp_path / "run" / "ledger.sqlite"
    with RunLock(ledger, label="runs/x"):
        with pytest.raises(StoreError, match=rf"run runs/x is in use by process {os.getpid()}"):
            RunLock(ledger, label="runs/x").acquire()
    with RunLock(ledger):  # released: free again
        pass


def test_atomic_files_are_group_readable_and_leave_no_temp(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "out.json", "[]\n")
    finally:
        os.umask(old)

    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


async def test_commits_run_off_the_event_loop_thread(store: Store) -> None:
    threads: list[str] = []
    committer = GroupCommitter(
        store,
        CAMPAIGN,
        "run1",
        batch_size=1,
        after_commit=lambda batch: threads.append(threading.current_thread().name),
    )
    await committer.submit(decision("R1", "A"))
    await committer.close()

    assert threads and threads[0] != threading.current_thread().name


async def test_a_conflict_nobody_waits_for_is_a_store_error(store: Store) -> None:
    state = CapacityState(store, CAMPAIGN)
    assert state.reserve("R1", "B").accepted
    store.commit(CAMPAIGN, "intruder", [decision("X", "B")])
    committer = GroupCommitter(store, CAMPAIGN, "run1", state, batch_size=1)

    with pytest.raises(StoreError, match="'R1': supplier 'B' was filled by another writer"):
        await committer.submit(decision("R1", "B"), hold_key="R1")
        await committer.close()
