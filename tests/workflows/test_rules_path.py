"""The rules-only path prices each order shape once and matches the rules engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from igent.campaign.loader import load_incentives, load_offers, load_registrations
from igent.rules import RulesEngine
from igent.store import OutputLog, SqliteStore, encode_json
from igent.workflows import InputPaths, read_run_config, report, runner
from igent.workflows.report import SummaryBuilder, write_final_outputs
from tests.workflows.conftest import CAMPAIGN_DATE
from tests.workflows.support import read_outputs, rules_reference, run_constellation


def test_rules_run_prices_each_order_shape_once_and_agrees_with_the_engine(
    campaign50: InputPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = rules_reference(campaign50)
    calls: list[str] = []
    price = RulesEngine.price

    def counting_price(self: RulesEngine, registration: object, supplier_id: str) -> object:
        calls.append(supplier_id)
        return price(self, registration, supplier_id)  # type: ignore[arg-type]

    monkeypatch.setattr(RulesEngine, "price", counting_price)

    run_constellation("rules", campaign50, tmp_path)

    matches, orders = read_outputs(tmp_path)
    booked = [m for m in matches if m["status"] == "matched"]
    assert booked and len(booked) == len(orders)
    # a repeated shape (panels, batteries, payment, income class, incentives) is priced once
    engine = RulesEngine(
        load_offers(campaign50.offers), load_incentives(campaign50.incentives), CAMPAIGN_DATE
    )
    registrations = {
        r.registration_id: r.registration for r in load_registrations(campaign50.registrations)
    }
    shapes = {
        engine.price_key(registrations[m["registration_id"]], m["supplier_id"]) for m in booked
    }
    assert len(calls) == len(shapes) <= len(booked)
    expected = {o.decision.registration_id: o.decision.supplier_id for o in reference.outcomes}
    assert {m["registration_id"]: m["supplier_id"] for m in matches} == expected


def test_a_fresh_run_builds_the_same_documents_as_the_ledger_pass(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    """A fresh run writes its final documents as it goes; the ledger pass must agree byte
    for byte (it is what a resume uses)."""
    run_dir = tmp_path / "run"
    summary = run_constellation("rules", campaign50, run_dir)
    config = read_run_config(run_dir)
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    builder = SummaryBuilder()
    with SqliteStore(run_dir / "ledger.sqlite") as store:
        write_final_outputs(store, config["campaign"], config["run_id"], rebuilt, builder)

    for name in ("matches.json", "pos.json", "timings.json", "timings.csv"):
        assert (rebuilt / name).read_bytes() == (run_dir / name).read_bytes(), name
    assert summary["statuses"] == dict(builder.statuses)
    assert summary["timing"] == builder.timing()
    assert summary["accuracy"] == builder.accuracy()
    assert not list(run_dir.glob(".*.tmp"))
    # orders encoded once per shape read exactly as encoding each order would
    lines = (run_dir / "pos.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines and all(encode_json(json.loads(line)) == line for line in lines)


def test_a_run_whose_log_is_out_of_record_order_builds_its_documents_from_the_ledger(
    campaign50: InputPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = report.write_final_outputs

    def from_ledger(*args: Any) -> int:
        built.append("ledger")
        return real(*args)

    monkeypatch.setattr(runner, "write_final_outputs", from_ledger)
    reference = tmp_path / "reference"
    run_constellation("rules", campaign50, reference)
    assert built == []  # in record order: copied from the logs

    append = OutputLog.append

    def reversed_batches(self: OutputLog, decisions: Any) -> None:
        append(self, list(reversed(decisions)))

    monkeypatch.setattr(OutputLog, "append", reversed_batches)
    run_dir = tmp_path / "run"
    run_constellation("rules", campaign50, run_dir)

    assert built == ["ledger"]
    for name in ("matches.json", "pos.json"):
        assert (run_dir / name).read_bytes() == (reference / name).read_bytes(), name
    assert not list(run_dir.glob(".*.tmp"))
