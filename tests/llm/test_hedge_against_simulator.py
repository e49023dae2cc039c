"""HedgedClient against igent's simulator, counting requests and cancellations at the server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from igent.llm import ChatRequest, HedgedClient, OpenAICompatibleClient, resolve_endpoint
from igent.sim import SimConfig
from igent.sim.server import create_sim_app
from tests.llm.test_client_against_simulator import match_messages
from tests.support.fake_openai_server import AppServer


class CountingApp:
    """Wrap an ASGI app: count chat requests and whether each completed or was cancelled.

    A request is cancelled when its client closed the connection before the reply ended.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.lock = threading.Condition()
        self.started = 0
        self.completed = 0
        self.cancelled = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        ended: list[bool] = []
        gone = asyncio.Event()
        watchers: list[asyncio.Task[None]] = []

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        async def watching_receive() -> Message:
            # Pass the body through, then watch for the client leaving while the app works.
            if watchers:
                await gone.wait()
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                watchers.append(asyncio.create_task(watch()))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                ended.append(not gone.is_set())
            await send(message)

        with self.lock:
            self.started += 1
        try:
            await self.app(scope, watching_receive, counting_send)
        except Exception:  # the client went away mid-send: that is the cancel we count
            pass
        finally:
            for watcher in watchers:
                watcher.cancel()
            with self.lock:
                if ended and ended[0]:
                    self.completed += 1
                else:
                    self.cancelled += 1
                self.lock.notify_all()

    def wait_until_idle(self, timeout_s: float = 10) -> bool:
        """Wait until every request started has ended one way or the other."""
        with self.lock:
            return self.lock.wait_for(
                lambda: self.completed + self.cancelled == self.started, timeout=timeout_s
            )


@pytest.fixture
def sim() -> Iterator[Callable[[str, float], tuple[CountingApp, str]]]:
    servers: list[AppServer] = []

    def start(profile: str, time_scale: float) -> tuple[CountingApp, str]:
        counting = CountingApp(create_sim_app(SimConfig(profile=profile, time_scale=time_scale)))
        server = AppServer(counting)
        server.start()
        servers.append(server)
        return counting, server.base_url

    yield start
    for server in servers:
        server.stop()


def client_for(base_url: str, profile: str) -> OpenAICompatibleClient:
    endpoint = resolve_endpoint("sim").model_copy(update={"base_url": base_url, "model": profile})
    return OpenAICompatibleClient(endpoint, api_key="sim", env={}, max_attempts=1)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_slow_first_token_sends_one_extra_request_and_cancels_the_loser(sim, stream):
    counting, base_url = sim("gpt-4o", 0.2)
    client = client_for(base_url, "gpt-4o")
    hedged = HedgedClient(client, delay_s=0.0)  # no first token at 0 s: always hedge
    try:
        response = await hedged.complete(ChatRequest(messages=match_messages(), stream=stream))
    finally:
        await hedged.aclose()

    assert counting.wait_until_idle()
    assert (counting.started, counting.completed, counting.cancelled) == (2, 1, 1)
    assert hedged.hedged == 1
    assert len(response.attempts) == 2
    loser, winner = response.attempts  # the answering attempt last
    assert loser.error == "cancelled" and loser.usage.prompt_tokens > 0  # counted and costed
    assert winner.error is None and winner.reply_text == response.text


async def test_no_extra_request_when_the_first_token_comes_before_the_delay(sim):
    counting, base_url = sim("instant", 0.0)
    hedged = HedgedClient(client_for(base_url, "instant"), delay_s=30.0)
    try:
        response = await hedged.complete(ChatRequest(messages=match_messages(), stream=True))
    finally:
        await hedged.aclose()

    assert counting.wait_until_idle()
    assert (counting.started, counting.completed, counting.cancelled) == (1, 1, 0)
    assert hedged.hedged == 0 and len(response.attempts) == 1
