"""The task message protocol round-trips, and prompts can come from a user directory."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from igent.agents import (
    PREDECESSOR_VARIANT,
    Task,
    find_task,
    load_prompt,
    parse_task,
    render_task,
)
from igent.errors import ConfigError

OFFER = {
    "SupplierID": "S1",
    "Capacity": 3,
    "InterestRate": 4.5,
    "LoanTermMonths": 120,
    "ServiceAreas": ["55101"],
    "Offers": [
        {
            "ProductType": "Solar",
            "ProductName": "Panel",
            "ProductCapacity": "400 W",
            "ProductPrices": [{"Quantity": 10, "CashPrice": 9000, "LoanInstallment": 80}],
        }
    ],
}
TASK = Task(
    kind="review_price",
    registration={"RegistrationNumber": "R-1", "Contact_Zip": "55101", "Extra": None},
    suppliers=[OFFER],
    capacity=[{"supplier_id": "S1", "used": 1, "capacity": 3, "used_pct": 0.333333}],
    campaign_date=dt.date(2026, 6, 1),
    incentives=[{"name": "Fed", "communities": "ALL", "kind": "fixed_amount", "rate": 100}],
    match={"supplier_id": "S1"},
    proposal={"supplier_id": "S1", "total_price": "$1,000"},
)


def test_render_then_parse_keeps_what_the_pricing_decision_needs() -> None:
    parsed = parse_task(render_task(TASK))

    assert parsed.kind == TASK.kind
    assert parsed.registration == {"RegistrationNumber": "R-1", "Contact_Zip": "55101"}
    assert [s["SupplierID"] for s in parsed.suppliers] == ["S1"]
    assert parsed.suppliers[0]["Offers"][0]["ProductCapacity"] == 400.0
    assert parsed.campaign_date == TASK.campaign_date
    assert parsed.incentives == [
        {"name": "Fed", "lmi_only": False, "kind": "fixed_amount", "rate": 100.0}
    ]
    assert parsed.match == TASK.match and parsed.proposal == TASK.proposal


def test_a_match_task_sends_candidates_not_offers() -> None:
    task = Task(
        kind="match",
        registration={"RegistrationNumber": "R-1", "Contact_Zip": "55101"},
        suppliers=[OFFER],
        capacity=[{"supplier_id": "S1", "used": 1, "capacity": 3, "used_pct": 0.333333}],
    )

    text = render_task(task)
    parsed = parse_task(text)

    assert parsed.candidates == [
        {"supplier_id": "S1", "products": ["Solar"], "used": 1, "capacity": 3, "used_pct": 0.333333}
    ]
    assert parsed.capacity_used == {"S1": 1}
    assert "ServiceAreas" not in text and "ProductPrices" not in text and "9000" not in text


def test_find_task_takes_the_last_user_message_that_carries_one() -> None:
    match_task = Task(kind="match", registration={"RegistrationNumber": "R-1"}, suppliers=[])
    messages = [
        {"role": "system", "content": "you match"},
        {"role": "user", "content": render_task(match_task)},
        {"role": "assistant", "content": '{"supplier_id": "S1"}'},
        {"role": "user", "content": render_task(TASK)},
        {"role": "user", "content": "please hurry"},
    ]

    found = find_task(messages)

    assert found is not None and found.kind == "review_price"


def test_parse_task_rejects_an_unknown_task_kind() -> None:
    with pytest.raises(ValueError, match="TASK is 'haggle'"):
        parse_task('### TASK\n"haggle"\n### REGISTRATION\n{}')


def test_prompts_from_a_user_directory_win_over_the_packaged_ones(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "matcher.txt").write_text("Custom matcher prompt.\n")

    assert load_prompt("matcher", "default", tmp_path) == "Custom matcher prompt."
    assert "price tiers" in load_prompt("pricer", "default", tmp_path)


def test_an_unknown_prompt_variant_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="variant 'battery-only' not found"):
        load_prompt("matcher", "battery-only")


def test_pricing_tasks_put_the_suppliers_tiers_before_the_registration() -> None:
    def price_task(registration_id: str, zip_code: str) -> str:
        registration = {"RegistrationNumber": registration_id, "Contact_Zip": zip_code}
        return render_task(
            Task(
                kind="price",
                registration=registration,
                suppliers=[OFFER],
                campaign_date=dt.date(2026, 6, 1),
                match={"supplier_id": "S1"},
            )
        )

    first, second = price_task("R-1", "55101"), price_task("R-2", "55102")
    shared = len(os.path.commonprefix([first, second]))

    assert first.index("### SUPPLIER\n") < first.index("### REGISTRATION") <= shared
    assert "9000" in first[:shared] and "R-1" not in first[:shared]


MATCH_TASK = Task(
    kind="match",
    registration={"RegistrationNumber": "R-1", "Contact_Zip": "55101"},
    suppliers=[OFFER],
    capacity=[{"supplier_id": "S1", "used": 1, "capacity": 3, "used_pct": 0.333333}],
)


def test_without_the_diet_a_match_task_sends_the_whole_offers_and_capacity() -> None:
    dieted, whole = render_task(MATCH_TASK), render_task(MATCH_TASK, diet=False)
    parsed = parse_task(whole)

    assert "### SUPPLIERS" in whole and "### CAPACITY" in whole and "### CANDIDATES" not in whole
    assert '"ServiceAreas":["55101"]' in whole and '"CashPrice":9000' in whole
    assert len(whole) > len(dieted)
    assert [s["SupplierID"] for s in parsed.suppliers] == ["S1"]
    assert parsed.capacity_used == {"S1": 1}
    assert whole.index("### SUPPLIERS") < whole.index("### REGISTRATION")


@pytest.mark.parametrize(
    ("task", "diet", "static_block"),
    [
        pytest.param(MATCH_TASK, False, "### SUPPLIERS", id="predecessor-match"),
        pytest.param(
            Task(
                kind="price",
                registration={"RegistrationNumber": "R-1", "Contact_Zip": "55101"},
                suppliers=[OFFER],
                campaign_date=dt.date(2026, 6, 1),
                match={"supplier_id": "S1"},
            ),
            True,
            "### SUPPLIER\n",
            id="price",
        ),
    ],
)
def test_registration_first_order_puts_the_registration_before_the_static_blocks(
    task: Task, diet: bool, static_block: str
) -> None:
    static_first = render_task(task, diet=diet)
    registration_first = render_task(task, diet=diet, order="registration-first")

    assert static_first.index(static_block) < static_first.index("### REGISTRATION")
    assert registration_first.index("### REGISTRATION") < registration_first.index(static_block)
    assert sorted(static_first.splitlines()) == sorted(registration_first.splitlines())
    assert parse_task(registration_first) == parse_task(static_first)


def test_the_dieted_match_task_is_the_same_in_either_order() -> None:
    # No block of a dieted match task is shared across registrations: nothing to move.
    assert render_task(MATCH_TASK, order="registration-first") == render_task(MATCH_TASK)


def test_the_predecessor_matcher_prompt_reads_suppliers_and_capacity() -> None:
    prompt = load_prompt("matcher", PREDECESSOR_VARIANT)

    assert "SUPPLIERS" in prompt and "CAPACITY" in prompt and "DATA" in prompt
