"""``python -m igent.workflows CONSTELLATION [options]``: the plan's entry point.

This module is an entry point like ``igent.cli``, so it may use the CLI's run command.
"""

from __future__ import annotations

import sys

import typer

from igent.cli.errors import run_guarded
from igent.cli.run import run_command


def main() -> None:
    """Run ``igent run`` with these arguments."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(help="Run a constellation over a campaign.")(run_command)
    sys.exit(run_guarded(app))


if __name__ == "__main__":
    main()
