"""A decision's answer encoded without validating it a second time.

``DecisionPublic(**fields).model_dump_json()`` validates every field (the candidates, each
timing) before pydantic encodes it. A POST's answer is built from values the service made
itself, so :func:`encode_answer` hands them to pydantic's encoder directly when each already
has the type the model would keep: the bytes are the model's (it encodes through the same
encoder), and anything else (a model call, a cancellation, an unexpected type) returns None,
for the caller to take the model's path. tests/service/test_answers.py compares the two.
"""

from __future__ import annotations

from typing import Any, get_args

import pydantic_core

from igent.service.schemas import Candidate, DecisionPublic, DecisionStatus
from igent.store.base import EncodedDict

_STATUSES = frozenset(get_args(DecisionStatus))
_OPTIONAL_TEXT = (str, type(None))
_SCALAR_TYPES = frozenset({str, int, float, bool})
# A purchase order may come with its ledger encoding (a dict all the same to pydantic).
_DICTS = frozenset({dict, EncodedDict})
# Candidate's fields in its order, with the one type each may have as is (no coercion).
CANDIDATE_TYPES: tuple[tuple[str, type], ...] = (
    ("supplier_id", str),
    ("used", int),
    ("capacity", int),
    ("used_pct", float),
    ("outcome", str),
    ("reason", str),
)
_CANDIDATE_NAMES = tuple(name for name, _ in CANDIDATE_TYPES)
_CANDIDATE_KINDS = tuple(kind for _, kind in CANDIDATE_TYPES)
_TEXT = frozenset({str})
FIELDS = tuple(DecisionPublic.model_fields)
CANDIDATE_FIELDS = tuple(Candidate.model_fields)


def encode_answer(fields: dict[str, Any]) -> bytes | None:
    """The JSON of ``DecisionPublic(**fields)``, or None when only the model can tell.

    ``fields`` holds every field of DecisionPublic, in its order.
    """
    candidates = _candidates(fields["candidates"])
    if (
        candidates is None
        or fields["model_calls"] != []
        or fields["cancellations"] != []
        or type(fields["campaign_id"]) is not str
        or type(fields["registration_id"]) is not str
        or type(fields["message"]) is not str
        or type(fields["status"]) is not str
        or fields["status"] not in _STATUSES
        or type(fields["supplier_id"]) not in _OPTIONAL_TEXT
        or type(fields["reason"]) not in _OPTIONAL_TEXT
        or type(fields["source"]) not in _OPTIONAL_TEXT
        or type(fields["deadline_fallback"]) is not bool
        or not (fields["offer_version"] is None or type(fields["offer_version"]) is int)
        or not _text_keyed(fields["purchase_order"])
        or not _text_keyed(fields["audit"])
        or not _scalars(fields["timings"])
    ):
        return None
    return pydantic_core.to_json(
        {**fields, "candidates": candidates}, inf_nan_mode="null"
    )  # the model's own setting: ser_json_inf_nan="null"


def _candidates(rows: Any) -> list[dict[str, Any]] | None:
    """The candidate rows as the model keeps them (its fields only, in order), or None."""
    if type(rows) is not list:
        return None
    kept = []
    for row in rows:
        if type(row) is not dict:
            return None
        out = {name: row.get(name) for name in _CANDIDATE_NAMES}
        if tuple(map(type, out.values())) != _CANDIDATE_KINDS:
            return None
        kept.append(out)
    return kept


def _text_keyed(value: Any) -> bool:
    """Whether ``value`` is None or a dict with str keys (``dict[str, Any] | None``)."""
    return value is None or (type(value) in _DICTS and set(map(type, value)) <= _TEXT)


def _scalars(value: Any) -> bool:
    """Whether ``value`` is a dict of str to str, int, float or bool (the timings)."""
    return (
        type(value) is dict
        and set(map(type, value)) <= _TEXT
        and set(map(type, value.values())) <= _SCALAR_TYPES
    )


__all__ = ["CANDIDATE_FIELDS", "CANDIDATE_TYPES", "FIELDS", "encode_answer"]
