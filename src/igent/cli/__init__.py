"""The ``igent`` command line: parse, call the library, render. The only place that prints.

Commands are imported when used (see ``igent.cli.lazy``), so ``igent --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

from igent.cli.errors import run_guarded
from igent.cli.lazy import LazyCommand, lazy_group

COMMANDS = {
    "run": LazyCommand(
        "igent.cli.run:run_command",
        "Run CONSTELLATION over the campaign and write results to the run directory.",
    ),
    "bench": LazyCommand(
        "igent.cli.bench:bench_command",
        "Benchmark constellations and optimisations against the simulator (own process).",
    ),
    "eval": LazyCommand(
        "igent.cli.evaluate:eval_command",
        "Run CONSTELLATION at concurrency 1 and grade it against the rules engine's answer.",
    ),
    "constellations": LazyCommand(
        "igent.cli.admin:constellations_app", "List and show constellations."
    ),
    "capacity": LazyCommand(
        "igent.cli.admin:capacity_app", "Show or reset a run's capacity store."
    ),
    "data": LazyCommand("igent.cli.admin:data_app", "Generate synthetic campaigns."),
    "sim": LazyCommand("igent.cli.admin:sim_app", "The local OpenAI-compatible simulator."),
    "serve": LazyCommand(
        "igent.cli.serve:serve_command",
        "Start the campaign service; the first stdout line is 'igent service listening on URL'.",
    ),
    "keys": LazyCommand("igent.cli.keys:keys_app", "API keys of the campaign service."),
    "worker": LazyCommand(
        "igent.cli.worker:worker_command",
        "Decide queued registrations until SIGTERM/Ctrl-C; the first stdout line says it is ready.",
    ),
    "enqueue": LazyCommand(
        "igent.cli.worker:enqueue_command",
        "Queue a campaign's registrations for the workers (igent worker) instead of deciding here.",
    ),
    "db": LazyCommand("igent.cli.db:db_app", "The ledger database (SQLite or PostgreSQL)."),
}

app = typer.Typer(
    name="igent",
    cls=lazy_group(COMMANDS),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Match energy-purchasing registrations to supplier offers with LLM agent constellations."""


def main() -> None:
    """Entry point of the ``igent`` console script."""
    sys.exit(run_guarded(app))


__all__ = ["app", "main"]
