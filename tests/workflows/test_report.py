"""The timing documents and summary counters: their fast paths write what the general ones do."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from igent.store import OutputRow, encode_json
from igent.store.base import Decision
from igent.workflows.report import SummaryBuilder, TimingDocuments, _timing_row
from igent.workflows.timing import (
    NUMERIC_COLUMNS,
    TIMING_COLUMNS,
    RegistrationTiming,
    TimingPayload,
    percentile,
    timing_payload,
)

_FLOAT_COLUMNS = {c for c in NUMERIC_COLUMNS if c.endswith("_s") or c == "cost_usd"}
_floats = st.one_of(
    st.just(0.0),
    st.just(-0.0),
    st.floats(min_value=0, max_value=1e4, allow_nan=False),
    st.floats(min_value=1e-12, max_value=1e-3),
    st.floats(allow_nan=False, allow_infinity=False),
)
_ints = st.integers(min_value=-(10**12), max_value=10**12)


@st.composite
def _timings(draw: st.DrawFn) -> dict[str, Any]:
    row: dict[str, Any] = {"registration_id": draw(st.text(max_size=12))}
    for column in NUMERIC_COLUMNS:
        row[column] = draw(_floats if column in _FLOAT_COLUMNS else _ints)
    return row


def _row(timing: dict[str, Any], status: str = "matched") -> OutputRow:
    return OutputRow("R", status, "S", "{}", None, None, "rules", {"timing": timing})


def _written(tmp_path: Path, timings: list[dict[str, Any]]) -> tuple[str, str]:
    documents = TimingDocuments(tmp_path, SummaryBuilder())
    for timing in timings:
        documents.add(_row(timing))
    documents.close()
    return (
        (tmp_path / "timings.json").read_bytes().decode("utf-8"),
        (tmp_path / "timings.csv").read_bytes().decode("utf-8"),
    )


def _general(timings: list[dict[str, Any]]) -> tuple[str, str]:
    """timings.json and timings.csv as json.dumps and csv.writer write each rounded row."""
    rows = [_timing_row(t) for t in timings]
    listing = "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(TIMING_COLUMNS)
    for r in rows:
        writer.writerow([r.get(column, "") for column in TIMING_COLUMNS])
    return (listing if rows else "[\n\n]\n"), buffer.getvalue()


@settings(max_examples=60, deadline=None)
@given(st.lists(_timings(), min_size=1, max_size=5))
def test_timing_rows_read_exactly_as_json_and_csv_write_them(
    tmp_path_factory: Any, timings: list[dict[str, Any]]
) -> None:
    assert _written(tmp_path_factory.mktemp("t"), timings) == _general(timings)


def test_rows_of_another_shape_are_written_the_general_way(tmp_path: Path) -> None:
    full = {c: (0.25 if c in _FLOAT_COLUMNS else 1) for c in NUMERIC_COLUMNS}
    odd = [
        {"registration_id": "missing-a-column", "total_s": 0.5},  # older ledger rows
        {"registration_id": 'R-ø,"quoted"', **full},  # non-ASCII, comma and quotes
        {**full, "registration_id": "columns-in-another-order"},
        {"registration_id": "nan", **full, "total_s": math.nan},
        {"registration_id": "a-bool", **full, "llm_calls": True},
        {"registration_id": None, **full},
        {"registration_id": "extra", **full, "surplus": 1},
    ]
    assert _written(tmp_path, odd) == _general(odd)


@settings(max_examples=60, deadline=None)
@given(st.lists(_timings(), min_size=1, max_size=5))
def test_a_runs_timing_payload_encodes_and_writes_as_the_general_path(
    tmp_path_factory: Any, timings: list[dict[str, Any]]
) -> None:
    """The ledger text and the row texts made with the payload are the plain dict's."""
    payloads = [timing_payload(RegistrationTiming(**t)) for t in timings]
    for payload, timing in zip(payloads, timings, strict=True):
        assert dict(payload) == timing
        assert encode_json(payload) == json.dumps(timing, ensure_ascii=False)
        decision = Decision(str(timing["registration_id"]), 0, "matched", "S", {"timing": payload})
        assert decision.encoded[2] == encode_json({"timing": timing})
    assert all(type(p) is TimingPayload for p in payloads)
    assert _written(tmp_path_factory.mktemp("t"), payloads) == _general(timings)


def test_a_timing_that_is_not_plain_stays_a_plain_dict() -> None:
    timing = RegistrationTiming(registration_id="R", total_s=math.inf)
    payload = timing_payload(timing)
    assert type(payload) is dict and payload["total_s"] == math.inf
    extended = RegistrationTiming(registration_id="R", total_s=0.5)
    extended.note = "set beside the fields"  # type: ignore[attr-defined]
    assert type(timing_payload(extended)) is dict


def _naive_timing(timings: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    summary = {}
    for column in NUMERIC_COLUMNS:
        ordered = sorted(float(t[column]) for t in timings if column in t)
        summary[column] = {
            "median": percentile(ordered, 50),
            "p95": percentile(ordered, 95),
            "max": ordered[-1] if ordered else 0.0,
            "sum": sum(ordered),
        }
    return summary


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            _timings(),
            st.fixed_dictionaries(
                {"registration_id": st.just("partial")},
                optional={"total_s": _floats, "llm_calls": _ints},
            ),
        ),
        max_size=12,
    )
)
def test_summary_timing_counts_zeros_without_keeping_them(timings: list[dict[str, Any]]) -> None:
    """Zeros are counted, not stored: medians, p95, max and sums are those of every value."""
    builder = SummaryBuilder()
    for timing in timings:
        builder.add(_row(timing))
    assert builder.timing() == _naive_timing(timings)
    stored = sum(len(values) for values in builder.columns.values())
    assert stored == sum(1 for t in timings for c in NUMERIC_COLUMNS if t.get(c))
