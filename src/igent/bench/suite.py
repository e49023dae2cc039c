"""Run a benchmark end to end: measure, check fidelity, then write JSON, plots and report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from igent.bench.analysis import ConfigMetrics, analyse
from igent.bench.execute import BenchPlan, BenchRun, Progress, dump_json, environment, execute_plan
from igent.bench.fidelity import FidelityVerdict, check_fidelity, require_fidelity
from igent.bench.goals import judge_latency_goals
from igent.bench.plots import write_plots
from igent.bench.report import render_report
from igent.bench.stats import statistic
from igent.bench.targets import TargetResult, judge_targets
from igent.store import write_text_atomic


@dataclass
class BenchOutcome:
    """Where the outputs went and what they say."""

    json_path: Path
    report_path: Path
    plots: list[Path]
    metrics: list[ConfigMetrics]
    targets: list[TargetResult]
    fidelity: FidelityVerdict
    elapsed_s: float


def client_overshoot_p95(run: BenchRun) -> float | None:
    """p95 of wall / intended - 1 over calls read to their end (client side, informative)."""
    ratios = [
        c.duration_s / c.intended_s - 1
        for m in run.measurements
        for c in m.calls
        if c.intended_s and not c.stopped_early
    ]
    return statistic(ratios, "p95") if ratios else None


def run_benchmark(
    plan: BenchPlan,
    *,
    command: str,
    report_path: Path | None = None,
    progress: Progress | None = None,
    enforce_fidelity: bool = True,
    plots: bool = True,
) -> BenchOutcome:
    """Execute ``plan`` and write ``bench.json``, PNG plots and the markdown report.

    ``bench.json`` is written even when the fidelity check fails, so the cause can be studied;
    the report is not, and ConfigError is raised.
    """
    run = execute_plan(plan, progress)
    metrics = analyse(run)
    targets = [
        *judge_targets(metrics, plan.time_scale),
        *judge_latency_goals(metrics, plan.time_scale),
    ]
    fidelity = check_fidelity(run.lateness)
    overshoot = client_overshoot_p95(run)
    env = environment()
    json_path = plan.out_dir / "bench.json"
    write_text_atomic(
        json_path,
        dump_json(
            {
                "command": command,
                "environment": env,
                "plan": plan.describe(),
                "configs": [c.describe() for c in plan.configs],
                "started_at": run.started_at,
                "elapsed_s": run.elapsed_s,
                "fidelity": {
                    "passed": fidelity.passed,
                    "lines": list(fidelity.lines),
                    "simulators": [vars(s) | {"overshoot": s.overshoot} for s in run.lateness],
                    "client_overshoot_p95": overshoot,
                },
                "metrics": [m.to_json() for m in metrics],
                "targets": [t.to_json() for t in targets],
                "runs": [m.to_json() for m in run.measurements],
            }
        ),
    )
    if enforce_fidelity:
        require_fidelity(fidelity)
    report_path = report_path or plan.out_dir / "report.md"
    plot_paths = write_plots(metrics, plan.out_dir) if plots else []
    text = render_report(
        run,
        metrics,
        targets,
        fidelity,
        overshoot,
        command=command,
        environment=env,
        plots=plot_paths,
        report_dir=report_path.parent,
        json_path=json_path,
    )
    write_text_atomic(report_path, text)
    return BenchOutcome(
        json_path, report_path, plot_paths, metrics, targets, fidelity, run.elapsed_s
    )


def summary_lines(outcome: BenchOutcome) -> Sequence[str]:
    """Short lines for the terminal: p50 per configuration and the target verdicts."""
    lines = [
        f"{m.config.name}: p50 {m.latency_s['median'].value * 1000:.1f} ms, "
        f"p95 {m.latency_s['p95'].value * 1000:.1f} ms, graded "
        f"{'n/a' if m.graded_accuracy is None else f'{m.graded_accuracy * 100:.0f} %'}"
        for m in outcome.metrics
    ]
    lines.extend(f"{t.status}: {t.target}" for t in outcome.targets)
    return lines
