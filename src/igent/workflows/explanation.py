"""Explain a committed match: the candidates table and message describe what was booked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from igent.domain import NO_MATCH_FOUND, MatchDecision


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
    rows = [c.model_dump() for c in rules.candidates]
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
