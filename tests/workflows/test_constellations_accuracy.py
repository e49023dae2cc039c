"""Every constellation reproduces the rules engine; validator-gated ones survive wrong answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from igent.workflows import InputPaths, RunOptions, builtin_constellations
from tests.workflows.support import read_outputs, rules_reference, run_constellation

PRICE_FIELDS = ("solar_price", "battery_price", "total_price", "net_price")


@pytest.mark.parametrize("name", sorted(builtin_constellations()))
def test_every_constellation_on_a_faultless_simulator_equals_the_rules_engine(
    name: str, campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run_constellation(name, campaign50, tmp_path)
    reference = rules_reference(campaign50)
    matches, orders = read_outputs(tmp_path)

    assert [m["registration_id"] for m in matches] == [
        o.decision.registration_id for o in reference.outcomes
    ]
    assert [m["supplier_id"] for m in matches] == [
        o.decision.supplier_id for o in reference.outcomes
    ]
    expected_orders = [o.purchase_order for o in reference.outcomes if o.purchase_order]
    assert len(orders) == len(expected_orders) > 0
    for got, expected in zip(orders, expected_orders, strict=True):
        assert got["supplier_id"] == expected.supplier_id
        assert {f: float(got[f]) for f in PRICE_FIELDS} == {
            f: getattr(expected, f) for f in PRICE_FIELDS
        }
        assert [i["name"] for i in got["incentives"]] == [i.name for i in expected.incentives]
    assert summary["accuracy"]["final_supplier"] == 1.0
    assert summary["accuracy"]["final_price"] == 1.0


@pytest.mark.parametrize(
    ("name", "repairs"), [("p1m1v_p2r", True), ("p1m1v_p2m2v", True), ("p1m1v0_p2r", False)]
)
def test_validator_gated_constellations_stay_exact_when_the_matcher_is_wrong_30_percent(
    name: str, repairs: bool, campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run_constellation(name, campaign50, tmp_path, sim_error_rate=0.3)
    reference = rules_reference(campaign50)
    matches, _ = read_outputs(tmp_path)

    assert [m["supplier_id"] for m in matches] == [
        o.decision.supplier_id for o in reference.outcomes
    ]
    assert summary["accuracy"]["final_supplier"] == 1.0
    assert summary["accuracy"]["final_price"] == 1.0
    assert summary["accuracy"]["raw_supplier"] < 0.95
    assert (summary["repairs"] > 0) is repairs
    assert summary["answer_sources"].get("fallback_rules", 0) > 0 or repairs


def test_plan_constellation_trusting_the_model_reports_the_model_errors_it_lets_through(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    options = RunOptions(trust_model=True)
    summary = run_constellation(
        "p1m1_p2m2", campaign50, tmp_path, sim_error_rate=0.3, options=options
    )

    assert summary["accuracy"]["raw_supplier"] < 0.95
    assert summary["accuracy"]["final_supplier"] < 1.0
    assert summary["repairs"] == 0
    assert "validator_override" not in summary["answer_sources"]


def test_plan_constellation_books_nothing_the_validator_rejects_by_default(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run_constellation("p1m1_p2m2", campaign50, tmp_path, sim_error_rate=0.3)
    reference = rules_reference(campaign50)
    matches, _ = read_outputs(tmp_path)

    assert summary["accuracy"]["raw_supplier"] < 0.95
    assert summary["accuracy"]["final_supplier"] == 1.0
    assert summary["accuracy"]["final_price"] == 1.0
    assert summary["answer_sources"]["validator_override"] > 0
    assert [m["supplier_id"] for m in matches] == [
        o.decision.supplier_id for o in reference.outcomes
    ]
    overridden = [m for m in matches if m["source"] == "validator_override"]
    assert all(m["message"].startswith("model chose ") for m in overridden)


def test_audit_constellation_answers_with_rules_and_reports_every_audit(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run_constellation("p1r_audit", campaign50, tmp_path)

    assert summary["answer_sources"] == {"rules": 50}
    assert summary["audits"]["completed"] == 50
    assert summary["audits"]["disagreements"] == []
    assert summary["timing"]["llm_calls"]["sum"] == 0
    # the audits' own model calls are billed and counted in the run's totals
    audited = [json.loads(x) for x in (tmp_path / "audits.jsonl").read_text().splitlines()]
    assert summary["audits"]["calls"] == 50
    assert summary["audits"]["prompt_tokens"] == sum(a["prompt_tokens"] for a in audited) > 0
    assert summary["audits"]["cost_usd"] > 0
    assert summary["cost_usd"] >= summary["audits"]["cost_usd"]
