"""``igent bench``: run the benchmark matrix and write the report, JSON and plots."""

from __future__ import annotations

import datetime as dt
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from igent.bench import BenchPlan, build_matrix, run_benchmark, select_configs
from igent.bench.execute import Scheme
from igent.bench.matrix import MatrixName
from igent.bench.suite import summary_lines
from igent.settings import Settings

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)
Opt = typer.Option

QUICK_REGISTRATIONS = 8
QUICK_TIME_SCALE = 0.05
QUICK_ROUNDS = 2


def bench_command(
    matrix: Annotated[
        MatrixName, Opt(help="quick, ablation, targets, latency or full.")
    ] = "ablation",
    quick: Annotated[
        bool,
        Opt(help="Smoke run: the quick matrix on 8 registrations at time scale 0.05, 2 rounds."),
    ] = False,
    registrations: Annotated[int | None, Opt(min=1, help="Registrations in the campaign.")] = None,
    rounds: Annotated[int | None, Opt(min=1, help="Interleaved rounds.")] = None,
    scheme: Annotated[
        Scheme, Opt(help="chunks: round r runs chunk r; repeats: every round runs all.")
    ] = "chunks",
    time_scale: Annotated[
        float | None, Opt(min=0.0, help="Simulator delay multiplier (published figures: 1).")
    ] = None,
    seed: Annotated[int, Opt(help="Campaign, simulator and bootstrap seed.")] = 0,
    scenario: Annotated[str, Opt(help="Generated scenario: overlap, diverse, ...")] = "overlap",
    suppliers: Annotated[int, Opt(min=1, help="Suppliers in the generated campaign.")] = 5,
    only: Annotated[
        str | None, Opt(help="Comma-separated configuration names to keep (plus the baseline).")
    ] = None,
    out: Annotated[Path | None, Opt(help="Output directory (default runs/bench-TIME).")] = None,
    report: Annotated[
        Path | None, Opt(help="Markdown report path (default OUT/report.md).")
    ] = None,
    allow_unfaithful: Annotated[
        bool,
        Opt(
            help="Write the report even if the simulator ran late (marked in it); --quick "
            "implies it, as tiny time scales magnify the simulator's millisecond jitter."
        ),
    ] = False,
) -> None:
    """Benchmark constellations and optimisations against the simulator (own process)."""
    name = "quick" if quick else matrix
    configs = build_matrix(name)
    configs = select_configs(configs, [n.strip() for n in only.split(",")] if only else [])
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = out or Settings().runs_dir / f"bench-{name}-{stamp}"
    plan = BenchPlan(
        configs=configs,
        out_dir=out_dir,
        registrations=registrations or (QUICK_REGISTRATIONS if quick else 40),
        rounds=rounds or (QUICK_ROUNDS if quick else 4),
        scheme=scheme,
        time_scale=time_scale if time_scale is not None else (QUICK_TIME_SCALE if quick else 1.0),
        seed=seed,
        scenario=scenario,
        suppliers=suppliers,
    )
    command = "igent bench " + " ".join(shlex.quote(a) for a in _argv_after("bench"))
    stderr.print(
        f"igent bench: {len(configs)} configurations x {plan.rounds} rounds, "
        f"{plan.registrations} registrations, time scale {plan.time_scale:g} -> {out_dir}"
    )
    outcome = run_benchmark(
        plan,
        command=command.strip(),
        report_path=report,
        progress=lambda line: stderr.print(f"  {line}", highlight=False),
        enforce_fidelity=not (allow_unfaithful or quick),
    )
    for line in outcome.fidelity.lines:
        stderr.print(f"fidelity: {line}", highlight=False)
    for line in summary_lines(outcome):
        stdout.print(line, highlight=False)
    stdout.print(
        f"report {outcome.report_path}, data {outcome.json_path}, "
        f"{len(outcome.plots)} plots in {out_dir} ({outcome.elapsed_s:.1f} s)"
    )


def _argv_after(word: str) -> list[str]:
    argv = sys.argv[1:]
    return argv[argv.index(word) + 1 :] if word in argv else argv
