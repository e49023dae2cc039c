"""``python -m igent.workflows CONSTELLATION [options]``: the plan's entry point.

This module is an entry point like ``igent.cli``, so it may use the CLI's run command.
"""

from __future__ import annotations

import gc
import sys

import typer

from igent.cli.errors import run_guarded
from igent.cli.run import run_command

GC_THRESHOLDS = (50_000, 20, 20)
"""Collector thresholds for a run (Python's defaults: 700, 10, 10)."""


def main() -> None:
    """Run ``igent run`` with these arguments."""
    # A run allocates a few objects per registration and almost no cycles: keep the
    # start-up objects (modules, schemas) out of every collection and collect less often.
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(help="Run a constellation over a campaign.")(run_command)
    sys.exit(run_guarded(app))


if __name__ == "__main__":
    main()
