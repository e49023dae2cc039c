"""Capacity is never oversold under concurrency, and a run killed with -9 resumes exactly."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from igent.workflows import InputPaths, RunOptions
from tests.workflows.support import read_outputs, run_constellation


def test_concurrent_run_on_scarce_capacity_never_oversells_and_commits_valid_answers(
    scarce_campaign: InputPaths, tmp_path: Path
) -> None:
    summary = run_constellation(
        "p1m1v_p2r",
        scarce_campaign,
        tmp_path,
        sim_error_rate=0.3,
        options=RunOptions(concurrency=8),
    )
    matches, _ = read_outputs(tmp_path)
    capacity = json.loads((tmp_path / "capacity.json").read_text())
    registrations = json.loads(scarce_campaign.registrations.read_text())

    ids = [m["registration_id"] for m in matches]
    assert sorted(ids) == sorted(r["RegistrationNumber"] for r in registrations)
    assert len(set(ids)) == len(ids)
    used = Counter(m["supplier_id"] for m in matches if m["supplier_id"])
    for supplier_id, row in capacity.items():
        assert row["used"] == used.get(supplier_id, 0) <= row["capacity"]
    assert summary["no_match_reasons"].get("no_capacity", 0) > 0
    assert summary["capacity_oversold"] == {}
    assert summary["accuracy"]["final_supplier"] == 1.0  # each commit valid for its state


def _run_cli(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGENT_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "igent.workflows",
            *args,
            "--quiet",
            "--campaign-date",
            "2026-06-01",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _results_in(ledger: Path) -> int:
    try:
        with sqlite3.connect(ledger) as db:
            return int(db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_outputs(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    common = [
        "p1m1v_p2m2v",
        "--registrations",
        str(campaign50.registrations),
        "--offers",
        str(campaign50.offers),
        "--incentives",
        str(campaign50.incentives),
        "--model",
        "sim:gpt-4o",
        "--sim-error-rate",
        "0.2",
        "--batch-size",
        "7",
    ]
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    full = _run_cli([*common, "--time-scale", "0", "--out", str(reference_dir)], tmp_path)
    _, err = full.communicate(timeout=120)
    assert full.returncode == 0, err

    victim = _run_cli([*common, "--time-scale", "0.02", "--out", str(killed_dir)], tmp_path)
    deadline = time.monotonic() + 60
    while _results_in(killed_dir / "ledger.sqlite") < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    done_before = _results_in(killed_dir / "ledger.sqlite")
    assert 10 <= done_before < 50

    resumed = _run_cli(["--resume", str(killed_dir)], tmp_path)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err

    assert read_outputs(killed_dir) == read_outputs(reference_dir)
    matches, _ = read_outputs(killed_dir)
    ids = [m["registration_id"] for m in matches]
    assert len(ids) == len(set(ids)) == 50
    capacity = json.loads((killed_dir / "capacity.json").read_text())
    used = Counter(m["supplier_id"] for m in matches if m["supplier_id"])
    assert {s: row["used"] for s, row in capacity.items()} == {s: used.get(s, 0) for s in capacity}
