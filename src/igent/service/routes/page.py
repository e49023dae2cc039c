"""The operator page at ``/`` and the few JSON endpoints it needs beyond the resource API.

The page is one server-rendered Jinja2 shell; its script signs in with an API key kept in
``sessionStorage`` and calls the same ``/v1`` JSON API as any client (a key in a cookie would
be sent to every request and make the page a CSRF target).
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Annotated

import jinja2
from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

import igent
from igent.service import dashboard
from igent.service.dashboard_schemas import (
    CampaignSummary,
    KeyPublic,
    OffersPreview,
    Outcomes,
    OutcomesRequest,
    RegistrationRecord,
    RegistrationTable,
    SortKey,
)
from igent.service.deps import Context, Operator, Reader, error_responses
from igent.service.errors import NotFound
from igent.service.routes.campaigns import CampaignId
from igent.service.schemas import DecisionStatus, OffersReplace

router = APIRouter()
api = APIRouter(prefix="/v1", tags=["page"])

# The page's own policy: scripts, styles and requests only from this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@cache
def _templates() -> jinja2.Environment:
    # Built on first use, not at import time; the templates are package data.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("igent.service", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def operator_page() -> HTMLResponse:
    """Return the operator page (sign-in, campaigns, dashboard, registrations)."""
    html = _templates().get_template("page.html").render(version=igent.__version__)
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )


@api.get(
    "/keys/me",
    response_model=KeyPublic,
    summary="The caller's key: id, name and role",
    responses=error_responses(),
)
def whoami(key: Reader) -> KeyPublic:
    """Return who the caller is, so a client can hide what a viewer may not do."""
    return KeyPublic(key_id=key.key_id, name=key.name, role=key.role)


@api.get(
    "/campaigns/{campaign_id}/summary",
    response_model=CampaignSummary,
    summary="Decision counts, latency p50/p95 and model cost so far",
    responses=error_responses(404),
)
async def campaign_summary(
    context: Context, key: Reader, campaign_id: str = CampaignId
) -> CampaignSummary:
    """Count the campaign's decisions: matched, NO MATCH by reason, cancelled, pending."""
    return await asyncio.to_thread(dashboard.summarize, context.desk, campaign_id)


@api.get(
    "/campaigns/{campaign_id}/registrations:table",
    response_model=RegistrationTable,
    summary="Registrations searched, filtered, sorted and paged (the operator table)",
    responses=error_responses(404),
)
async def registration_table(
    context: Context,
    key: Reader,
    campaign_id: str = CampaignId,
    q: Annotated[str, Query(max_length=100, description="Registration number or ZIP")] = "",
    status: Annotated[DecisionStatus | None, Query()] = None,
    supplier_id: Annotated[str | None, Query(max_length=200)] = None,
    reason: Annotated[str | None, Query(max_length=100, description="NO MATCH reason")] = None,
    sort: Annotated[SortKey, Query()] = "submitted",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 25,
) -> RegistrationTable:
    """Return one page of the table (numbered pages, so an operator can jump and sort)."""
    query = dashboard.TableQuery(
        search=q,
        status=status,
        supplier_id=supplier_id or None,
        reason=reason or None,
        sort=sort,
        descending=order == "desc",
        page=page,
        page_size=page_size,
    )
    return await asyncio.to_thread(dashboard.table, context.desk, campaign_id, query)


@api.get(
    "/campaigns/{campaign_id}/registrations/{registration_id}/record",
    response_model=RegistrationRecord,
    summary="A registration's fields as submitted",
    responses=error_responses(404),
)
def registration_record(
    context: Context,
    key: Reader,
    campaign_id: str = CampaignId,
    registration_id: str = Path(min_length=1, max_length=200),
) -> RegistrationRecord:
    """Return the registration as last submitted (the decision is at the registration URL)."""
    context.desk.row(campaign_id)
    submission = context.tables.submission(campaign_id, registration_id)
    if submission is None:
        raise NotFound(f"campaign {campaign_id!r} has no registration {registration_id!r}")
    return RegistrationRecord(
        registration_id=registration_id, state=submission.state, fields=submission.raw
    )


@api.post(
    "/campaigns/{campaign_id}/registrations:outcomes",
    response_model=Outcomes,
    summary="Count the decisions of the given registrations (the summary of an upload)",
    responses=error_responses(403, 404),
)
async def registration_outcomes(
    body: OutcomesRequest, context: Context, key: Operator, campaign_id: str = CampaignId
) -> Outcomes:
    """Return matched / NO MATCH by reason / other statuses of these registrations; for the
    operator who uploaded them (a POST, like every operator request)."""
    return await asyncio.to_thread(
        dashboard.outcomes, context.desk, campaign_id, body.registration_ids
    )


@api.post(
    "/campaigns/{campaign_id}/offers:preview",
    response_model=OffersPreview,
    summary="Preview a replacement of the offers (capacity and price changes); stores nothing",
    responses=error_responses(403, 404),
)
async def offers_preview(
    body: OffersReplace, context: Context, key: Operator, campaign_id: str = CampaignId
) -> OffersPreview:
    """Compare the new offers with the current version; say whether the replacement is allowed."""
    return await asyncio.to_thread(dashboard.preview_offers, context.desk, campaign_id, body.offers)


__all__ = ["api", "operator_page", "router"]
