"""Translate igent errors into ``error: <message>`` and exit status 1 at the CLI edge."""

from __future__ import annotations

import os
import sys
import traceback

import typer
from rich.console import Console

from igent.errors import IgentError

stderr = Console(stderr=True, soft_wrap=True)


def run_guarded(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run ``app``; an IgentError prints one line (traceback with --debug) and returns 1."""
    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv or os.environ.get("IGENT_DEBUG") == "1"
    if "--debug" in argv:
        argv.remove("--debug")
    try:
        app(args=argv, standalone_mode=False)
    except IgentError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (typer.Exit, SystemExit) as exc:
        code = exc.exit_code if isinstance(exc, typer.Exit) else exc.code
        return int(code or 0)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 1
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0
