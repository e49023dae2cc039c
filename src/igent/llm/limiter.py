"""Per-endpoint limits: concurrent calls, requests per minute and tokens per minute."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from igent.llm.types import Clock, Sleep


class TokenBucket:
    """A bucket of ``per_minute`` units that refills continuously."""

    def __init__(self, per_minute: float, *, clock: Clock, sleep: Sleep) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, got {per_minute!r}")
        self.capacity = float(per_minute)
        self._rate_per_s = per_minute / 60.0
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated_s = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated_s) * self._rate_per_s)
        self._updated_s = now

    async def take(self, amount: float = 1.0) -> float:
        """Wait until ``amount`` units are available and take them; return seconds waited."""
        amount = min(amount, self.capacity)  # a request bigger than the bucket waits for a full one
        waited_s = 0.0
        async with self._lock:  # first come, first served
            while True:
                self._refill()
                if self._tokens >= amount:
                    self._tokens -= amount
                    return waited_s
                wait_s = (amount - self._tokens) / self._rate_per_s
                waited_s += wait_s
                await self._sleep(wait_s)

    def give_back(self, amount: float) -> None:
        """Return units taken on an over-estimate (or take more on an under-estimate)."""
        self._refill()
        self._tokens = min(self.capacity, self._tokens + amount)


class RateLimiter:
    """Cap one endpoint's concurrent calls, requests per minute and tokens per minute."""

    def __init__(
        self,
        *,
        max_concurrency: int | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self._requests = (
            TokenBucket(requests_per_minute, clock=clock, sleep=sleep)
            if requests_per_minute
            else None
        )
        self._tokens = (
            TokenBucket(tokens_per_minute, clock=clock, sleep=sleep) if tokens_per_minute else None
        )
        self.in_flight = 0
        self.max_in_flight = 0
        self.waited_s = 0.0

    @asynccontextmanager
    async def slot(self, estimated_tokens: int = 0) -> AsyncIterator[None]:
        """Hold one call slot, after waiting for the request and token budgets."""
        if self._semaphore is not None:
            await self._semaphore.acquire()
        try:
            if self._requests is not None:
                self.waited_s += await self._requests.take(1)
            if self._tokens is not None and estimated_tokens > 0:
                self.waited_s += await self._tokens.take(estimated_tokens)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
        finally:
            if self._semaphore is not None:
                self._semaphore.release()

    def record_tokens(self, estimated_tokens: int, actual_tokens: int) -> None:
        """Correct the token budget once a call reports its real usage."""
        if self._tokens is not None and estimated_tokens > 0:
            self._tokens.give_back(estimated_tokens - actual_tokens)
