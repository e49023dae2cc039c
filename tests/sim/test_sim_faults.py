"""Each fault kind, forced at rate 1.0, seen through the real openai SDK."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from igent.sim import FaultConfig, SimConfig, SimServer


def _config(role: str, **faults: float) -> SimConfig:
    return SimConfig(profile="instant", faults={role: FaultConfig(**faults)})  # type: ignore[dict-item]


def _client(server: SimServer, timeout_s: float = 10.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sim", max_retries=0, timeout=timeout_s)


def test_rate_limit_is_a_429_with_retry_after(start_sim, task_message):
    server = start_sim(_config("matcher", rate_limit=1.0, retry_after_s=2))
    with _client(server) as client, pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="sim", messages=task_message("match"))
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]


def test_server_error_is_a_500_in_openai_format(start_sim, task_message):
    server = start_sim(_config("matcher", server_error=1.0))
    with _client(server) as client, pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="sim", messages=task_message("match"))
    assert caught.value.status_code == 500
    assert caught.value.body["type"] == "server_error"  # type: ignore[index]


def test_truncated_stream_breaks_off_without_done(start_sim, task_message):
    server = start_sim(_config("matcher", truncated_stream=1.0))
    body = {"model": "sim", "messages": task_message("match"), "stream": True}
    received: list[str] = []
    with httpx.Client() as http, pytest.raises(httpx.RemoteProtocolError):
        with http.stream("POST", f"{server.base_url}/chat/completions", json=body) as response:
            received.extend(response.iter_lines())
    assert "data: [DONE]" not in received
    assert not any('"finish_reason":"stop"' in line for line in received)


def test_truncated_stream_raises_in_the_sdk(start_sim, task_message):
    server = start_sim(_config("matcher", truncated_stream=1.0))
    with _client(server) as client, pytest.raises((httpx.HTTPError, openai.APIError)):
        stream = client.chat.completions.create(
            model="sim", messages=task_message("match"), stream=True
        )
        for _ in stream:
            pass


def test_malformed_json_does_not_parse(start_sim, task_message):
    server = start_sim(_config("matcher", malformed_json=1.0))
    response_format = {"type": "json_object"}
    with _client(server) as client:
        for n in range(6):
            reply = client.chat.completions.create(
                model="sim",
                messages=task_message("match"),
                response_format=response_format,  # type: ignore[arg-type]
                seed=n,
            )
            with pytest.raises(json.JSONDecodeError):
                json.loads(reply.choices[0].message.content or "")


def test_hang_exceeds_a_short_client_timeout(start_sim, task_message):
    server = start_sim(_config("matcher", hang=1.0, hang_s=5.0))
    with _client(server, timeout_s=0.3) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="sim", messages=task_message("match"))


def test_false_reject_rejects_a_correct_proposal(start_sim, task_message, expected_match, json_in):
    server = start_sim(_config("critic", false_reject=1.0))
    with _client(server) as client:
        reply = client.chat.completions.create(
            model="sim", messages=task_message("review_match", expected_match)
        )
    assert json_in(reply.choices[0].message.content)["verdict"] == "REJECT"


def test_wrong_answer_differs_from_the_rules(start_sim, task_message, expected_match, json_in):
    server = start_sim(SimConfig(profile="instant", error_rate=1.0))
    with _client(server) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="sim", messages=task_message("match")
        )
    assert raw.headers["x-sim-fault"] == "wrong_answer"
    assert json_in(raw.parse().choices[0].message.content) != expected_match


def test_faults_apply_only_to_their_role(start_sim, task_message, expected_order, json_in):
    server = start_sim(_config("matcher", server_error=1.0))
    with _client(server) as client:
        reply = client.chat.completions.create(model="sim", messages=task_message("price"))
    assert json_in(reply.choices[0].message.content) == expected_order
