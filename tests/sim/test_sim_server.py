"""The simulator over HTTP, driven by the real openai SDK."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from igent.agents.protocol import MATCH_SCHEMA
from igent.sim import PROFILES, SimConfig, SimServer


def _client(server: SimServer, timeout_s: float = 10.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sim", max_retries=0, timeout=timeout_s)


def test_match_reply_equals_the_rules_engine(sim, task_message, expected_match, json_in):
    with _client(sim) as client:
        reply = client.chat.completions.create(model="sim", messages=task_message("match"))
    text = reply.choices[0].message.content
    assert json_in(text) == expected_match
    assert not text.lstrip().startswith("{"), "prose comes before the JSON by default"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_stream_assembles_to_the_same_answer_and_ends_with_done(
    sim, task_message, expected_match, json_in
):
    body = {
        "model": "sim",
        "messages": task_message("match"),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.Client() as http:
        with http.stream("POST", f"{sim.base_url}/chat/completions", json=body) as response:
            events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert json_in(text) == expected_match
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


async def test_async_sdk_stream_matches_rules(sim, task_message, expected_match, json_in):
    async with openai.AsyncOpenAI(base_url=sim.base_url, api_key="sim", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="sim", messages=task_message("match"), stream=True
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
    assert json_in("".join(parts)) == expected_match


def test_tools_get_a_tool_call_with_the_answer(sim, task_message, expected_match):
    tools = [
        {
            "type": "function",
            "function": {"name": "submit_match", "parameters": MATCH_SCHEMA},
        }
    ]
    with _client(sim) as client:
        reply = client.chat.completions.create(
            model="sim", messages=task_message("match"), tools=tools
        )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "submit_match"
    assert json.loads(call.function.arguments) == expected_match


def test_streamed_tool_call_assembles_to_the_answer(sim, task_message, expected_match):
    tools = [{"type": "function", "function": {"name": "submit_match", "parameters": {}}}]
    with _client(sim) as client:
        stream = client.chat.completions.create(
            model="sim", messages=task_message("match"), tools=tools, stream=True
        )
        deltas = [c.choices[0].delta for c in stream if c.choices]
    arguments = "".join(
        d.tool_calls[0].function.arguments or ""
        for d in deltas
        if d.tool_calls and d.tool_calls[0].function
    )
    assert deltas[0].tool_calls[0].function.name == "submit_match"
    assert json.loads(arguments) == expected_match


def test_json_schema_response_format_gives_bare_json(sim, task_message, expected_match):
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "match", "schema": MATCH_SCHEMA},
    }
    with _client(sim) as client:
        reply = client.chat.completions.create(
            model="sim", messages=task_message("match"), response_format=response_format
        )
    assert json.loads(reply.choices[0].message.content) == expected_match


def test_pricer_answer_equals_engine_price(sim, task_message, expected_order, json_in):
    with _client(sim) as client:
        reply = client.chat.completions.create(model="sim", messages=task_message("price"))
    assert json_in(reply.choices[0].message.content) == expected_order


def test_critic_approves_a_correct_match(sim, task_message, expected_match, json_in):
    with _client(sim) as client:
        reply = client.chat.completions.create(
            model="sim", messages=task_message("review_match", expected_match)
        )
    text = reply.choices[0].message.content
    assert json_in(text) == {"registration_id": "R-0001", "verdict": "APPROVE", "issues": []}
    assert text.rstrip().endswith("APPROVE")


def test_critic_rejects_a_wrong_supplier_with_the_validator_message(
    sim, task_message, expected_match, json_in
):
    wrong = {**expected_match, "supplier_id": "S2"}
    with _client(sim) as client:
        reply = client.chat.completions.create(
            model="sim", messages=task_message("review_match", wrong)
        )
    verdict = json_in(reply.choices[0].message.content)
    assert verdict["verdict"] == "REJECT"
    assert any("'S2'" in issue and "used pct" in issue for issue in verdict["issues"])


def test_critic_reviews_a_purchase_order(sim, task_message, expected_order, json_in):
    wrong = {**expected_order, "solar_price": expected_order["solar_price"] + 100}
    with _client(sim) as client:
        good = client.chat.completions.create(
            model="sim", messages=task_message("review_price", expected_order)
        )
        bad = client.chat.completions.create(
            model="sim", messages=task_message("review_price", wrong)
        )
    assert json_in(good.choices[0].message.content)["verdict"] == "APPROVE"
    verdict = json_in(bad.choices[0].message.content)
    assert verdict["verdict"] == "REJECT"
    assert any(issue.startswith("solar_price") for issue in verdict["issues"])


def test_repair_turn_is_answered_again(sim, task_message, expected_match, json_in):
    messages = [
        *task_message("match"),
        {"role": "assistant", "content": '{"supplier_id": "S2"}'},
        {"role": "user", "content": "The critic rejected it: S2 ranked lower. Try again."},
    ]
    with _client(sim) as client:
        reply = client.chat.completions.create(model="sim", messages=messages)
    assert json_in(reply.choices[0].message.content) == expected_match


def test_plain_chat_gets_a_generic_reply(sim):
    with _client(sim) as client:
        reply = client.chat.completions.create(
            model="sim", messages=[{"role": "user", "content": "hello"}]
        )
    assert "igent simulator" in (reply.choices[0].message.content or "")


def test_models_lists_the_profiles(sim):
    with _client(sim) as client:
        names = [m.id for m in client.models.list()]
    assert names == list(PROFILES)


def test_bad_request_is_a_400_in_openai_format(sim):
    with _client(sim) as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="sim", messages="nope")  # type: ignore[arg-type]


def test_intended_latency_headers_follow_the_scaled_profile(start_sim, task_message):
    server = start_sim(SimConfig(profile="gpt-4o", time_scale=0.01))
    ttfts, totals = [], []
    with _client(server) as client:
        for n in range(8):
            raw = client.chat.completions.with_raw_response.create(
                model="sim", messages=task_message("match"), seed=n
            )
            ttfts.append(float(raw.headers["x-sim-ttft-s"]))
            totals.append(float(raw.headers["x-sim-intended-latency-s"]))
            reply = raw.parse()
    tokens = reply.usage.completion_tokens
    ttfts.sort()
    median = ttfts[len(ttfts) // 2]
    assert 0.6 * 0.01 / 3 < median < 0.6 * 0.01 * 3
    # The rest of the reply streams at roughly 70 tokens/s, scaled.
    generation = totals[-1] - float(raw.headers["x-sim-ttft-s"])
    assert 0.5 * tokens / 70 * 0.01 < generation < 2 * tokens / 70 * 0.01


def test_model_name_selects_a_known_profile(start_sim, task_message):
    server = start_sim(SimConfig(profile="gpt-4o", time_scale=0.001))
    with _client(server) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="instant", messages=task_message("match")
        )
    assert float(raw.headers["x-sim-intended-latency-s"]) == 0.0


def test_stats_report_how_late_sends_were(start_sim, task_message):
    server = start_sim(SimConfig(profile="gpt-4o", time_scale=0.001))
    with _client(server) as client:
        client.chat.completions.create(model="sim", messages=task_message("match"))
    stats = httpx.get(f"{server.base_url}/sim/stats").json()
    assert stats["sends"] == 1 and stats["max_s"] >= 0
