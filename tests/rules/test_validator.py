"""The programmatic critic: accept the engine's answers in LLM format, reject and explain errors."""

from __future__ import annotations

import pytest

from igent.agents import purchase_order_answer
from igent.rules import validate_match, validate_purchase_order
from tests.support.factories import (
    CAMPAIGN_DATE,
    make_engine,
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

# S1 (1 of 4 used) beats S2 (5 of 10); S3 serves another ZIP; S4 is full.
CAPACITY_USED = {"S1": 1, "S2": 5, "S4": 2}
SOLAR_TIERS = [
    make_tier(12, 15_043, lmi_cash=14_030, loan=125.36, lmi_loan=110.5),
    make_tier(20, 22_000, lmi_cash=20_000, loan=180, lmi_loan=160),
]
BATTERY_TIERS = [make_tier(1, 6_000, lmi_cash=5_000, loan=50, lmi_loan=45)]


@pytest.fixture
def engine():
    offers = make_offers(
        make_supplier("S1", 4, ["55101"], solar_tiers=SOLAR_TIERS, battery_tiers=BATTERY_TIERS),
        make_supplier("S2", 10, ["55101"]),
        make_supplier("S3", 10, ["55102"]),
        make_supplier("S4", 2, ["55101"]),
    )
    incentives = make_incentives(
        make_incentive(name="City rebate", kind="fixed_amount", rate=500, communities=["55101"]),
        make_incentive(name="State credit", kind="percent_of_total", rate=10, cap=1_000),
        make_incentive(name="LMI grant", kind="fixed_amount", rate=2_000, lmi_only=True),
    )
    return make_engine(offers, incentives)


@pytest.fixture
def record():
    return make_record(make_registration(RegistrationNumber="R-1"))


def _expected_match(engine, record):
    return match_answer(engine.match(record, CAPACITY_USED))


def _expected_po(engine, record, supplier_id="S1"):
    return po_answer(engine.price(record.registration, supplier_id))


def _violations(report) -> str:
    assert not report.is_valid
    return "\n".join(report.violations)


# --- match: accepted ------------------------------------------------------------------------


def test_match_validator_accepts_the_engines_own_match(engine, record) -> None:
    answer = _expected_match(engine, record)

    report = validate_match(engine, record, CAPACITY_USED, answer)

    assert answer["supplier_id"] == "S1"
    assert report.is_valid, report.violations
    assert report.feedback() == "APPROVE"


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            {"SupplierID": "S1", "RegistrationNumber": "R-1", "NumPanels": 12, "NumBatteries": 0},
            id="pascal-case-keys",
        ),
        pytest.param(
            {"supplier_id": " S1 ", "num_panels": "12", "num_batteries": "0"},
            id="numbers-as-strings-and-padded-id",
        ),
        pytest.param(
            {
                "match": {
                    "registration_id": "R-1",
                    "supplier_id": "S1",
                    "num_panels": 12.0,
                    "num_batteries": 0,
                }
            },
            id="wrapped-in-match",
        ),
        pytest.param(
            {"Supplier": "S1", "Number of panels": 12, "batteries": 0, "note": "lowest pct"},
            id="alias-keys-and-extra-key",
        ),
    ],
)
def test_match_validator_tolerates_format_noise(engine, record, answer) -> None:
    report = validate_match(engine, record, CAPACITY_USED, answer)

    assert report.is_valid, report.violations


@pytest.mark.parametrize(
    "no_match",
    [
        pytest.param("NO MATCH FOUND", id="canonical"),
        pytest.param("no match", id="lowercase-short"),
        pytest.param("NO_MATCH_FOUND", id="underscores"),
        pytest.param(None, id="null"),
    ],
)
def test_match_validator_accepts_no_match_when_there_is_none(engine, no_match) -> None:
    record = make_record(make_registration(Contact_Zip="99999"))

    report = validate_match(engine, record, CAPACITY_USED, {"supplier_id": no_match})

    assert report.is_valid, report.violations


