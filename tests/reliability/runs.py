"""Run the CLI as a subprocess and read a run's ledger and outputs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from igent.campaign.generator import generate_campaign, write_campaign
from igent.workflows import InputPaths

CAMPAIGN_DATE = "2026-06-01"


def make_campaign(
    directory: Path, registrations: int, *, scenario: str = "scarce", seed: int = 5
) -> InputPaths:
    """Write a generated campaign and return its paths."""
    campaign = generate_campaign(
        num_registrations=registrations,
        num_suppliers=3,
        scenario=scenario,  # type: ignore[arg-type]
        seed=seed,
    )
    written = write_campaign(campaign, directory, scenario)
    return InputPaths(written["registrations"], written["offers"], written["incentives"])


def input_args(paths: InputPaths) -> list[str]:
    """The CLI flags naming a campaign's files."""
    return [
        "--registrations",
        str(paths.registrations),
        "--offers",
        str(paths.offers),
        "--incentives",
        str(paths.incentives),
    ]


def start(args: list[str], cwd: Path, *, dated: bool = True) -> subprocess.Popen[str]:
    """Start ``python -m igent.workflows ARGS --quiet`` in the background."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGENT_")}
    extra = ["--campaign-date", CAMPAIGN_DATE] if dated else []
    return subprocess.Popen(
        [sys.executable, "-m", "igent.workflows", *args, "--quiet", *extra],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(args: list[str], cwd: Path, *, dated: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI to the end and return its status and output."""
    process = start(args, cwd, dated=dated)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


# A run's ledger: its SQLite file, or the PostgreSQL URL it was given with --db.
Ledger = Path | str


@dataclass(frozen=True)
class RunLedger:
    """Where a run books: its directory's SQLite file, or PostgreSQL (``--db URL``)."""

    db: str | None

    def args(self) -> list[str]:
        """The CLI flags that make a run (or its resume) book here."""
        return ["--db", self.db] if self.db else []

    def of(self, run_dir: Path) -> Ledger:
        """The ledger a run in ``run_dir`` books in (for committed() and friends)."""
        return self.db or run_dir / "ledger.sqlite"


def _query(ledger: Ledger, sql: str) -> list[tuple[Any, ...]]:
    if isinstance(ledger, str):
        import psycopg

        with psycopg.connect(ledger, autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())
    with sqlite3.connect(ledger, timeout=10) as db:
        return list(db.execute(sql).fetchall())


def committed(ledger: Ledger) -> int:
    """How many decisions the ledger holds (0 while it does not exist yet)."""
    try:
        return int(_query(ledger, "SELECT COUNT(*) FROM decisions")[0][0])
    except Exception:  # sqlite3.Error, or psycopg's UndefinedTable before the migrations
        return 0


def wait_for_commits(ledger: Ledger, count: int, process: subprocess.Popen[str]) -> int:
    """Poll until the ledger holds ``count`` decisions (or the process ended); return it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        found = committed(ledger)
        if found >= count:
            return found
        time.sleep(0.01)
    return committed(ledger)


def booked_per_supplier(ledger: Ledger) -> dict[str, tuple[int, int, int]]:
    """supplier -> (matched decisions, used column, capacity), read from the ledger."""
    rows = _query(
        ledger,
        "SELECT s.supplier_id, "
        "(SELECT COUNT(*) FROM decisions d WHERE d.campaign_id = s.campaign_id AND "
        "d.supplier_id = s.supplier_id AND d.status = 'matched'), s.used, s.capacity "
        "FROM suppliers s",
    )
    return {str(s): (int(n), int(u), int(c)) for s, n, u, c in rows}


def outputs(run_dir: Path) -> tuple[Any, Any]:
    """matches.json and pos.json of a run."""
    return (
        json.loads((run_dir / "matches.json").read_text()),
        json.loads((run_dir / "pos.json").read_text()),
    )
