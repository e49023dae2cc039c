"""Answers encoded once: a validated wire model straight to JSON bytes.

A route that returns a model lets FastAPI validate it again against ``response_model``, dump
it to a dict and encode that; the hot routes return :func:`model_response` instead (their
``response_model`` still documents the schema in /openapi.json).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from pydantic import BaseModel

JSON = "application/json"


def model_response(
    model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Return ``model`` as a JSON response, serialised by pydantic in one pass."""
    return Response(model.model_dump_json(), status_code, headers, media_type=JSON)


__all__ = ["model_response"]
