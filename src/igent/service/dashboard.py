"""What the operator page shows beyond the resource API: counts, a sortable table, previews.

Everything is read from the same ledger Store and service tables as the /v1 resources.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from igent.domain import OfferBook, Supplier
from igent.service.campaigns import CampaignDesk, parse_offers_document
from igent.service.dashboard_schemas import (
    CampaignSummary,
    OffersPreview,
    Outcomes,
    RegistrationTable,
    SortKey,
    SupplierChange,
    TableRow,
)
from igent.store import StoredDecision
from igent.workflows.report import AuditUsage

# Attribute -> the column name of the offers file, which the operator knows.
PRICE_COLUMNS = {
    "cash_price": "CashPrice",
    "lmi_cash_price": "LMICashPrice",
    "loan_installment": "LoanInstallment",
    "lmi_loan_installment": "LMILoanInstallment",
}
MAX_PRICE_CHANGES = 12


@dataclass(frozen=True)
class TableQuery:
    """Search, filters, sort and page of the registrations table."""

    search: str = ""
    status: str | None = None
    supplier_id: str | None = None
    reason: str | None = None
    sort: SortKey = "submitted"
    descending: bool = False
    page: int = 1
    page_size: int = 25


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(desk: CampaignDesk, campaign_id: str) -> CampaignSummary:
    """Count a campaign's decisions by status and reason, with latency and cost.

    A cancelled registration counts as cancelled whatever it was decided (a NO MATCH too: only
    a matched one has a booking to free, so only its ledger status changes). Model calls and
    cost include the audits', which are billed calls outside the decisions' timings.
    """
    desk.row(campaign_id)
    decisions = list(desk.store.decisions(campaign_id))
    status_of = _statuses(desk, campaign_id)
    statuses = Counter(status_of(d) for d in decisions)
    reasons = Counter(
        str(_match(d).get("reason") or "unknown") for d in decisions if status_of(d) == "no_match"
    )
    latencies: list[float] = []
    calls = 0
    cost = 0.0
    for decision in decisions:
        timing = decision.payload.get("timing") or {}
        if isinstance(timing.get("total_s"), int | float):
            latencies.append(float(timing["total_s"]))
        calls += int(timing.get("llm_calls") or 0)
        cost += float(timing.get("cost_usd") or 0.0)
    audits = AuditUsage()
    for audit in desk.store.audits(campaign_id):
        audits.add(audit)
    pending = sum(
        job.total - job.done
        for job in desk.tables.unfinished_jobs()
        if job.campaign_id == campaign_id
    )
    main = {"matched", "no_match", "cancelled"}
    return CampaignSummary(
        campaign_id=campaign_id,
        total=len(decisions),
        matched=statuses["matched"],
        no_match=statuses["no_match"],
        no_match_by_reason=dict(sorted(reasons.items())),
        cancelled=statuses["cancelled"],
        pending=pending,
        other={s: n for s, n in sorted(statuses.items()) if s not in main},
        latency_p50_s=percentile(latencies, 0.5),
        latency_p95_s=percentile(latencies, 0.95),
        llm_calls=calls + audits.calls,
        cost_usd=round(cost + audits.cost_usd, 6),
    )


def table(desk: CampaignDesk, campaign_id: str, query: TableQuery) -> RegistrationTable:
    """Return one page of the campaign's registrations, searched, filtered and sorted."""
    desk.row(campaign_id)
    decisions = sorted(
        desk.store.decisions(campaign_id), key=lambda d: (d.record_index, d.registration_id)
    )
    zip_codes = desk.tables.zip_codes(campaign_id)
    status_of = _statuses(desk, campaign_id)
    rows = [_row(d, status_of(d), zip_codes) for d in decisions]
    reasons = sorted({r.reason for r in rows if r.reason and r.status == "no_match"})
    needle = query.search.strip().lower()
    kept = [
        row
        for row in rows
        if (
            not needle
            or needle in row.registration_id.lower()
            or (row.zip_code or "").startswith(needle)
        )
        and (query.status is None or row.status == query.status)
        and (query.supplier_id is None or row.supplier_id == query.supplier_id)
        and (query.reason is None or row.reason == query.reason)
    ]
    if query.sort != "submitted":
        kept.sort(key=lambda row: _sort_key(row, query.sort), reverse=query.descending)
    elif query.descending:
        kept.reverse()
    pages = max(1, math.ceil(len(kept) / query.page_size))
    page = min(query.page, pages)
    start = (page - 1) * query.page_size
    return RegistrationTable(
        rows=kept[start : start + query.page_size],
        total=len(kept),
        page=page,
        pages=pages,
        page_size=query.page_size,
        suppliers=[s.supplier_id for s in desk.store.suppliers(campaign_id)],
        reasons=reasons,
    )


def outcomes(desk: CampaignDesk, campaign_id: str, registration_ids: Iterable[str]) -> Outcomes:
    """Count the decisions of ``registration_ids`` (e.g. the records of one upload)."""
    desk.row(campaign_id)
    by_id = {_registration_id(d): d for d in desk.store.decisions(campaign_id)}
    status_of = _statuses(desk, campaign_id)
    statuses: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    missing = 0
    for registration_id in dict.fromkeys(str(r).strip() for r in registration_ids):
        decision = by_id.get(registration_id)
        if decision is None:
            missing += 1
            continue
        status = status_of(decision)
        statuses[status] += 1
        if status == "no_match":
            reasons[str(_match(decision).get("reason") or "unknown")] += 1
    return Outcomes(
        matched=statuses["matched"],
        no_match_by_reason=dict(sorted(reasons.items())),
        by_status=dict(sorted(statuses.items())),
        missing=missing,
    )


