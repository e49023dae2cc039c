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
