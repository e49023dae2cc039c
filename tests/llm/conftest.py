"""Fixtures for igent.llm tests: a fake clock, a sim endpoint, and clients over MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from igent.llm import Endpoint, OpenAICompatibleClient, RetryPolicy, resolve_endpoint
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.payloads import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def endpoint() -> Endpoint:
    sim = resolve_endpoint("sim")
    return sim.model_copy(update={"base_url": "http://sim.test/v1"})


@pytest.fixture
def keyed_endpoint() -> Endpoint:
    return resolve_endpoint("openai").model_copy(update={"base_url_env": None})


Handler = Callable[[httpx.Request], Any]


@pytest.fixture
async def make_client(
    endpoint: Endpoint, clock: FakeClock
) -> AsyncIterator[Callable[..., OpenAICompatibleClient]]:
    clients: list[OpenAICompatibleClient] = []

    def build(handler: Handler, **kwargs: Any) -> OpenAICompatibleClient:
        kwargs.setdefault("endpoint", endpoint)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("env", {})
        kwargs.setdefault("retry_policy", RetryPolicy(max_attempts=3, jitter=0.0))
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = OpenAICompatibleClient(http_client=http, **kwargs)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture(scope="session")
def _fake_openai_session() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def fake_server(_fake_openai_session: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The fake OpenAI-compatible server on 127.0.0.1, with a fresh script for this test."""
    _fake_openai_session.reset()
    yield _fake_openai_session
    # A test that leaves a reply held open must not leak it into the next test.
    assert _fake_openai_session.wait_for(lambda server: server.in_flight == 0)
