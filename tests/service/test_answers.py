"""A POST's answer encoded without a second validation is the model's, byte for byte."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from igent.service.answers import CANDIDATE_FIELDS, CANDIDATE_TYPES, FIELDS, encode_answer
from igent.service.registrations import public_fields
from igent.service.schemas import DecisionPublic
from igent.store import StoredDecision
from igent.store.base import EncodedDict
from igent.store.service_tables import CancellationRow, Submission
from tests.service.conftest import create_campaign, demo_offers, demo_registrations


def model_json(fields: dict[str, Any]) -> bytes:
    return DecisionPublic(**fields).model_dump_json().encode()


def test_the_fields_are_the_models_in_its_order() -> None:
    assert tuple(name for name, _ in CANDIDATE_TYPES) == CANDIDATE_FIELDS
    stored = StoredDecision("R1", 1, "run", "no_match", None, {"registration_id": "R1"})
    fields = public_fields("C", stored, None, [], None)
    assert tuple(fields) == FIELDS


async def test_every_answer_of_a_campaign_is_the_models(client) -> None:
    # Tight capacity: matched, no_match (no capacity, no supplier) and invalid answers.
    offers = demo_offers()
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = 3
    await create_campaign(client, offers=offers)
    context = client._transport.app.state.context  # type: ignore[attr-defined]
    registrations = [
        {**r, "RegistrationNumber": f"{r['RegistrationNumber']}-{i}"}
        for i in range(3)
        for r in demo_registrations()
    ]
    answers = await asyncio.gather(
        *(client.post("/v1/campaigns/demo/registrations", json=r) for r in registrations)
    )
    assert {a.json()["status"] for a in answers} >= {"matched", "no_match"}

    for answer in answers:
        registration_id = answer.json()["registration_id"]
        stored = context.registrations._stored("demo", registration_id)
        submission = context.tables.submission("demo", registration_id)
        fields = public_fields("demo", stored, submission, [], None)
        assert encode_answer(fields) == model_json(fields) == answer.content


def fields_of(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "campaign_id": "C",
        "registration_id": "R1",
        "status": "matched",
        "supplier_id": "S",
        "reason": None,
        "message": "ünïcode",
        "source": "rules",
        "candidates": [
            {
                "supplier_id": "S",
                "used": 1,
                "capacity": 3,
                "used_pct": 33.333333333333336,
                "outcome": "chosen",
                "reason": "lowest used pct",
            }
        ],
        "purchase_order": {"total": 1e-05, "lines": [{"n": 10**20}], "x": float("inf")},
        "timings": {"total_s": 0.00012, "llm_calls": 0, "cached": True, "note": "x"},
        "model_calls": [],
        "audit": None,
        "deadline_fallback": False,
        "cancellations": [],
        "offer_version": 1,
    }
    fields.update(changes)
    return fields


def test_floats_ints_infinity_and_text_encode_as_the_model_does() -> None:
    fields = fields_of()
    assert encode_answer(fields) == model_json(fields)


def test_a_purchase_order_with_its_ledger_encoding_encodes_as_a_dict() -> None:
    order = {"supplier_id": "S", "total_price": 77.64, "lines": [{"price": 77.64}]}
    fields = fields_of(purchase_order=EncodedDict(order, '{"ignored": true}'))
    plain = model_json(fields_of(purchase_order=order))
    assert encode_answer(fields) == model_json(fields) == plain


def test_a_candidate_with_more_keys_keeps_the_models_fields_in_order() -> None:
    row = dict(reversed(list(fields_of()["candidates"][0].items())), extra="dropped")
    fields = fields_of(candidates=[row])
    assert encode_answer(fields) == model_json(fields)


@pytest.mark.parametrize(
    "changes",
    [
        {"candidates": [{**fields_of()["candidates"][0], "used_pct": 50}]},  # the model: 50.0
        {"candidates": [{**fields_of()["candidates"][0], "used": True}]},
        {"model_calls": [{"role": "matcher"}]},
        {"cancellations": [vars(CancellationRow("op", "typo", "2026-01-01"))]},
        {"status": "maybe"},
        {"reason": 3},
        {"offer_version": True},
        {"purchase_order": {1: "a"}},
        {"timings": {"n": None}},
    ],
)
def test_anything_the_model_would_change_or_refuse_is_left_to_the_model(
    changes: dict[str, Any],
) -> None:
    assert encode_answer(fields_of(**changes)) is None


def test_a_submission_with_model_calls_is_answered_by_the_model() -> None:
    stored = StoredDecision("R1", 1, "run", "no_match", None, {"registration_id": "R1"})
    submission = Submission({}, "decided", [{"role": "matcher", "model": "m"}], {})
    fields = public_fields("C", stored, submission, [], None)
    assert encode_answer(fields) is None
    assert DecisionPublic(**fields).model_calls[0].model == "m"
