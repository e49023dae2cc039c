"""Usage arithmetic, cost and totals."""

from __future__ import annotations

import pytest

from igent.llm import CallTiming, Usage, UsageTotals, cost_usd, resolve_endpoint


def test_cost_uses_endpoint_prices() -> None:
    gpt4o = resolve_endpoint("openai")
    assert cost_usd(gpt4o, 1_000_000, 1_000_000) == pytest.approx(12.5)


def test_usage_adds_up() -> None:
    total = Usage(1, 2, 0.5) + Usage(10, 20, 1.0, estimated=True)
    assert total == Usage(11, 22, 1.5, estimated=True)
    assert total.total_tokens == 33


def test_totals_per_key_and_run() -> None:
    totals = UsageTotals()
    totals.add(Usage(1, 1, 0.1), key="R-1")
    totals.add(Usage(2, 2, 0.2), key="R-1")
    totals.add(Usage(4, 4, 0.4))
    assert totals.calls == 3
    assert totals.run.prompt_tokens == 7
    assert totals.by_key["R-1"].completion_tokens == 3


def test_timing_properties() -> None:
    timing = CallTiming(started_s=10.0, first_token_s=10.5, last_token_s=12.0)
    assert (timing.duration_s, timing.ttft_s) == (2.0, 0.5)
    assert CallTiming(1.0, None, 2.0).ttft_s is None
