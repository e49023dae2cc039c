"""What of a campaign may reach a prompt: allow-listed fields, typed, no free text.

Campaign exports carry personal data and free text (CampaignName, RegistrationStatus, notes);
text placed in a prompt can act as an instruction to the model. Only the fields the rules
read are sent, each converted to its type (numbers as numbers, a ZIP as a 5-digit string),
and anything else, known or not, is dropped. This is an allow-list: a new export column never
reaches a model until it is added here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from igent.domain import Incentive, Registration, Supplier, used_pct
from igent.domain.coerce import to_flag, to_number, to_optional_int, to_trimmed_str
from igent.domain.offer import ProductType
from igent.rules.incentives import product_watts

_ZIP = re.compile(r"^(\d{5})(?:-\d{4})?$")


def to_zip(value: Any) -> str | None:
    """Return a 5-digit ZIP string (leading zeros restored), or None when it is not a ZIP."""
    try:
        text = to_trimmed_str(value)
    except ValueError:
        return None
    if text.isdigit() and len(text) < 5:
        text = text.zfill(5)
    found = _ZIP.match(text)
    return found.group(1) if found else None


def _flag(value: Any) -> int:
    return int(to_flag(value))


def _payment(value: Any) -> str | None:
    text = str(value).strip().casefold() if value is not None else ""
    return {"cash": "Cash", "loan": "Loan"}.get(text)


def _registration_id(value: Any) -> str:
    return to_trimmed_str(value)


# Export column -> converter. Anything not listed never reaches a prompt.
REGISTRATION_FIELDS: dict[str, Callable[[Any], Any]] = {
    "RegistrationNumber": _registration_id,
    "Contact_Zip": to_zip,
    "Product_KnowsAmountOfPanels": _flag,
    "Product_AmountOfPanels": to_optional_int,
    "Proposal_OptimalAmountOfPanels": to_optional_int,
    "Proposal_OptimalAmountOfBatteries": to_optional_int,
    "Contact_LowMediumIncome": _flag,
    "PaymentType": _payment,
}


def registration_fields(registration: Registration | Mapping[str, Any]) -> dict[str, Any]:
    """Return the allow-listed, typed fields of a registration (a model or an export row)."""
    if isinstance(registration, Registration):
        raw: Mapping[str, Any] = registration.model_dump(by_alias=True)
    else:
        raw = registration
    fields: dict[str, Any] = {}
    for name, convert in REGISTRATION_FIELDS.items():
        if name not in raw:
            continue
        try:
            fields[name] = convert(raw[name])
        except ValueError:
            fields[name] = None  # a value the rules cannot read is not sent as text either
    return fields


def _supplier(value: Supplier | Mapping[str, Any]) -> Supplier | None:
    if isinstance(value, Supplier):
        return value
    try:
        return Supplier.model_validate(value)
    except ValidationError:
        return None


def to_suppliers(values: Sequence[Supplier | Mapping[str, Any]]) -> list[Supplier]:
    """Read suppliers given as models or offers-file objects; unreadable ones are dropped."""
    return [s for s in map(_supplier, values) if s is not None]


def products_offered(supplier: Supplier) -> list[str]:
    """The product types a supplier offers with at least one price tier."""
    return [kind for kind in ("Solar", "Battery") if supplier.product(kind) is not None]


def candidate_rows(
    suppliers: Sequence[Supplier], capacity_used: Mapping[str, int]
) -> list[dict[str, Any]]:
    """What the matcher needs per candidate: id, products offered, used, capacity, used_pct."""
    rows = []
    for supplier in suppliers:
        used = int(capacity_used.get(supplier.supplier_id, 0))
        rows.append(
            {
                "supplier_id": supplier.supplier_id,
                "products": products_offered(supplier),
                "used": used,
                "capacity": supplier.capacity,
                "used_pct": round(float(used_pct(used, supplier.capacity)), 6),
            }
        )
    return rows


def price_offer(supplier: Supplier) -> dict[str, Any]:
    """What the pricer needs of the matched supplier: loan terms and the price tiers."""
    offers = []
    kinds: tuple[ProductType, ...] = ("Solar", "Battery")
    for kind in kinds:
        product = supplier.product(kind)
        if product is None:
            continue
        entry: dict[str, Any] = {"ProductType": kind}
        if kind == "Solar":
            entry["ProductCapacity"] = product_watts(product)  # watts per panel
        entry["ProductPrices"] = [
            {
                "Quantity": tier.quantity,
                "CashPrice": tier.cash_price,
                "LMICashPrice": tier.lmi_cash_price,
                "LoanInstallment": tier.loan_installment,
                "LMILoanInstallment": tier.lmi_loan_installment,
            }
            for tier in product.prices
        ]
        offers.append(entry)
    return {
        "SupplierID": supplier.supplier_id,
        "InterestRate": supplier.interest_rate,
        "LoanTermMonths": supplier.loan_term_months,
        "Offers": offers,
    }


def incentive_rows(
    incentives: Sequence[Incentive | Mapping[str, Any]], zip_code: str | None
) -> list[dict[str, Any]]:
    """The incentives offered in ``zip_code`` (or everywhere), without their ZIP lists."""
    rows = []
    for value in incentives:
        try:
            incentive = (
                value if isinstance(value, Incentive) else Incentive.model_validate(dict(value))
            )
        except ValidationError:
            continue
        if incentive.communities != "ALL" and (zip_code or "") not in incentive.communities:
            continue
        row = incentive.model_dump(mode="json", exclude={"communities"}, exclude_none=True)
        row["rate"] = to_number(row["rate"])
        rows.append(row)
    return rows
