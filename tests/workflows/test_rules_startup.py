"""A rules-only run loads no LLM SDK, simulator or web framework (start-up is most of it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")
LLM_STACK = ["openai", "fastapi", "uvicorn", "starlette", "igent.sim", "igent.llm.client"]

_PROBE = """
import contextlib, io, json, sys
import typer
from igent.cli.errors import run_guarded
from igent.cli.run import run_command
app = typer.Typer(add_completion=False)
app.command()(run_command)
with contextlib.redirect_stdout(io.StringIO()):
    status = run_guarded(app, sys.argv[1:])
assert status == 0, status
print(json.dumps(sorted(m for m in {stack!r} if m in sys.modules)))
"""


def _loaded_after(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stack=LLM_STACK), *args],
        env={k: v for k, v in os.environ.items() if not k.startswith("IGENT_")}
        | {"PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_a_rules_run_loads_no_llm_stack(tmp_path: Path) -> None:
    out = tmp_path / "run"

    loaded = _loaded_after("rules", "--max-items", "5", "--quiet", "--out", str(out))

    assert loaded == []
    assert (out / "matches.json").exists()


def test_a_mock_model_run_does_load_the_llm_stack(tmp_path: Path) -> None:
    """The probe sees the stack when a run needs it."""
    out = tmp_path / "run"

    loaded = _loaded_after(
        "p1m1_p2m2", "--model", "mock", "--max-items", "2", "--quiet", "--out", str(out)
    )

    assert "igent.sim" in loaded
