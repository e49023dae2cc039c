"""Hedged requests: a second, identical request when the first is slow to start.

If no first token has arrived ``delay_s`` after sending, `HedgedClient` sends ONE more
identical request (to the same endpoint, or to a second one). Whichever produces a first
token first answers; the other is cancelled, which closes its connection so the server can
stop generating. Both are counted and costed: the answer's ``attempts`` list every attempt
of both requests, the loser's marked ``error="cancelled"``.

The default delay is the endpoint's ``ttft_p90_s``: about one request in ten is hedged, which
is where the tail of time-to-first-token sits (see "The Tail at Scale", Dean & Barroso, 2013).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

from igent.errors import ConfigError, ModelCallError
from igent.llm.client import CallTrace, OpenAICompatibleClient
from igent.llm.types import ChatRequest, ChatResponse


class HedgedClient:
    """A `ChatClient` that hedges slow-starting calls with one extra request."""

    def __init__(
        self,
        primary: OpenAICompatibleClient,
        secondary: OpenAICompatibleClient | None = None,
        *,
        delay_s: float | None = None,
    ) -> None:
        delay = delay_s if delay_s is not None else primary.endpoint.ttft_p90_s
        if delay is None or delay < 0:
            raise ConfigError(
                f"hedging on endpoint {primary.endpoint.name!r} needs a delay: set ttft_p90_s "
                f"in the endpoint registry or pass delay_s= to HedgedClient (got {delay!r})"
            )
        self.primary = primary
        self.secondary = secondary or primary
        self.delay_s = delay
        self.endpoint = primary.endpoint
        self.base_url = primary.base_url
        self.secrets = tuple(dict.fromkeys((*primary.secrets, *self.secondary.secrets)))
        self.hedged = 0
        """How many calls sent a second request."""
        self.hedge_wins = 0
        """How many of those were answered by the second request."""

    async def aclose(self) -> None:
        """Close both clients."""
        await self.primary.aclose()
        if self.secondary is not self.primary:
            await self.secondary.aclose()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Answer ``request``, sending a second identical request if the first starts slowly.

        Raises:
            ModelCallError: every request sent failed; ``attempts`` lists them all.
        """
        first = CallTrace()
        first_task = asyncio.create_task(self.primary.complete(request, trace=first))
        try:
            started = await _started_within(first, first_task, self.delay_s)
        except BaseException:
            first_task.cancel()
            raise
        if started:
            return await first_task
        self.hedged += 1
        second = CallTrace()
        second_task = asyncio.create_task(self.secondary.complete(request, trace=second))
        runs = {first_task: first, second_task: second}
        winner: asyncio.Task[ChatResponse] | None = None
        try:
            winner = await _first_to_start(runs)
        finally:
            for task in runs:
                if task is not winner and not task.done():
                    task.cancel()
            # Let the loser record its cancelled attempt and close its connection.
            await asyncio.gather(*runs, return_exceptions=True)
        # The answering attempt comes last, as in every ChatResponse.attempts.
        attempts = [*runs[_other(runs, winner)].attempts, *runs[winner].attempts]
        if winner is second_task:
            self.hedge_wins += 1
        error = winner.exception()
        if error is None:
            response = winner.result()
            response.attempts = attempts
            return response
        if isinstance(error, ModelCallError):
            error.attempts = attempts
        raise error


async def _started_within(trace: CallTrace, task: asyncio.Task[Any], delay_s: float) -> bool:
    """Wait up to ``delay_s`` for the first token (or the end) of ``task``."""
    waiter = asyncio.create_task(trace.first_token.wait())
    try:
        await asyncio.wait({waiter, task}, timeout=delay_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
    return trace.first_token.is_set() or task.done()


async def _first_to_start(
    runs: dict[asyncio.Task[ChatResponse], CallTrace],
) -> asyncio.Task[ChatResponse]:
    """Return the task that got a first token first, or, if both fail, the first one's."""
    waiters = {asyncio.create_task(trace.first_token.wait()): task for task, trace in runs.items()}
    pending: set[asyncio.Future[Any]] = {*runs, *waiters}
    failed: list[asyncio.Future[Any]] = []
    try:
        while True:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                if finished in waiters:
                    return waiters[finished]
                if finished.exception() is None:
                    return cast(asyncio.Task[ChatResponse], finished)
                failed.append(finished)
            if len(failed) == len(runs):
                return next(iter(runs))  # both failed: report the first request's error
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def _other(
    runs: dict[asyncio.Task[ChatResponse], CallTrace], task: asyncio.Task[ChatResponse]
) -> asyncio.Task[ChatResponse]:
    return next(other for other in runs if other is not task)
