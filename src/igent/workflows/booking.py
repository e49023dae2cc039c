"""What may be booked: the policy applied to a phase's answer before it becomes a decision.

A phase that ended without an answer its checks accepted is settled here: a model call that
failed makes the registration ``failed`` (not a decision; retried on ``--resume``), an answer
the critic never approved is replaced by the rules answer when the validator checks bookings,
else the registration is ``unapproved``. With the validator on (the default; ``--trust-model``
turns it off for the plan's constellations), a wrong answer is replaced by the rules answer
(``validator_override``). Whatever the setting, a supplier outside the registration's eligible
candidates and a price of 0 are never booked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from igent.domain import MatchDecision
from igent.rules.proposal import read_money, read_text
from igent.workflows.constellation import PhaseSpec
from igent.workflows.phase import PhaseResult

UnfinishedStatus = Literal["failed", "unapproved"]
RULES_SOURCES = frozenset(
    {
        "rules",
        "fallback_rules",
        "commit_repair",
        "validator_override",
        "unapproved_rules",
        "deadline_rules",
    }
)
"""Answer sources whose answer the rules engine gave: right by construction."""


@dataclass(frozen=True)
class Stop:
    """Why a registration ends without a decision: it is recorded, never booked."""

    status: UnfinishedStatus
    reason: str
    message: str


def settle(
    result: PhaseResult, spec: PhaseSpec, rules_answer: dict[str, Any] | None, *, checked: bool
) -> Stop | None:
    """Apply the booking policy to ``result`` in place; return a Stop when nothing is booked.

    ``checked`` says whether the validator checks what is booked (no ``--trust-model``).
    """
    failure = result.failure
    if failure is None or result.source == "fallback_rules":
        return None
    why = result.error or "the model gave no usable answer"
    if failure == "deadline":
        if spec.fallback == "rules":
            result.answer, result.source = rules_answer, "deadline_rules"
            return None
        return Stop("failed", "deadline", why)
    if failure == "call_failed":
        return Stop("failed", "model_call_failed", why)
    if checked:
        result.answer = rules_answer
        result.source = "unapproved_rules" if failure == "unapproved" else "validator_override"
        return None
    if failure == "unapproved":
        return Stop("unapproved", "critic_not_approved", why)
    if result.answer is None:
        return Stop("failed", "model_no_answer", why)
    return None


def outside_candidates(decision: MatchDecision, supplier_id: str | None) -> str | None:
    """Say why ``supplier_id`` may not be booked for ``decision``'s registration, or None.

    Only suppliers serving the ZIP with room and the products asked (the rules' chosen and
    ranked-lower candidates) may be booked, whoever proposed them.
    """
    if supplier_id is None:
        return None
    for candidate in decision.candidates:
        if candidate.supplier_id == supplier_id:
            if candidate.outcome in ("chosen", "ranked_lower"):
                return None
            return f"supplier {supplier_id!r} is not eligible: {candidate.reason}"
    zip_code = decision.zip_code or "?"
    return f"supplier {supplier_id!r} is not a candidate: it does not serve ZIP {zip_code}"


def unsafe_purchase_order(order: Mapping[str, Any], supplier_id: str) -> str | None:
    """Say why ``order`` may not be booked with the match to ``supplier_id``, or None."""
    given = read_text(order.get("supplier_id"))
    if given != supplier_id:
        return f"the purchase order names supplier {given!r}, the match is {supplier_id!r}"
    total = read_money(order.get("total_price"))
    if total is None or total <= 0:
        return f"total_price {order.get('total_price')!r} is not a positive amount"
    net = read_money(order.get("net_price"))
    if net is not None and net < 0:
        return f"net_price {order.get('net_price')!r} is negative"
    return None
