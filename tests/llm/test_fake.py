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
        "cache", "client", "endpoints", "fake", "hedge", "json_extract", "limiter", "redaction",
        "retry", "streaming", "transcript", "types", "usage",
    }  # fmt: skip
    assert sorted(igent.llm.__all__) == igent.llm.__all__
    assert set(igent.llm.__all__) == public - modules
