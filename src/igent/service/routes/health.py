"""Health, readiness and metrics (no API key: for probes and scrapers on the host)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from igent.errors import IgentError
from igent.service.deps import Context
from igent.service.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", operation_id="healthz", response_model=HealthResponse, summary="The process is up"
)
def healthz() -> HealthResponse:
    """Answer while the process runs."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=HealthResponse,
    summary="Database reachable and model endpoint configured",
    responses={503: {"model": HealthResponse, "description": "Not ready"}},
)
def readyz(context: Context) -> Response:
    """Check the database and the model configuration."""
    checks: dict[str, str] = {}
    try:
        context.tables.ping()
        checks["database"] = "ok"
    except IgentError as exc:
        checks["database"] = str(exc)
    try:
        problems = context.desk.model_problems()
    except IgentError as exc:
        problems = {"?": str(exc)}
    checks["model"] = "ok" if not problems else "; ".join(problems.values())
    ready = checks["database"] == "ok" and not problems
    body = HealthResponse(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(context: Context) -> Response:
    """Return the metrics in the Prometheus text format."""
    return Response(context.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
