"""The run's final outputs and summary, assembled once by streaming the ledger.

Nothing here holds a result per registration except one float per timing column (an
``array('d')``, 8 bytes each) for the medians and 95th percentiles.
"""

from __future__ import annotations

import contextlib
import csv
import json
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igent.store import (
    MATCHES_LOG,
    ORDERS_LOG,
    Decision,
    JsonListWriter,
    OutputLog,
    OutputRow,
    Store,
    atomic_writer,
    copy_as_json_list,
    output_row,
    write_json_atomic,
)
from igent.workflows.timing import (
    NUMERIC_COLUMNS,
    ROW_TEMPLATE,
    TIMING_COLUMNS,
    percentile,
    row_texts,
)

_ALL_COLUMNS = frozenset(TIMING_COLUMNS)
_SHARES = {
    "raw_supplier": "raw_supplier_ok",
    "final_supplier": "final_supplier_ok",
    "raw_price": "raw_price_ok",
    "final_price": "final_price_ok",
}


@dataclass
class SummaryBuilder:
    """Counters for the run summary, fed one committed payload at a time."""

    results: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    matched_by_supplier: Counter[str] = field(default_factory=Counter)
    shares: dict[str, list[int]] = field(default_factory=lambda: {k: [0, 0] for k in _SHARES})
    repairs: int = 0
    commit_repairs: int = 0
    cost_usd: float = 0.0
    columns: dict[str, array[float]] = field(
        default_factory=lambda: {c: array("d") for c in NUMERIC_COLUMNS}
    )
    """The non-zero values of each timing column; its zeros are only counted (most columns
    are 0 on the rules path)."""
    complete_rows: int = 0
    """Rows that have every timing column."""
    present: Counter[str] = field(default_factory=Counter)
    """Per column, the other rows that have it."""

    def add(self, row: OutputRow) -> None:
        """Count one committed decision."""
        status, timing, payload = row.status, row.rest.get("timing") or {}, row.rest
        self.results += 1
        self.statuses[status] += 1
        self.sources[str(row.source)] += 1
        if row.reason:
            reasons = self.failure_reasons if status in ("failed", "unapproved") else self.reasons
            reasons[str(row.reason)] += 1
        if status == "matched" and row.supplier_id:
            self.matched_by_supplier[row.supplier_id] += 1
        self.repairs += int(timing.get("repairs", 0))
        self.commit_repairs += int(timing.get("commit_repairs", 0))
        self.cost_usd += float(timing.get("cost_usd", 0.0))
        if status == "skipped":
            return
        grading = payload.get("grading") or {}
        for name, key in _SHARES.items():
            value = grading.get(key)
            if value is not None:
                self.shares[name][0] += bool(value)
                self.shares[name][1] += 1
        if timing.keys() == _ALL_COLUMNS:
            self.complete_rows += 1
        else:
            self.present.update(column for column in timing if column in self.columns)
        columns = self.columns
        for column, value in timing.items():
            if value and column in columns:
                columns[column].append(float(value))

    def _ordered(self, column: str) -> list[float]:
        """The column's values in order, its zeros put back."""
        ordered = sorted(self.columns[column])
        zeros = self.complete_rows + self.present[column] - len(ordered)
        at = bisect_left(ordered, 0.0)
        ordered[at:at] = [0.0] * zeros
        return ordered

    def accuracy(self) -> dict[str, float | None]:
        """Share of graded answers that were right, per kind."""
        return {
            name: round(right / total, 6) if total else None
            for name, (right, total) in self.shares.items()
        }

    def timing(self) -> dict[str, dict[str, float]]:
        """Median, p95, max and sum per numeric timing column."""
        summary = {}
        for column in self.columns:
            ordered = self._ordered(column)
            summary[column] = {
                "median": percentile(ordered, 50),
                "p95": percentile(ordered, 95),
                "max": ordered[-1] if ordered else 0.0,
                "sum": sum(ordered),
            }
        return summary


def _timing_row(timing: Mapping[str, Any]) -> dict[str, Any]:
    # most columns are 0.0 on the rules path, and round(0.0, 6) is 0.0: skip the call
    return {k: round(v, 6) if v and isinstance(v, float) else v for k, v in timing.items()}


_ENCODE_ROW = json.JSONEncoder().encode  # json.dumps's defaults, built once


class TimingDocuments:
    """timings.json and timings.csv, written row by row (each replaced atomically at the end),
    with the summary counters fed beside them: one place for both ways of building them."""

    def __init__(self, run_dir: Path, builder: SummaryBuilder) -> None:
        self.builder = builder
        self._files = contextlib.ExitStack()
        self._timings = self._files.enter_context(JsonListWriter(run_dir / "timings.json"))
        csv_file = self._files.enter_context(atomic_writer(run_dir / "timings.csv"))
        self._csv = csv.writer(csv_file)
        self._csv.writerow(TIMING_COLUMNS)

    def add(self, output: OutputRow) -> None:
        """Add one committed decision's timing row and count it."""
        timing = output.rest.get("timing") or {}
        texts = row_texts(timing)
        if texts is not None:
            self._timings.add(ROW_TEMPLATE % (_ENCODE_ROW(texts[0]), *texts[1:]))
            self._csv.writerow(texts)
        else:
            row = _timing_row(timing)
            self._timings.add(_ENCODE_ROW(row))
            self._csv.writerow([row.get(column, "") for column in TIMING_COLUMNS])
        self.builder.add(output)

    def close(self) -> None:
        """Put both files in place."""
        self._files.close()

    def discard(self) -> None:
        """Drop both files: nothing replaces what was there."""
        self._files.__exit__(_Discarded, _Discarded(), None)


