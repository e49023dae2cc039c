"""Phase 1 output: a match decision with the explanation of how it was reached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

NoMatchReason = Literal[
    "zip_not_served", "no_capacity", "product_unavailable", "invalid_registration"
]
MatchStatus = Literal["matched", "no_match"]
CandidateOutcome = Literal["chosen", "ranked_lower", "no_capacity", "product_unavailable"]
NO_MATCH_FOUND = "NO MATCH FOUND"

# Both are values the rules engine computes, never parsed from outside (what a model answers
# is checked by the validator, not read into these): plain dataclasses, not pydantic models,
# because a campaign builds a decision and ~4 assessments for every registration.


@dataclass(frozen=True, slots=True)
class CandidateAssessment:
    """How one supplier serving the ZIP fared, with its capacity at decision time."""

    supplier_id: str
    used: int
    capacity: int
    used_pct: float
    outcome: CandidateOutcome
    reason: str

    def as_row(self) -> dict[str, Any]:
        """Return the assessment as a row of the output's candidates table."""
        return {
            "supplier_id": self.supplier_id,
            "used": self.used,
            "capacity": self.capacity,
            "used_pct": self.used_pct,
            "outcome": self.outcome,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """The supplier chosen for a registration (or why none), and why."""

    registration_id: str
    record_index: int
    status: MatchStatus
    supplier_id: str | None
    reason: NoMatchReason | None = None
    message: str = ""
    zip_code: str | None = None
    num_panels: int | None = None
    num_batteries: int = 0
    candidates: tuple[CandidateAssessment, ...] = ()

    @property
    def is_match(self) -> bool:
        """Return True when a supplier was chosen."""
        return self.status == "matched"
