"""Per-registration timing rows and their run summary (median / p95 per column)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from math import isfinite
from typing import Any

from igent.store import EncodedDict, encode_json


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
ROW_TEMPLATE = "{" + ", ".join(f'"{column}": %s' for column in TIMING_COLUMNS) + "}"
"""A timing row as JSON, from the texts of its values (the id's text already encoded)."""


class TimingPayload(EncodedDict):
    """A registration's timing as the ledger keeps it (``text``: its JSON), with ``row``: the
    texts of its timings.json / timings.csv row (rounded; the id not encoded), made together."""

    __slots__ = ("row",)

    def __init__(self, items: Mapping[str, Any], text: str, row: list[str]) -> None:
        super().__init__(items, text)
        self.row = row


def _value_texts(values: Iterable[Any]) -> tuple[list[str], list[str]] | None:
    """The exact and the rounded (6 decimals) text of each numeric value, or None if one is
    not a finite int or float.

    JSON, like the csv module, writes a finite float as its ``repr`` and an int as ``str``;
    formatting the floats is most of the cost of the ledger's timing, timings.json and
    timings.csv, and a zero or an int reads the same in all three.
    """
    exact: list[str] = []
    rounded: list[str] = []
    for value in values:
        kind = type(value)
        if kind is float:
            if not value:  # 0.0 and -0.0: round() keeps them
                text = repr(value)
            elif isfinite(value):
                exact.append(repr(value))
                rounded.append(repr(round(value, 6)))
                continue
            else:
                return None
        elif kind is int:
            text = str(value)
        else:
            return None
        exact.append(text)
        rounded.append(text)
    return exact, rounded


def timing_payload(timing: RegistrationTiming) -> dict[str, Any]:
    """Return ``timing`` as the ledger keeps it: a :class:`TimingPayload` when its values are
    plain (always, in practice), else a plain dict."""
    values = dict(vars(timing))
    if len(values) != len(TIMING_COLUMNS):  # an attribute set beside the fields
        return values
    texts = _value_texts(list(values.values())[1:])
    if texts is None or type(timing.registration_id) is not str:
        return values
    exact, rounded = texts
    text = ROW_TEMPLATE % (encode_json(timing.registration_id), *exact)
    return TimingPayload(values, text, [timing.registration_id, *rounded])


def row_texts(timing: Mapping[str, Any]) -> list[str] | None:
    """The texts of a timing row (the id, then each column rounded to 6 decimals, as
    ``to_row`` rounds), or None when ``timing`` is not a complete row of plain values (a
    column missing or extra, a value not a finite number): then encode it the general way."""
    if type(timing) is TimingPayload:
        return timing.row
    if len(timing) != len(TIMING_COLUMNS) or tuple(timing) != TIMING_COLUMNS:
        return None
    registration_id = timing["registration_id"]
    texts = _value_texts(list(timing.values())[1:])
    if texts is None or type(registration_id) is not str:
        return None
    return [registration_id, *texts[1]]


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
