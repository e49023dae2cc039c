"""Phase 2 rules (7-9): tiers, price columns, battery line, incentives and net price."""

from __future__ import annotations

import datetime as dt

import pytest

from igent.campaign import generate_campaign
from igent.domain import IncentiveBook, OfferBook, PriceTier
from igent.rules import (
    RulesEngine,
    build_purchase_order,
    choose_tier,
    incentive_amount,
    price_column,
)
from tests.support.factories import (
    CAMPAIGN_DATE,
    MISSING,
    make_engine,
    make_incentive,
    make_incentives,
    make_offers,
    make_record,
    make_registration,
    make_supplier,
    make_tier,
)


def _price(registration, *, supplier=None, incentives=(), campaign_date=CAMPAIGN_DATE):
    supplier = supplier or make_supplier("S1")
    engine = make_engine(make_offers(supplier), make_incentives(*incentives), campaign_date)
    record = make_record(registration)
    return engine.price(record.registration, supplier["SupplierID"])


def _tiers(*quantities: int) -> list[PriceTier]:
    return [PriceTier.model_validate(make_tier(q, q * 100)) for q in quantities]


# --- rule 7: tier -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantities", "requested", "expected_quantity"),
    [
        pytest.param((5, 10, 20), 10, 10, id="exact-quantity"),
        pytest.param((5, 10, 20), 7, 5, id="closest-below"),
        pytest.param((5, 10, 20), 8, 10, id="closest-above"),
        pytest.param((5, 10, 20), 15, 20, id="equidistant-goes-to-larger"),
        pytest.param((20, 10, 5), 15, 20, id="equidistant-goes-to-larger-unsorted"),
        pytest.param((1, 3), 2, 3, id="equidistant-small-quantities"),
        pytest.param((5, 10, 20), 0, 5, id="below-smallest-tier"),
        pytest.param((5, 10, 20), 100, 20, id="above-largest-tier"),
        pytest.param((12,), 1, 12, id="single-tier"),
    ],
)
def test_choose_tier_picks_closest_quantity(quantities, requested, expected_quantity) -> None:
    assert choose_tier(_tiers(*quantities), requested).quantity == expected_quantity


def test_choose_tier_without_tiers_is_an_error() -> None:
    with pytest.raises(ValueError, match="without price tiers"):
        choose_tier([], 3)


@pytest.mark.parametrize(
    ("panels", "expected_tier", "expected_price"),
    [
        pytest.param(12, 10, 10_000, id="12-panels-tier-10"),
        pytest.param(15, 20, 18_000, id="15-panels-equidistant-tier-20"),
        pytest.param(16, 20, 18_000, id="16-panels-tier-20"),
    ],
)
def test_solar_line_uses_tier_closest_to_panel_count(panels, expected_tier, expected_price) -> None:
    order = _price(make_registration(Proposal_OptimalAmountOfPanels=panels))

    (line,) = order.lines
    assert (line.product_type, line.quantity_requested) == ("Solar", panels)
    assert line.tier_quantity == expected_tier
    assert order.solar_price == expected_price


# --- rule 8: payment type and price column ----------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "payment_type", "column", "solar_price"),
    [
        pytest.param({"PaymentType": "Cash"}, "Cash", "CashPrice", 10_000, id="cash"),
        pytest.param({"PaymentType": None}, "Cash", "CashPrice", 10_000, id="null-is-cash"),
        pytest.param({"PaymentType": MISSING}, "Cash", "CashPrice", 10_000, id="missing-is-cash"),
        pytest.param({"PaymentType": ""}, "Cash", "CashPrice", 10_000, id="empty-is-cash"),
        pytest.param({"PaymentType": "Loan"}, "Loan", "LoanInstallment", 100, id="loan"),
        pytest.param({"PaymentType": " loan "}, "Loan", "LoanInstallment", 100, id="loan-any-case"),
        pytest.param(
            {"PaymentType": "Cash", "Contact_LowMediumIncome": 1},
            "Cash",
            "LMICashPrice",
            8_000,
            id="lmi-cash",
        ),
        pytest.param(
            {"PaymentType": "Loan", "Contact_LowMediumIncome": "true"},
            "Loan",
            "LMILoanInstallment",
            80,
            id="lmi-loan",
        ),
    ],
)
def test_payment_type_and_income_choose_price_column(
    overrides, payment_type, column, solar_price
) -> None:
    order = _price(make_registration(**overrides))

    assert order.payment_type == payment_type
    assert order.lines[0].price_column == column
    assert order.solar_price == solar_price


