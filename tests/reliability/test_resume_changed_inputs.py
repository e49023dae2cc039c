"""Issue 8.2 and 8.3: resume notices changed inputs and differing flags; --ledger shares
capacity between runs of one campaign."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from igent.errors import ConfigError, StoreError
from igent.workflows import InputPaths, Runner, RunOptions, resolve_constellation
from tests.reliability.runs import (
    CAMPAIGN_DATE,
    booked_per_supplier,
    input_args,
    make_campaign,
    run,
)

OPTIONS = RunOptions(campaign_date=__import__("datetime").date.fromisoformat(CAMPAIGN_DATE))


@pytest.fixture
def campaign(tmp_path: Path) -> InputPaths:
    """A scarce campaign copied into the test's own directory (tests edit it)."""
    return make_campaign(tmp_path / "data", 40)


def rules_run(paths: InputPaths, run_dir: Path, **kwargs: Any) -> dict[str, Any]:
    runner = Runner(resolve_constellation("rules"), paths, OPTIONS, run_dir, **kwargs)
    return asyncio.run(runner.run()).summary


def edit_json(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


def matches(run_dir: Path) -> list[dict[str, Any]]:
    return json.loads((run_dir / "matches.json").read_text())


def test_resume_with_a_removed_registration_is_refused_then_released_with_update(
    campaign: InputPaths, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    first = rules_run(campaign, run_dir)
    withdrawn = json.loads(campaign.registrations.read_text())[0]["RegistrationNumber"]
    held = next(m for m in matches(run_dir) if m["registration_id"] == withdrawn)
    edit_json(campaign.registrations, lambda regs: regs[1:])

    with pytest.raises(ConfigError, match=r"registrations file .* \(its content differs\)"):
        rules_run(campaign, run_dir, resume=True)
    updated = rules_run(campaign, run_dir, resume=True, update=True)

    assert updated["removed_registrations"] == [withdrawn]
    assert [m["registration_id"] for m in matches(run_dir)] == [
        r["RegistrationNumber"] for r in json.loads(campaign.registrations.read_text())
    ]
    assert [m["record_index"] for m in matches(run_dir)][:2] == [1, 2]  # ids, not positions
    booked = booked_per_supplier(run_dir / "ledger.sqlite")
    if held["status"] == "matched":
        supplier = held["supplier_id"]
        assert booked[supplier][1] == first["matched_by_supplier"][supplier] - 1
    for matched, used, capacity in booked.values():
        assert matched == used <= capacity


def test_registrations_added_at_the_top_are_processed_with_update(
    campaign: InputPaths, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    rules_run(campaign, run_dir)
    before = {m["registration_id"]: m for m in matches(run_dir)}

    def prepend(regs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        extra = [dict(regs[0], RegistrationNumber=f"NEW-{n}") for n in range(2)]
        return extra + regs

    edit_json(campaign.registrations, prepend)
    with pytest.raises(ConfigError, match="pass --update"):
        rules_run(campaign, run_dir, resume=True)
    rules_run(campaign, run_dir, resume=True, update=True)

    after = matches(run_dir)
    assert [m["registration_id"] for m in after[:2]] == ["NEW-0", "NEW-1"]
    assert len(after) == len(before) + 2
    for m in after[2:]:  # earlier decisions stand, keyed by registration number
        assert m["supplier_id"] == before[m["registration_id"]]["supplier_id"]


def test_capacity_changes_are_refused_without_update_and_below_booked_always(
    campaign: InputPaths, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    summary = rules_run(campaign, run_dir)
    supplier, booked = max(summary["matched_by_supplier"].items(), key=lambda kv: kv[1])

    def set_capacity(value: int) -> None:
        def change(offers: dict[str, Any]) -> dict[str, Any]:
            for offer in offers["SupplierOffers"]:
                if offer["SupplierID"] == supplier:
                    offer["Capacity"] = value
            return offers

        edit_json(campaign.offers, change)

    set_capacity(booked - 1)
    with pytest.raises(ConfigError, match=rf"supplier '{supplier}' capacity \d+ -> {booked - 1}"):
        rules_run(campaign, run_dir, resume=True)
    with pytest.raises(StoreError, match=rf"capacity {booked - 1} is below the {booked} already"):
        rules_run(campaign, run_dir, resume=True, update=True)
    set_capacity(booked + 5)
    rules_run(campaign, run_dir, resume=True, update=True)

    capacity = json.loads((run_dir / "capacity.json").read_text())
    assert capacity[supplier]["capacity"] == booked + 5


def test_flags_given_with_resume_that_differ_are_refused(
    campaign: InputPaths, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    assert run(["rules", *input_args(campaign), "--out", str(run_dir)], tmp_path).returncode == 0

    differ = run(["--resume", str(run_dir), "--batch-size", "3"], tmp_path, dated=False)
    same = run(["--resume", str(run_dir), "--batch-size", "256"], tmp_path, dated=False)
    other_model = run(["--resume", str(run_dir), "--concurrency", "4"], tmp_path, dated=False)

    assert differ.returncode == 1
    assert "--batch-size 3 (the run has 256)" in differ.stderr
    assert same.returncode == 0, same.stderr
    assert other_model.returncode == 1 and "--concurrency 4" in other_model.stderr
    for flags in (["--timeout", "5"], ["--max-attempts", "2"], ["--deadline", "9"],
                  ["--trust-model"], ["--hedge"]):  # fmt: skip
        refused = run(["--resume", str(run_dir), *flags], tmp_path, dated=False)
        assert refused.returncode == 1 and flags[0] in refused.stderr, (flags, refused.stderr)


def test_runs_sharing_a_ledger_never_book_beyond_capacity(
    campaign: InputPaths, tmp_path: Path
) -> None:
    registrations = json.loads(campaign.registrations.read_text())
    halves = []
    for n, part in enumerate((registrations[:25], registrations[15:])):  # overlap 15..24
        path = tmp_path / f"half{n}.json"
        path.write_text(json.dumps(part))
        halves.append(dataclasses.replace(campaign, registrations=path))
    ledger = tmp_path / "campaign.sqlite"

    one = rules_run(halves[0], tmp_path / "one", ledger=ledger)
    two = rules_run(halves[1], tmp_path / "two", ledger=ledger)
    alone = rules_run(halves[1], tmp_path / "alone")

    assert two["decided_by_other_runs"] == 10
    booked = booked_per_supplier(ledger)
    for matched, used, capacity in booked.values():
        assert matched == used <= capacity
    total_capacity = sum(capacity for _, _, capacity in booked.values())
    assert one["matched"] + two["matched"] <= total_capacity
    assert alone["matched"] > two["matched"]  # alone it saw the whole capacity again


def test_each_run_directory_is_its_own_ledger_unless_told(
    campaign: InputPaths, tmp_path: Path
) -> None:
    done = run(["rules", *input_args(campaign), "--out", str(tmp_path / "r")], tmp_path)

    assert done.returncode == 0, done.stderr
    assert "this run directory is its own capacity ledger" in done.stderr
    assert "--ledger PATH" in done.stderr
    shutil.rmtree(tmp_path / "r")
