"""Token cost from endpoint prices, and totals per registration and per run."""

from __future__ import annotations

from dataclasses import dataclass, field

from igent.llm.endpoints import Endpoint
from igent.llm.types import Usage


def cost_usd(endpoint: Endpoint, prompt_tokens: int, completion_tokens: int) -> float:
    """Return the USD cost of a call at the endpoint's per-million-token prices."""
    return (
        prompt_tokens * endpoint.price_input_per_1m
        + completion_tokens * endpoint.price_output_per_1m
    ) / 1_000_000


def to_usage(endpoint: Endpoint, prompt_tokens: int, completion_tokens: int) -> Usage:
    """Return a `Usage` with its cost filled in."""
    return Usage(
        prompt_tokens, completion_tokens, cost_usd(endpoint, prompt_tokens, completion_tokens)
    )


def estimate_tokens(text: str) -> int:
    """Roughly count tokens (about four characters each) when an endpoint reports none."""
    return (len(text) + 3) // 4


@dataclass
class UsageTotals:
    """Usage summed over a run and per key (usually a registration id)."""

    run: Usage = field(default_factory=Usage)
    by_key: dict[str, Usage] = field(default_factory=dict)
    calls: int = 0

    def add(self, usage: Usage, key: str | None = None) -> None:
        """Count one call's usage towards the run, and towards ``key`` when given."""
        self.run = self.run + usage
        self.calls += 1
        if key is not None:
            self.by_key[key] = self.by_key.get(key, Usage()) + usage
