"""FakeChatClient and the package's public surface."""

from __future__ import annotations

import pytest

import igent.llm
from igent.errors import ModelCallError
from igent.llm import ChatRequest, FakeChatClient


async def test_fake_replies_in_order_and_records_requests() -> None:
    boom = ModelCallError("down", endpoint="mock", model="mock", retryable=True)
    fake = FakeChatClient(["plain", {"supplier_id": "S1"}, boom])
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}])

    assert (await fake.complete(request)).text == "plain"
    reply = await fake.complete(ChatRequest(messages=[], response_schema={"type": "object"}))
    assert reply.parsed == {"supplier_id": "S1"}
    with pytest.raises(ModelCallError):
        await fake.complete(request)
    assert len(fake.requests) == 3
    await fake.aclose()
    assert fake.closed


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in dir(igent.llm) if not name.startswith("_")}
    modules = {
        "cache", "call_errors", "client", "endpoints", "fake", "hedge", "json_extract", "limiter",
        "redaction", "retry", "streaming", "tokenizer", "transcript", "types", "usage",
    }  # fmt: skip
    assert sorted(igent.llm.__all__) == igent.llm.__all__
    assert set(igent.llm.__all__) == public - modules


async def test_fake_returns_non_json_replies_unparsed_with_one_costed_attempt() -> None:
    from igent.llm import Usage

    fake = FakeChatClient(["I cannot help."], usage=Usage(100, 5, 0.01))
    reply = await fake.complete(
        ChatRequest(messages=[], response_schema={"type": "object"}, stop_after_fields=("a",))
    )

    assert (reply.text, reply.parsed, reply.usage) == ("I cannot help.", None, Usage(100, 5, 0.01))
    assert [(a.usage, a.reply_text) for a in reply.attempts] == [(reply.usage, "I cannot help.")]


def test_one_wants_json_rule() -> None:
    from igent.llm import wants_json

    def ask(**kwargs) -> ChatRequest:
        return ChatRequest(messages=[], **kwargs)

    assert not wants_json(ask())
    assert not wants_json(ask(stream=True, tools=[{"type": "function"}]))
    assert all(
        wants_json(request)
        for request in (
            ask(response_schema={"type": "object"}),
            ask(watch_fields=("a",)),
            ask(early_stop=True),
            ask(stop_after_fields=("supplier_id",)),
        )
    )


def test_model_call_error_lists_no_attempts_until_a_client_fills_them() -> None:
    assert ModelCallError("down", endpoint="e", model="m").attempts == []


async def test_keep_requests_bounds_the_kept_requests_and_counts_all() -> None:
    fake = FakeChatClient(function=lambda request: "ok", keep_requests=2)
    for text in ("a", "b", "c"):
        await fake.complete(ChatRequest(messages=[{"role": "user", "content": text}]))

    assert [r.messages[0]["content"] for r in fake.requests] == ["b", "c"]
    assert fake.request_count == 3


def test_keep_requests_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="keep_requests=-1"):
        FakeChatClient(keep_requests=-1)


def test_the_mock_model_keeps_only_its_last_requests() -> None:
    from igent.workflows.models import MOCK_KEEP_REQUESTS, open_model

    with open_model("mock") as client:
        assert isinstance(client, FakeChatClient)
        assert client.keep_requests == MOCK_KEEP_REQUESTS
