"""``igent --help`` stays fast: the command modules and their heavy libraries load on use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from igent.cli import COMMANDS, app

SRC = str(Path(__file__).resolve().parents[2] / "src")
HEAVY = ["openai", "fastapi", "numpy", "httpx", "uvicorn", "starlette", "igent.workflows"]

_PROBE = """
import contextlib, io, json, sys
from igent.cli import app
from igent.cli.errors import run_guarded
args = sys.argv[1:]
if args:
    with contextlib.redirect_stdout(io.StringIO()):
        status = run_guarded(app, args)
    assert status == 0, status
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_modules_after(*args: str) -> list[str]:
    """Return the heavy modules loaded in a fresh interpreter after ``igent ARGS``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_import_igent_cli_loads_no_heavy_library() -> None:
    assert _heavy_modules_after() == []


def test_igent_help_loads_no_heavy_library() -> None:
    assert _heavy_modules_after("--help") == []


def test_a_command_still_loads_what_it_needs() -> None:
    """The probe can see heavy imports: running a real command does load the runner."""
    assert "igent.workflows" in _heavy_modules_after("constellations", "list")


def test_help_lists_every_command_with_its_short_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from igent.cli.errors import run_guarded

    assert run_guarded(app, ["--help"]) == 0

    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_help_matches_the_command_it_loads(name: str) -> None:
    """The help text in the lazy listing is the loaded command's own first line."""
    command = COMMANDS[name].load(name)

    assert command.name == name
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name].help
