"""Run ``igent`` with every thread under cProfile; merged stats go to OUT_DIR/PID.prof at exit.

Usage: python benchmarks/profile_threads.py OUT_DIR worker --db ... (any igent arguments)

A worker decides on its event loop thread and Dramatiq's threads, which ``python -m cProfile``
(main thread only) does not see. ``benchmarks/workers.py --profile DIR`` starts workers so.
"""

from __future__ import annotations

import atexit
import cProfile
import os
import pstats
import sys
import threading
from pathlib import Path
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()
# Wrapped around the bootstrap rather than ``run``, which Thread subclasses (Dramatiq's
# worker and consumer threads) override.
_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _profiled_bootstrap(self: threading.Thread) -> None:
    profile = cProfile.Profile()
    with _lock:
        _profiles.append(profile)
    profile.enable()
    try:
        _bootstrap_inner(self)
    finally:
        profile.disable()


def _dump(out_dir: Path) -> None:
    merged: Any = None
    for profile in _profiles:
        profile.disable()
        try:
            merged = pstats.Stats(profile) if merged is None else merged.add(profile)
        except TypeError:  # a thread that never ran any Python
            continue
    if merged is not None:
        merged.dump_stats(out_dir / f"{os.getpid()}.prof")


def main() -> None:
    out_dir = Path(sys.argv[1])
    threading.Thread._bootstrap_inner = _profiled_bootstrap  # type: ignore[attr-defined]
    main_profile = cProfile.Profile()
    _profiles.append(main_profile)
    atexit.register(_dump, out_dir)
    main_profile.enable()
    from igent.cli import main as igent_main

    sys.argv = ["igent", *sys.argv[2:]]
    igent_main()


if __name__ == "__main__":
    main()
