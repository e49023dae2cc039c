"""kill -9 of a process writing the ledger, on both backends: nothing half-done survives."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from igent.store import Store
from tests.store.conftest import CAMPAIGN, Opener

TOTAL = 400
CAPACITY = {"A": 150, "B": 100, "C": 100}

# Commits one registration per transaction (matched ones booked), skipping those decided.
WRITER = """
import sys
from igent.store import Decision
from igent.store.backend import open_store

store = open_store(sys.argv[1])
decided = store.decided_ids("C1")
for n in range(int(sys.argv[2])):
    rid = f"R{n:04d}"
    if rid in decided:
        continue
    for supplier in ("A", "B", "C"):
        payload = {"registration_id": rid, "purchase_order": {"supplier_id": supplier}}
        result = store.commit("C1", "run", [Decision(rid, n, "matched", supplier, payload)])
        if result.ok:
            break
    else:
        store.commit("C1", "run", [Decision(rid, n, "no_match", None, {"registration_id": rid})])
store.close()
"""


def _writer(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", WRITER, url, str(TOTAL)], env=env)


def _wait_for_rows(store: Store, rows: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while sum(store.counts(CAMPAIGN).by_status.values()) < rows:
        assert process.poll() is None, "the writer ended before the kill point"
        assert time.monotonic() < deadline, f"the writer did not reach {rows} rows"
        time.sleep(0.01)


def _assert_consistent(store: Store) -> None:
    booked = store.counts(CAMPAIGN).booked_by_supplier
    for supplier in store.suppliers(CAMPAIGN):
        assert supplier.used == booked.get(supplier.supplier_id, 0)  # booking == decision
        assert supplier.used <= supplier.capacity


def test_kill_9_mid_write_leaves_bookings_equal_to_decisions_and_a_restart_finishes(
    open_ledger: Opener, ledger_url: str
) -> None:
    store = open_ledger()
    store.ensure_campaign(CAMPAIGN)
    store.set_suppliers(CAMPAIGN, list(CAPACITY.items()))
    kill_at = random.Random(12).randrange(50, 300)  # measured in committed rows, not time

    writer = _writer(ledger_url)
    try:
        _wait_for_rows(store, kill_at, writer)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    _assert_consistent(store)

    again = _writer(ledger_url)
    assert again.wait(timeout=120) == 0
    _assert_consistent(store)
    counts = store.counts(CAMPAIGN)
    assert sum(counts.by_status.values()) == TOTAL
    assert counts.by_status == {"matched": 350, "no_match": 50}
