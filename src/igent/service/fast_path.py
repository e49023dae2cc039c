"""The registration route without FastAPI's per-request machinery, for well-formed requests.

``POST /v1/campaigns/{campaign_id}/registrations`` is the service's hot route. FastAPI spends
about as much CPU on routing, dependency solving and its exception layers as igent spends
deciding, so this middleware answers the route itself when the request is well formed: a
valid campaign id, a JSON body that validates as ``RegistrationIn``. Anything else (an invalid
body or id, another content type, a disconnect) goes to the FastAPI app unchanged, with the
body replayed, so every error answer stays FastAPI's. The checks run in FastAPI's order and
without side effects until the key is checked (its rate limit takes a token), so a request
that falls back is answered exactly as if the fast path did not exist.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from igent.errors import IgentError
from igent.service.context import ServiceContext
from igent.service.deps import check_key
from igent.service.errors import http_error_response, igent_error_response
from igent.service.routes.registrations import decide_one
from igent.service.schemas import CAMPAIGN_ID_PATTERN, RegistrationIn

ROUTE_PATH = "/v1/campaigns/{campaign_id}/registrations"
_PATH = re.compile(r"/v1/campaigns/([^/]+)/registrations")
_CAMPAIGN_ID = re.compile(CAMPAIGN_ID_PATTERN)
_JSON_TYPES = frozenset({b"application/json", b"application/json; charset=utf-8"})


class RegistrationFastPath:
    """Answer well-formed registration POSTs directly; pass everything else to ``app``."""

    def __init__(self, app: ASGIApp, context: ServiceContext, route: APIRoute) -> None:
        self.app = app
        self.context = context
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        campaign_id = _campaign_id(scope)
        if campaign_id is None:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = await _read_body(receive, messages)
        registration = _registration(scope, body)
        if registration is None:  # FastAPI answers it (422, 400...) or sees the disconnect
            await self.app(scope, _replay(messages, receive), send)
            return
        scope["route"] = self.route  # what RequestMetricsMiddleware counts
        scope["path_params"] = {"campaign_id": campaign_id}
        try:
            key = check_key(self.context, _header(scope, b"authorization"), write=True)
            scope.setdefault("state", {})["key_id"] = key.key_id
            response = await decide_one(self.context, campaign_id, registration, key)
        except HTTPException as exc:
            response = http_error_response(exc)
        except IgentError as exc:
            response = igent_error_response(scope["method"], scope["path"], exc)
        await response(scope, receive, send)


def _campaign_id(scope: Scope) -> str | None:
    """The campaign id of a registration POST whose id FastAPI would accept, else None."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
        return None
    match = _PATH.fullmatch(scope["path"])
    # fullmatch: "$" alone would let a trailing newline through, which FastAPI refuses.
    if match is None or _CAMPAIGN_ID.fullmatch(match[1]) is None:
        return None
    return match[1]


async def _read_body(receive: Receive, messages: list[Message]) -> bytes | None:
    """Read the whole body, keeping the messages in ``messages``; None on a disconnect."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _registration(scope: Scope, body: bytes | None) -> RegistrationIn | None:
    """The body as a RegistrationIn when FastAPI would accept it as one, else None."""
    if not body:
        return None
    content_types = [v for k, v in scope["headers"] if k == b"content-type"]
    if len(content_types) != 1 or content_types[0].lower() not in _JSON_TYPES:
        return None
    try:
        data: Any = json.loads(body)
        return RegistrationIn.model_validate(data)
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError included
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as Starlette's ``headers.get``."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives ``messages`` again, then what ``receive`` gives."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def registration_route(routes: list[Any]) -> APIRoute:
    """Return the app's registration POST route (its template is what metrics count)."""
    for route in routes:
        if (
            isinstance(route, APIRoute)
            and route.path == ROUTE_PATH
            and "POST" in (route.methods or ())
        ):
            return route
    raise LookupError(f"no POST route {ROUTE_PATH!r}")


__all__ = ["ROUTE_PATH", "RegistrationFastPath", "registration_route"]
