"""Service-level errors (404, 409) and the JSON answers of every error the service raises.

The answers are built here, not in the exception handlers, so that the registration fast
path (``service/fast_path.py``) answers an error exactly as the handlers do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from igent.errors import ConfigError, DataError, IgentError, ModelCallError
from igent.service.schemas import CapacityConflict

log = logging.getLogger("igent.service")
BODY_NOT_JSON = "There was an error parsing the body"


class NotFound(IgentError):
    """A campaign, registration or job that does not exist (404)."""


class Conflict(IgentError):
    """A request that contradicts the stored state (409), with the fields or numbers."""

    def __init__(
        self,
        message: str,
        *,
        fields: Sequence[str] = (),
        suppliers: Sequence[CapacityConflict] = (),
    ) -> None:
        super().__init__(message)
        self.fields = list(fields)
        self.suppliers = list(suppliers)


class CursorError(IgentError):
    """A list cursor that cannot be read (422)."""


def igent_error_response(method: str, path: str, exc: IgentError) -> JSONResponse:
    """Answer an IgentError: 404, 409 (with fields), 422, 502, else 500 (logged)."""
    if isinstance(exc, Conflict):
        body = {
            "detail": str(exc),
            "fields": exc.fields,
            "suppliers": [s.model_dump() for s in exc.suppliers],
        }
        return JSONResponse(body, status_code=409)
    status = 500
    if isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, ConfigError | DataError | CursorError):
        status = 422
    elif isinstance(exc, ModelCallError):
        status = 502
    if status == 500:
        log.error("request %s %s failed: %s", method, path, exc)
    return JSONResponse({"detail": str(exc)}, status_code=status)


def http_error_response(exc: StarletteHTTPException) -> JSONResponse:
    """Answer an HTTPException (401, 403, 429, ...) as ``{"detail": ...}``."""
    if exc.status_code == 400 and exc.detail == BODY_NOT_JSON:
        # FastAPI's answer to a body that is not UTF-8 JSON; a bad body is a 422 here.
        detail = "body: not readable as JSON; send UTF-8 JSON (Content-Type: application/json)"
        return JSONResponse({"detail": detail, "errors": []}, status_code=422)
    return JSONResponse(
        {"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


__all__ = ["Conflict", "CursorError", "NotFound", "http_error_response", "igent_error_response"]
