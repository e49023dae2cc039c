"""A tiny benchmark end to end: simulator process, interleaved rounds, report, JSON, plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from igent.bench import BenchPlan, FidelityVerdict, build_matrix, run_benchmark, suite
from igent.bench.execute import prepare_inputs
from igent.cli import app
from igent.cli.errors import run_guarded
from igent.errors import ConfigError


def test_run_benchmark_writes_report_json_and_plots(tmp_path: Path) -> None:
    configs = [c for c in build_matrix("quick") if c.name in ("baseline", "p1m1v_p2r")]
    plan = BenchPlan(configs, tmp_path / "bench", registrations=4, rounds=2, time_scale=0.01)

    # Time scale 0.01 magnifies millisecond jitter past the 5 % guard; it is tested on its own.
    outcome = run_benchmark(
        plan, command="igent bench --test", report_path=tmp_path / "r.md", enforce_fidelity=False
    )

    report = (tmp_path / "r.md").read_text()
    assert report.startswith("# igent benchmark\n\n```bash\nigent bench --test\n```")
    assert "## Ablation" in report and "## Targets" in report and "NOT JUDGED" in report
    data = json.loads(outcome.json_path.read_text())
    assert [r["config"] for r in data["runs"]] == [
        "baseline", "p1m1v_p2r", "p1m1v_p2r", "baseline"  # rotated in round 2
    ]  # fmt: skip
    assert sum(len(r["rows"]) for r in data["runs"]) == 8
    assert all(r["grading"]["accuracy"] == 1.0 for r in data["runs"])
    assert data["fidelity"]["simulators"][0]["sends"] > 0
    assert ("FIDELITY NOT MET" in report) != data["fidelity"]["passed"]
    assert {p.name for p in outcome.plots} == {"latency.png", "phases.png", "ablation.png"}
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in outcome.plots)
    baseline = next(m for m in outcome.metrics if m.config.name == "baseline")
    assert baseline.llm_calls_per_reg >= 3
    assert baseline.file_writes >= 4


def test_bench_cli_quick_with_only_the_rules_answerers(tmp_path: Path) -> None:
    out = tmp_path / "q"
    code = run_guarded(
        app,
        ["bench", "--quick", "--only", "p1r_audit", "--registrations", "4", "--time-scale",
         "0", "--out", str(out), "--report", str(out / "quick.md")],
    )  # fmt: skip

    assert code == 0
    assert "p1r_audit answer p95 <= 20 ms" in (out / "quick.md").read_text()
    assert (out / "bench.json").exists() and (out / "latency.png").exists()


def test_prepare_inputs_refuses_more_rounds_than_registrations(tmp_path: Path) -> None:
    plan = BenchPlan(build_matrix("quick"), tmp_path, registrations=2, rounds=3)

    with pytest.raises(ConfigError, match="cannot be split into 3 rounds"):
        prepare_inputs(plan)


def test_run_benchmark_refuses_to_report_when_the_simulator_ran_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = FidelityVerdict(False, ("sim gpt-4o: p99 send lateness 80 ms = 8 % -> TOO LATE",))
    monkeypatch.setattr(suite, "check_fidelity", lambda samples: late)
    rules = [c for c in build_matrix("ablation") if c.name == "rules"]
    plan = BenchPlan(rules, tmp_path, registrations=2, rounds=1)

    with pytest.raises(ConfigError, match="refusing to report: sim gpt-4o.*TOO LATE"):
        run_benchmark(plan, command="igent bench", report_path=tmp_path / "r.md")

    assert json.loads((tmp_path / "bench.json").read_text())["fidelity"]["passed"] is False
    assert not (tmp_path / "r.md").exists()


def test_bench_quick_as_ci_runs_it_writes_report_json_and_plots(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "quick"
    done = subprocess.run(
        [sys.executable, "-m", "igent.cli", "bench", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert "## Targets" in (out / "report.md").read_text()
    assert (out / "bench.json").stat().st_size > 0
    assert sorted(p.name for p in out.glob("*.png")) == [
        "ablation.png",
        "latency.png",
        "phases.png",
    ]