def preview_offers(
    desk: CampaignDesk, campaign_id: str, document: Mapping[str, Any]
) -> OffersPreview:
    """Compare a new offers document with the current one; store nothing."""
    row = desk.row(campaign_id)
    new = parse_offers_document(document, "offers")
    old = parse_offers_document(
        json.loads(desk.tables.offers(campaign_id, row.offer_version)), "current offers"
    )
    booked = {s.supplier_id: s.used for s in desk.store.suppliers(campaign_id)}
    changes = _changes(old, new, booked)
    refused = [c for c in changes if c.refused]
    if refused:
        numbers = ", ".join(
            f"{c.supplier_id!r} has {c.booked} booked but the new capacity is "
            f"{c.capacity_after or 0}"
            for c in refused
        )
        detail = (
            f"refused: capacity cannot drop below what is booked: {numbers}; cancel "
            "registrations first or keep the capacity at least at the bookings"
        )
    else:
        changed = sum(1 for c in changes if c.change != "unchanged")
        detail = f"{changed} of {len(changes)} suppliers change; bookings stay as they are"
    return OffersPreview(
        campaign_id=campaign_id,
        offer_version=row.offer_version,
        allowed=not refused,
        detail=detail,
        suppliers=changes,
    )


def _changes(old: OfferBook, new: OfferBook, booked: Mapping[str, int]) -> list[SupplierChange]:
    before = {s.supplier_id: s for s in old.suppliers}
    after = {s.supplier_id: s for s in new.suppliers}
    changes = []
    for supplier_id in [*before, *(s for s in after if s not in before)]:
        was, now = before.get(supplier_id), after.get(supplier_id)
        prices = _price_changes(was, now) if was is not None and now is not None else []
        used = booked.get(supplier_id, 0)
        if was is None:
            kind = "added"
        elif now is None:
            kind = "removed"
        elif prices or was.capacity != now.capacity or was.model_dump() != now.model_dump():
            kind = "changed"
        else:
            kind = "unchanged"
        changes.append(
            SupplierChange(
                supplier_id=supplier_id,
                change=kind,
                capacity_before=was.capacity if was is not None else None,
                capacity_after=now.capacity if now is not None else None,
                booked=used,
                refused=used > (now.capacity if now is not None else 0),
                price_changes=prices,
            )
        )
    return changes


def _price_changes(was: Supplier, now: Supplier) -> list[str]:
    def tiers(supplier: Supplier) -> dict[tuple[str, str, int], Any]:
        return {
            (p.product_type, p.product_name, t.quantity): t
            for p in supplier.offers
            for t in p.prices
        }

    old, new = tiers(was), tiers(now)
    lines = []
    for key in [*old, *(k for k in new if k not in old)]:
        product_type, name, quantity = key
        label = f"{product_type} {name!r} x{quantity}"
        if key not in new:
            lines.append(f"{label}: tier removed")
        elif key not in old:
            lines.append(f"{label}: new tier")
        else:
            for attribute, column in PRICE_COLUMNS.items():
                a, b = getattr(old[key], attribute), getattr(new[key], attribute)
                if a != b:
                    lines.append(f"{label} {column}: {a:g} -> {b:g}")
    if len(lines) > MAX_PRICE_CHANGES:
        lines = [*lines[:MAX_PRICE_CHANGES], f"... and {len(lines) - MAX_PRICE_CHANGES} more"]
    return lines


def _match(decision: StoredDecision) -> dict[str, Any]:
    match = decision.payload.get("match")
    return match if isinstance(match, dict) else {}


def _statuses(desk: CampaignDesk, campaign_id: str) -> Callable[[StoredDecision], str]:
    """The status the operator sees per decision: ``cancelled`` once its submission is.

    The same rule as the registration's own view (``to_public``): cancelling a NO MATCH frees
    no booking, so the ledger keeps its status and the service tables record the cancellation.
    """
    cancelled = desk.tables.cancelled_ids(campaign_id)

    def status_of(decision: StoredDecision) -> str:
        return "cancelled" if _registration_id(decision) in cancelled else decision.status

    return status_of


def _registration_id(decision: StoredDecision) -> str:
    return str(decision.payload.get("registration_id") or decision.registration_id)


def _row(decision: StoredDecision, status: str, zip_codes: Mapping[str, str]) -> TableRow:
    registration_id = _registration_id(decision)
    order = decision.payload.get("purchase_order")
    net = order.get("net_price") if isinstance(order, dict) else None
    return TableRow(
        registration_id=registration_id,
        zip_code=zip_codes.get(registration_id),
        status=status,
        supplier_id=decision.supplier_id if status == "matched" else None,
        reason=_match(decision).get("reason"),
        net_price_eur=float(net) if isinstance(net, int | float) else None,
    )


def _sort_key(row: TableRow, key: SortKey) -> tuple[bool, Any]:
    value = getattr(row, key)
    # Empty values sort last in ascending order.
    return (value is None, value if value is not None else "")


__all__ = ["TableQuery", "outcomes", "percentile", "preview_offers", "summarize", "table"]
