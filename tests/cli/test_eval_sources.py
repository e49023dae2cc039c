"""``igent eval`` shows the model's own accuracy beside the final one, and answer sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from igent.cli import app
from igent.cli.errors import run_guarded
from igent.cli.evaluate import CallCount, count_calls, source_line


def test_eval_prints_raw_and_final_accuracy_side_by_side_with_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    out = tmp_path / "eval"
    # The matcher is always wrong; the validator-gated constellation falls back to the rules.
    status = run_guarded(
        app,
        ["eval", "p1m1v_p2m2v", "--model", "mock", "--sim-error-rate", "1.0",
         "--max-items", "6", "--campaign-date", "2026-06-01", "--out", str(out)],
    )  # fmt: skip

    printed = capsys.readouterr().out
    assert status == 0
    supplier_row = next(line for line in printed.splitlines() if "│ supplier " in line)
    assert [cell.strip() for cell in supplier_row.split("│")[2:4]] == ["0.0 %", "100.0 %"]
    assert "model (raw)" in printed and "final" in printed
    assert "answers from: model 0, repaired 0, rules fallback 6" in printed
    report = json.loads((out / "eval.json").read_text())
    assert report["answer_sources"] == {"fallback_rules": 6}
    calls = report["model_calls"]
    assert calls["failed"] == 0 and calls["total"] > 0
    assert f"model calls {calls['total']}, failed 0" in printed


def test_count_calls_counts_transcript_lines_with_an_error(tmp_path: Path) -> None:
    transcripts = tmp_path / "transcripts.jsonl"
    lines = [
        {"request": {}, "response": {"content": "{}"}},
        {"request": {}, "error": {"type": "ModelCallError", "message": "HTTP 500"}},
        {"request": {}, "error": {"type": "ModelCallError", "message": "timed out"}},
    ]
    transcripts.write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n")

    assert count_calls(transcripts) == CallCount(total=3, failed=2)
    assert count_calls(tmp_path / "missing.jsonl") == CallCount(total=0, failed=0)


def test_source_line_names_sources_in_words_and_keeps_unknown_ones() -> None:
    line = source_line(
        {"llm": 4, "fallback_no_match": 1, "unapproved": 2}, repairs=3, calls=CallCount(9, 1)
    )

    assert line == (
        "answers from: model 4, repaired 0, rules fallback 0, no answer 1, unapproved 2; "
        "repair rounds 3; model calls 9, failed 1"
    )
