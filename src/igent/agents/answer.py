"""Read an answer from a model reply: the reply's own JSON, for this registration, in shape.

A model that echoes its prompt or copies a data row must not be taken at its word: a JSON
object that appears verbatim in the prompt is never an answer, an answer must name the
registration it answers for, and it must satisfy the answer schema (required fields, types).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import jiter

from igent.agents.protocol import find_task
from igent.domain import Registration
from igent.rules import normalize_proposal

_DECODER = json.JSONDecoder()
_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_PROPOSAL = re.compile(r"^### PROPOSAL[ \t]*\n.*$", re.MULTILINE)
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def canonical(value: Any) -> str:
    """Return ``value`` as canonical JSON (sorted keys, no spaces), for comparisons."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_objects(text: str) -> Iterator[Any]:
    """Yield the top-level JSON objects of ``text`` in order, skipping prose and fences."""
    stripped = text.strip()
    try:
        whole = json.loads(stripped)
    except ValueError:
        pass
    else:
        yield whole
        return
    for fenced in _FENCE.finditer(text):
        try:
            yield json.loads(fenced.group(1).strip())
        except ValueError:
            continue
    index = text.find("{")
    while index != -1:
        try:
            value, end = _DECODER.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        yield value
        index = text.find("{", end)


def prompt_objects(messages: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Canonical JSON of every object in the prompt's system and user messages.

    A review's PROPOSAL is left out: it is an earlier answer, which may rightly be repeated.
    """
    found: set[str] = set()
    for message in messages:
        content = message.get("content")
        if message.get("role") not in ("system", "user") or not isinstance(content, str):
            continue
        text = _PROPOSAL.sub("", content)
        index = text.find("{")
        while index != -1:
            try:
                value, _ = _DECODER.raw_decode(text, index)
            except ValueError:
                pass
            else:
                if isinstance(value, dict):
                    found.add(canonical(value))
            index = text.find("{", index + 1)
    return frozenset(found)


def schema_errors(value: Any, schema: Mapping[str, Any], path: str = "answer") -> list[str]:
    """Check ``value`` against a JSON-schema subset (type, enum, properties, required, items)."""
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_is_type(value, name) for name in names):
            return [f"{path} is {value!r}; expected {' or '.join(names)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path} is {value!r}; expected one of {', '.join(map(str, schema['enum']))}"]
    errors: list[str] = []
    if isinstance(value, dict):
        missing = [name for name in schema.get("required", ()) if name not in value]
        if missing:
            errors.append(f"{path} lacks {', '.join(missing)}")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                errors += schema_errors(value[name], sub, f"{path}.{name}")
    if isinstance(value, list) and "items" in schema:
        for position, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{position}]")
    return errors


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES.get(name, (object,)))


def id_error(answer: Mapping[str, Any], registration_id: str | None) -> str | None:
    """Say why ``answer`` is not for ``registration_id``, or None when it is."""
    if registration_id is None:
        return None
    given = answer.get("registration_id")
    if given is None:
        return f"the answer has no registration_id; this task is for {registration_id!r}"
    if str(given).strip() != registration_id:
        return f"registration_id is {given!r} but this task is for {registration_id!r}"
    return None


def partial_object(text: str) -> dict[str, Any]:
    """Read the complete fields of a JSON object cut short (a stream stopped early)."""
    start = text.find("{")
    if start == -1:
        return {}
    try:
        value = jiter.from_json(text[start:].encode(), partial_mode=True)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def task_defaults(messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fields the rules derive from the task's registration alone (id, panels, batteries)."""
    task = find_task(messages)
    if task is None:
        return {}
    fields = dict(task.registration)
    # The counts do not depend on the ZIP; one the prompt could not type is sent as null.
    fields["Contact_Zip"] = fields.get("Contact_Zip") or "unknown"
    try:
        registration = Registration.model_validate(fields)
    except ValueError:
        return {}
    return {
        "registration_id": registration.registration_id,
        "num_panels": registration.num_panels,
        "num_batteries": registration.num_batteries,
    }


def pick_answer(
    candidates: Sequence[Any],
    schema: Mapping[str, Any] | None,
    registration_id: str | None,
    echoes: frozenset[str],
) -> tuple[dict[str, Any] | None, str | None]:
    """Return the first candidate that is a valid answer (keys normalised), else the first error."""
    first_error: str | None = None
    for value in candidates:
        answer, error = check_answer(value, schema, registration_id, echoes)
        if error is None:
            return answer, None
        first_error = first_error or error
    return None, first_error or "reply is not valid JSON: no JSON object found"


def check_answer(
    value: Any,
    schema: Mapping[str, Any] | None,
    registration_id: str | None,
    echoes: frozenset[str],
) -> tuple[dict[str, Any] | None, str | None]:
    """Return ``value`` with canonical keys, or None and why it is not an acceptable answer."""
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    if canonical(value) in echoes:
        return None, "the JSON object in the reply is copied from the prompt; answer with your own"
    try:
        answer = normalize_proposal(value)
    except ValueError as exc:
        return None, f"expected a JSON object: {exc}"
    errors = schema_errors(answer, schema) if schema is not None else []
    if errors:
        return None, "the answer does not fit its schema: " + "; ".join(errors[:5])
    error = id_error(answer, registration_id)
    return (None, error) if error else (answer, None)