def test_match_validator_accepts_no_match_for_invalid_registration(engine) -> None:
    record = make_record(make_registration(Proposal_OptimalAmountOfBatteries="abc"))

    answer = match_answer(engine.match(record, CAPACITY_USED))

    assert answer["supplier_id"] == "NO MATCH FOUND"
    assert validate_match(engine, record, CAPACITY_USED, answer).is_valid


# --- match: rejected ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("supplier_id", "expected_parts"),
    [
        pytest.param("S3", ["'S3'", "does not serve ZIP 55101"], id="zip-not-served"),
        pytest.param("S2", ["'S2'", "'S1'", "0.5000", "0.2500"], id="higher-used-pct"),
        pytest.param("S4", ["'S4'", "no capacity left: used 2 of 2"], id="no-capacity"),
        pytest.param("S9", ["'S9'", "not in the offers file", "S1, S2, S4"], id="unknown"),
        pytest.param("NO MATCH FOUND", ["NO MATCH FOUND is wrong", "'S1'"], id="no-match-wrong"),
    ],
)
def test_match_validator_rejects_wrong_supplier_and_names_it(
    engine, record, supplier_id, expected_parts
) -> None:
    answer = _expected_match(engine, record) | {"supplier_id": supplier_id}

    message = _violations(validate_match(engine, record, CAPACITY_USED, answer))

    for part in expected_parts:
        assert part in message


def test_match_validator_rejects_supplier_without_battery_product(engine) -> None:
    record = make_record(make_registration(Proposal_OptimalAmountOfBatteries=1))
    offers = make_offers(
        make_supplier("S1", 10, battery_tiers=None), make_supplier("S2", 10, battery_tiers=None)
    )
    engine = make_engine(offers)

    message = _violations(
        validate_match(engine, record, {}, {"supplier_id": "S1", "num_panels": 12})
    )

    assert "'S1'" in message
    assert "Battery" in message


def test_match_validator_rejects_any_supplier_for_invalid_registration(engine) -> None:
    record = make_record(make_registration(Proposal_OptimalAmountOfBatteries="abc"))

    message = _violations(validate_match(engine, record, CAPACITY_USED, {"supplier_id": "S1"}))

    assert "expected NO MATCH FOUND" in message
    assert "Proposal_OptimalAmountOfBatteries" in message


@pytest.mark.parametrize(
    ("change", "expected_part"),
    [
        pytest.param({"num_panels": 11}, "num_panels is 11, expected 12", id="wrong-panels"),
        pytest.param({"num_batteries": 1}, "num_batteries is 1, expected 0", id="wrong-batteries"),
        pytest.param({"registration_id": "R-2"}, "'R-2'", id="wrong-registration"),
    ],
)
def test_match_validator_rejects_wrong_field(engine, record, change, expected_part) -> None:
    answer = _expected_match(engine, record) | change

    assert expected_part in _violations(validate_match(engine, record, CAPACITY_USED, answer))


@pytest.mark.parametrize(
    ("missing", "expected_part"),
    [
        pytest.param("supplier_id", "field 'supplier_id' is missing", id="supplier"),
        pytest.param("num_panels", "field 'num_panels' is missing; expected 12", id="panels"),
    ],
)
def test_match_validator_rejects_missing_field(engine, record, missing, expected_part) -> None:
    answer = _expected_match(engine, record)
    del answer[missing]

    assert expected_part in _violations(validate_match(engine, record, CAPACITY_USED, answer))


@pytest.mark.parametrize("answer", [["S1"], "S1", None], ids=["list", "string", "null"])
def test_match_validator_rejects_a_reply_that_is_not_an_object(engine, record, answer) -> None:
    assert "must be a JSON object" in _violations(
        validate_match(engine, record, CAPACITY_USED, answer)
    )


def test_match_validator_uses_the_capacity_state_it_is_given(engine, record) -> None:
    answer = _expected_match(engine, record) | {"supplier_id": "S2"}

    assert validate_match(engine, record, {"S1": 3, "S2": 0, "S4": 2}, answer).is_valid
    assert not validate_match(engine, record, CAPACITY_USED, answer).is_valid


