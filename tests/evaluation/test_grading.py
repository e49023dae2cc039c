"""The grader finds every kind of wrong field in hand-built results."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from igent.agents import match_answer, purchase_order_answer
from igent.campaign import generate_campaign, write_campaign
from igent.errors import ConfigError
from igent.evaluation import grade_results, grade_run, reference_for_inputs
from igent.rules import RulesRun
from igent.workflows import InputPaths, demo_input_paths

DATE = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def reference() -> RulesRun:
    return reference_for_inputs(demo_input_paths(), DATE, max_items=20)


def correct_results(reference: RulesRun) -> list[dict[str, Any]]:
    rows = []
    for outcome in reference.outcomes:
        decision = outcome.decision
        match = {
            **match_answer(decision),
            "supplier_id": decision.supplier_id,
            "status": decision.status,
        }
        po = purchase_order_answer(outcome.purchase_order) if outcome.purchase_order else None
        rows.append(
            {"registration_id": decision.registration_id, "match": match, "purchase_order": po}
        )
    return rows


def _first(rows: list[dict[str, Any]], predicate: Any) -> dict[str, Any]:
    return next(r for r in rows if predicate(r))


def test_grader_passes_the_rules_engines_own_answers(reference: RulesRun) -> None:
    report = grade_results(correct_results(reference), reference)

    assert report.accuracy == 1.0
    assert report.field_accuracy == 1.0
    assert report.diff_rows() == []
    assert report.fields["supplier_id"].checked == 20


def _loan(row: dict[str, Any]) -> bool:
    return bool(row["purchase_order"]) and row["purchase_order"]["payment_type"] == "Loan"


def _battery(row: dict[str, Any]) -> bool:
    return bool(row["purchase_order"]) and row["purchase_order"]["num_batteries"] > 0


def _matched(row: dict[str, Any]) -> bool:
    return bool(row["purchase_order"]) and bool(row["purchase_order"]["incentives"])


def _change(row: dict[str, Any], part: str, key: str, value: Any) -> None:
    target = {
        "row": row,
        "match": row["match"],
        "po": row["purchase_order"],
        "incentive": row["purchase_order"] and row["purchase_order"]["incentives"][0],
    }[part]
    target[key] = value


@pytest.mark.parametrize(
    ("field", "where", "part", "value"),
    [
        pytest.param("supplier_id", _matched, "match", "Nobody", id="supplier"),
        pytest.param("num_panels", _matched, "match", 999, id="panels"),
        pytest.param("num_batteries", _matched, "match", 7, id="batteries"),
        pytest.param("solar_tier_quantity", _matched, "po", 99, id="solar-tier"),
        pytest.param("battery_tier_quantity", _battery, "po", 99, id="battery-tier"),
        pytest.param("solar_price", _matched, "po", 1.0, id="solar-price"),
        pytest.param("battery_price", _battery, "po", 1.0, id="battery-price"),
        pytest.param("total_price", _matched, "po", "$1", id="total-price"),
        pytest.param("net_price", _matched, "po", None, id="net-price"),
        pytest.param("payment_type", _matched, "po", "Barter", id="payment"),
        pytest.param("incentives", _matched, "po", [], id="incentive-missing"),
        pytest.param("incentives", _matched, "incentive", 0.5, id="incentive-amount"),
        pytest.param("interest_rate", _loan, "po", 99.0, id="interest"),
        pytest.param("loan_term_months", _loan, "po", 1, id="term"),
        pytest.param("purchase_order", _matched, "row", None, id="po-missing"),
    ],
)
def test_grader_reports_each_wrong_field(
    reference: RulesRun, field: str, where: Any, part: str, value: Any
) -> None:
    rows = copy.deepcopy(correct_results(reference))
    target = _first(rows, where)
    key = {"row": "purchase_order", "incentive": "amount"}.get(part, field)
    _change(target, part, key, value)

    report = grade_results(rows, reference)

    assert report.correct == report.registrations - 1
    (wrong,) = report.wrong()
    assert wrong.registration_id == target["registration_id"]
    assert field in {d.field for d in wrong.diffs}
    assert report.fields[field].wrong == 1


def test_grader_tolerates_format_noise_but_not_wrong_cents(reference: RulesRun) -> None:
    rows = copy.deepcopy(correct_results(reference))
    target = _first(rows, _matched)
    po = target["purchase_order"]
    total = po["total_price"]
    po["total_price"] = f"${total:,.2f}"
    po["payment_type"] = po["payment_type"].upper()
    assert grade_results(rows, reference).accuracy == 1.0

    po["total_price"] = total + 0.01
    (wrong,) = grade_results(rows, reference).wrong()
    assert [(d.field, d.expected) for d in wrong.diffs] == [("total_price", total)]


def test_grader_counts_a_missing_result_and_leaves_skipped_out(reference: RulesRun) -> None:
    rows = correct_results(reference)
    dropped = rows.pop(0)
    rows.append(
        {"registration_id": "R-extra", "match": {"status": "skipped"}, "purchase_order": None}
    )

    report = grade_results(rows, reference)

    (wrong,) = report.wrong()
    assert wrong.registration_id == dropped["registration_id"]
    assert [d.field for d in wrong.diffs] == ["result"]
    assert report.registrations == 20


def test_grader_reports_an_unexpected_purchase_order(tmp_path: Path) -> None:
    campaign = generate_campaign(num_registrations=12, num_suppliers=2, scenario="scarce", seed=3)
    files = write_campaign(campaign, tmp_path, "scarce")
    paths = InputPaths(files["registrations"], files["offers"], files["incentives"])
    scarce = reference_for_inputs(paths, DATE)
    rows = copy.deepcopy(correct_results(scarce))
    unmatched = next(r for r in rows if r["purchase_order"] is None)
    unmatched["purchase_order"] = {"total_price": 1}

    (wrong,) = grade_results(rows, scarce).wrong()
    assert [d.field for d in wrong.diffs] == ["purchase_order"]


def test_grade_run_needs_a_reference_for_rows() -> None:
    with pytest.raises(ConfigError, match="reference"):
        grade_run([])
