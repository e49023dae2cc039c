"""Token cost from endpoint prices, token estimates, and totals per registration and per run.

Estimates use the model's own tokenizer where igent knows it offline (OpenAI models, see
``igent.llm.tokenizer``), else about four characters per token; either way the usage is marked
``Usage.estimated``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from igent.llm.endpoints import Endpoint
from igent.llm.tokenizer import TokenCounter
from igent.llm.types import Usage

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens the chat template adds per message (role markers), as OpenAI documents for gpt-4o."""


def cost_usd(
    endpoint: Endpoint, prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0
) -> float:
    """Return the USD cost of a call at the endpoint's per-million-token prices.

    ``cached_prompt_tokens`` are part of ``prompt_tokens`` and cost the cached-input price.
    """
    cached = min(max(cached_prompt_tokens, 0), prompt_tokens)
    cached_price = endpoint.price_cached_input_per_1m
    if cached_price is None:
        cached_price = endpoint.price_input_per_1m
    return (
        (prompt_tokens - cached) * endpoint.price_input_per_1m
        + cached * cached_price
        + completion_tokens * endpoint.price_output_per_1m
    ) / 1_000_000


def to_usage(
    endpoint: Endpoint,
    prompt_tokens: int,
    completion_tokens: int,
    cached_prompt_tokens: int = 0,
    *,
    estimated: bool = False,
) -> Usage:
    """Return a `Usage` with its cost filled in."""
    return Usage(
        prompt_tokens,
        completion_tokens,
        cost_usd(endpoint, prompt_tokens, completion_tokens, cached_prompt_tokens),
        estimated=estimated,
        cached_prompt_tokens=cached_prompt_tokens,
    )


def estimate_tokens(text: str, counter: TokenCounter | None = None) -> int:
    """Count tokens with ``counter`` (the model's tokenizer), else about four characters each."""
    if counter is not None:
        return counter(text)
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_prompt_tokens(
    messages: list[dict[str, str]],
    tools: list[dict[str, Any]] | None = None,
    counter: TokenCounter | None = None,
) -> int:
    """Count the prompt tokens of ``messages`` and ``tools`` (tokenizer or rough estimate)."""
    texts = [str(message.get("content", "")) for message in messages]
    if tools:
        texts.append(json.dumps(tools))
    if counter is not None:
        counted = sum(counter(text) for text in texts)
    else:
        counted = estimate_tokens("x" * sum(len(text) for text in texts))
    return counted + MESSAGE_OVERHEAD_TOKENS * len(messages)


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
