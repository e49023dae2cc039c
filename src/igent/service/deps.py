"""FastAPI dependencies as ``Annotated`` aliases: the service context and the caller's key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from igent.service.auth import bearer_token
from igent.service.context import ServiceContext
from igent.service.schemas import ConflictResponse, ErrorResponse, ValidationErrorResponse
from igent.store.service_tables import KeyRow


async def get_context(request: Request) -> ServiceContext:
    """Return the context ``create_app`` stored on the app."""
    context: ServiceContext = request.app.state.context
    return context


Context = Annotated[ServiceContext, Depends(get_context)]


def authenticate(request: Request, *, write: bool = False) -> KeyRow:
    """Check ``Authorization: Bearer KEY`` (401), the key's rate limit (429) and, for a
    ``write``, its role (403); return the key.

    One plain function rather than a chain of dependencies: FastAPI solves every dependency
    on every request, and this runs on all of them.
    """
    context: ServiceContext = request.app.state.context
    key = check_key(context, request.headers.get("authorization"), write=write)
    request.state.key_id = key.key_id
    return key


def check_key(context: ServiceContext, authorization: str | None, *, write: bool) -> KeyRow:
    """Return the key of an ``Authorization`` header; raise HTTPException 401, 429 or 403."""
    token = bearer_token(authorization)
    key = context.keys.find(token) if token else None
    if key is None:
        raise HTTPException(
            401,
            "missing or unknown API key: send 'Authorization: Bearer KEY' with a key from "
            "'igent keys create'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait_s = context.limiter.check(key.key_id)
    if wait_s is not None:
        raise HTTPException(
            429,
            f"rate limit of {context.limiter.per_minute} requests per minute reached for key "
            f"{key.key_id!r}; retry after {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )
    if write and key.role != "operator":
        raise HTTPException(
            403, f"key {key.key_id!r} is a viewer key; this request needs an operator key"
        )
    return key


async def require_key(request: Request) -> KeyRow:
    """Authenticate the caller (401) and apply the key's rate limit (429)."""
    return authenticate(request)


async def require_operator(request: Request) -> KeyRow:
    """Authenticate the caller and allow only operator keys (403 for viewers)."""
    return authenticate(request, write=True)


Reader = Annotated[KeyRow, Depends(require_key)]
Operator = Annotated[KeyRow, Depends(require_operator)]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Declare error responses in the OpenAPI document (every /v1 route has 401/413/422/429)."""
    descriptions = {
        400: "Bad request",
        401: "Missing or unknown API key",
        403: "Viewer key used for a write",
        404: "Not found",
        409: "Conflict with the stored state",
        413: "Request body too large",
        422: "Invalid request",
        429: "Rate limit reached (see Retry-After)",
        500: "Internal error",
        502: "Model endpoint failed",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for code in sorted({401, 413, 422, 429, 500, *codes}):
        model: type = {422: ValidationErrorResponse, 409: ConflictResponse}.get(code, ErrorResponse)
        responses[code] = {"model": model, "description": descriptions[code]}
    return responses


__all__ = [
    "Context",
    "Operator",
    "Reader",
    "authenticate",
    "check_key",
    "error_responses",
    "get_context",
    "require_key",
    "require_operator",
]
