"""``python -m igent.workflows ... --db postgresql://`` without --workers: the in-process run
books in PostgreSQL; outputs stay in the run directory; --resume needs the same database."""

from __future__ import annotations

import json
from pathlib import Path

from igent.store.backend import open_store
from tests.reliability.runs import (
    booked_per_supplier,
    committed,
    input_args,
    make_campaign,
    outputs,
    run,
)
from tests.support.services import empty_ledger


def test_a_run_with_db_books_in_postgresql_and_writes_outputs_to_its_directory(
    postgres_url: str, tmp_path: Path
) -> None:
    empty_ledger(postgres_url)
    campaign = make_campaign(tmp_path / "data", 40)
    run_dir, reference_dir = tmp_path / "run", tmp_path / "reference"
    reference = run(["rules", *input_args(campaign), "--out", str(reference_dir)], tmp_path)

    done = run(
        ["rules", *input_args(campaign), "--out", str(run_dir), "--db", postgres_url], tmp_path
    )

    assert reference.returncode == 0 and done.returncode == 0, done.stderr
    assert not (run_dir / "ledger.sqlite").exists()
    assert committed(postgres_url) == 40
    assert outputs(run_dir) == outputs(reference_dir)
    for supplier, (matched, used, capacity) in booked_per_supplier(postgres_url).items():
        assert matched == used <= capacity, supplier
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["db"] == postgres_url  # no password in the test URL; see test below
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ledger"] == postgres_url and summary["registrations"] == 40


def test_resume_needs_the_database_the_run_booked_in(postgres_url: str, tmp_path: Path) -> None:
    empty_ledger(postgres_url)
    campaign = make_campaign(tmp_path / "data", 5)
    run_dir = tmp_path / "run"
    first = run(["rules", *input_args(campaign), "--out", str(run_dir), "--db", postgres_url],
                tmp_path)  # fmt: skip

    without = run(["--resume", str(run_dir)], tmp_path, dated=False)
    again = run(["--resume", str(run_dir), "--db", postgres_url], tmp_path, dated=False)

    assert first.returncode == 0, first.stderr
    assert without.returncode == 1
    assert "the run booked in PostgreSQL" in without.stderr
    assert "pass that database with --db URL" in without.stderr
    assert again.returncode == 0, again.stderr
    assert committed(postgres_url) == 5


def test_the_run_directory_keeps_the_database_url_without_its_password(tmp_path: Path) -> None:
    from igent.workflows.run_store import db_label

    assert db_label("postgresql://igent:s3cret@db.example:5432/igent") == (
        "postgresql://igent:***@db.example:5432/igent"
    )


def test_a_password_given_as_a_url_parameter_is_masked_too() -> None:
    from igent.workflows.run_store import db_label

    url = "postgresql://igent@db.example:5432/igent?sslmode=require&password=s3cret&x=1"
    assert db_label(url) == (
        "postgresql://igent@db.example:5432/igent?sslmode=require&password=***&x=1"
    )
    assert "s3cret" not in db_label("postgresql://db.example/igent?PASSWORD=s3cret")
    assert db_label("postgresql://:s3cret@db.example/igent") == "postgresql://:***@db.example/igent"


def test_a_sqlite_db_path_is_the_shared_ledger_file(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path / "data", 5)
    shared = tmp_path / "shared.sqlite"

    done = run(["rules", *input_args(campaign), "--out", str(tmp_path / "run"),
                "--db", str(shared)], tmp_path)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert committed(shared) == 5
    store = open_store(shared)
    try:
        assert store.campaigns() == [campaign.offers.stem]
    finally:
        store.close()
