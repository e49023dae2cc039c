"""``create_app(settings, client=None)``: the campaign service as a FastAPI app.

Nothing is built at import time: each call opens its own database connections, metrics
registry and limits, so tests and several apps in one process do not share state.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import igent
from igent.errors import IgentError
from igent.llm import ChatClient
from igent.service.auth import KeyCache
from igent.service.campaigns import CampaignDesk
from igent.service.context import ServiceContext
from igent.service.errors import http_error_response, igent_error_response
from igent.service.fast_path import RegistrationFastPath, registration_route
from igent.service.jobs import job_runner
from igent.service.limits import BodyLimitMiddleware, RateLimiter
from igent.service.metrics import RequestMetricsMiddleware, ServiceMetrics
from igent.service.registrations import RegistrationDesk
from igent.service.routes import (
    campaigns,
    docs,
    events,
    exports,
    health,
    jobs,
    page,
    registrations,
)
from igent.settings import Settings
from igent.store.postgres_service import open_service_database

log = logging.getLogger("igent.service")


def build_context(settings: Settings, client: ChatClient | None = None) -> ServiceContext:
    """Open the database and build the desks of one app."""
    # SQLite file or PostgreSQL URL; the ledger migrations (0002_service included) run here.
    store, tables = open_service_database(settings.database_target())
    desk = CampaignDesk(store, tables, client=client)
    metrics = ServiceMetrics(desk.all_capacity)
    registrations_desk = RegistrationDesk(
        desk, tables, metrics, deadline_s=settings.request_deadline_s
    )
    return ServiceContext(
        settings=settings,
        tables=tables,
        desk=desk,
        registrations=registrations_desk,
        jobs=job_runner(settings, registrations_desk, tables),
        limiter=RateLimiter(settings.rate_limit_per_minute),
        metrics=metrics,
        keys=KeyCache(tables),
        client=client,
    )


def create_app(settings: Settings, client: ChatClient | None = None) -> FastAPI:
    """Build the service app on ``settings``; ``client`` replaces every campaign's model."""
    context = build_context(settings, client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resumed = context.jobs.resume()
        if resumed:
            log.info("resumed %d unfinished batch jobs", resumed)
        try:
            yield
        finally:
            await context.jobs.stop()
            await context.desk.aclose()
            context.close()

    app = FastAPI(
        title="igent campaign service",
        version=igent.__version__,
        description="Match registrations to supplier offers as they arrive; see README 'Service'.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry here: off, FastAPI skips its provider lookups on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.context = context
    # Routes are matched in this order, router by router: the hottest route goes first.
    for router in (
        registrations.router,
        health.router,
        docs.router,
        campaigns.router,
        jobs.router,
        events.router,
        exports.router,
        page.router,
        page.api,
    ):
        app.include_router(router)
    static = Path(str(resources.files("igent.service") / "static"))
    app.mount("/static", StaticFiles(directory=static), name="static")
    _add_error_handlers(app)
    _add_middleware(app, context)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IgentError)
    async def igent_error(request: Request, exc: IgentError) -> JSONResponse:
        return igent_error_response(request.method, request.url.path, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return http_error_response(exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only the type name goes out: the message of a foreign exception is not vetted.
        log.exception("request %s %s failed", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error ({type(exc).__name__}); see the service log"},
            status_code=500,
        )


def _add_middleware(app: FastAPI, context: ServiceContext) -> None:
    settings = context.settings
    # Added first, so innermost: CORS, the request metrics and the body limit (added after,
    # so around it) apply to the fast path's answers too.
    route = registration_route(registrations.router.routes)
    app.add_middleware(RegistrationFastPath, context=context, route=route)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(RequestMetricsMiddleware, metrics=context.metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)


__all__ = ["build_context", "create_app"]
