"""The ``igent`` command line: parse, call the library, render. The only place that prints."""

from __future__ import annotations

import sys

import typer

from igent.cli.admin import capacity_app, constellations_app, data_app, sim_app
from igent.cli.bench import bench_command
from igent.cli.db import db_app
from igent.cli.errors import run_guarded
from igent.cli.evaluate import eval_command
from igent.cli.keys import keys_app
from igent.cli.run import run_command
from igent.cli.serve import serve_command
from igent.cli.worker import enqueue_command, worker_command

app = typer.Typer(
    name="igent",
    help="Match energy-purchasing registrations to supplier offers with LLM agent constellations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("run", help="Run a constellation over a campaign (same as python -m igent.workflows).")(
    run_command
)
app.command("bench")(bench_command)
app.command("eval")(eval_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.command("enqueue")(enqueue_command)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(constellations_app, name="constellations")
app.add_typer(capacity_app, name="capacity")
app.add_typer(data_app, name="data")
app.add_typer(sim_app, name="sim")


def main() -> None:
    """Entry point of the ``igent`` console script."""
    sys.exit(run_guarded(app))


__all__ = ["app", "main"]
