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


def test_cached_prompt_tokens_cost_the_cached_price_and_add_up() -> None:
    gpt4o = resolve_endpoint("openai")
    # gpt-4o cached input is half the input price (openai.com/api/pricing).
    assert gpt4o.price_cached_input_per_1m == gpt4o.price_input_per_1m / 2
    assert cost_usd(gpt4o, 1_000_000, 0, cached_prompt_tokens=1_000_000) == pytest.approx(1.25)
    assert cost_usd(gpt4o, 1_000_000, 0, cached_prompt_tokens=400_000) == pytest.approx(2.0)
    no_cached_price = gpt4o.model_copy(update={"price_cached_input_per_1m": None})
    assert cost_usd(no_cached_price, 1_000_000, 0, 1_000_000) == pytest.approx(2.5)
    total = Usage(10, 1, 0.0, cached_prompt_tokens=8) + Usage(5, 1, 0.0, cached_prompt_tokens=4)
    assert total.cached_prompt_tokens == 12


def test_estimates_count_about_four_characters_per_token() -> None:
    from igent.llm import estimate_prompt_tokens, estimate_tokens

    assert estimate_tokens("12345678") == 2
    messages = [{"role": "system", "content": "x" * 40}, {"role": "user", "content": "y" * 4}]
    assert estimate_prompt_tokens(messages) == 11 + 2 * 4  # text plus per-message overhead


def test_openai_models_are_counted_with_their_own_tokenizer_offline() -> None:
    from igent.llm import estimate_tokens
    from igent.llm.tokenizer import token_counter

    count = token_counter("gpt-4o")
    assert count is not None
    # o200k_base: "Hello" " world" are two tokens; four characters per token would say 3
    assert count("Hello world") == 2
    assert estimate_tokens("Hello world", count) == 2
    assert estimate_tokens("Hello world") == 3
    assert token_counter("openai/gpt-4o-mini") is not None
    assert token_counter("gemma-3-270m") is None


def test_prompt_estimates_use_the_tokenizer_when_given_one() -> None:
    from igent.llm import estimate_prompt_tokens
    from igent.llm.tokenizer import token_counter

    messages = [{"role": "user", "content": '{"Contact_Zip": "55401", "panels": 12}'}]
    counted = estimate_prompt_tokens(messages, None, token_counter("gpt-4o"))
    rough = estimate_prompt_tokens(messages)
    assert counted != rough
    count = token_counter("gpt-4o")
    assert count is not None
    assert counted == count(messages[0]["content"]) + 4


def test_a_tiny_prompt_does_not_calibrate_the_prompt_token_estimate() -> None:
    from igent.llm import ChatRequest, OpenAICompatibleClient

    # a model whose tokenizer igent does not know offline: estimates are calibrated
    endpoint = resolve_endpoint("sim").model_copy(
        update={"base_url": "http://127.0.0.1:9/v1", "model": "local-model"}
    )
    client = OpenAICompatibleClient(endpoint, api_key="sim", env={})
    task = ChatRequest(messages=[{"role": "user", "content": "x" * 1800}])
    before = client.estimate_prompt_tokens(task)

    client._calibrate(ChatRequest(messages=[{"role": "user", "content": "warm-up"}]), 2)
    assert client.estimate_prompt_tokens(task) == before  # a ping is mostly overhead
    client._calibrate(task, 2 * before)
    assert client.estimate_prompt_tokens(task) == 2 * before  # a real prompt calibrates
