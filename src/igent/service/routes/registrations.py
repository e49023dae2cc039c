"""/v1/campaigns/{c}/registrations: decide one, batch upload, get, list, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from igent.service.context import ServiceContext
from igent.service.deps import Context, Operator, Reader, error_responses
from igent.service.jobs import parse_batch
from igent.service.registrations import Filters
from igent.service.responses import JSON, model_response
from igent.service.routes.campaigns import CampaignId
from igent.service.routes.jobs import job_public
from igent.service.schemas import (
    CancelRequest,
    DecisionPublic,
    DecisionStatus,
    JobPublic,
    RegistrationIn,
    RegistrationPage,
)
from igent.store.service_tables import KeyRow

router = APIRouter(prefix="/v1/campaigns/{campaign_id}", tags=["registrations"])
RegistrationId = Path(min_length=1, max_length=200, description="The RegistrationNumber.")
_REGISTRATION_REF = "#/components/schemas/RegistrationIn"
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/RegistrationIn"},
                }
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/registrations",
    operation_id="submitRegistration",
    response_model=DecisionPublic,
    summary="Decide one registration (synchronous, idempotent by RegistrationNumber)",
    responses={
        200: {
            "description": "The decision",
            "links": {
                name: {
                    "operationId": operation,
                    "parameters": {
                        "campaign_id": "$request.path.campaign_id",
                        "registration_id": "$response.body#/registration_id",
                    },
                }
                for name, operation in (
                    ("GetRegistration", "getRegistration"),
                    ("CancelRegistration", "cancelRegistration"),
                )
            },
        },
        **error_responses(403, 404, 409, 502),
    },
)
async def submit_registration(
    request: Request, body: RegistrationIn, key: Operator, campaign_id: str = CampaignId
) -> Response:
    """Match and price one registration; the booking is committed before the answer."""
    # The context comes from the app, not a dependency: this is the hottest route (most of
    # its requests are answered by service/fast_path.py, which calls decide_one too).
    return await decide_one(request.app.state.context, campaign_id, body, key)


async def decide_one(
    context: ServiceContext, campaign_id: str, body: RegistrationIn, key: KeyRow
) -> Response:
    """Decide ``body`` for the caller ``key`` and answer the decision."""
    answer = await context.registrations.submit(campaign_id, body.raw(), submitted_by=key.key_id)
    return Response(answer.body, media_type=JSON)


@router.post(
    "/registrations:batch",
    operation_id="submitBatch",
    status_code=202,
    response_model=JobPublic,
    summary="Upload many registrations (JSON list or NDJSON) as a background job",
    responses={
        202: {
            "description": "The job, queued",
            "links": {
                "GetJob": {
                    "operationId": "getJob",
                    "parameters": {
                        "campaign_id": "$request.path.campaign_id",
                        "job_id": "$response.body#/job_id",
                    },
                }
            },
        },
        **error_responses(403, 404),
    },
    openapi_extra=_BATCH_BODY,
)
async def submit_batch(
    request: Request, context: Context, key: Operator, campaign_id: str = CampaignId
) -> JSONResponse:
    """Create a job; follow it at the URL in ``Location`` (and ``url``)."""
    items = parse_batch(await request.body(), request.headers.get("content-type", ""))
    job = context.jobs.create(campaign_id, items, created_by=key.key_id)
    public = job_public(job)
    return JSONResponse(public.model_dump(), status_code=202, headers={"Location": public.url})


@router.get(
    "/registrations",
    operation_id="listRegistrations",
    response_model=RegistrationPage,
    summary="List registrations with filters and cursor pagination",
    responses=error_responses(404),
)
def list_registrations(
    context: Context,
    key: Reader,
    campaign_id: str = CampaignId,
    status: Annotated[DecisionStatus | None, Query()] = None,
    supplier_id: Annotated[str | None, Query(max_length=200)] = None,
    reason: Annotated[str | None, Query(max_length=100, description="NO MATCH reason")] = None,
    zip_code: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Return a page of decisions in submission order."""
    filters = Filters(status, supplier_id, reason, zip_code)
    return model_response(context.registrations.page(campaign_id, filters, cursor, limit))


@router.get(
    "/registrations/{registration_id}",
    operation_id="getRegistration",
    response_model=DecisionPublic,
    summary="Get one registration: decision, PO, explanation, model calls, audit",
    responses=error_responses(404),
)
def get_registration(
    context: Context,
    key: Reader,
    campaign_id: str = CampaignId,
    registration_id: str = RegistrationId,
) -> Response:
    """Return one registration's decision."""
    return model_response(context.registrations.get(campaign_id, registration_id))


@router.post(
    "/registrations/{registration_id}:cancel",
    operation_id="cancelRegistration",
    response_model=DecisionPublic,
    summary="Cancel a registration (frees its capacity at once; twice is harmless)",
    responses=error_responses(403, 404),
)
async def cancel_registration(
    context: Context,
    key: Operator,
    body: CancelRequest | None = None,
    campaign_id: str = CampaignId,
    registration_id: str = RegistrationId,
) -> Response:
    """Cancel; the registration may be submitted again afterwards."""
    reason = body.reason if body is not None else ""
    decision = await context.registrations.cancel(
        campaign_id, registration_id, cancelled_by=key.key_id, reason=reason
    )
    return model_response(decision)
