"""Explain a committed match: the candidates table and message describe what was booked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from igent.domain import NO_MATCH_FOUND, MatchDecision, RegistrationRecord
from igent.rules import RulesEngine, validate_match, validate_purchase_order
from igent.workflows.booking import RULES_SOURCES
from igent.workflows.phase import PhaseResult


def _shown(supplier_id: str | None) -> str:
    return repr(supplier_id) if supplier_id else NO_MATCH_FOUND


def disagreement(model_choice: str | None, rules: MatchDecision, because: Sequence[str]) -> str:
    """Say that the model's choice differs from the rules', and why the rules choose theirs."""
    why = "; ".join(because) or rules.message or "of the matching rules"
    return (
        f"model chose {_shown(model_choice)}; the rules choose {_shown(rules.supplier_id)} "
        f"because {why}"
    )


def candidates_for(rules: MatchDecision, booked: str | None) -> list[dict[str, Any]]:
    """Return the candidates table of ``rules``, rewritten when ``booked`` is not its choice.

    The booked supplier is the one marked ``chosen``; the rules' own choice, when it was not
    booked, is marked ``ranked_lower`` and says so.
    """
    rows = [c.as_row() for c in rules.candidates]
    if booked == rules.supplier_id:
        return rows
    for row in rows:
        if row["supplier_id"] == booked:
            row["outcome"] = "chosen"
            row["reason"] = f"booked as the model chose it; the rules rank it: {row['reason']}"
        elif row["outcome"] == "chosen":
            row["outcome"] = "ranked_lower"
            row["reason"] = f"the rules' choice ({row['reason']}); the model chose {_shown(booked)}"
    return rows


def grade_match(
    engine: RulesEngine,
    record: RegistrationRecord,
    p1: PhaseResult,
    p2: PhaseResult | None,
    match: Mapping[str, Any],
    used_at_commit: Mapping[str, int],
    purchase_order: Mapping[str, Any] | None,
) -> dict[str, bool | None]:
    """Grade the final answers with the validator against the state they committed on.

    Answers the rules engine gave (directly, as fallback, override or commit repair) are right
    by construction and are not validated again.
    """
    supplier_ok = True
    if match["source"] not in RULES_SOURCES:
        final_match = {**match, "supplier_id": match["supplier_id"] or NO_MATCH_FOUND}
        supplier_ok = validate_match(engine, record, used_at_commit, final_match).is_valid
    price_ok: bool | None = None
    supplier_id = match["supplier_id"]
    if p2 is not None and p2.source in RULES_SOURCES and purchase_order is not None:
        price_ok = True
    elif supplier_id is not None and record.registration is not None:
        price_ok = (
            purchase_order is not None
            and validate_purchase_order(engine, record, supplier_id, purchase_order).is_valid
        )
    return {
        "raw_supplier_ok": p1.raw_valid,
        "final_supplier_ok": supplier_ok,
        "raw_price_ok": None if p2 is None else p2.raw_valid,
        "final_price_ok": price_ok,
    }
