"""Translate errors into one line on stderr and an exit status at the CLI edge.

``error: <message>`` and 1 for an IgentError, 2 for a usage error (mistyped flag, bad value,
missing argument), ``interrupted...`` and 130 for Ctrl-C or ``Interrupted``. ``--debug`` (or
``IGENT_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer

from igent.errors import IgentError, Interrupted

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _usage_error_types() -> tuple[type[BaseException], ...]:
    """Return the classes typer raises for usage errors, whichever click it uses.

    typer >= 0.2x bundles its own click (``typer._click``), whose exceptions derive from
    ``typer.TyperException`` and not from ``click.ClickException``; older typer uses click.
    """
    found: list[type[BaseException]] = []
    bundled = getattr(typer, "TyperException", None)
    if isinstance(bundled, type) and issubclass(bundled, BaseException):
        found.append(bundled)
    try:
        import click
    except ImportError:  # pragma: no cover - typer without click installed alongside
        pass
    else:
        found.append(click.ClickException)
    return tuple(found)


def _print_error(message: str, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr)


def _show_usage_error(exc: Any) -> int:
    """Print a usage error as one line (with the command path) and return its exit code."""
    code = int(getattr(exc, "exit_code", EXIT_USAGE))
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # the command's help, asked for by giving no arguments
        return code
    ctx = getattr(exc, "ctx", None)
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    print(f"error: {message}{hint}", file=sys.stderr)
    return code


def run_guarded(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run ``app`` and return its exit status, printing any error as one line."""
    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv or os.environ.get("IGENT_DEBUG") == "1"
    if "--debug" in argv:
        argv.remove("--debug")
    try:
        returned = app(args=argv, standalone_mode=False)
    except Interrupted as exc:
        if debug:
            traceback.print_exc()
        print(str(exc), file=sys.stderr)  # "interrupted: N of M done; continue with ..."
        return EXIT_INTERRUPTED
    except IgentError as exc:
        _print_error(str(exc), debug)
        return EXIT_ERROR
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            return exc.code or 0
        print(f"error: {exc.code}", file=sys.stderr)
        return EXIT_ERROR
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return EXIT_ERROR
    except _usage_error_types() as exc:
        if debug:
            traceback.print_exc()
        return _show_usage_error(exc)
    # In non-standalone mode typer turns Ctrl-C into Exit(130) and returns the code.
    if isinstance(returned, int) and not isinstance(returned, bool) and returned:
        if returned == EXIT_INTERRUPTED:
            print("interrupted", file=sys.stderr)
        return returned
    return 0
