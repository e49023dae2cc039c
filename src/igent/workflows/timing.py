"""Per-registration timing rows and their run summary (median / p95 per column)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields


@dataclass
class RegistrationTiming:
    """Where one registration's time and tokens went."""

    registration_id: str
    total_s: float = 0.0
    phase1_s: float = 0.0
    phase2_s: float = 0.0
    agent_conversation_s: float = 0.0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    validation_s: float = 0.0
    capacity_update_s: float = 0.0
    file_write_s: float = 0.0
    intended_llm_s: float = 0.0
    chunks_read: int = 0
    early_stops: int = 0
    repairs: int = 0
    critic_rounds: int = 0
    critic_skips: int = 0
    commit_repairs: int = 0
    cache_hits: int = 0


TIMING_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RegistrationTiming))
NUMERIC_COLUMNS: tuple[str, ...] = TIMING_COLUMNS[1:]


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile (0-100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_timings(
    rows: Sequence[Mapping[str, float | int | str]],
) -> dict[str, dict[str, float]]:
    """Return median, p95, max and sum for every numeric column."""
    summary: dict[str, dict[str, float]] = {}
    for column in NUMERIC_COLUMNS:
        values = [float(row[column]) for row in rows if column in row]
        summary[column] = {
            "median": statistics.median(values) if values else 0.0,
            "p95": percentile(values, 95),
            "max": max(values, default=0.0),
            "sum": sum(values),
        }
    return summary


def timings_csv(rows: Sequence[Mapping[str, object]]) -> str:
    """Render timing rows as CSV with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(TIMING_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def to_row(timing: RegistrationTiming) -> dict[str, float | int | str]:
    """Return the timing as a dict with rounded floats."""
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(timing).items()}
