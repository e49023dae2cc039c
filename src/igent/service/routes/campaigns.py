"""/v1/campaigns: create, list, get with capacity, replace offers."""

from __future__ import annotations

from fastapi import APIRouter, Path

from igent.service.deps import Context, Operator, Reader, error_responses
from igent.service.schemas import (
    CAMPAIGN_ID_PATTERN,
    CampaignCreate,
    CampaignList,
    CampaignPublic,
    OffersReplace,
)

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
CampaignId = Path(pattern=CAMPAIGN_ID_PATTERN, description="The campaign's id.")


@router.post(
    "",
    status_code=201,
    operation_id="createCampaign",
    response_model=CampaignPublic,
    summary="Create a campaign from an offers document",
    responses={
        201: {
            "description": "The campaign",
            "links": {
                "GetCampaign": {
                    "operationId": "getCampaign",
                    "parameters": {"campaign_id": "$response.body#/campaign_id"},
                },
                "ListRegistrations": {
                    "operationId": "listRegistrations",
                    "parameters": {"campaign_id": "$response.body#/campaign_id"},
                },
                "SubmitRegistration": {
                    "operationId": "submitRegistration",
                    "parameters": {"campaign_id": "$response.body#/campaign_id"},
                },
            },
        },
        **error_responses(403, 409),
    },
)
def create_campaign(body: CampaignCreate, context: Context, key: Operator) -> CampaignPublic:
    """Create a campaign (offer version 1); 409 when the id is taken."""
    return context.desk.create(body, created_by=key.key_id)


@router.get(
    "",
    operation_id="listCampaigns",
    response_model=CampaignList,
    summary="List campaigns",
    responses=error_responses(),
)
def list_campaigns(context: Context, key: Reader) -> CampaignList:
    """Return every campaign with its capacity."""
    desk = context.desk
    return CampaignList(campaigns=[desk.public(row) for row in desk.tables.campaigns()])


@router.get(
    "/{campaign_id}",
    operation_id="getCampaign",
    response_model=CampaignPublic,
    summary="Get a campaign with capacity per supplier",
    responses=error_responses(404),
)
def get_campaign(context: Context, key: Reader, campaign_id: str = CampaignId) -> CampaignPublic:
    """Return one campaign."""
    return context.desk.public(context.desk.row(campaign_id))


@router.put(
    "/{campaign_id}/offers",
    operation_id="replaceOffers",
    response_model=CampaignPublic,
    summary="Replace the offers (a new offer version)",
    responses=error_responses(403, 404, 409),
)
def replace_offers(
    body: OffersReplace, context: Context, key: Operator, campaign_id: str = CampaignId
) -> CampaignPublic:
    """Store a new offer version; decisions already booked stay. 409 with the numbers when a
    capacity would drop below what is booked."""
    return context.desk.replace_offers(campaign_id, body.offers, created_by=key.key_id)
