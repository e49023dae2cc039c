"""Prefill time grows with the prompt, a cached prefix is cheaper, max_tokens cuts replies."""

from __future__ import annotations

import random

import httpx
import pytest

from igent.sim import LatencyProfile, SimConfig, sample_latency
from igent.sim.prefix_cache import PrefixCache
from igent.sim.profiles import PROFILES, prefill_s
from igent.sim.reply import ChatRequest, plan_reply

STEADY = LatencyProfile(
    name="steady",
    ttft_median_s=0.5,
    ttft_sigma=0.0,
    tail_prob=0.0,
    output_tokens_per_s=100.0,
    prefill_s_per_1k_tokens=0.1,
    cached_prefill_factor=0.25,
)


def test_ttft_is_the_base_plus_prefill_per_input_token() -> None:
    short = sample_latency(STEADY, random.Random(1), 10, prompt_tokens=1_000)
    long = sample_latency(STEADY, random.Random(1), 10, prompt_tokens=11_000)

    assert short.ttft_s == pytest.approx(0.5 + 0.1)
    assert long.ttft_s - short.ttft_s == pytest.approx(1.0)


def test_cached_tokens_prefill_at_the_cached_rate() -> None:
    assert prefill_s(STEADY, 4_000, cached_tokens=2_000) == pytest.approx(0.2 + 0.05)


def test_existing_profiles_keep_their_medians() -> None:
    medians = {name: p.ttft_median_s for name, p in PROFILES.items()}
    assert medians == {
        "gpt-4o": 0.6,
        "gpt-4o-mini": 0.45,
        "glm-4.6": 0.9,
        "gpt-5": 6.0,
        "instant": 0.0,
    }
    assert PROFILES["instant"].prefill_s_per_1k_tokens == 0.0


def test_prefix_cache_reports_the_longest_seen_prefix_in_128_token_steps() -> None:
    cache = PrefixCache()
    prompt = "x" * 4 * 1_500  # 1,500 tokens

    assert cache.lookup_and_store("m", prompt) == 0
    assert cache.lookup_and_store("m", prompt) == 1_408  # 1,024 + 3 x 128
    assert cache.lookup_and_store("m", prompt[: 4 * 1_300] + "y" * 800) == 1_280
    assert cache.lookup_and_store("other-model", prompt) == 0


def test_prompts_under_1024_tokens_are_never_cached() -> None:
    cache = PrefixCache()
    prompt = "x" * 4 * 1_000

    cache.lookup_and_store("m", prompt)

    assert cache.lookup_and_store("m", prompt) == 0


def test_the_prefix_cache_forgets_the_least_recently_used() -> None:
    cache = PrefixCache(max_entries=1)
    first, second = "a" * 4 * 1_100, "b" * 4 * 1_100

    cache.lookup_and_store("m", first)
    cache.lookup_and_store("m", second)

    assert cache.lookup_and_store("m", first) == 0


def _request(content: str, **extra: object) -> ChatRequest:
    body = {"model": "steady", "messages": [{"role": "user", "content": content}], **extra}
    return ChatRequest.from_body(body)


def test_a_repeated_long_prompt_is_reported_cached_and_answered_sooner() -> None:
    config = SimConfig(profile=STEADY)
    cache = PrefixCache()
    prompt = "static campaign data " * 400  # ~2,100 tokens

    first = plan_reply(_request(prompt), config, random.Random(0), "a", prefix_cache=cache)
    second = plan_reply(_request(prompt), config, random.Random(0), "b", prefix_cache=cache)

    assert (first.cached_tokens, second.cached_tokens) == (0, 2_048)
    assert second.latency.ttft_s < first.latency.ttft_s


def test_max_tokens_cuts_the_reply_with_finish_reason_length() -> None:
    config = SimConfig(profile=STEADY)
    plan = plan_reply(_request("hello", max_tokens=5), config, random.Random(0), "a")

    assert plan.truncated and plan.finish_reason == "length"
    assert plan.completion_tokens == 5


def test_usage_reports_cached_tokens_in_stream_and_body(start_sim, task_message) -> None:
    server = start_sim(SimConfig(profile="instant"))
    long_system = {"role": "system", "content": "campaign rules " * 400}
    messages = [long_system, *task_message("match")[1:]]
    body = {"model": "instant", "messages": messages}
    with httpx.Client(base_url=server.base_url) as http:
        http.post("/chat/completions", json=body)
        again = http.post("/chat/completions", json=body).json()
        streamed = http.post(
            "/chat/completions",
            json={**body, "stream": True, "stream_options": {"include_usage": True}},
        ).text

    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] >= 1_024
    usage_events = [line for line in streamed.splitlines() if '"choices":[]' in line]
    assert len(usage_events) == 1 and '"cached_tokens":' in usage_events[0]


def test_structured_output_writes_the_keys_in_the_schema_order(task_message) -> None:
    from igent.agents.protocol import MATCH_SCHEMA

    schema_format = {"type": "json_schema", "json_schema": {"name": "m", "schema": MATCH_SCHEMA}}
    body = {"model": "instant", "messages": task_message("match")}
    config = SimConfig(profile="instant")

    with_schema = plan_reply(
        ChatRequest.from_body({**body, "response_format": schema_format}),
        config,
        random.Random(0),
        "a",
    )
    json_mode = plan_reply(
        ChatRequest.from_body({**body, "response_format": {"type": "json_object"}}),
        config,
        random.Random(0),
        "b",
    )

    assert with_schema.text.startswith('{"supplier_id":')
    assert json_mode.text.startswith('{"registration_id":')