# --- purchase order: accepted ---------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="cash"),
        pytest.param({"PaymentType": "Loan"}, id="loan"),
        pytest.param({"Contact_LowMediumIncome": 1}, id="lmi-cash"),
        pytest.param({"PaymentType": "Loan", "Contact_LowMediumIncome": 1}, id="lmi-loan"),
        pytest.param({"Proposal_OptimalAmountOfBatteries": 1}, id="with-battery"),
        pytest.param({"Contact_Zip": "55102"}, id="other-zip-fewer-incentives"),
    ],
)
def test_po_validator_accepts_the_engines_own_purchase_order(engine, overrides) -> None:
    record = make_record(make_registration(**overrides))
    supplier_id = "S3" if overrides.get("Contact_Zip") == "55102" else "S1"
    answer = _expected_po(engine, record, supplier_id)

    report = validate_purchase_order(engine, record, supplier_id, answer)

    assert report.is_valid, report.violations


def test_po_validator_tolerates_format_noise(engine, record) -> None:
    answer = {
        "purchase_order": {
            "RegistrationNumber": "R-1",
            "SupplierID": "S1",
            "NumPanels": "12",
            "NumBatteries": 0,
            "PaymentType": "cash",
            "SolarPrice": "$15,043",
            "BatteryPrice": "0.00",
            "TotalPrice": "15043.00",
            "Incentives": [
                {"Name": "City rebate", "Amount": "$500"},
                {"name": "State credit", "amount": 1_000.0},
            ],
            "NetPrice": "13,543",
        }
    }

    report = validate_purchase_order(engine, record, "S1", answer)

    assert report.is_valid, report.violations


def test_po_validator_accepts_missing_battery_price_without_batteries(engine, record) -> None:
    answer = _expected_po(engine, record)
    del answer["battery_price"]

    assert validate_purchase_order(engine, record, "S1", answer).is_valid


def test_po_validator_does_not_require_loan_terms_for_cash(engine, record) -> None:
    answer = _expected_po(engine, record)
    del answer["interest_rate"], answer["loan_term_months"]

    assert validate_purchase_order(engine, record, "S1", answer).is_valid


# --- purchase order: rejected ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected_part"),
    [
        pytest.param(
            {"solar_price": 14_030},
            "solar_price for 12 panels cash (tier 12, CashPrice) is 15043, not 14030",
            id="wrong-solar-price",
        ),
        pytest.param(
            {"solar_price": "15,043.01"}, "is 15043, not 15,043.01", id="solar-price-off-by-a-cent"
        ),
        pytest.param(
            {"battery_price": 6_000},
            "battery_price for 0 batteries cash is 0, not 6000",
            id="battery-price-without-battery",
        ),
        pytest.param(
            {"total_price": 15_000},
            "total_price (solar_price + battery_price) is 15043, not 15000",
            id="wrong-total",
        ),
        pytest.param(
            {"net_price": 15_043},
            "net_price (total_price minus incentives, not below 0) is 13543, not 15043",
            id="net-price-ignores-incentives",
        ),
        pytest.param(
            {"net_price": None},
            "net_price (total_price minus incentives, not below 0) is 13543, missing",
            id="net-price-null",
        ),
        pytest.param(
            {"payment_type": "Loan"},
            "payment_type is 'Loan', expected 'Cash'",
            id="wrong-payment-type",
        ),
        pytest.param({"num_panels": 20}, "num_panels is 20, expected 12", id="wrong-panels"),
        pytest.param(
            {"supplier_id": "S2"}, "supplier_id is 'S2', the match is 'S1'", id="wrong-supplier"
        ),
        pytest.param(
            {"incentives": [{"name": "City rebate", "amount": 500}]},
            "incentive 'State credit' (1000) applies but is missing",
            id="missing-incentive",
        ),
        pytest.param(
            {
                "incentives": [
                    {"name": "City rebate", "amount": 600},
                    {"name": "State credit", "amount": 1_000},
                ]
            },
            "incentive 'City rebate' amount is 500, not 600",
            id="wrong-incentive-amount",
        ),
        pytest.param(
            {
                "incentives": [
                    {"name": "City rebate", "amount": 500},
                    {"name": "State credit", "amount": 1_000},
                    {"name": "LMI grant", "amount": 2_000},
                ]
            },
            "incentive 'LMI grant' does not apply to this registration",
            id="extra-incentive",
        ),
        pytest.param(
            {"incentives": "none"}, "incentives must be a list", id="incentives-not-a-list"
        ),
    ],
)
def test_po_validator_rejects_wrong_value_and_shows_expected(
    engine, record, change, expected_part
) -> None:
    answer = _expected_po(engine, record) | change

    message = _violations(validate_purchase_order(engine, record, "S1", answer))

    assert expected_part in message


