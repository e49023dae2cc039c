"""Ctrl-C and ``Interrupted`` end the CLI with exit status 130 and say so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from igent.cli.errors import run_guarded
from igent.errors import IgentError, Interrupted

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _app_raising(exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def work() -> None:
        raise exc

    return app


def test_ctrl_c_inside_a_command_exits_130_saying_interrupted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = run_guarded(_app_raising(KeyboardInterrupt()), [])

    assert status == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_interrupted_error_prints_its_message_and_exits_130(
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = "interrupted: 3 of 10 done; continue with igent run --resume runs/x"

    status = run_guarded(_app_raising(Interrupted(message)), [])

    assert status == 130
    assert capsys.readouterr().err == message + "\n"


def test_interrupted_is_an_igent_error() -> None:
    assert issubclass(Interrupted, IgentError)


def test_sigint_to_a_running_igent_run_exits_130(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC, "IGENT_RUNS_DIR": str(tmp_path)}
    command = [
        sys.executable, "-m", "igent.cli", "run", "p1m1m2c", "--model", "sim",
        "--time-scale", "1", "--max-items", "40", "--quiet",
    ]  # fmt: skip
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stderr is not None
        # The run announces itself before it starts work; at time scale 1 it then runs for
        # far longer than the signal takes to arrive.
        for line in process.stderr:
            if line.startswith("igent: p1m1m2c"):
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
