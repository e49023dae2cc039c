"""Phase 1 output: a match decision with the explanation of how it was reached."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

NoMatchReason = Literal[
    "zip_not_served", "no_capacity", "product_unavailable", "invalid_registration"
]
MatchStatus = Literal["matched", "no_match"]
CandidateOutcome = Literal["chosen", "ranked_lower", "no_capacity", "product_unavailable"]
NO_MATCH_FOUND = "NO MATCH FOUND"


class CandidateAssessment(BaseModel):
    """How one supplier serving the ZIP fared, with its capacity at decision time."""

    model_config = ConfigDict(frozen=True)

    supplier_id: str
    used: int
    capacity: int
    used_pct: float
    outcome: CandidateOutcome
    reason: str


class MatchDecision(BaseModel):
    """The supplier chosen for a registration (or why none), and why."""

    model_config = ConfigDict(frozen=True)

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
