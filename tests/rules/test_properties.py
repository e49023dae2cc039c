"""Property tests: over random small campaigns, the engine obeys the rules and the validator
accepts exactly the engine's answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from igent.domain import RegistrationRecord
from igent.rules import RulesEngine, validate_match, validate_purchase_order
from tests.support.factories import (
    CAMPAIGN_DATE,
    make_incentive,
    make_incentives,
    make_offers,
    make_record,
    make_registration,
    make_supplier,
    make_tier,
    match_answer,
    po_answer,
)

ZIP_POOL = ("55101", "55102", "55103", "55104", "55105", "55106")
UNSERVED_ZIP = "99999"
PROPERTY_SETTINGS = settings(max_examples=80, deadline=None)


@dataclass(frozen=True)
class Campaign:
    """A generated campaign: raw offers, the engine over them, records and a starting state."""

    suppliers: list[dict[str, Any]]
    engine: RulesEngine
    records: list[RegistrationRecord]
    start_used: dict[str, int]


@st.composite
def tiers(draw: st.DrawFn, *, max_quantity: int) -> list[dict[str, Any]]:
    quantities = draw(st.lists(st.integers(1, max_quantity), min_size=1, max_size=3, unique=True))
    money = st.integers(0, 40_000).map(lambda cents: cents / 4)
    return [
        make_tier(
            q,
            draw(money),
            lmi_cash=draw(st.sampled_from([0, draw(money)])),
            loan=draw(money),
            lmi_loan=draw(st.sampled_from([0, draw(money)])),
        )
        for q in quantities
    ]


@st.composite
def suppliers(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 5))
    result = []
    for number in range(1, count + 1):
        zips = draw(st.lists(st.sampled_from(ZIP_POOL), min_size=1, max_size=6, unique=True))
        # Exports write ZIPs as strings, sometimes padded, sometimes as numbers.
        zips = [draw(st.sampled_from([z, f" {z} ", int(z)])) for z in zips]
        # Now and then a supplier has no Solar product, or one without price tiers.
        solar = draw(st.sampled_from([None, [], "tiers", "tiers", "tiers", "tiers"]))
        if solar == "tiers":
            solar = draw(tiers(max_quantity=30))
        battery = draw(st.one_of(st.none(), st.just([]), tiers(max_quantity=4)))
        result.append(
            make_supplier(
                f"S{number}",
                capacity=draw(st.integers(0, 6)),
                zips=zips,
                solar_tiers=solar,
                battery_tiers=battery,
                panel_watts=draw(st.sampled_from(["400", "350W", "0.41 kW"])),
                interest_rate=draw(st.sampled_from([3.5, 4.9, None])),
                loan_term_months=draw(st.sampled_from([60, 120, None])),
            )
        )
    return result


@st.composite
def incentives(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 3))
    day = st.integers(-3, 3).map(lambda d: (CAMPAIGN_DATE + dt.timedelta(days=d)).isoformat())
    result = []
    for number in range(count):
        kind = draw(st.sampled_from(["percent_of_total", "fixed_amount", "per_watt"]))
        rate = {
            "percent_of_total": st.integers(0, 50),
            "fixed_amount": st.integers(0, 20_000),
            "per_watt": st.sampled_from([0.1, 0.25, 1.0]),
        }[kind]
        valid_from, valid_to = sorted(draw(st.lists(day, min_size=2, max_size=2)))
        result.append(
            make_incentive(
                name=f"Incentive {number}",
                kind=kind,
                rate=draw(rate),
                cap=draw(st.one_of(st.none(), st.integers(0, 5_000))),
                communities=draw(
                    st.one_of(st.just("ALL"), st.lists(st.sampled_from(ZIP_POOL), max_size=3))
                ),
                lmi_only=draw(st.booleans()),
                valid_from=draw(st.sampled_from([None, valid_from])),
                valid_to=draw(st.sampled_from([None, valid_to])),
            )
        )
    return result


@st.composite
def registrations(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 25))
    panels = st.one_of(
        st.integers(1, 30), st.integers(1, 30).map(str), st.sampled_from([None, "", 0, -1])
    )
    return [
        make_registration(
            RegistrationNumber=f"R-{index}",
            Contact_Zip=draw(st.sampled_from([*ZIP_POOL, UNSERVED_ZIP])),
            Product_KnowsAmountOfPanels=draw(st.sampled_from(["0", "1", 1, "true", None])),
            Product_AmountOfPanels=draw(panels),
            Proposal_OptimalAmountOfPanels=draw(panels),
            Proposal_OptimalAmountOfBatteries=draw(
                st.sampled_from([0, 0, 0, 1, 2, "2", "", None, "abc"])
            ),
            Contact_LowMediumIncome=draw(st.sampled_from([0, 1, "1", "0"])),
            PaymentType=draw(st.sampled_from(["Cash", "Loan", "loan", None])),
        )
        for index in range(count)
    ]


@st.composite
def campaigns(draw: st.DrawFn) -> Campaign:
    raw_suppliers = draw(suppliers())
    engine = RulesEngine(
        make_offers(*raw_suppliers), make_incentives(*draw(incentives())), CAMPAIGN_DATE
    )
    records = [make_record(raw, index) for index, raw in enumerate(draw(registrations()))]
    start_used = {
        s["SupplierID"]: draw(st.integers(0, s["Capacity"]))
        for s in raw_suppliers
        if draw(st.booleans())
    }
    return Campaign(raw_suppliers, engine, records, start_used)


# --- an independent reading of rules 2-5, straight from the raw export ----------------------


def _has_tiers(supplier: dict[str, Any], product_type: str) -> bool:
    return any(o["ProductType"] == product_type and o["ProductPrices"] for o in supplier["Offers"])


def _serves(supplier: dict[str, Any], zip_code: str) -> bool:
    return zip_code.strip() in {str(z).strip() for z in supplier["ServiceAreas"]}


def _reference_choice(
    raw_suppliers: list[dict[str, Any]], record: RegistrationRecord, used: dict[str, int]
) -> tuple[str | None, str | None]:
    """Return (supplier_id, no-match reason) as rules 1-5 state them."""
    registration = record.registration
    if registration is None or registration.num_panels is None:
        return None, "invalid_registration"
    batteries = registration.num_batteries
    candidates = [s for s in raw_suppliers if _serves(s, registration.zip_code)]
    if not candidates:
        return None, "zip_not_served"
    with_room = [s for s in candidates if used.get(s["SupplierID"], 0) < s["Capacity"]]
    eligible = [
        s
        for s in with_room
        if _has_tiers(s, "Solar") and (batteries == 0 or _has_tiers(s, "Battery"))
    ]
    if not eligible:
        return None, "product_unavailable" if with_room else "no_capacity"

    def rank(position_and_supplier: tuple[int, dict[str, Any]]) -> tuple[Fraction, int, int]:
        position, supplier = position_and_supplier
        supplier_used, capacity = used.get(supplier["SupplierID"], 0), supplier["Capacity"]
        return Fraction(supplier_used, capacity), -(capacity - supplier_used), position

    _, best = min(enumerate(eligible), key=rank)
    return best["SupplierID"], None


def _walk(campaign: Campaign):
    """Yield (record, outcome, capacity used before it) for a whole run."""
    run = campaign.engine.run(campaign.records, campaign.start_used)
    used = dict(campaign.start_used)
    for record, outcome in zip(campaign.records, run.outcomes, strict=True):
        yield record, outcome, dict(used)
        if outcome.decision.supplier_id is not None:
            used[outcome.decision.supplier_id] = used.get(outcome.decision.supplier_id, 0) + 1
    assert used == run.capacity_used


# --- engine properties ----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(campaigns())
def test_engine_choice_matches_the_rules_for_every_registration(campaign: Campaign) -> None:
    for record, outcome, used in _walk(campaign):
        expected = _reference_choice(campaign.suppliers, record, used)
        decision = outcome.decision
        assert (decision.supplier_id, decision.reason) == expected
        assert (outcome.purchase_order is not None) == decision.is_match


@PROPERTY_SETTINGS
@given(campaigns())
def test_engine_only_picks_eligible_supplier_with_lowest_used_pct(campaign: Campaign) -> None:
    for record, outcome, used in _walk(campaign):
        chosen_id = outcome.decision.supplier_id
        if chosen_id is None:
            continue
        registration = record.registration
        chosen = campaign.engine.supplier(chosen_id)
        assert _serves(campaign.suppliers[int(chosen_id[1:]) - 1], registration.zip_code)
        assert used.get(chosen_id, 0) < chosen.capacity
        assert chosen.product("Solar") is not None
        assert registration.num_batteries == 0 or chosen.product("Battery") is not None
        eligible = [
            s
            for s in campaign.engine.suppliers_for_zip(registration.zip_code)
            if used.get(s.supplier_id, 0) < s.capacity
            and s.product("Solar") is not None
            and (registration.num_batteries == 0 or s.product("Battery") is not None)
        ]
        lowest = min(Fraction(used.get(s.supplier_id, 0), s.capacity) for s in eligible)
        assert Fraction(used.get(chosen_id, 0), chosen.capacity) == lowest


@PROPERTY_SETTINGS
@given(campaigns())
def test_run_never_exceeds_any_capacity(campaign: Campaign) -> None:
    run = campaign.engine.run(campaign.records, campaign.start_used)

    for supplier in campaign.engine.offers.suppliers:
        assert run.capacity_used.get(supplier.supplier_id, 0) <= supplier.capacity
    matched = sum(o.decision.is_match for o in run.outcomes)
    assert sum(run.capacity_used.values()) == sum(campaign.start_used.values()) + matched


@PROPERTY_SETTINGS
@given(campaigns())
def test_purchase_order_adds_up(campaign: Campaign) -> None:
    for _, outcome, _ in _walk(campaign):
        order = outcome.purchase_order
        if order is None:
            continue
        assert order.total_price == round(order.solar_price + order.battery_price, 2)
        granted = sum(i.amount for i in order.incentives)
        assert order.incentives_total == round(granted, 2)
        if order.payment_type == "Loan":
            # Incentives never reduce a monthly installment (issue 8, item 17).
            assert order.net_price == order.total_price
        else:
            assert order.net_price == round(max(0.0, order.total_price - granted), 2)
        assert order.net_price >= 0
        assert len(order.lines) == (2 if order.num_batteries > 0 else 1)
        assert (order.interest_rate, order.loan_term_months) == (
            (None, None)
            if order.payment_type == "Cash"
            else (
                campaign.engine.supplier(order.supplier_id).interest_rate,
                campaign.engine.supplier(order.supplier_id).loan_term_months,
            )
        )


# --- validator properties -------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(campaigns())
def test_validator_accepts_every_engine_answer(campaign: Campaign) -> None:
    engine = campaign.engine
    for record, outcome, used in _walk(campaign):
        match_report = validate_match(engine, record, used, match_answer(outcome.decision))
        assert match_report.is_valid, match_report.violations
        if outcome.purchase_order is not None:
            supplier_id = outcome.purchase_order.supplier_id
            answer = po_answer(outcome.purchase_order)
            po_report = validate_purchase_order(engine, record, supplier_id, answer)
            assert po_report.is_valid, po_report.violations


def _match_corruptions(campaign: Campaign, answer: dict[str, Any], is_match: bool):
    for supplier in campaign.suppliers:
        if supplier["SupplierID"] != answer["supplier_id"]:
            yield "supplier", answer | {"supplier_id": supplier["SupplierID"]}
    if is_match:
        yield "no match", answer | {"supplier_id": "NO MATCH FOUND"}
        yield "num_panels", answer | {"num_panels": answer["num_panels"] + 1}
        yield "num_batteries", answer | {"num_batteries": answer["num_batteries"] + 1}


def _po_corruptions(answer: dict[str, Any]):
    for field in ("solar_price", "battery_price", "total_price", "net_price"):
        yield field, answer | {field: answer[field] + 1}
    yield "num_panels", answer | {"num_panels": answer["num_panels"] + 1}
    yield "supplier_id", answer | {"supplier_id": answer["supplier_id"] + "X"}
    other = "Loan" if answer["payment_type"] == "Cash" else "Cash"
    yield "payment_type", answer | {"payment_type": other}
    yield (
        "extra incentive",
        answer | {"incentives": [*answer["incentives"], {"name": "Made up", "amount": 1}]},
    )
    for position, incentive in enumerate(answer["incentives"]):
        others = answer["incentives"][:position] + answer["incentives"][position + 1 :]
        yield f"missing {incentive['name']}", answer | {"incentives": others}
        wrong = {"name": incentive["name"], "amount": incentive["amount"] + 1}
        yield (
            f"wrong {incentive['name']}",
            answer | {"incentives": [*others[:position], wrong, *others[position:]]},
        )


@PROPERTY_SETTINGS
@given(campaigns())
def test_validator_rejects_every_single_field_corruption(campaign: Campaign) -> None:
    engine = campaign.engine
    for record, outcome, used in _walk(campaign):
        answer = match_answer(outcome.decision)
        for what, corrupted in _match_corruptions(campaign, answer, outcome.decision.is_match):
            report = validate_match(engine, record, used, corrupted)
            assert not report.is_valid, f"accepted a wrong {what}: {corrupted}"
            assert report.violations
        if outcome.purchase_order is None:
            continue
        supplier_id = outcome.purchase_order.supplier_id
        for what, corrupted in _po_corruptions(po_answer(outcome.purchase_order)):
            report = validate_purchase_order(engine, record, supplier_id, corrupted)
            assert not report.is_valid, f"accepted a wrong {what}: {corrupted}"