def test_po_validator_names_lmi_price_column(engine) -> None:
    record = make_record(make_registration(Contact_LowMediumIncome=1))
    answer = _expected_po(engine, record) | {"solar_price": 15_043}

    message = _violations(validate_purchase_order(engine, record, "S1", answer))

    assert "12 panels LMI cash (tier 12, LMICashPrice) is 14030, not 15043" in message


@pytest.mark.parametrize(
    ("change", "expected_part"),
    [
        pytest.param({"interest_rate": 5.0}, "interest_rate is 4.5, not 5.0", id="wrong-rate"),
        pytest.param({"loan_term_months": 60}, "loan_term_months is 120, not 60", id="wrong-term"),
        pytest.param(
            {"solar_price": 15_043},
            "LoanInstallment) is 125.36, not 15043",
            id="cash-price-on-loan",
        ),
    ],
)
def test_po_validator_rejects_wrong_loan_terms(engine, change, expected_part) -> None:
    record = make_record(make_registration(PaymentType="Loan"))
    answer = _expected_po(engine, record) | change

    assert expected_part in _violations(validate_purchase_order(engine, record, "S1", answer))


def test_po_validator_shows_large_amounts_to_the_cent() -> None:
    supplier = make_supplier("S1", solar_tiers=[make_tier(12, 123_456.78)])
    engine = make_engine(make_offers(supplier))
    record = make_record(make_registration())
    answer = _expected_po(engine, record) | {"solar_price": 123_457}

    assert "is 123456.78, not 123457" in _violations(
        validate_purchase_order(engine, record, "S1", answer)
    )


def test_po_validator_rejects_po_for_invalid_registration(engine) -> None:
    record = make_record(make_registration(Contact_Zip=None))

    message = _violations(validate_purchase_order(engine, record, "S1", {"supplier_id": "S1"}))

    assert "no PO is possible" in message
    assert "Contact_Zip" in message


def test_validator_rejects_a_loan_installment_reduced_by_incentives() -> None:
    """Issue 8, item 17: a loan's net_price is its monthly installment, never reduced."""
    supplier = make_supplier(
        "S1", solar_tiers=[make_tier(12, 15_043, loan=176.96)], battery_tiers=None
    )
    engine = make_engine(
        make_offers(supplier),
        make_incentives(
            make_incentive(name="State grant", kind="fixed_amount", rate=2_500),
            make_incentive(name="Utility rebate", kind="fixed_amount", rate=1_500),
        ),
        CAMPAIGN_DATE,
    )
    record = make_record(make_registration(PaymentType="Loan"))
    correct = purchase_order_answer(engine.price(record.registration, "S1"))
    assert correct["net_price"] == 176.96
    assert correct["incentives_total"] == 4_000

    assert validate_purchase_order(engine, record, "S1", correct).is_valid
    reduced = {**correct, "net_price": 0.0}
    report = validate_purchase_order(engine, record, "S1", reduced)
    assert not report.is_valid
    assert any("never reduce a loan installment" in v for v in report.violations)
    wrong_total = {**correct, "incentives_total": 176.96}
    assert not validate_purchase_order(engine, record, "S1", wrong_total).is_valid