@pytest.mark.parametrize(
    ("payment_type", "tier", "expected_column"),
    [
        pytest.param("Cash", make_tier(10, 100, lmi_cash=0), "CashPrice", id="cash-lmi-zero"),
        pytest.param(
            "Loan", make_tier(10, 100, loan=9, lmi_loan=0), "LoanInstallment", id="loan-lmi-zero"
        ),
        pytest.param("Cash", make_tier(10, 100, lmi_cash=90), "LMICashPrice", id="cash-lmi-set"),
        pytest.param(
            "Loan", make_tier(10, 100, loan=9, lmi_loan=7), "LMILoanInstallment", id="loan-lmi-set"
        ),
    ],
)
def test_lmi_column_replaces_regular_only_when_positive(
    payment_type, tier, expected_column
) -> None:
    assert price_column(payment_type, PriceTier.model_validate(tier), lmi=True) == expected_column


def test_lmi_zero_in_tier_falls_back_to_regular_price_on_the_order() -> None:
    supplier = make_supplier("S1", solar_tiers=[make_tier(10, 10_000, lmi_cash=0)])

    order = _price(make_registration(Contact_LowMediumIncome="1"), supplier=supplier)

    assert order.lines[0].price_column == "CashPrice"
    assert order.solar_price == 10_000


def test_non_lmi_registration_never_gets_lmi_price() -> None:
    order = _price(make_registration(Contact_LowMediumIncome="0"))

    assert order.lines[0].price_column == "CashPrice"
    assert order.low_medium_income is False


def test_loan_reports_supplier_interest_rate_and_term_per_month() -> None:
    supplier = make_supplier("S1", interest_rate="3.9", loan_term_months="180")

    order = _price(make_registration(PaymentType="Loan"), supplier=supplier)

    assert order.interest_rate == 3.9
    assert order.loan_term_months == 180
    assert order.lines[0].price_unit == "per_month"


def test_cash_reports_no_interest_rate_or_term() -> None:
    order = _price(make_registration(PaymentType="Cash"))

    assert order.interest_rate is None
    assert order.loan_term_months is None
    assert order.lines[0].price_unit == "total"


# --- rule 9: battery line, totals --------------------------------------------------------------


@pytest.mark.parametrize(
    ("batteries", "expected_tier", "expected_price"),
    [
        pytest.param(1, 1, 5_000, id="one-battery"),
        pytest.param("2", 2, 9_000, id="two-batteries-as-string"),
        pytest.param(5, 2, 9_000, id="many-batteries-largest-tier"),
    ],
)
def test_battery_line_is_added_and_summed(batteries, expected_tier, expected_price) -> None:
    order = _price(make_registration(Proposal_OptimalAmountOfBatteries=batteries))

    solar, battery = order.lines
    assert battery.product_type == "Battery"
    assert battery.tier_quantity == expected_tier
    assert order.battery_price == expected_price
    assert order.total_price == 10_000 + expected_price
    assert order.net_price == order.total_price


def test_no_battery_line_when_no_batteries_asked() -> None:
    order = _price(make_registration(Proposal_OptimalAmountOfBatteries=0))

    assert [line.product_type for line in order.lines] == ["Solar"]
    assert order.battery_price == 0
    assert order.total_price == order.solar_price


def test_lmi_loan_battery_uses_lmi_installment() -> None:
    order = _price(
        make_registration(
            PaymentType="Loan", Contact_LowMediumIncome=1, Proposal_OptimalAmountOfBatteries=2
        )
    )

    assert [line.price_column for line in order.lines] == ["LMILoanInstallment"] * 2
    assert (order.solar_price, order.battery_price, order.total_price) == (80, 70, 150)


def test_prices_given_as_strings_with_symbols_are_read() -> None:
    supplier = make_supplier("S1", solar_tiers=[make_tier(12, "$15,043.50")])

    order = _price(make_registration(), supplier=supplier)

    assert order.solar_price == 15_043.5


def test_price_with_unknown_supplier_is_an_error() -> None:
    engine = make_engine(make_offers(make_supplier("S1")))

    with pytest.raises(ValueError, match="unknown supplier 'S9'"):
        engine.price(make_record(make_registration()).registration, "S9")


