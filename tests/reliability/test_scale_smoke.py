"""`benchmarks/scale.py --quick` (1k and 10k registrations) runs end to end in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scale_benchmark_reports_wall_rate_and_peak_rss(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGENT_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick",
         "--json", str(out), "--keep", str(tmp_path / "keep")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())
    assert [row["registrations"] for row in rows] == [1000, 10000]
    for row in rows:
        assert 0 < row["matched"] <= row["registrations"]
        assert row["peak_rss_mib"] > 10 and row["wall_s"] > 0 and row["per_s"] > 0
    assert "peak RSS MiB" in done.stdout
    matches = json.loads((tmp_path / "keep" / "run-10000" / "matches.json").read_text())
    assert len(matches) == 10000
