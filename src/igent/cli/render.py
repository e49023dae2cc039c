"""Render run summaries as rich tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

_COLUMNS = (
    ("total_s", "total s"),
    ("phase1_s", "phase 1 s"),
    ("phase2_s", "phase 2 s"),
    ("agent_conversation_s", "LLM s"),
    ("llm_calls", "LLM calls"),
    ("prompt_tokens", "prompt tok"),
    ("completion_tokens", "compl. tok"),
    ("cost_usd", "cost $"),
    ("validation_s", "validation s"),
    ("capacity_update_s", "capacity s"),
    ("file_write_s", "write s"),
)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def render_summary(console: Console, summary: dict[str, Any], run_dir: Path) -> None:
    """Print the per-column median/p95 table, accuracy and where the outputs are."""
    table = Table(title=f"{summary['constellation']} - per registration", title_justify="left")
    table.add_column("column")
    table.add_column("median", justify="right")
    table.add_column("p95", justify="right")
    table.add_column("max", justify="right")
    for key, label in _COLUMNS:
        stats = summary["timing"].get(key, {})
        fmt = "{:.0f}" if key in ("llm_calls", "prompt_tokens", "completion_tokens") else "{:.4f}"
        table.add_row(label, *(fmt.format(stats.get(k, 0.0)) for k in ("median", "p95", "max")))
    console.print(table)
    accuracy = summary["accuracy"]
    console.print(
        f"registrations {summary['results']}  matched {summary['matched']}  "
        f"no match {summary['statuses'].get('no_match', 0)}  skipped {summary['skipped']}  "
        f"reasons {summary['no_match_reasons'] or '-'}"
    )
    console.print(
        f"accuracy vs rules engine: supplier raw {_pct(accuracy['raw_supplier'])} final "
        f"{_pct(accuracy['final_supplier'])}; price raw {_pct(accuracy['raw_price'])} final "
        f"{_pct(accuracy['final_price'])}; repairs {summary['repairs']}, commit repairs "
        f"{summary['commit_repairs']}"
    )
    audits = summary["audits"]
    if audits["completed"] or audits["errors"]:
        console.print(
            f"audits: {audits['completed']} completed, {len(audits['disagreements'])} "
            f"disagreements, {audits['errors']} errors"
        )
    console.print(
        f"wall {summary['wall_s']:.2f} s, {summary['throughput_per_min']:.1f} registrations/min; "
        f"outputs in {run_dir}"
    )
