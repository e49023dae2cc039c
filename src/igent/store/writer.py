"""Batched output writer: matches.json and pos.json rewritten atomically every N results."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from igent.store.atomic import write_json_atomic


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
        self._results: dict[str, Mapping[str, Any]] = {}
        self._pending = 0
        self._last_flush = clock()

    def preload(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Seed the writer with results committed before a resume (not counted as pending)."""
        for result in results:
            self._results[str(result["registration_id"])] = result

    def add(self, result: Mapping[str, Any]) -> float:
        """Add a finished result; return the seconds spent writing files (0 when buffered)."""
        self._results[str(result["registration_id"])] = result
        self._pending += 1
        due = self._pending >= self.batch_size or (
            self._clock() - self._last_flush >= self.flush_interval_s
        )
        if not due:
            return 0.0
        started = self._clock()
        self.flush()
        return self._clock() - started

    def flush(self) -> None:
        """Write matches.json and pos.json with every result so far, atomically."""
        ordered = sorted(self._results.values(), key=lambda r: int(r["record_index"]))
        write_json_atomic(self.run_dir / "matches.json", [r["match"] for r in ordered])
        write_json_atomic(
            self.run_dir / "pos.json",
            [r["purchase_order"] for r in ordered if r.get("purchase_order") is not None],
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
