"""Exports of a campaign: purchase-order lines (CSV, XLSX per supplier) and the decision log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from igent.store.base import StoredDecision

PO_COLUMNS = (
    "supplier_id",
    "registration_id",
    "payment_type",
    "low_medium_income",
    "line",
    "product_type",
    "product_name",
    "product_capacity",
    "quantity_requested",
    "tier_quantity",
    "price",
    "price_column",
    "price_unit",
    "solar_price",
    "battery_price",
    "total_price",
    "net_price",
    "interest_rate",
    "loan_term_months",
)
Row = dict[str, Any]


def po_rows(decisions: Iterable[StoredDecision], supplier_id: str | None = None) -> list[Row]:
    """Return one row per purchase-order line of the matched (not cancelled) decisions,
    sorted by supplier, then registration."""
    rows: list[Row] = []
    for decision in decisions:
        po = decision.payload.get("purchase_order")
        if decision.status != "matched" or not isinstance(po, dict) or decision.supplier_id is None:
            continue
        if supplier_id is not None and decision.supplier_id != supplier_id:
            continue
        base = {
            "supplier_id": decision.supplier_id,
            "registration_id": decision.registration_id,
            **{k: po.get(k) for k in PO_COLUMNS[2:4] + PO_COLUMNS[13:]},
        }
        lines = po.get("lines") or [{}]
        for number, line in enumerate(lines, start=1):
            rows.append({**base, "line": number, **{k: line.get(k) for k in PO_COLUMNS[5:13]}})
    rows.sort(key=lambda r: (str(r["supplier_id"]), str(r["registration_id"]), r["line"]))
    return rows


def to_csv(rows: Iterable[Row]) -> str:
    """Render rows as CSV (numbers stay numbers, empty for missing values)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PO_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in PO_COLUMNS})
    return out.getvalue()


def to_xlsx(rows: Iterable[Row]) -> bytes:
    """Render rows as a workbook with one sheet per supplier."""
    from openpyxl import Workbook  # only the export needs it

    book = Workbook()
    default = book.active
    sheets: dict[str, Any] = {}
    for row in rows:
        supplier_id = str(row["supplier_id"])
        if supplier_id not in sheets:
            sheet = book.create_sheet(_sheet_title(supplier_id, sheets))
            sheet.append(list(PO_COLUMNS))
            sheets[supplier_id] = sheet
        sheets[supplier_id].append([row.get(k) for k in PO_COLUMNS])
    if sheets and default is not None:
        book.remove(default)
    elif default is not None:
        default.title = "purchase orders"
        default.append(list(PO_COLUMNS))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_title(supplier_id: str, taken: dict[str, Any]) -> str:
    # Excel sheet titles: at most 31 characters, none of []:*?/\
    title = "".join("_" if c in "[]:*?/\\" else c for c in supplier_id)[:31] or "supplier"
    return title if title not in {s.title for s in taken.values()} else f"{title[:27]}_{len(taken)}"


def decision_log(campaign_id: str, decisions: Iterable[StoredDecision]) -> Iterator[str]:
    """Yield the decision log as JSON lines, one decision each."""
    for decision in decisions:
        yield (
            json.dumps(
                {
                    "campaign_id": campaign_id,
                    "registration_id": decision.registration_id,
                    "record_index": decision.record_index,
                    "status": decision.status,
                    "supplier_id": decision.supplier_id,
                    "decision": decision.payload,
                },
                default=str,
            )
            + "\n"
        )


__all__ = ["PO_COLUMNS", "decision_log", "po_rows", "to_csv", "to_xlsx"]
