"""``igent eval``: run a constellation and grade every match and PO against the rules engine."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from igent.cli.options import (
    CampaignDateOpt,
    DataDirOpt,
    IncentivesOpt,
    ModelOpt,
    OffersOpt,
    RegistrationsOpt,
    ScenarioOpt,
    SeedOpt,
    SimErrorRateOpt,
    TimeScaleOpt,
)
from igent.evaluation import EvalReport, grade_run, reference_for_inputs
from igent.settings import Settings
from igent.store import write_json_atomic, write_text_atomic
from igent.workflows import (
    RunOptions,
    execute_run,
    model_settings,
    parse_campaign_date,
    resolve_constellation,
    select_inputs,
)

stdout = Console()
stderr = Console(stderr=True)
Opt = typer.Option


# Where a registration's match came from (summary.json ``answer_sources``), in an operator's words.
SOURCE_LABELS = {
    "llm": "model",
    "last_answer": "model, unapproved",
    "commit_repair": "repaired",
    "fallback_rules": "rules fallback",
    "rules": "rules",
    "fallback_no_match": "no answer",
}
MAIN_SOURCES = ("llm", "commit_repair", "fallback_rules")


@dataclass(frozen=True)
class CallCount:
    """Model calls a run made (one transcript line each) and how many of them failed."""

    total: int
    failed: int


def count_calls(transcripts: Path) -> CallCount:
    """Count the calls in ``transcripts.jsonl``; a call with an ``error`` entry failed."""
    if not transcripts.exists():
        return CallCount(0, 0)
    total = failed = 0
    for line in transcripts.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        total += 1
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("error"):
            failed += 1
    return CallCount(total, failed)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def source_line(sources: Mapping[str, int], repairs: int, calls: CallCount) -> str:
    """Say where the answers came from and how many model calls failed, in one line."""
    names = [*MAIN_SOURCES, *sorted(k for k in sources if k not in MAIN_SOURCES)]
    parts = [f"{SOURCE_LABELS.get(name, name)} {sources.get(name, 0)}" for name in names]
    return (
        f"answers from: {', '.join(parts)}; repair rounds {repairs}; "
        f"model calls {calls.total}, failed {calls.failed}"
    )


def render_model_vs_final(console: Console, summary: Mapping[str, Any], calls: CallCount) -> None:
    """Print the model's own (raw) accuracy beside the final one, and the answers' sources."""
    accuracy = summary.get("accuracy") or {}
    table = Table(title="model (raw) vs final", title_justify="left")
    table.add_column("check")
    table.add_column("model (raw)", justify="right")
    table.add_column("final", justify="right")
    for check in ("supplier", "price"):
        table.add_row(
            check, _pct(accuracy.get(f"raw_{check}")), _pct(accuracy.get(f"final_{check}"))
        )
    console.print(table)
    sources = {str(k): int(v) for k, v in (summary.get("answer_sources") or {}).items()}
    console.print(source_line(sources, int(summary.get("repairs") or 0), calls))


def render_eval(console: Console, report: EvalReport, title: str) -> None:
    """Print the per-field accuracy table and the overall accuracy."""
    table = Table(title=title, title_justify="left")
    for name, justify in (("field", "left"), ("checked", "right"), ("wrong", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("accuracy", justify="right")
    for name, total in report.fields.items():
        if total.checked:
            table.add_row(name, str(total.checked), str(total.wrong), _pct(total.accuracy))
    console.print(table)
    console.print(
        f"registrations {report.registrations}, all fields right {report.correct} "
        f"({_pct(report.accuracy)}); field checks right {_pct(report.field_accuracy)}"
    )


def eval_command(
    constellation: Annotated[str, typer.Argument(help="Constellation name or YAML path.")],
    registrations: RegistrationsOpt = None,
    offers: OffersOpt = None,
    incentives: IncentivesOpt = None,
    data_dir: DataDirOpt = None,
    scenario: ScenarioOpt = None,
    model: ModelOpt = None,
    max_items: Annotated[int | None, Opt(min=1, help="Grade only the first N.")] = None,
    time_scale: TimeScaleOpt = None,
    sim_error_rate: SimErrorRateOpt = 0.0,
    seed: SeedOpt = 0,
    campaign_date: CampaignDateOpt = None,
    out: Annotated[Path | None, Opt(help="Output directory (default runs/eval-NAME-TIME).")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print eval.json to stdout.")] = False,
    trust_model: Annotated[
        bool, Opt(help="Book the model's answers without the validator (as igent run).")
    ] = False,
) -> None:
    """Run CONSTELLATION at concurrency 1 and grade it against the rules engine's answer."""
    settings = Settings()
    chosen = resolve_constellation(constellation, settings.constellation_dir)
    paths, _, _ = select_inputs(data_dir, scenario, registrations, offers, incentives)
    date = parse_campaign_date(campaign_date) or dt.date.today()
    # Concurrency 1: the reference is the rules engine's sequential answer.
    options = RunOptions(
        max_items=max_items, campaign_date=date, concurrency=1, trust_model=trust_model
    )
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = out or settings.runs_dir / f"eval-{chosen.name}-{stamp}-{os.getpid()}"
    run_dir = out_dir / "run"
    model_info, note = model_settings(
        chosen,
        model or settings.model,
        time_scale if time_scale is not None else settings.time_scale,
        sim_error_rate,
        seed,
    )
    if note:
        stderr.print(f"[yellow]note:[/] {note}")
    stderr.print(f"igent eval: {chosen.name} -> {out_dir}")
    summary = execute_run(
        chosen,
        paths,
        options,
        run_dir,
        model_info,
        endpoints_file=settings.endpoints_file,
        prompt_dir=settings.prompt_dir,
    ).summary
    report = grade_run(run_dir, reference_for_inputs(paths, date, max_items=max_items))
    calls = count_calls(run_dir / "transcripts.jsonl")
    payload = {
        "constellation": chosen.name,
        "model": model_info,
        "inputs": paths.to_json(),
        "campaign_date": date.isoformat(),
        "run_dir": str(run_dir),
        "run_accuracy": summary["accuracy"],
        "answer_sources": summary.get("answer_sources", {}),
        "model_calls": {"total": calls.total, "failed": calls.failed},
        **report.to_json(),
    }
    write_json_atomic(out_dir / "eval.json", payload)
    lines = "".join(json.dumps(row, default=str) + "\n" for row in report.diff_rows())
    write_text_atomic(out_dir / "eval_diffs.jsonl", lines)
    if as_json:
        stdout.print_json(json.dumps(payload, default=str))
    else:
        render_eval(stdout, report, f"{chosen.name} vs rules engine (sequential)")
        render_model_vs_final(stdout, summary, calls)
        stdout.print(f"eval.json and eval_diffs.jsonl in {out_dir}")
