"""The prose real chat models wrap around a JSON answer, so parsers have something to skip."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

from igent.domain import NO_MATCH_FOUND
from igent.sim.faults import Role

_BEFORE: dict[Role, tuple[str, ...]] = {
    "matcher": (
        "Here is the match:\n",
        "Based on the service areas and the live capacity, this is my decision.\n\n",
        "Sure! Here is the match for this registration.\n\n",
    ),
    "pricer": (
        "Here is the purchase order:\n",
        "I priced the match from the supplier's offer tiers.\n\n",
    ),
    "critic": (
        "Review of the proposal:\n",
        "I checked the proposal against the campaign rules.\n\n",
    ),
    "chat": ("",),
}


def wrap_in_prose(role: Role, answer: Mapping[str, Any], rng: random.Random) -> str:
    """Return the answer as pretty JSON between an opening line and an explanation."""
    body = json.dumps(answer, indent=2, ensure_ascii=False)
    if rng.random() < 0.5:
        body = f"```json\n{body}\n```"
    return rng.choice(_BEFORE[role]) + body + explanation(role, answer)


def explanation(role: Role, answer: Mapping[str, Any]) -> str:
    """Return the paragraph after the JSON (about 40-80 tokens for matchers and pricers)."""
    if role == "matcher":
        supplier_id = answer.get("supplier_id")
        if supplier_id == NO_MATCH_FOUND:
            return (
                "\n\nNo supplier can take this registration: none of the suppliers serving the "
                "ZIP has both capacity left and the products asked for, so the answer is "
                f"{NO_MATCH_FOUND}. It should be revisited if capacity is added."
            )
        return (
            f"\n\n{supplier_id} serves the registration's ZIP and still has capacity, and among "
            "the eligible suppliers it has the lowest share of its capacity used, so it is the "
            f"fairest choice. The registration asks for {answer.get('num_panels')} panels and "
            f"{answer.get('num_batteries')} batteries, which {supplier_id} offers."
        )
    if role == "pricer":
        return (
            f"\n\nI priced {answer.get('num_panels')} panels from the closest tier "
            f"({answer.get('solar_tier_quantity')}) in the {answer.get('payment_type')} column, "
            "added the battery line, and subtracted the incentives that apply on the campaign "
            f"date, which gives a net price of {answer.get('net_price')}."
        )
    if role == "critic":
        if answer.get("verdict") == "APPROVE":
            return "\n\nI checked the service area, capacity and tiers.\nVERDICT: APPROVE"
        issues = "\n".join(f"- {issue}" for issue in answer.get("issues", []))
        return f"\n\nIssues found:\n{issues}\nVERDICT: REJECT"
    return ""
