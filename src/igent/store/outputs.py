"""Run outputs: JSONL appended after each group commit, final JSON documents built once.

While a run goes, ``matches.jsonl`` and ``pos.jsonl`` grow by one line per committed decision
(never a rewrite of what is there). At the end, and on resume, ``matches.json`` and
``pos.json`` are assembled by streaming the ledger, each written atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from igent.errors import StoreError
from igent.store.atomic import atomic_writer
from igent.store.base import Decision, encode_json

MATCHES_LOG = "matches.jsonl"
ORDERS_LOG = "pos.jsonl"


def encode(value: Any) -> str:
    """Encode one output value on one line."""
    return encode_json(value)


class OutputLog:
    """``matches.jsonl`` and ``pos.jsonl`` of a run directory, appended batch by batch."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.appends = 0
        self._matches: IO[str] | None = None
        self._orders: IO[str] | None = None

    def open(self, earlier: Iterable[tuple[str, str | None]] = ()) -> None:
        """Start the logs afresh with (match JSON, order JSON) committed before (a resume)."""
        try:
            self._matches = (self.run_dir / MATCHES_LOG).open("w", encoding="utf-8")
            self._orders = (self.run_dir / ORDERS_LOG).open("w", encoding="utf-8")
        except OSError as exc:
            raise StoreError(f"cannot open the outputs in {str(self.run_dir)!r}: {exc}") from exc
        for match, order in earlier:
            self._matches.write(match + "\n")
            if order is not None:
                self._orders.write(order + "\n")
        self._matches.flush()
        self._orders.flush()

    def append(self, decisions: Sequence[Decision]) -> None:
        """Append the decisions of one committed batch (flushed to the OS, not fsynced)."""
        if self._matches is None or self._orders is None:
            return
        for decision in decisions:
            match, order, _ = decision.encoded
            self._matches.write(match + "\n")
            if order is not None:
                self._orders.write(order + "\n")
        self._matches.flush()
        self._orders.flush()
        self.appends += 1

    def close(self) -> None:
        """Close both files."""
        for handle in (self._matches, self._orders):
            if handle is not None:
                handle.close()
        self._matches = self._orders = None


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
