"""TranscriptClient writes redacted JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from igent.errors import ModelCallError
from igent.llm import (
    ChatRequest,
    RetryPolicy,
    TranscriptClient,
    TranscriptWriter,
    redact,
    scrub,
)
from tests.support.payloads import SENTINEL_KEY, completion


def test_redact_drops_secret_keys_and_masks_key_like_strings() -> None:
    record = {
        "headers": {"Authorization": f"Bearer {SENTINEL_KEY}", "x-trace": "1"},
        "api_key": SENTINEL_KEY,
        "note": [f"key is {SENTINEL_KEY}"],
    }
    assert redact(record) == {"headers": {"x-trace": "1"}, "note": ["key is sk-***"]}


async def test_transcript_records_requests_and_errors_without_the_key(
    tmp_path: Path, make_client, keyed_endpoint
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, json=completion("fine"))
        message = f"Incorrect API key provided: {SENTINEL_KEY}"
        return httpx.Response(401, json={"error": {"message": message}})

    path = tmp_path / "transcript.jsonl"
    inner = make_client(
        handler,
        endpoint=keyed_endpoint,
        api_key=SENTINEL_KEY,
        retry_policy=RetryPolicy(max_attempts=1),
    )
    client = TranscriptClient(
        inner, TranscriptWriter(path, secrets=[SENTINEL_KEY]), now=lambda: 1.0
    )
    request = ChatRequest(
        messages=[{"role": "user", "content": "hi"}], metadata={"registration_id": "R-1"}
    )

    await client.complete(request)
    with pytest.raises(ModelCallError):
        await client.complete(request)

    text = path.read_text(encoding="utf-8")
    assert SENTINEL_KEY not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["request"]["metadata"] == {"registration_id": "R-1"}
    assert first["response"]["text"] == "fine"
    assert second["error"]["type"] == "ModelCallError"
    assert "401" in second["error"]["message"]


def test_scrub_masks_keys_but_leaves_ordinary_words() -> None:
    text = f"risk-assessment-of-the-task-abcdefghijklmnop key={SENTINEL_KEY} Bearer abc.def"
    assert scrub(text) == "risk-assessment-of-the-task-abcdefghijklmnop key=sk-*** Bearer ***"
    assert scrub("token abc123 here", ("abc123",)) == "token *** here"


async def test_transcript_stores_every_attempt_with_its_full_reply_and_error(
    tmp_path: Path, make_client
) -> None:
    long_reply = "prose before the answer " * 20 + '{"supplier_id": "S1"}'
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(502, json={"error": {"message": "bad gateway"}})
        return httpx.Response(200, json=completion(long_reply))

    path = tmp_path / "transcript.jsonl"
    client = TranscriptClient(make_client(handler), TranscriptWriter(path), now=lambda: 1.0)

    await client.complete(ChatRequest(messages=[{"role": "user", "content": "hi"}]))

    [record] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    failed, answered = record["attempts"]
    assert "HTTP 502" in failed["error"] and failed["reply_text"] == ""
    assert answered["error"] is None and answered["reply_text"] == long_reply
    assert len(long_reply) > 400  # stored whole, not as an excerpt
    assert answered["usage"]["prompt_tokens"] == 10
    assert "attempts" not in record["response"]


async def test_transcript_of_a_failed_call_lists_its_attempts(tmp_path: Path, make_client):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom"}})

    path = tmp_path / "transcript.jsonl"
    client = TranscriptClient(make_client(handler), TranscriptWriter(path))

    with pytest.raises(ModelCallError):
        await client.complete(ChatRequest(messages=[{"role": "user", "content": "hi"}]))

    [record] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(record["attempts"]) == 3
    assert all("HTTP 500" in attempt["error"] for attempt in record["attempts"])


async def test_configured_key_of_any_shape_is_masked_even_when_a_reply_echoes_it(
    tmp_path: Path, make_client, keyed_endpoint
) -> None:
    key = "local-canary-7f3a9"  # no sk- prefix: only the configured value can catch it
    other_key = "zhipu.canary.abcdef"
    reply = f'{{"supplier_id": "S1", "note": "your key is {key} and {other_key}"}}'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion(reply))

    path = tmp_path / "transcript.jsonl"
    inner = make_client(handler, endpoint=keyed_endpoint, api_key=key)
    writer = TranscriptWriter(path, secrets=[other_key])
    client = TranscriptClient(inner, writer)

    response = await client.complete(ChatRequest(messages=[{"role": "user", "content": key}]))

    assert response.text == reply  # the caller gets the reply; only what is written is masked
    text = path.read_text(encoding="utf-8")
    assert key not in text and other_key not in text
    assert "your key is *** and ***" in text


def test_endpoint_secrets_are_every_configured_key_of_the_registry() -> None:
    from igent.llm import endpoint_secrets, load_presets

    env = {"OPENAI_API_KEY": "sk-one-1234", "DEEPSEEK_API_KEY": "ds-two-5678", "OTHER": "x"}
    assert endpoint_secrets(load_presets(), env) == ("ds-two-5678", "sk-one-1234")


def test_redacting_filter_masks_keys_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from igent.llm import RedactingFilter

    logger = logging.getLogger("igent.test.redaction")
    caplog.set_level(logging.INFO, logger=logger.name)
    caplog.handler.addFilter(RedactingFilter(["local-canary-7f3a9"]))
    try:
        logger.info("reply echoed %s", "local-canary-7f3a9")
    finally:
        caplog.handler.filters.clear()

    assert caplog.messages == ["reply echoed ***"]
    assert "canary" not in caplog.text


async def test_keys_of_other_configured_endpoints_are_masked_too(tmp_path: Path, make_client):
    other = "deepseek-canary-0042"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion(f"the other key is {other}"))

    path = tmp_path / "transcript.jsonl"
    inner = make_client(handler, env={"DEEPSEEK_API_KEY": other})
    await TranscriptClient(inner, TranscriptWriter(path)).complete(
        ChatRequest(messages=[{"role": "user", "content": "hi"}])
    )

    assert other in inner.secrets
    assert other not in path.read_text(encoding="utf-8")
