"""Fault injection: which failure a simulated reply suffers, drawn per request."""

from __future__ import annotations

import random
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["matcher", "pricer", "critic", "chat"]
# The Literal lists the kinds in draw order: transport failures first (the request never
# reaches the model), then the ways a finished reply can be bad.
FaultKind = Literal[
    "rate_limit",
    "server_error",
    "hang",
    "truncated_stream",
    "malformed_json",
    "wrong_answer",
    "false_reject",
]
FAULT_ORDER: tuple[FaultKind, ...] = get_args(FaultKind)


class FaultConfig(BaseModel):
    """Probabilities (0..1) of each fault for one role; checked in FAULT_ORDER, first wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_limit: float = Field(default=0.0, ge=0, le=1, description="429 with Retry-After.")
    server_error: float = Field(default=0.0, ge=0, le=1, description="500, OpenAI error body.")
    hang: float = Field(default=0.0, ge=0, le=1, description="Sleep hang_s before answering.")
    truncated_stream: float = Field(
        default=0.0, ge=0, le=1, description="Close the connection mid-reply, without [DONE]."
    )
    malformed_json: float = Field(default=0.0, ge=0, le=1, description="Cut or garbled JSON.")
    wrong_answer: float = Field(
        default=0.0, ge=0, le=1, description="Matcher/pricer: a plausible wrong answer."
    )
    false_reject: float = Field(
        default=0.0, ge=0, le=1, description="Critic: REJECT a correct proposal."
    )
    retry_after_s: float = Field(default=1.0, ge=0, description="Retry-After of a 429.")
    hang_s: float = Field(default=300.0, ge=0, description="How long a hang lasts (unscaled).")

    def probability(self, kind: FaultKind) -> float:
        """Return the probability of ``kind``."""
        value: float = getattr(self, kind)
        return value


def draw_fault(config: FaultConfig, rng: random.Random, role: Role) -> FaultKind | None:
    """Draw at most one fault; every kind consumes one draw so later draws stay aligned."""
    chosen: FaultKind | None = None
    for kind in FAULT_ORDER:
        hit = rng.random() < config.probability(kind)
        if chosen is None and hit and _applies(kind, role):
            chosen = kind
    return chosen


def _applies(kind: FaultKind, role: Role) -> bool:
    if kind == "wrong_answer":
        return role in ("matcher", "pricer")
    if kind == "false_reject":
        return role == "critic"
    if kind == "malformed_json":
        return role != "chat"
    return True
