"""Run outputs: JSONL appended after each group commit, final JSON documents built once.

While a run goes, ``matches.jsonl`` and ``pos.jsonl`` grow by one line per committed decision
(never a rewrite of what is there). At the end ``matches.json`` and ``pos.json`` are
assembled once, each written atomically: copied from the JSONL text when the log holds
exactly the run's decisions in record order (a fresh run), else (a resume) by streaming the
ledger.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from igent.errors import StoreError
from igent.store.atomic import atomic_writer
from igent.store.base import Decision, OutputRow, encode_json

MATCHES_LOG = "matches.jsonl"
ORDERS_LOG = "pos.jsonl"
_COPY_CHUNK = 1 << 20


def encode(value: Any) -> str:
    """Encode one output value on one line."""
    return encode_json(value)


class OutputLog:
    """``matches.jsonl`` and ``pos.jsonl`` of a run directory, appended batch by batch."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.appends = 0
        self.rows = 0
        """Match lines written so far (earlier ones included)."""
        self.in_record_order = True
        """Whether every line came from this process, in strictly increasing record order."""
        self._last_index = -1
        self._matches: IO[str] | None = None
        self._orders: IO[str] | None = None

    def open(self, earlier: Iterable[tuple[str, str | None]] = ()) -> None:
        """Start the logs afresh with (match JSON, order JSON) committed before (a resume)."""
        remove_stale_temps(self.run_dir)
        try:
            self._matches = (self.run_dir / MATCHES_LOG).open("w", encoding="utf-8")
            self._orders = (self.run_dir / ORDERS_LOG).open("w", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot open the outputs in {str(self.run_dir)!r}: {exc}") from exc
        for match, order in earlier:
            self._matches.write(match + "\n")
            if order is not None:
                self._orders.write(order + "\n")
            self.rows += 1
            self.in_record_order = False  # their record indexes are the ledger's to tell
        self._matches.flush()
        self._orders.flush()

    def append(self, decisions: Sequence[Decision]) -> None:
        """Append the decisions of one committed batch (flushed to the OS, not fsynced)."""
        if self._matches is None or self._orders is None:
            return
        matches: list[str] = []
        orders: list[str] = []
        for decision in decisions:
            match, order, _ = decision.encoded
            matches.append(match)
            if order is not None:
                orders.append(order)
            if decision.record_index <= self._last_index:
                self.in_record_order = False
            self._last_index = decision.record_index
        if matches:
            self._matches.write("\n".join(matches) + "\n")
        if orders:
            self._orders.write("\n".join(orders) + "\n")
        self._matches.flush()
        self._orders.flush()
        self.rows += len(matches)
        self.appends += 1

    def close(self) -> None:
        """Close both files."""
        for handle in (self._matches, self._orders):
            if handle is not None:
                handle.close()
        self._matches = self._orders = None


def output_row(decision: Decision) -> OutputRow:
    """What the final documents need of a decision still in memory (as ``output_rows`` reads it)."""
    match, order, _ = decision.encoded
    answer = decision.payload.get("match") or {}
    rest = decision.rest
    return OutputRow(
        decision.registration_id,
        decision.status,
        decision.supplier_id,
        match,
        order,
        answer.get("reason"),
        answer.get("source"),
        rest,
    )


def copy_as_json_list(log: Path, path: Path) -> None:
    """Write the lines of a JSONL file as a JSON list (``JsonListWriter``'s layout), atomically.

    Text is copied in chunks, never decoded: an encoded item holds no raw newline, so every
    newline but the last becomes the item separator.
    """
    try:
        source = log.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise StoreError(f"cannot read {str(log)!r}: {exc}") from exc
    with source, atomic_writer(path) as handle:
        handle.write("[\n")
        held = ""
        while chunk := source.read(_COPY_CHUNK):
            text = held + chunk
            handle.write(text[:-1].replace("\n", ",\n"))
            held = text[-1]
        if held not in ("", "\n"):
            raise StoreError(f"{str(log)!r} does not end with a newline; it was cut short")
        handle.write("\n]\n")


FINAL_DOCUMENTS = (
    "matches.json",
    "pos.json",
    "timings.json",
    "timings.csv",
    "capacity.json",
    "summary.json",
    "audits.jsonl",
)


def remove_stale_temps(run_dir: Path) -> None:
    """Remove the temp files of final documents a killed run left (the run lock is held)."""
    for name in FINAL_DOCUMENTS:
        for stale in run_dir.glob(f".{name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()


class JsonListWriter:
    """Write a JSON list item by item, one item per line, to a file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self._context = atomic_writer(path)
        self._handle: IO[str] | None = None
        self._first = True

    def __enter__(self) -> JsonListWriter:
        self._handle = self._context.__enter__()
        self._handle.write("[\n")
        return self

    def add(self, encoded: str) -> None:
        """Add one already-encoded item."""
        assert self._handle is not None
        self._handle.write(encoded if self._first else ",\n" + encoded)
        self._first = False

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None and self._handle is not None:
            self._handle.write("\n]\n")
        self._context.__exit__(exc_type, exc, tb)
