"""Issue 9: kill -9 at random points of a 10,000-registration run (and of its resume), or
Ctrl-C, then --resume: the outputs equal an uninterrupted run's; audits survive too."""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest

from igent.workflows import InputPaths
from tests.reliability.runs import (
    Ledger,
    RunLedger,
    booked_per_supplier,
    committed,
    input_args,
    make_campaign,
    outputs,
    run,
    start,
    wait_for_commits,
)

N = 10_000
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> InputPaths:
    return make_campaign(tmp_path_factory.mktemp("big"), N, scenario="overlap", seed=9)


@pytest.fixture(scope="module")
def reference(big: InputPaths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    done = run(["rules", *input_args(big), "--out", str(run_dir)], run_dir.parent)
    assert done.returncode == 0, done.stderr
    return run_dir


def _kill_at(process_args: list[str], ledger: Ledger, at: int, cwd: Path) -> int:
    victim = start(process_args, cwd, dated=process_args[0] != "--resume")
    reached = wait_for_commits(ledger, at, victim)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    return reached


def test_kill_9_at_seeded_commit_counts_then_resume_gives_identical_outputs(
    big: InputPaths, reference: Path, tmp_path: Path, run_ledger: RunLedger
) -> None:
    rng = random.Random(20261202)
    # kill points in committed rows (not time), leaving room for the batch in flight
    first, second = sorted(rng.sample(range(1, N - 1024), 2))
    run_dir = tmp_path / "run"
    ledger = run_ledger.of(run_dir)
    db = run_ledger.args()

    _kill_at(["rules", *input_args(big), "--out", str(run_dir), *db], ledger, first, tmp_path)
    after_first = committed(ledger)
    _kill_at(["--resume", str(run_dir), *db], ledger, second, tmp_path)  # the resume dies too
    after_second = committed(ledger)
    resumed = run(["--resume", str(run_dir), *db], tmp_path, dated=False)

    assert resumed.returncode == 0, resumed.stderr
    assert 0 < after_first < N and after_first <= after_second < N, (after_first, after_second)
    assert outputs(run_dir) == outputs(reference)
    assert (run_dir / "capacity.json").read_text() == (reference / "capacity.json").read_text()
    for supplier, (matched, used, capacity) in booked_per_supplier(ledger).items():
        assert matched == used <= capacity, supplier
    assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*.tmp"))


def test_ctrl_c_stops_after_the_current_commit_and_says_how_to_continue(
    big: InputPaths, reference: Path, tmp_path: Path, run_ledger: RunLedger
) -> None:
    run_dir = tmp_path / "run"
    db = run_ledger.args()
    victim = start(["rules", *input_args(big), "--out", str(run_dir), *db], tmp_path)
    wait_for_commits(run_ledger.of(run_dir), 1000, victim)
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=120)
    done = committed(run_ledger.of(run_dir))

    assert victim.returncode != 0
    assert f"interrupted: {done} of {N} done; continue with igent run --resume {run_dir}" in err
    assert "Traceback" not in err
    partial = json.loads((run_dir / "matches.json").read_text())  # written from the ledger
    assert len(partial) == done
    resumed = run(["--resume", str(run_dir), *db], tmp_path, dated=False)
    assert resumed.returncode == 0, resumed.stderr
    assert outputs(run_dir) == outputs(reference)


def test_audits_survive_kill_9_and_resume(tmp_path: Path, run_ledger: RunLedger) -> None:
    campaign = make_campaign(tmp_path / "data", 60, scenario="overlap", seed=4)
    run_dir = tmp_path / "run"
    args = [
        "p1r_audit",
        *input_args(campaign),
        "--model",
        "sim:gpt-4o",
        # slow enough that the kill lands mid-run even on a loaded machine
        "--time-scale",
        "0.3",
        "--concurrency",
        "4",
        "--batch-size",
        "4",
        "--out",
        str(run_dir),
        *run_ledger.args(),
    ]
    reached = _kill_at(args, run_ledger.of(run_dir), 8, tmp_path)
    resumed = run(["--resume", str(run_dir), *run_ledger.args()], tmp_path, dated=False)

    assert resumed.returncode == 0, resumed.stderr
    assert 0 < reached < 60
    matches = json.loads((run_dir / "matches.json").read_text())
    audited = [json.loads(line) for line in (run_dir / "audits.jsonl").read_text().splitlines()]
    valid = {m["registration_id"] for m in matches if m.get("reason") != "invalid_registration"}
    assert len(matches) == 60
    assert sorted(a["registration_id"] for a in audited) == sorted(valid)
