"""Every usage error is one ``error:`` line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from igent.cli import app
from igent.cli.errors import run_guarded

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["run", "rules", "--concurency", "4"], "No such option: --concurency",
                     id="mistyped-flag"),
        pytest.param(["run", "rules", "--concurrency", "0"], "'--concurrency'",
                     id="concurrency-zero"),
        pytest.param(["run", "rules", "--concurrency", "many"], "'--concurrency'",
                     id="not-a-number"),
        pytest.param(["eval"], "Missing argument", id="missing-argument"),
        pytest.param(["constellations", "show"], "Missing argument", id="missing-sub-argument"),
        pytest.param(["bench", "--matrix", "huge"], "'huge' is not one of", id="bad-choice"),
        pytest.param(["bench", "--scheme", "random"], "'random' is not one of",
                     id="bad-scheme-choice"),
        pytest.param(["runn", "rules"], "No such command 'runn'", id="unknown-command"),
    ],
)  # fmt: skip
def test_usage_error_prints_one_error_line_and_exits_2(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_guarded(app, args)

    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert expected in err
    assert "Traceback" not in err


def test_usage_error_names_the_help_command_to_run(capsys: pytest.CaptureFixture[str]) -> None:
    run_guarded(app, ["run", "rules", "--concurency", "4"])

    assert "--help)" in capsys.readouterr().err


def test_click_usage_errors_are_handled_too(capsys: pytest.CaptureFixture[str]) -> None:
    """An error class from the standalone click package (older typer) is a usage error too."""
    own = typer.Typer()

    @own.command()
    def fail() -> None:
        raise click.UsageError("bad combination of flags")

    status = run_guarded(own, [])

    assert status == 2
    assert capsys.readouterr().err == "error: bad combination of flags\n"


def test_igent_errors_still_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    status = run_guarded(app, ["run", "no-such-constellation-xyz", "--quiet"])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and "Traceback" not in err


def test_mistyped_flag_in_a_real_process_is_one_line_and_exit_2() -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-m", "igent.cli", "run", "rules", "--concurency", "4"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )

    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: No such option: --concurency")
    assert done.stdout == ""
