"""Offers as CSV: one row per supplier x product x price tier (docs/rules.md, "Offers CSV").

The rows are folded into the same document the JSON offers file holds, so one validator
checks both.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from igent.errors import DataError

SUPPLIER_COLUMNS = ("SupplierID", "Capacity", "InterestRate", "LoanTermMonths", "ServiceAreas")
PRODUCT_COLUMNS = ("ProductType", "ProductName", "ProductCapacity")
TIER_COLUMNS = ("Quantity", "CashPrice", "LMICashPrice", "LoanInstallment", "LMILoanInstallment")
REQUIRED_COLUMNS = ("SupplierID", "Capacity", "ServiceAreas")


def offers_document_from_csv(text: str, source: str) -> dict[str, Any]:
    """Fold offers CSV rows into an offers document ({"SupplierOffers": [...]})."""
    rows = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in rows.fieldnames or ()]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise DataError(
            f"{source}: offers CSV header lacks {', '.join(missing)}; expected the columns "
            f"{', '.join(SUPPLIER_COLUMNS + PRODUCT_COLUMNS + TIER_COLUMNS)} (docs/rules.md)"
        )
    rows.fieldnames = header
    suppliers: dict[str, dict[str, Any]] = {}
    campaign_id: str | None = None
    try:
        for row in rows:
            cells = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
            if not any(cells.values()):
                continue
            line = rows.line_num
            campaign_id = cells.pop("CampaignID", "") or campaign_id
            supplier = _supplier(suppliers, cells, source, line)
            _add_tier(supplier, cells)
    except csv.Error as exc:
        raise DataError(f"{source}: line {rows.line_num} is not valid CSV: {exc}") from None
    document: dict[str, Any] = {"SupplierOffers": list(suppliers.values())}
    if campaign_id:
        document["CampaignID"] = campaign_id
    return document


def _supplier(
    suppliers: dict[str, dict[str, Any]], cells: dict[str, str], source: str, line: int
) -> dict[str, Any]:
    supplier_id = cells["SupplierID"]
    fields: dict[str, Any] = {
        name: value
        for name, value in cells.items()
        if name not in PRODUCT_COLUMNS + TIER_COLUMNS and (value or name in REQUIRED_COLUMNS)
    }
    fields["ServiceAreas"] = [z.strip() for z in cells.get("ServiceAreas", "").split(";")]
    fields["ServiceAreas"] = [z for z in fields["ServiceAreas"] if z]
    known = suppliers.get(supplier_id)
    if known is None:
        suppliers[supplier_id] = {**fields, "Offers": []}
        return suppliers[supplier_id]
    for name, value in fields.items():
        if known.get(name) != value:
            raise DataError(
                f"{source}: line {line}: supplier {supplier_id!r} column {name!r} is "
                f"{value!r} but an earlier row says {known.get(name)!r}; supplier columns "
                "must repeat the same values on every row"
            )
    return known


def _add_tier(supplier: dict[str, Any], cells: dict[str, str]) -> None:
    product_type = cells.get("ProductType", "")
    if not product_type:
        return
    key = (product_type, cells.get("ProductName", ""))
    products: list[dict[str, Any]] = supplier["Offers"]
    product = next(
        (p for p in products if (p["ProductType"], p["ProductName"]) == key),
        None,
    )
    if product is None:
        product = {
            "ProductType": product_type,
            "ProductName": key[1],
            "ProductCapacity": cells.get("ProductCapacity", ""),
            "ProductPrices": [],
        }
        products.append(product)
    if cells.get("Quantity", ""):
        tier = {name: cells[name] for name in TIER_COLUMNS if cells.get(name, "")}
        product["ProductPrices"].append(tier)
