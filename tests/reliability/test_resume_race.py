"""Issue 8.1: a run directory in use is locked; a resume alongside it is refused, nothing
oversells, and capacity_oversold is computed from the ledger."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from igent.errors import StoreError
from igent.store import RunLock
from igent.workflows import InputPaths, Runner, RunOptions, resolve_constellation
from tests.reliability.runs import (
    booked_per_supplier,
    input_args,
    make_campaign,
    run,
    start,
    wait_for_commits,
)


@pytest.fixture(scope="module")
def scarce(tmp_path_factory: pytest.TempPathFactory) -> InputPaths:
    return make_campaign(tmp_path_factory.mktemp("scarce"), 60)


def test_resume_while_the_run_is_live_is_refused_and_nothing_oversells(
    scarce: InputPaths, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    live = start(
        [
            "p1m1v_p2r",
            *input_args(scarce),
            "--model",
            "sim:gpt-4o",
            "--time-scale",
            "0.3",
            "--concurrency",
            "2",
            "--batch-size",
            "1",
            "--out",
            str(run_dir),
        ],
        tmp_path,
    )
    try:
        assert wait_for_commits(run_dir / "ledger.sqlite", 1, live) >= 1
        assert live.poll() is None, "the first run ended before the resume could race it"
        second = run(["--resume", str(run_dir)], tmp_path, dated=False)
    finally:
        _, err = live.communicate(timeout=300)

    assert second.returncode == 1
    assert f"run {run_dir} is in use by process {live.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    assert live.returncode == 0, err
    for supplier, (matched, used, capacity) in booked_per_supplier(
        run_dir / "ledger.sqlite"
    ).items():
        assert matched == used <= capacity, supplier
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["capacity_oversold"] == {}
    assert summary["results"] == 60


def test_a_held_lock_refuses_a_run_in_process_naming_the_holder(
    scarce: InputPaths, tmp_path: Path
) -> None:
    rules = resolve_constellation("rules")
    with RunLock(tmp_path / "ledger.sqlite", label=str(tmp_path)):
        runner = Runner(rules, scarce, RunOptions(), tmp_path)
        with pytest.raises(StoreError, match=f"is in use by process {os.getpid()}"):
            import asyncio

            asyncio.run(runner.run())


def test_capacity_oversold_is_read_from_the_ledger_rows(scarce: InputPaths, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert run(["rules", *input_args(scarce), "--out", str(run_dir)], tmp_path).returncode == 0
    ledger = run_dir / "ledger.sqlite"
    supplier, (matched, _, capacity) = next(iter(booked_per_supplier(ledger).items()))
    # A booking that bypassed the capacity check (what a racing process once did).
    with sqlite3.connect(ledger) as db:
        campaign = db.execute("SELECT campaign_id FROM campaigns").fetchone()[0]
        run_id = db.execute("SELECT run_id FROM decisions LIMIT 1").fetchone()[0]
        for n in range(capacity - matched + 1):
            payload = _payload(f"X{n}")
            db.execute(
                "INSERT INTO decisions (campaign_id, registration_id, record_index, run_id, "
                "status, supplier_id, match_json, order_json, payload) "
                "VALUES (?, ?, ?, ?, 'matched', ?, ?, NULL, ?)",
                (
                    campaign,
                    f"X{n}",
                    10_000 + n,
                    run_id,
                    supplier,
                    json.dumps(payload.pop("match")),
                    json.dumps(payload),
                ),
            )

    resumed = run(["--resume", str(run_dir)], tmp_path, dated=False)

    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["capacity_oversold"] == {supplier: {"used": capacity + 1, "capacity": capacity}}


def _payload(registration_id: str) -> dict[str, object]:
    return {
        "registration_id": registration_id,
        "record_index": 0,
        "match": {"registration_id": registration_id, "status": "matched", "supplier_id": "S"},
        "purchase_order": None,
        "timing": {"registration_id": registration_id},
        "grading": {},
    }
