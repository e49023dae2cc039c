"""The client against a real OpenAI-compatible server on 127.0.0.1 (tests/support's fake).

The only real waits are the client timeouts of a few hundred milliseconds in the timeout
tests; the server holds those replies open until the client goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from igent.errors import ConfigError, ModelCallError
from igent.llm import ChatRequest, Endpoint, HedgedClient, OpenAICompatibleClient
from tests.support.fake_openai_server import FakeOpenAIServer, Reply, echo_prompt

MATCH = '{"registration_id": "R-1", "supplier_id": "S1", "reason": "serves 55101"}'


def ask(content: str = "match R-1", **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": content}], **kwargs)


class Sleeps:
    """A sleep that records its delays and returns at once (retry backoff in tests)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


Connect = Callable[..., OpenAICompatibleClient]


@pytest.fixture
async def connect(fake_server: FakeOpenAIServer) -> AsyncIterator[Connect]:
    clients: list[OpenAICompatibleClient] = []

    def build(endpoint: Endpoint | None = None, **kwargs: Any) -> OpenAICompatibleClient:
        kwargs.setdefault("sleep", Sleeps())
        client = OpenAICompatibleClient(endpoint or fake_server.endpoint(), env={}, **kwargs)
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()


async def test_timed_out_stream_is_closed_so_the_server_can_cancel_it(fake_server, connect):
    fake_server.script(Reply(MATCH, hold_after_chunks=2))
    client = connect(timeout_s=0.3, max_attempts=1)

    with pytest.raises(ModelCallError, match=r"timed out after 0.3s") as caught:
        await client.complete(ask(stream=True))

    assert fake_server.wait_for(lambda server: server.cancelled == 1)
    assert (fake_server.started, fake_server.completed) == (1, 0)
    [attempt] = caught.value.attempts
    assert attempt.error is not None and "timed out" in attempt.error
    assert attempt.reply_text == MATCH[:8]  # the two chunks read before the server stalled
    assert attempt.duration_s >= 0.3
    # The server took the prompt: the attempt is counted and costed, marked as an estimate.
    assert attempt.usage.prompt_tokens > 0 and attempt.usage.estimated


async def test_timeout_and_attempts_come_from_the_registry(fake_server, connect):
    fake_server.script(Reply(hold_after_chunks=0), Reply(hold_after_chunks=0))
    sleeps = Sleeps()
    client = connect(fake_server.endpoint(timeout_s=0.2, max_attempts=2), sleep=sleeps)

    with pytest.raises(ModelCallError, match=r"timed out after 0.2s") as caught:
        await client.complete(ask(stream=True))

    assert (client.timeout_s, client.max_attempts) == (0.2, 2)
    assert fake_server.wait_for(lambda server: server.cancelled == 2)
    assert fake_server.started == 2 and len(sleeps.delays) == 1
    assert [a.error is not None for a in caught.value.attempts] == [True, True]


def test_constructor_arguments_override_the_registry(fake_server, connect):
    endpoint = fake_server.endpoint(
        timeout_s=5, max_attempts=2, max_concurrency=3, context_window=8192
    )
    default = connect(endpoint)
    custom = connect(endpoint, timeout_s=9, max_attempts=1, context_window=4096)

    assert (default.timeout_s, default.max_attempts, default.context_window) == (5, 2, 8192)
    assert (custom.timeout_s, custom.max_attempts, custom.context_window) == (9, 1, 4096)
    assert connect().timeout_s == 60 and connect().max_attempts == 4


async def test_request_larger_than_the_context_window_is_refused_before_sending(
    fake_server, connect
):
    client = connect(fake_server.endpoint(context_window=1000))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(ask("x" * 4000, max_tokens=50))

    message = str(caught.value)
    assert "does not fit its context window of 1000 tokens" in message
    assert "+ 50 max_tokens" in message and "set context_window" in message
    assert not caught.value.retryable and caught.value.attempts == []
    assert fake_server.started == 0 and fake_server.requests == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_server_context_window_error_is_not_retried(fake_server, connect, stream):
    fake_server.context_window = 100
    client = connect()

    with pytest.raises(ModelCallError) as caught:
        await client.complete(ask("y" * 2000, stream=stream))

    assert "larger than its context window" in str(caught.value)
    assert "exceed context window of 100" in str(caught.value)
    assert caught.value.status == 400 and not caught.value.retryable
    assert len(fake_server.requests) == 1
    [attempt] = caught.value.attempts
    assert attempt.usage.total_tokens == 0  # refused with an error status: nothing billed


async def test_stream_asks_for_usage_and_keeps_cached_tokens_at_the_cached_price(
    fake_server, connect
):
    fake_server.script(Reply(MATCH, prompt_tokens=2000, completion_tokens=20, cached_tokens=1024))
    endpoint = fake_server.endpoint(price_cached_input_per_1m=1.25)

    response = await connect(endpoint).complete(ask(stream=True))

    assert fake_server.requests[0]["stream_options"] == {"include_usage": True}
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (2000, 20)
    assert usage.cached_prompt_tokens == 1024 and not usage.estimated
    assert usage.cost_usd == pytest.approx((976 * 2.5 + 1024 * 1.25 + 20 * 10) / 1e6)


