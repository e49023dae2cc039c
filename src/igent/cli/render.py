"""Render a run's closing summary for an operator (and the latency table behind --timings)."""

from __future__ import annotations

from collections.abc import Mapping
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

REASON_WORDS = {
    "zip_not_served": "no supplier serves the ZIP code",
    "no_capacity": "every supplier serving the ZIP is full",
    "product_unavailable": "no supplier offers the product asked for",
    "invalid_registration": "the registration is invalid",
    "model_failed": "the model gave no usable answer",
    "llm_no_match": "the model answered NO MATCH",
    "skipped_status": "left out by --skip-status",
}


def reason_in_words(reason: str) -> str:
    """Say a no-match or failure reason code in words (unknown codes as they are)."""
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def render_timings(console: Console, summary: Mapping[str, Any]) -> None:
    """Print the per-column median/p95/max latency table."""
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


def _counted(counts: Mapping[str, int]) -> list[str]:
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [f"  {count:>7}  {reason_in_words(reason)}" for reason, count in ordered]


def render_summary(
    console: Console, summary: Mapping[str, Any], run_dir: Path, *, timings: bool = False
) -> None:
    """Print what an operator needs: matches per supplier, no-match reasons, failures, cost."""
    if timings:
        render_timings(console, summary)
    statuses = summary.get("statuses", {})
    lines = [f"registrations {summary['results']}"]
    lines.append(f"matched {summary['matched']}")
    for supplier_id, count in sorted(summary.get("matched_by_supplier", {}).items()):
        lines.append(f"  {count:>7}  {supplier_id}")
    lines.append(f"NO MATCH {statuses.get('no_match', 0)}")
    lines.extend(_counted(summary.get("no_match_reasons", {})))
    failed = int(summary.get("failed", 0))
    lines.append(f"failed {failed} (not booked; retried by --resume)" if failed else "failed 0")
    lines.extend(_counted(summary.get("failure_reasons", {})))
    lines.append(f"skipped {summary['skipped']}")
    if summary.get("decided_by_other_runs"):
        elsewhere = summary["decided_by_other_runs"]
        lines.append(f"already decided by other runs sharing the ledger {elsewhere}")
    for removed in summary.get("removed_registrations", [])[:10]:
        lines.append(f"released (no longer in the file): {removed}")
    lines.append(f"total cost ${float(summary.get('cost_usd', 0.0)):.4f}")
    console.print("\n".join(lines), highlight=False)
    accuracy = summary["accuracy"]
    if accuracy.get("raw_supplier") is not None:
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
            f"disagreements, {audits['errors']} errors; {audits.get('calls', 0)} model calls, "
            f"${audits.get('cost_usd', 0.0):.4f} (in the total cost)"
        )
    console.print(
        f"wall {summary['wall_s']:.2f} s, {summary['throughput_per_min']:.1f} registrations/min; "
        f"outputs in {run_dir}"
    )
