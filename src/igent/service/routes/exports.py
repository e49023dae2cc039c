"""/v1/campaigns/{c}/exports: purchase orders (CSV, XLSX) and the decision log (JSONL)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from igent.service.deps import Context, Reader, error_responses
from igent.service.exports import decision_log, po_rows, to_csv, to_xlsx
from igent.service.routes.campaigns import CampaignId

router = APIRouter(prefix="/v1/campaigns/{campaign_id}/exports", tags=["exports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Supplier = Annotated[str | None, Query(max_length=200, description="Only this supplier")]


def _binary(media_type: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {media_type: {"schema": {"type": "string"}}}}}


@router.get(
    "/purchase-orders.csv",
    operation_id="exportPurchaseOrdersCsv",
    summary="Purchase orders as CSV: one row per PO line, sorted by supplier",
    response_class=Response,
    responses={**_binary("text/csv"), **error_responses(404)},
)
async def purchase_orders_csv(
    context: Context, key: Reader, campaign_id: str = CampaignId, supplier_id: Supplier = None
) -> Response:
    """Return the PO lines of matched registrations."""
    context.desk.row(campaign_id)
    rows = await asyncio.to_thread(
        lambda: po_rows(context.desk.store.decisions(campaign_id), supplier_id)
    )
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{campaign_id}-pos.csv"'},
    )


@router.get(
    "/purchase-orders.xlsx",
    operation_id="exportPurchaseOrdersXlsx",
    summary="Purchase orders as XLSX: one sheet per supplier, one row per PO line",
    response_class=Response,
    responses={**_binary(XLSX), **error_responses(404)},
)
async def purchase_orders_xlsx(
    context: Context, key: Reader, campaign_id: str = CampaignId, supplier_id: Supplier = None
) -> Response:
    """Return the PO lines as a workbook."""
    context.desk.row(campaign_id)
    data = await asyncio.to_thread(
        lambda: to_xlsx(po_rows(context.desk.store.decisions(campaign_id), supplier_id))
    )
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{campaign_id}-pos.xlsx"'},
    )


@router.get(
    "/decisions.jsonl",
    operation_id="exportDecisionLog",
    summary="The full decision log as JSON lines",
    response_class=StreamingResponse,
    responses={**_binary("application/x-ndjson"), **error_responses(404)},
)
def decisions_jsonl(context: Context, key: Reader, campaign_id: str = CampaignId) -> Response:
    """Stream every decision with its payload."""
    context.desk.row(campaign_id)
    return StreamingResponse(
        decision_log(campaign_id, context.desk.store.decisions(campaign_id)),
        media_type="application/x-ndjson",
    )
