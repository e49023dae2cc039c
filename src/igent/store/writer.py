"""Batched output writer: matches.json and pos.json rewritten atomically every N results."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from igent.store.atomic import write_text_atomic


class ResultWriter:
    """Buffer finished results and flush them to the run directory.

    ``batch_size=1`` writes after every result (the plan's "before"); larger batches flush
    every ``batch_size`` results or ``flush_interval_s`` seconds, on exit and on error.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        batch_size: int = 50,
        flush_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.run_dir = run_dir
        self.batch_size = max(1, batch_size)
        self.flush_interval_s = flush_interval_s
        self.file_writes = 0
        self._clock = clock
        # Each result is encoded once when added; a flush only joins the encoded pieces.
        self._encoded: dict[int, tuple[int, str, str | None]] = {}
        self._pending = 0
        self._last_flush = clock()

    def preload(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Seed the writer with results committed before a resume (not counted as pending)."""
        for result in results:
            self._store(result)

    def add(self, result: Mapping[str, Any]) -> float:
        """Add a finished result; return the seconds spent writing files (0 when buffered)."""
        self._store(result)
        self._pending += 1
        due = self._pending >= self.batch_size or (
            self._clock() - self._last_flush >= self.flush_interval_s
        )
        if not due:
            return 0.0
        started = self._clock()
        self.flush()
        return self._clock() - started

    def _store(self, result: Mapping[str, Any]) -> None:
        order = result.get("purchase_order")
        self._encoded[int(result["record_index"])] = (
            int(result["record_index"]),
            _encode(result["match"]),
            None if order is None else _encode(order),
        )

    def flush(self) -> None:
        """Write matches.json and pos.json with every result so far, atomically."""
        ordered = sorted(self._encoded.values(), key=lambda entry: entry[0])
        write_text_atomic(self.run_dir / "matches.json", _json_list(e[1] for e in ordered))
        write_text_atomic(
            self.run_dir / "pos.json", _json_list(e[2] for e in ordered if e[2] is not None)
        )
        self.file_writes += 2
        self._pending = 0
        self._last_flush = self._clock()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _json_list(items: Iterable[str]) -> str:
    """Join encoded items into a JSON list, one item per line."""
    return "[\n" + ",\n".join(items) + "\n]\n"