class _Discarded(Exception):
    """Thrown into the atomic writers so they remove their temp files."""


def write_final_outputs(
    store: Store, campaign_id: str, run_id: str, run_dir: Path, builder: SummaryBuilder
) -> int:
    """Write matches/pos/timings documents from the ledger in one pass; return files written."""
    timings = TimingDocuments(run_dir, builder)
    try:
        with (
            JsonListWriter(run_dir / "matches.json") as matches,
            JsonListWriter(run_dir / "pos.json") as orders,
        ):
            for output in store.output_rows(campaign_id, run_id):
                matches.add(output.match_json)
                if output.order_json is not None:
                    orders.add(output.order_json)
                timings.add(output)
    except BaseException:
        timings.discard()
        raise
    timings.close()
    return 4


class LiveDocuments:
    """The final documents of a fresh run, built while it goes instead of from the ledger.

    The commit thread feeds every committed batch (:meth:`add`); at the end :meth:`finish`
    copies matches.json / pos.json from the JSONL logs. It does so only when the logs hold
    exactly the run's decisions in record order (what the ledger would give); otherwise the
    caller builds them from the ledger (:func:`write_final_outputs`).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.builder = SummaryBuilder()
        self._timings: TimingDocuments | None = TimingDocuments(run_dir, self.builder)

    def add(self, decisions: Sequence[Decision]) -> None:
        """Count and write the timing rows of one committed batch (its log order)."""
        if self._timings is not None:
            for decision in decisions:
                self._timings.add(output_row(decision))

    def finish(self, log: OutputLog, run_rows: int) -> bool:
        """Put the documents in place if ``log`` holds the run's ``run_rows`` decisions in
        record order; else discard them and return False."""
        timings, self._timings = self._timings, None
        if timings is None:
            return False
        if not (log.in_record_order and log.rows == run_rows):
            timings.discard()
            return False
        timings.close()
        copy_as_json_list(self.run_dir / MATCHES_LOG, self.run_dir / "matches.json")
        copy_as_json_list(self.run_dir / ORDERS_LOG, self.run_dir / "pos.json")
        return True

    def discard(self) -> None:
        """Drop what was written (the run failed)."""
        timings, self._timings = self._timings, None
        if timings is not None:
            timings.discard()


@dataclass
class AuditUsage:
    """What audit calls cost: each stored audit is one billed model call, whatever its verdict.

    Audit calls are off the registrations' critical path, so they are not in the decisions'
    timings; the run summary and the service's campaign summary add them from here.
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0

    def add(self, audit: Mapping[str, Any]) -> None:
        """Count one stored audit."""
        self.calls += 1
        self.prompt_tokens += int(audit.get("prompt_tokens") or 0)
        self.completion_tokens += int(audit.get("completion_tokens") or 0)
        self.cost_usd += float(audit.get("cost_usd") or 0.0)
        self.duration_s += float(audit.get("duration_s") or 0.0)

    def as_dict(self) -> dict[str, Any]:
        """The usage as the run summary writes it (cost and time rounded)."""
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "duration_s": round(self.duration_s, 6),
        }


def write_audits(store: Store, campaign_id: str, run_id: str, run_dir: Path) -> dict[str, Any]:
    """Write audits.jsonl from the ledger (when there are audits); return their counts and usage."""
    completed = errors = 0
    usage = AuditUsage()
    disagreements: list[dict[str, Any]] = []
    audits = store.audits(campaign_id, run_id)
    first = next(audits, None)
    if first is not None:
        with atomic_writer(run_dir / "audits.jsonl") as handle:
            for audit in _chain(first, audits):
                handle.write(json.dumps(audit) + "\n")
                usage.add(audit)
                if audit.get("approved") is None:
                    errors += 1
                else:
                    completed += 1
                    if audit.get("approved") is False:
                        disagreements.append(audit)
    return {
        "completed": completed,
        "disagreements": disagreements,
        "errors": errors,
        **usage.as_dict(),
    }


def _chain(first: dict[str, Any], rest: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    yield first
    yield from rest


def write_capacity(run_dir: Path, capacity: Mapping[str, tuple[int, int]]) -> None:
    """Write capacity.json: used and capacity per supplier."""
    write_json_atomic(
        run_dir / "capacity.json",
        {s: {"used": used, "capacity": cap} for s, (used, cap) in capacity.items()},
    )