# --- rule 9: incentives ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incentive", "overrides", "expected_amount"),
    [
        pytest.param({"kind": "percent_of_total", "rate": 10}, {}, 1_000, id="percent-of-total"),
        pytest.param(
            {"kind": "percent_of_total", "rate": 10},
            {"Proposal_OptimalAmountOfBatteries": 1},
            1_500,
            id="percent-includes-battery",
        ),
        pytest.param(
            {"kind": "percent_of_total", "rate": 10, "cap": 400}, {}, 400, id="percent-capped"
        ),
        pytest.param(
            {"kind": "percent_of_total", "rate": 12.345}, {}, 1_234.5, id="percent-fraction"
        ),
        pytest.param({"kind": "fixed_amount", "rate": 750}, {}, 750, id="fixed-amount"),
        pytest.param({"kind": "fixed_amount", "rate": 750, "cap": 500}, {}, 500, id="fixed-capped"),
        pytest.param({"kind": "per_watt", "rate": 0.5}, {}, 2_400, id="per-watt-12x400w"),
        pytest.param(
            {"kind": "per_watt", "rate": 0.5, "cap": 1_000}, {}, 1_000, id="per-watt-capped"
        ),
        pytest.param(
            {"kind": "per_watt", "rate": 0.5},
            {"Product_KnowsAmountOfPanels": 1, "Product_AmountOfPanels": 20},
            4_000,
            id="per-watt-uses-known-panels",
        ),
        pytest.param({"kind": "fixed_amount", "rate": 100, "cap": 0}, {}, 0, id="cap-zero"),
    ],
)
def test_incentive_amount_by_kind_and_cap(incentive, overrides, expected_amount) -> None:
    order = _price(
        make_registration(**overrides), incentives=[make_incentive(name="Bonus", **incentive)]
    )

    assert [(i.name, i.amount) for i in order.incentives] == [("Bonus", expected_amount)]
    assert order.net_price == order.total_price - expected_amount


@pytest.mark.parametrize(
    ("panel_watts", "expected_amount"),
    [
        pytest.param("400", 2_400, id="plain-number"),
        pytest.param("400W", 2_400, id="with-unit"),
        pytest.param(" 400 Wp ", 2_400, id="padded-wp"),
        pytest.param("0.4 kW", 2_400, id="kilowatts"),
        pytest.param("", 0, id="unknown-watts"),
    ],
)
def test_per_watt_reads_panel_watts_from_product_capacity(panel_watts, expected_amount) -> None:
    order = _price(
        make_registration(),
        supplier=make_supplier("S1", panel_watts=panel_watts),
        incentives=[make_incentive(kind="per_watt", rate=0.5)],
    )

    assert order.incentives[0].amount == expected_amount


@pytest.mark.parametrize(
    ("incentive", "overrides", "campaign_date", "granted"),
    [
        pytest.param({"communities": "ALL"}, {}, CAMPAIGN_DATE, True, id="all-communities"),
        pytest.param({"communities": ["55101"]}, {}, CAMPAIGN_DATE, True, id="zip-in-communities"),
        pytest.param({"communities": [55101]}, {}, CAMPAIGN_DATE, True, id="numeric-community"),
        pytest.param(
            {"communities": [" 55101 "]},
            {"Contact_Zip": "55101 "},
            CAMPAIGN_DATE,
            True,
            id="communities-trimmed",
        ),
        pytest.param(
            {"communities": ["55102"]}, {}, CAMPAIGN_DATE, False, id="zip-not-in-communities"
        ),
        pytest.param({"communities": []}, {}, CAMPAIGN_DATE, False, id="no-communities"),
        pytest.param(
            {"lmi_only": True},
            {"Contact_LowMediumIncome": 1},
            CAMPAIGN_DATE,
            True,
            id="lmi-only-for-lmi",
        ),
        pytest.param(
            {"lmi_only": True},
            {"Contact_LowMediumIncome": 0},
            CAMPAIGN_DATE,
            False,
            id="lmi-only-not-for-others",
        ),
        pytest.param(
            {"lmi_only": False},
            {"Contact_LowMediumIncome": 1},
            CAMPAIGN_DATE,
            True,
            id="general-also-for-lmi",
        ),
        pytest.param(
            {"valid_from": "2024-06-01"}, {}, CAMPAIGN_DATE, True, id="valid-from-inclusive"
        ),
        pytest.param({"valid_to": "2024-06-01"}, {}, CAMPAIGN_DATE, True, id="valid-to-inclusive"),
        pytest.param({"valid_from": "2024-06-02"}, {}, CAMPAIGN_DATE, False, id="not-yet-valid"),
        pytest.param({"valid_to": "2024-05-31"}, {}, CAMPAIGN_DATE, False, id="expired"),
        pytest.param(
            {"valid_from": "2024-01-01", "valid_to": "2024-12-31"},
            {},
            dt.date(2025, 1, 1),
            False,
            id="campaign-date-after-window",
        ),
    ],
)
def test_incentive_applies_by_community_income_and_date(
    incentive, overrides, campaign_date, granted
) -> None:
    order = _price(
        make_registration(**overrides),
        incentives=[make_incentive(name="Bonus", kind="fixed_amount", rate=100, **incentive)],
        campaign_date=campaign_date,
    )

    assert [i.name for i in order.incentives] == (["Bonus"] if granted else [])


