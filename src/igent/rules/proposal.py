"""Read a proposed match or PO as an LLM writes it, tolerating format noise but not wrong values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from igent.domain.coerce import to_number, to_optional_int

_ALIASES: dict[str, str] = {
    "registrationid": "registration_id",
    "registrationnumber": "registration_id",
    "registration": "registration_id",
    "supplierid": "supplier_id",
    "supplier": "supplier_id",
    "matchedsupplier": "supplier_id",
    "numpanels": "num_panels",
    "panels": "num_panels",
    "numberofpanels": "num_panels",
    "panelcount": "num_panels",
    "numbatteries": "num_batteries",
    "batteries": "num_batteries",
    "numberofbatteries": "num_batteries",
    "batterycount": "num_batteries",
    "paymenttype": "payment_type",
    "payment": "payment_type",
    "solarprice": "solar_price",
    "batteryprice": "battery_price",
    "totalprice": "total_price",
    "total": "total_price",
    "netprice": "net_price",
    "incentivestotal": "incentives_total",
    "incentives": "incentives",
    "interestrate": "interest_rate",
    "loantermmonths": "loan_term_months",
    "solartierquantity": "solar_tier_quantity",
    "batterytierquantity": "battery_tier_quantity",
    "status": "status",
    "reason": "reason",
    "name": "name",
    "amount": "amount",
}
_WRAPPERS = ("match", "purchaseorder", "po", "result", "answer")
_NO_MATCH = re.compile(r"^\s*no[\s_-]*match(?:[\s_-]*found)?\s*$", re.IGNORECASE)


def _canonical_key(key: str) -> str:
    compact = re.sub(r"[^a-z0-9]", "", key.lower())
    return _ALIASES.get(compact, key)


def normalize_proposal(proposal: Any) -> dict[str, Any]:
    """Return the proposal's fields under canonical snake_case names.

    A single wrapping object (``{"match": {...}}``) is unwrapped; unknown keys are kept.
    """
    if not isinstance(proposal, Mapping):
        raise ValueError(f"expected a JSON object, got {type(proposal).__name__}")
    if len(proposal) == 1:
        ((key, value),) = proposal.items()
        if re.sub(r"[^a-z]", "", str(key).lower()) in _WRAPPERS and isinstance(value, Mapping):
            proposal = value
    normalized: dict[str, Any] = {}
    for key, value in proposal.items():
        canonical = _canonical_key(str(key))
        if canonical == "incentives" and isinstance(value, list):
            value = [
                {_canonical_key(str(k)): v for k, v in item.items()}
                if isinstance(item, Mapping)
                else item
                for item in value
            ]
        normalized[canonical] = value
    return normalized


def is_no_match(value: Any) -> bool:
    """Return True for a supplier field that says there is no match."""
    return value is None or (isinstance(value, str) and bool(_NO_MATCH.match(value)))


def read_int(value: Any) -> int | None:
    """Read a whole number leniently; None when absent or unreadable."""
    try:
        return to_optional_int(value)
    except ValueError:
        return None


def read_money(value: Any) -> float | None:
    """Read an amount such as 15043, "15043.00" or "$15,043"; None when unreadable."""
    if value is None:
        return None
    try:
        return to_number(value)
    except ValueError:
        return None


def read_text(value: Any) -> str | None:
    """Read a string field trimmed; numbers are turned into text."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
