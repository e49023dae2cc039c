"""Failed and unapproved registrations are recorded, never booked, retried by --resume, and
make the CLI exit non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from igent.cli import app
from igent.cli.errors import run_guarded
from igent.domain import RegistrationRecord
from igent.workflows import InputPaths
from igent.workflows.pipeline import Outcome, Pipeline
from tests.reliability.runs import CAMPAIGN_DATE, input_args, make_campaign

FAILING = {"R-000002": "failed", "R-000003": "unapproved", "R-000005": "failed"}


def _run(*args: str) -> int:
    return run_guarded(app, ["run", *args, "--quiet", "--campaign-date", CAMPAIGN_DATE])


def test_failed_registrations_hold_nothing_exit_1_and_are_retried_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign: InputPaths = make_campaign(tmp_path / "data", 30, scenario="scarce", seed=2)
    run_dir = tmp_path / "run"
    original = Pipeline.process

    async def process(self: Pipeline, record: RegistrationRecord) -> Outcome:
        outcome = await original(self, record)
        status = FAILING.get(record.registration_id)
        if status is not None:
            outcome.match.update(
                status=status, supplier_id=None, reason="model_failed", message="HTTP 500"
            )
            outcome.purchase_order = None
        return outcome

    monkeypatch.setattr(Pipeline, "process", process)
    status = _run("rules", *input_args(campaign), "--out", str(run_dir))
    err = capsys.readouterr().err

    assert status == 1
    assert f"3 registrations failed: 3 model_failed; retry with igent run --resume {run_dir}" in (
        " ".join(err.split())
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["failed"] == 3
    assert summary["statuses"]["failed"] == 2 and summary["statuses"]["unapproved"] == 1
    capacity = json.loads((run_dir / "capacity.json").read_text())
    matches = json.loads((run_dir / "matches.json").read_text())
    assert sum(row["used"] for row in capacity.values()) == summary["matched"]
    assert {
        m["registration_id"] for m in matches if m["status"] in ("failed", "unapproved")
    } == set(FAILING)

    monkeypatch.setattr(Pipeline, "process", original)  # the endpoint is healthy again
    assert _run("--resume", str(run_dir)) == 0
    retried = json.loads((run_dir / "summary.json").read_text())
    matches = json.loads((run_dir / "matches.json").read_text())
    assert retried["failed"] == 0 and len(matches) == 30
    assert all(m["status"] in ("matched", "no_match") for m in matches)


def test_a_fatal_model_error_aborts_the_run_and_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import datetime as dt

    from igent.errors import ModelCallError
    from igent.workflows import Runner, RunOptions, resolve_constellation

    campaign = make_campaign(tmp_path / "data", 30, scenario="scarce", seed=2)
    original = Pipeline.process

    async def process(self: Pipeline, record: RegistrationRecord) -> Outcome:
        if record.record_index == 12:
            raise ModelCallError("401 Unauthorized", endpoint="openai", model="gpt-4o", status=401)
        return await original(self, record)

    monkeypatch.setattr(Pipeline, "process", process)
    options = RunOptions(batch_size=5, campaign_date=dt.date.fromisoformat(CAMPAIGN_DATE))
    runner = Runner(resolve_constellation("rules"), campaign, options, tmp_path / "run")

    with pytest.raises(ModelCallError, match="401"):
        asyncio.run(runner.run())

    matches = json.loads((tmp_path / "run" / "matches.json").read_text())
    assert [m["record_index"] for m in matches] == list(range(12))
    capacity = json.loads((tmp_path / "run" / "capacity.json").read_text())
    assert sum(row["used"] for row in capacity.values()) == sum(
        m["status"] == "matched" for m in matches
    )
