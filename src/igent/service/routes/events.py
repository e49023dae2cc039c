"""/v1/campaigns/{c}/events: server-sent events, resumable with Last-Event-ID."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from igent.service.deps import Context, Reader, error_responses
from igent.service.events import event_stream, parse_last_event_id
from igent.service.routes.campaigns import CampaignId

router = APIRouter(prefix="/v1/campaigns/{campaign_id}", tags=["events"])


@router.get(
    "/events",
    operation_id="streamEvents",
    summary="Stream decisions, cancellations, capacity changes and job progress (SSE)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **error_responses(404),
    },
)
def stream_events(
    request: Request,
    context: Context,
    key: Reader,
    campaign_id: str = CampaignId,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0, description="Resume after this event id")] = None,
    follow: Annotated[bool, Query(description="Keep the stream open for new events")] = True,
) -> StreamingResponse:
    """Send the events after Last-Event-ID (or ``after``), then new ones as they happen."""
    context.desk.row(campaign_id)
    stream = event_stream(
        context.tables,
        campaign_id,
        parse_last_event_id(last_event_id, after),
        follow=follow,
        is_disconnected=request.is_disconnected,
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