def test_incentives_are_listed_in_file_order_and_all_subtracted() -> None:
    order = _price(
        make_registration(),
        incentives=[
            make_incentive(name="B", kind="fixed_amount", rate=300),
            make_incentive(name="A", kind="percent_of_total", rate=5),
            make_incentive(name="C", kind="fixed_amount", rate=1, communities=["1"]),
        ],
    )

    assert [(i.name, i.amount) for i in order.incentives] == [("B", 300), ("A", 500)]
    assert order.net_price == 10_000 - 800


def test_percent_incentive_is_on_the_total_not_each_incentive_in_turn() -> None:
    order = _price(
        make_registration(),
        incentives=[
            make_incentive(name="A", kind="fixed_amount", rate=5_000),
            make_incentive(name="B", kind="percent_of_total", rate=10),
        ],
    )

    assert [i.amount for i in order.incentives] == [5_000, 1_000]


def test_net_price_never_goes_below_zero() -> None:
    order = _price(
        make_registration(),
        incentives=[
            make_incentive(name="A", kind="fixed_amount", rate=8_000),
            make_incentive(name="B", kind="fixed_amount", rate=5_000),
        ],
    )

    assert [i.amount for i in order.incentives] == [8_000, 5_000]
    assert order.net_price == 0


def test_incentive_amount_is_rounded_to_cents() -> None:
    incentive = make_incentives(make_incentive(rate=1 / 3)).incentives[0]

    assert incentive_amount(incentive, total_price=1_000, installed_watts=0) == 3.33


# --- rule 9: incentives on loans (issue 8, item 17) -------------------------------------------


def _loan_supplier() -> dict:
    return make_supplier(
        "S1",
        solar_tiers=[make_tier(12, 15_043, loan=176.96)],
        battery_tiers=None,
    )


def test_loan_incentives_never_reduce_the_monthly_installment() -> None:
    order = _price(
        make_registration(PaymentType="Loan"),
        supplier=_loan_supplier(),
        incentives=[
            make_incentive(name="State grant", kind="fixed_amount", rate=2_500),
            make_incentive(name="Utility rebate", kind="fixed_amount", rate=1_500),
        ],
    )

    assert order.total_price == 176.96
    assert order.net_price == 176.96
    assert [(i.name, i.amount) for i in order.incentives] == [
        ("State grant", 2_500),
        ("Utility rebate", 1_500),
    ]
    assert order.incentives_total == 4_000


def test_loan_percent_incentive_is_computed_on_the_same_tiers_cash_price() -> None:
    order = _price(
        make_registration(PaymentType="Loan"),
        supplier=_loan_supplier(),
        incentives=[make_incentive(name="Tax credit", kind="percent_of_total", rate=30)],
    )

    assert order.incentives[0].amount == round(15_043 * 0.30, 2)
    assert order.incentives_total == order.incentives[0].amount
    assert order.net_price == order.total_price == 176.96


def test_cash_incentives_total_is_reported_and_subtracted() -> None:
    order = _price(
        make_registration(),
        incentives=[make_incentive(name="A", kind="fixed_amount", rate=300)],
    )

    assert order.incentives_total == 300
    assert order.net_price == order.total_price - 300


def test_engine_price_lists_and_incentive_plan_match_uncached_pricing() -> None:
    """The per-offers-book caches (performance) never change a purchase order."""
    campaign = generate_campaign(num_registrations=300, num_suppliers=5, scenario="diverse", seed=3)
    offers = OfferBook.model_validate(campaign.offers)
    incentives = IncentiveBook.model_validate(campaign.incentives)
    date = dt.date(2026, 6, 1)
    engine = RulesEngine(offers, incentives, date)
    priced = 0
    shapes = set()
    for raw in campaign.registrations:
        record = make_record(raw)
        for supplier in offers.suppliers:
            try:
                uncached = build_purchase_order(record.registration, supplier, incentives, date)
            except ValueError:
                continue
            # the order cache hands a repeated shape back with this registration's id
            assert engine.price(record.registration, supplier.supplier_id) == uncached
            shapes.add(engine.price_key(record.registration, supplier.supplier_id))
            priced += 1
    assert priced > 300
    assert len(shapes) < priced  # shapes repeat: the cache was used