async def test_early_stop_without_a_usage_chunk_estimates_and_says_so(fake_server, connect):
    fake_server.script(Reply(MATCH + " and a long explanation that follows" * 3))

    response = await connect().complete(ask(stream=True, early_stop=True))

    assert response.stopped_early and response.parsed["supplier_id"] == "S1"
    assert response.usage.estimated
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


async def test_echoed_prompt_is_returned_as_text_with_its_usage(fake_server, connect):
    fake_server.script(echo_prompt)

    response = await connect().complete(ask("no JSON here", response_schema={"type": "object"}))

    assert (response.text, response.parsed) == ("no JSON here", None)
    assert response.usage.prompt_tokens == 3


async def test_hedge_sends_one_extra_request_and_cancels_the_loser(fake_server, connect):
    fake_server.script(Reply(MATCH, hold_after_chunks=0), Reply(MATCH))
    hedged = HedgedClient(connect(), delay_s=0.0)

    response = await hedged.complete(ask(stream=True))

    assert response.text == MATCH
    assert fake_server.wait_for(lambda server: server.in_flight == 0)
    assert (fake_server.started, fake_server.completed, fake_server.cancelled) == (2, 1, 1)
    assert (hedged.hedged, hedged.hedge_wins) == (1, 1)
    loser, winner = response.attempts  # the answering attempt last
    assert winner.error is None and winner.reply_text == MATCH
    assert loser.error == "cancelled" and loser.usage.prompt_tokens > 0  # counted and costed


async def test_hedge_is_not_sent_when_the_first_token_arrives_in_time(fake_server, connect):
    fake_server.script(Reply(MATCH))
    primary = connect()
    second = connect(fake_server.endpoint(name="fake-2"))
    hedged = HedgedClient(primary, second, delay_s=30.0)

    response = await hedged.complete(ask(stream=True))

    assert response.endpoint == "fake" and len(response.attempts) == 1
    assert fake_server.started == 1 and hedged.hedged == 0


async def test_hedge_goes_to_the_second_endpoint(fake_server, connect):
    fake_server.script(Reply(hold_after_chunks=0), Reply(MATCH))
    hedged = HedgedClient(connect(), connect(fake_server.endpoint(name="fake-2")), delay_s=0)

    response = await hedged.complete(ask())

    assert response.endpoint == "fake-2" and response.parsed is None
    assert fake_server.wait_for(lambda server: server.cancelled == 1)


def test_hedge_without_a_delay_is_a_config_error(fake_server, connect):
    with pytest.raises(ConfigError, match="set ttft_p90_s"):
        HedgedClient(connect())
    assert HedgedClient(connect(fake_server.endpoint(ttft_p90_s=0.8))).delay_s == 0.8


async def test_a_newer_request_cancels_the_running_one_like_llama_cpp(fake_server, connect):
    fake_server.cancel_on_concurrent = True
    fake_server.script(Reply(MATCH, hold_after_chunks=1), Reply(MATCH))
    client = connect(max_attempts=1)

    first = asyncio.create_task(client.complete(ask(stream=True)))
    assert await asyncio.to_thread(fake_server.wait_for, lambda server: server.started == 1)
    second = await client.complete(ask("another", stream=True))

    with pytest.raises(ModelCallError, match="ended before the reply finished"):
        await first
    assert second.text == MATCH


async def test_estimates_after_an_early_stop_are_scaled_to_the_servers_own_counts(
    fake_server, connect
):
    prompt = "55101, 55102, 55103, " * 100  # ZIP lists: far more tokens than chars/4
    rough = (len(prompt) + 3) // 4 + 4
    fake_server.script(Reply(MATCH, prompt_tokens=rough * 2), Reply(MATCH + " and more prose"))
    client = connect()

    counted = await client.complete(ask(prompt, stream=True))
    stopped = await client.complete(ask(prompt + "again", stream=True, early_stop=True))

    assert counted.usage.prompt_tokens == rough * 2 and not counted.usage.estimated
    assert stopped.usage.estimated
    assert stopped.usage.prompt_tokens == pytest.approx(rough * 2, rel=0.01)


async def test_context_window_check_uses_the_servers_counts(fake_server, connect):
    fake_server.script(Reply("ok", prompt_tokens=800))
    client = connect(fake_server.endpoint(context_window=1000))
    prompt = "z" * 1600  # 400 tokens by chars/4, 800 as this server counts

    await client.complete(ask(prompt))
    with pytest.raises(ModelCallError, match="does not fit"):
        await client.complete(ask(prompt + "z" * 1000))

    assert len(fake_server.requests) == 1


async def test_timed_out_whole_reply_request_is_closed_too(fake_server, connect):
    fake_server.script(Reply(MATCH, hold_after_chunks=0))
    client = connect(timeout_s=0.3, max_attempts=1)

    with pytest.raises(ModelCallError, match=r"timed out after 0.3s") as caught:
        await client.complete(ask())

    assert fake_server.wait_for(lambda server: server.cancelled == 1)
    [attempt] = caught.value.attempts
    assert attempt.usage.estimated and attempt.usage.prompt_tokens > 0
