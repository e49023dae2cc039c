"""Small builders for campaign data in the export format, and LLM-style answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from igent.domain import (
    IncentiveBook,
    MatchDecision,
    OfferBook,
    PurchaseOrder,
    RegistrationRecord,
    parse_registration_record,
)
from igent.rules import RulesEngine

CAMPAIGN_DATE = dt.date(2024, 6, 1)

# Passed as an override to drop a key from a raw registration altogether.
MISSING: Any = object()

_DEFAULT: Any = object()


def make_tier(
    quantity: int,
    cash: float = 0,
    *,
    lmi_cash: float = 0,
    loan: float = 0,
    lmi_loan: float = 0,
) -> dict[str, Any]:
    """Return one ProductPrices entry."""
    return {
        "Quantity": quantity,
        "CashPrice": cash,
        "LMICashPrice": lmi_cash,
        "LoanInstallment": loan,
        "LMILoanInstallment": lmi_loan,
    }


DEFAULT_SOLAR_TIERS = (
    make_tier(10, 10_000, lmi_cash=8_000, loan=100, lmi_loan=80),
    make_tier(20, 18_000, lmi_cash=15_000, loan=180, lmi_loan=150),
)
DEFAULT_BATTERY_TIERS = (
    make_tier(1, 5_000, lmi_cash=4_000, loan=50, lmi_loan=40),
    make_tier(2, 9_000, lmi_cash=7_000, loan=90, lmi_loan=70),
)


def make_supplier(
    supplier_id: str,
    capacity: Any = 10,
    zips: Iterable[Any] = ("55101",),
    *,
    solar_tiers: Sequence[Mapping[str, Any]] | None = _DEFAULT,
    battery_tiers: Sequence[Mapping[str, Any]] | None = _DEFAULT,
    panel_watts: str = "400",
    interest_rate: Any = 4.5,
    loan_term_months: Any = 120,
) -> dict[str, Any]:
    """Return a SupplierOffers entry; ``None`` tiers leave that product out altogether."""
    solar = DEFAULT_SOLAR_TIERS if solar_tiers is _DEFAULT else solar_tiers
    battery = DEFAULT_BATTERY_TIERS if battery_tiers is _DEFAULT else battery_tiers
    offers: list[dict[str, Any]] = []
    if solar is not None:
        offers.append(
            {
                "ProductType": "Solar",
                "ProductName": f"{supplier_id} panel",
                "ProductCapacity": panel_watts,
                "ProductPrices": [dict(t) for t in solar],
            }
        )
    if battery is not None:
        offers.append(
            {
                "ProductType": "Battery",
                "ProductName": f"{supplier_id} battery",
                "ProductCapacity": "10 kWh",
                "ProductPrices": [dict(t) for t in battery],
            }
        )
    return {
        "SupplierID": supplier_id,
        "Capacity": capacity,
        "InterestRate": interest_rate,
        "LoanTermMonths": loan_term_months,
        "ServiceAreas": list(zips),
        "Offers": offers,
    }


def make_offers(*suppliers: Mapping[str, Any]) -> OfferBook:
    """Return an OfferBook holding ``suppliers`` in the given (file) order."""
    return OfferBook.model_validate({"CampaignID": "C-TEST", "SupplierOffers": list(suppliers)})


def make_incentive(**overrides: Any) -> dict[str, Any]:
    """Return one incentives-file entry (a 10% subsidy for everyone by default)."""
    incentive: dict[str, Any] = {
        "name": "Solar bonus",
        "communities": "ALL",
        "kind": "percent_of_total",
        "rate": 10,
    }
    incentive.update(overrides)
    return incentive


def make_incentives(*incentives: Mapping[str, Any]) -> IncentiveBook:
    """Return an IncentiveBook holding ``incentives``."""
    return IncentiveBook.model_validate({"incentives": list(incentives)})


def make_registration(**overrides: Any) -> dict[str, Any]:
    """Return a raw registration: 12 panels, no battery, cash, ZIP 55101.

    An override set to ``MISSING`` removes that key.
    """
    raw: dict[str, Any] = {
        "RegistrationNumber": "R-1",
        "CampaignName": "Test campaign",
        "RegistrationStatus": "Registered",
        "Contact_Zip": "55101",
        "Product_KnowsAmountOfPanels": "0",
        "Product_AmountOfPanels": None,
        "Proposal_OptimalAmountOfPanels": 12,
        "Proposal_OptimalAmountOfBatteries": 0,
        "Contact_LowMediumIncome": 0,
        "PaymentType": "Cash",
    }
    raw.update(overrides)
    return {key: value for key, value in raw.items() if value is not MISSING}


def make_record(raw: Any, index: int = 0) -> RegistrationRecord:
    """Parse ``raw`` as the registrations file's record number ``index``."""
    return parse_registration_record(raw, index)


def make_engine(
    offers: OfferBook,
    incentives: IncentiveBook | None = None,
    campaign_date: dt.date = CAMPAIGN_DATE,
) -> RulesEngine:
    """Return a RulesEngine over ``offers`` and (by default no) incentives."""
    return RulesEngine(offers, incentives or IncentiveBook(), campaign_date)


def match_answer(decision: MatchDecision) -> dict[str, Any]:
    """Write a match decision as an LLM is asked to answer it."""
    return {
        "registration_id": decision.registration_id,
        "supplier_id": decision.supplier_id or "NO MATCH FOUND",
        "num_panels": decision.num_panels,
        "num_batteries": decision.num_batteries,
    }


def po_answer(order: PurchaseOrder) -> dict[str, Any]:
    """Write a purchase order as an LLM is asked to answer it."""
    return {
        "registration_id": order.registration_id,
        "supplier_id": order.supplier_id,
        "num_panels": order.num_panels,
        "num_batteries": order.num_batteries,
        "payment_type": order.payment_type,
        "solar_price": order.solar_price,
        "battery_price": order.battery_price,
        "total_price": order.total_price,
        "incentives": [{"name": i.name, "amount": i.amount} for i in order.incentives],
        "net_price": order.net_price,
        "interest_rate": order.interest_rate,
        "loan_term_months": order.loan_term_months,
    }
