"""ResponseCache and CachingClient."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from igent.llm import CachingClient, ChatRequest, FakeChatClient, ResponseCache, cache_key
from tests.support.payloads import SENTINEL_KEY, completion


def ask(content: str = "match R-1", **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": content}], **kwargs)


@pytest.fixture
def cache(tmp_path: Path):
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        yield cache


async def test_identical_request_is_a_hit(cache: ResponseCache) -> None:
    inner = FakeChatClient([{"supplier_id": "S1"}])
    client = CachingClient(inner, cache, endpoint="sim", model="gpt-4o")
    seen: list[tuple[str, Any]] = []

    first = await client.complete(ask(response_schema={"type": "object"}))
    second = await client.complete(
        ask(
            response_schema={"type": "object"},
            watch_fields=("supplier_id",),
            on_field=lambda name, value: seen.append((name, value)),
            metadata={"registration_id": "R-1"},
        )
    )

    assert len(inner.requests) == 1
    assert (cache.hits, cache.misses) == (1, 1)
    assert not first.cached and second.cached
    assert second.parsed == {"supplier_id": "S1"}
    assert second.timing.duration_s == 0
    assert seen == [("supplier_id", "S1")]


async def test_changed_messages_or_model_miss(cache: ResponseCache) -> None:
    inner = FakeChatClient(function=lambda request: "reply")
    await CachingClient(inner, cache, endpoint="sim", model="gpt-4o").complete(ask())
    await CachingClient(inner, cache, endpoint="sim", model="gpt-4o").complete(ask("other"))
    await CachingClient(inner, cache, endpoint="sim", model="gpt-4o-mini").complete(ask())

    assert len(inner.requests) == 3
    assert cache.misses == 3


def test_key_ignores_metadata_but_not_params() -> None:
    base = cache_key(ask(), endpoint="sim", model="m")
    assert cache_key(ask(metadata={"role": "critic"}), endpoint="sim", model="m") == base
    assert cache_key(ask(temperature=0.7), endpoint="sim", model="m") != base
    assert cache_key(ask(), endpoint="openai", model="m") != base


async def test_read_mode_does_not_write(tmp_path: Path) -> None:
    inner = FakeChatClient(function=lambda request: "reply")
    with ResponseCache(tmp_path / "c.sqlite", mode="read") as cache:
        client = CachingClient(inner, cache, endpoint="sim", model="m")
        await client.complete(ask())
        await client.complete(ask())
    assert len(inner.requests) == 2


async def test_cache_file_never_holds_the_api_key(
    tmp_path: Path, make_client, keyed_endpoint
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion('{"supplier_id": "S9"}'))

    path = tmp_path / "cache.sqlite"
    inner = make_client(handler, endpoint=keyed_endpoint, api_key=SENTINEL_KEY)
    with ResponseCache(path) as cache:
        client = CachingClient(inner, cache)
        await client.complete(ask(response_schema={"type": "object"}))
        hit = await client.complete(ask(response_schema={"type": "object"}))

    assert hit.cached and hit.endpoint == "openai"
    assert SENTINEL_KEY.encode() not in path.read_bytes()


def test_cache_key_covers_address_model_parameters_and_prompt_version() -> None:
    base = ask(response_schema={"type": "object"})
    key = cache_key(base, endpoint="openai", model="gpt-4o", base_url="http://a/v1")
    variants = {
        "base_url": cache_key(base, endpoint="openai", model="gpt-4o", base_url="http://b/v1"),
        "model": cache_key(base, endpoint="openai", model="gpt-4o-mini", base_url="http://a/v1"),
        "extra_params": cache_key(
            base, endpoint="openai", model="gpt-4o", base_url="http://a/v1", extra_params={"s": 1}
        ),
        "prompt_version": cache_key(
            base, endpoint="openai", model="gpt-4o", base_url="http://a/v1", prompt_version="v2"
        ),
    }
    changed_requests = {
        "temperature": ask(response_schema={"type": "object"}, temperature=0.7),
        "max_tokens": ask(response_schema={"type": "object"}, max_tokens=40),
        "schema": ask(response_schema={"type": "array"}),
        "tools": ask(response_schema={"type": "object"}, tools=[{"type": "function"}]),
        "messages": ask("match R-2", response_schema={"type": "object"}),
        "stop_after": ask(
            response_schema={"type": "object"}, stream=True, stop_after_fields=("supplier_id",)
        ),
        "metadata_version": ask(
            response_schema={"type": "object"}, metadata={"prompt_version": "v3"}
        ),
    }
    for name, request in changed_requests.items():
        variants[name] = cache_key(
            request, endpoint="openai", model="gpt-4o", base_url="http://a/v1"
        )

    assert all(value != key for value in variants.values()), variants
    assert len(set(variants.values())) == len(variants)
    labels_only = ask(response_schema={"type": "object"}, metadata={"registration_id": "R-9"})
    assert cache_key(labels_only, endpoint="openai", model="gpt-4o", base_url="http://a/v1") == key


async def test_replies_from_another_server_are_not_replayed(cache: ResponseCache) -> None:
    class Described(FakeChatClient):
        def __init__(self, base_url: str, reply: str) -> None:
            super().__init__([reply])
            self.base_url = base_url

    first = CachingClient(Described("http://sim:1/v1", "from sim"), cache, endpoint="openai")
    second = CachingClient(Described("http://other:2/v1", "from other"), cache, endpoint="openai")

    assert (await first.complete(ask())).text == "from sim"
    assert (await second.complete(ask())).text == "from other"
    assert cache.hits == 0


async def test_cache_stores_replies_with_configured_keys_masked(
    tmp_path: Path, cache: ResponseCache
) -> None:
    key = "local-canary-7f3a9"
    inner = FakeChatClient([{"supplier_id": "S1", "note": f"key {key}"}])
    client = CachingClient(inner, cache, endpoint="sim", model="gpt-4o", secrets=(key,))

    await client.complete(ask(response_schema={"type": "object"}))
    replayed = await client.complete(ask(response_schema={"type": "object"}))

    assert key not in (tmp_path / "cache.sqlite").read_bytes().decode("utf-8", "replace")
    assert replayed.cached and replayed.parsed == {"supplier_id": "S1", "note": "key ***"}
    assert replayed.attempts == []  # a cache hit makes no HTTP attempt


async def test_the_simulators_fresh_port_does_not_split_the_cache(cache: ResponseCache) -> None:
    class Described(FakeChatClient):
        def __init__(self, base_url: str, reply: str) -> None:
            super().__init__([reply])
            self.base_url = base_url

    first = CachingClient(Described("http://127.0.0.1:4001/v1", "a"), cache, endpoint="sim")
    second = CachingClient(Described("http://127.0.0.1:4002/v1", "b"), cache, endpoint="sim")

    assert (await first.complete(ask())).text == "a"
    assert (await second.complete(ask())).text == "a"
    assert cache.hits == 1
