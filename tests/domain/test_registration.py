"""Registration parsing: lenient coercions of export values, strict about nonsense."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from igent.domain import Registration, parse_registration_record
from tests.support.factories import MISSING, make_registration


def _parse(**overrides) -> Registration:
    return Registration.model_validate(make_registration(**overrides))


@pytest.mark.parametrize(
    ("field", "value", "attribute", "expected"),
    [
        pytest.param(
            "Proposal_OptimalAmountOfPanels",
            "12",
            "optimal_amount_of_panels",
            12,
            id="panels-string",
        ),
        pytest.param(
            "Proposal_OptimalAmountOfPanels",
            " 12 ",
            "optimal_amount_of_panels",
            12,
            id="panels-padded",
        ),
        pytest.param(
            "Proposal_OptimalAmountOfPanels",
            12.0,
            "optimal_amount_of_panels",
            12,
            id="panels-integral-float",
        ),
        pytest.param(
            "Proposal_OptimalAmountOfPanels",
            "",
            "optimal_amount_of_panels",
            None,
            id="panels-empty-is-none",
        ),
        pytest.param(
            "Product_AmountOfPanels", "", "amount_of_panels", None, id="amount-empty-is-none"
        ),
        pytest.param(
            "Proposal_OptimalAmountOfBatteries",
            "2",
            "optimal_amount_of_batteries",
            2,
            id="batteries-string",
        ),
        pytest.param(
            "Proposal_OptimalAmountOfBatteries",
            "",
            "optimal_amount_of_batteries",
            None,
            id="batteries-empty-is-none",
        ),
        pytest.param("Contact_Zip", 55101, "zip_code", "55101", id="zip-number"),
        pytest.param("Contact_Zip", " 55101 ", "zip_code", "55101", id="zip-padded"),
        pytest.param("RegistrationNumber", 1001, "registration_id", "1001", id="id-number"),
        pytest.param("Contact_LowMediumIncome", "1", "low_medium_income", True, id="lmi-string-1"),
        pytest.param("Contact_LowMediumIncome", "Yes", "low_medium_income", True, id="lmi-yes"),
        pytest.param("Contact_LowMediumIncome", "", "low_medium_income", False, id="lmi-empty"),
        pytest.param("Contact_LowMediumIncome", None, "low_medium_income", False, id="lmi-null"),
        pytest.param(
            "Product_KnowsAmountOfPanels", "true", "knows_amount_of_panels", True, id="knows-true"
        ),
        pytest.param(
            "Product_KnowsAmountOfPanels",
            "FALSE",
            "knows_amount_of_panels",
            False,
            id="knows-false",
        ),
        pytest.param("PaymentType", "loan", "payment_type", "Loan", id="payment-lowercase"),
        pytest.param(
            "PaymentType", " CASH ", "payment_type", "Cash", id="payment-uppercase-padded"
        ),
        pytest.param("PaymentType", "", "payment_type", None, id="payment-empty-is-none"),
    ],
)
def test_export_values_are_coerced(field, value, attribute, expected) -> None:
    assert getattr(_parse(**{field: value}), attribute) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("Proposal_OptimalAmountOfBatteries", "abc", id="batteries-not-a-number"),
        pytest.param("Proposal_OptimalAmountOfBatteries", "1.5", id="batteries-fraction"),
        pytest.param("Proposal_OptimalAmountOfBatteries", -1, id="batteries-negative"),
        pytest.param("Proposal_OptimalAmountOfBatteries", True, id="batteries-bool"),
        pytest.param("Proposal_OptimalAmountOfPanels", "twelve", id="panels-not-a-number"),
        pytest.param("Contact_Zip", "", id="zip-empty"),
        pytest.param("Contact_Zip", None, id="zip-null"),
        pytest.param("Contact_Zip", MISSING, id="zip-missing"),
        pytest.param("Contact_LowMediumIncome", "sometimes", id="lmi-not-a-flag"),
        pytest.param("PaymentType", "Lease", id="payment-unknown"),
    ],
)
def test_nonsense_values_are_rejected(field, value) -> None:
    with pytest.raises(ValidationError, match=field):
        _parse(**{field: value})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"PaymentType": "Loan"}, "Loan", id="loan"),
        pytest.param({"PaymentType": None}, "Cash", id="null-defaults-to-cash"),
        pytest.param({"PaymentType": MISSING}, "Cash", id="missing-defaults-to-cash"),
    ],
)
def test_effective_payment_type_defaults_to_cash(overrides, expected) -> None:
    assert _parse(**overrides).effective_payment_type == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(3, 3, id="count"),
        pytest.param(0, 0, id="zero"),
        pytest.param(None, 0, id="null-is-zero"),
    ],
)
def test_num_batteries_treats_missing_as_zero(value, expected) -> None:
    assert _parse(Proposal_OptimalAmountOfBatteries=value).num_batteries == expected


def test_registration_is_frozen_and_keeps_unknown_keys() -> None:
    registration = _parse(Contact_City="Saint Paul")

    assert registration.model_extra == {"Contact_City": "Saint Paul"}
    with pytest.raises(ValidationError):
        registration.zip_code = "1"  # type: ignore[misc]


def test_parse_registration_record_lists_every_bad_field() -> None:
    raw = make_registration(
        RegistrationNumber="R-9", Contact_Zip=MISSING, Proposal_OptimalAmountOfBatteries="x"
    )

    record = parse_registration_record(raw, 4)

    assert record.registration is None
    assert record.registration_id == "R-9"
    assert record.error.startswith("registration #4 ('R-9'): ")
    assert "field 'Contact_Zip' is missing" in record.error
    assert "field 'Proposal_OptimalAmountOfBatteries'" in record.error
    assert "(got 'x')" in record.error


@pytest.mark.parametrize("raw_id", ["", "   ", None], ids=["empty", "blank", "null"])
def test_record_id_falls_back_to_index_when_id_is_blank(raw_id) -> None:
    record = parse_registration_record(make_registration(RegistrationNumber=raw_id), 2)

    assert record.registration is None
    assert record.registration_id == "#2"
