"""``igent eval`` runs a constellation with the mock model and grades it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from igent.cli import app
from igent.cli.errors import run_guarded


def _eval(tmp_path: Path, *args: str) -> tuple[int, dict[str, object], list[str]]:
    out = tmp_path / "eval"
    code = run_guarded(
        app,
        ["eval", *args, "--model", "mock", "--campaign-date", "2026-06-01", "--out", str(out)],
    )
    if code != 0:
        return code, {}, []
    report = json.loads((out / "eval.json").read_text())
    diffs = (out / "eval_diffs.jsonl").read_text().splitlines()
    return code, report, diffs


def test_eval_on_the_demo_campaign_is_fully_right_with_the_mock_model(tmp_path: Path) -> None:
    code, report, diffs = _eval(tmp_path, "p1m1v_p2m2v", "--max-items", "12")

    assert code == 0
    assert report["registrations"] == 12
    assert report["accuracy"] == 1.0
    assert report["fields"]["total_price"]["accuracy"] == 1.0  # type: ignore[index]
    assert diffs == []


def test_eval_finds_diffs_when_the_matcher_is_often_wrong_and_trusted(tmp_path: Path) -> None:
    code, report, diffs = _eval(
        tmp_path, "p1m1_p2m2", "--max-items", "15", "--sim-error-rate", "0.8", "--seed", "1",
        "--trust-model",
    )  # fmt: skip

    assert code == 0
    assert report["accuracy"] is not None and report["accuracy"] < 1.0  # type: ignore[operator]
    assert report["fields"]["supplier_id"]["wrong"] > 0  # type: ignore[index]
    first = json.loads(diffs[0])
    assert {"field", "expected", "got"} <= set(first["diffs"][0])
    assert len(diffs) == report["registrations"] - report["correct"]  # type: ignore[operator]


def test_eval_on_a_generated_scenario_with_the_rules_constellation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_guarded(app, ["data", "generate", "--out", str(data), "--name", "s",
                             "--registrations", "10", "--scenario", "scarce"]) == 0  # fmt: skip

    code, report, diffs = _eval(tmp_path, "rules", "--data-dir", str(data), "--scenario", "s")

    assert code == 0
    assert report["accuracy"] == 1.0
    assert diffs == []


def test_eval_rejects_half_a_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = _eval(tmp_path, "rules", "--scenario", "s")

    assert code == 1
    assert "--data-dir and --scenario go together" in capsys.readouterr().err
