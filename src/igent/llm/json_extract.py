"""Find the JSON value in a model reply that may wrap it in prose or a code fence."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from igent.errors import ModelOutputError, excerpt
from igent.llm.types import ChatRequest

JsonKind = Literal["object", "array"]

_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def wants_json(request: ChatRequest) -> bool:
    """Return whether ``request`` asks for a JSON reply: the one rule client, stream, fake use."""
    return bool(
        request.response_schema
        or request.watch_fields
        or request.early_stop
        or request.stop_after_fields
    )


def wants_object(request: ChatRequest) -> bool:
    """Return whether the JSON asked for is an object (so a leading ``[...]`` is prose)."""
    schema = request.response_schema or {}
    return (
        schema.get("type") == "object"
        or bool(request.watch_fields)
        or bool(request.stop_after_fields)
    )


def parse_reply(request: ChatRequest, text: str) -> Any | None:
    """Return the reply's JSON when ``request`` wants JSON and ``text`` has some, else None.

    Never raises: whether a reply is acceptable is the caller's (the agent's) decision, and a
    billed reply must reach it with its usage whatever its content.
    """
    if not wants_json(request):
        return None
    try:
        return extract_json(text, prefer="object" if wants_object(request) else None)
    except ModelOutputError:
        return None


def extract_json(text: str, *, prefer: JsonKind | None = None) -> Any:
    """Return the first JSON object or array in ``text``.

    Tries, in order: the whole text, the body of each code fence, then every ``{``/``[``
    position (objects first when ``prefer="object"``), so prose before or after the
    value does no harm.

    Raises:
        ModelOutputError: no JSON value could be decoded.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    for match in _FENCE.finditer(text):
        try:
            return json.loads(match.group(1).strip())
        except ValueError:
            continue
    found = _scan(text, prefer)
    if found is not _MISSING:
        return found
    raise ModelOutputError(
        "reply is not valid JSON: no JSON object or array found "
        f"(reply starts {excerpt(stripped)!r})",
        raw=text,
    )


_MISSING = object()


def _scan(text: str, prefer: JsonKind | None) -> Any:
    openers = {"object": "{", "array": "["}
    passes = [openers[prefer], "{[".replace(openers[prefer], "")] if prefer else ["{["]
    for chars in passes:
        for index, char in enumerate(text):
            if char not in chars:
                continue
            try:
                value, _ = _DECODER.raw_decode(text, index)
            except ValueError:
                continue
            return value
    return _MISSING
