"""Rebuild offers-file data from a task's prompt blocks, so the rules engine can answer it.

Prompts carry only what a decision needs (igent.agents.fields): a match task lists candidate
rows (id, products, used, capacity) of the suppliers serving the ZIP, a pricing task the
matched supplier's tiers and the incentives offered in the ZIP. The simulator fills in what
the engine needs and the prompt left out: the ZIP as service area, a placeholder price tier
per product offered, product names, capacity, and "ALL" as the incentives' communities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from igent.agents.protocol import Task


def _zip_of(task: Task) -> str:
    value = task.registration.get("Contact_Zip")
    return str(value).strip() if value is not None else ""


def _from_candidate(row: Mapping[str, Any], zip_code: str) -> dict[str, Any]:
    products = row.get("products") or []
    return {
        "SupplierID": str(row.get("supplier_id", "")),
        "Capacity": int(row.get("capacity") or 0),
        "ServiceAreas": [zip_code],
        "Offers": [
            {
                "ProductType": kind,
                "ProductName": kind,
                "ProductPrices": [{"Quantity": 1, "CashPrice": 1}],
            }
            for kind in products
            if kind in ("Solar", "Battery")
        ],
    }


def _complete_supplier(supplier: Mapping[str, Any], zip_code: str) -> dict[str, Any]:
    full = dict(supplier)
    full.setdefault("Capacity", 0)
    full.setdefault("ServiceAreas", [zip_code])
    full["Offers"] = [
        {"ProductName": offer.get("ProductType", "product"), **offer}
        for offer in supplier.get("Offers") or []
        if isinstance(offer, Mapping)
    ]
    return full


def engine_suppliers(task: Task) -> list[dict[str, Any]]:
    """Offers-file suppliers for the engine: given ones completed, else from candidate rows."""
    zip_code = _zip_of(task)
    if task.suppliers:
        return [_complete_supplier(s, zip_code) for s in task.suppliers if isinstance(s, Mapping)]
    return [_from_candidate(row, zip_code) for row in task.candidates if isinstance(row, Mapping)]


def engine_incentives(task: Task) -> list[dict[str, Any]]:
    """Incentives for the engine; those sent without communities apply in the task's ZIP."""
    return [
        {"communities": "ALL", **incentive}
        for incentive in task.incentives
        if isinstance(incentive, Mapping)
    ]
