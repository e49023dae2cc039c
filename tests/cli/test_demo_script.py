"""``scripts/demo.sh`` ends by saying how to get the ``igent`` command on PATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Stands in for .venv/bin/python: records its arguments instead of installing or running.
_FAKE_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$(dirname "$0")/../../calls.log"
"""


def test_demo_prints_how_to_put_igent_on_path(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    for name in ("demo.sh", "venv.sh"):
        shutil.copy(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(_FAKE_PYTHON)
    fake.chmod(0o755)

    done = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "demo.sh")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "calls.log").read_text()
    assert "-m igent.workflows p1m1m2c --max-items 5" in calls
    assert "source .venv/bin/activate" in done.stdout
    assert ".venv/bin/igent" in done.stdout


def test_readme_quickstart_says_how_to_get_igent_on_path() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]

    assert "source .venv/bin/activate" in quickstart
    assert ".venv/bin/igent" in quickstart
