"""Per-endpoint limits held in Redis, so they bind every worker process together.

The same three limits as :class:`igent.llm.limiter.RateLimiter` (requests/min, tokens/min,
calls in flight), but counted in Redis instead of one process's memory:

- requests and tokens are spaced out (a generic cell rate: each request takes the next free
  slot ``60 / requests_per_minute`` seconds after the previous one, across all workers), so an
  endpoint limited to N requests/min sees at most N in any minute, plus one at the window edge;
  the spacing is ``margin`` (10 %) wider than the limit, so requests delayed on their way (a
  busy worker, the network) and then arriving together still stay within it;
- calls in flight are leases in a sorted set that expire on their own, so a worker killed
  with kill -9 frees its slots after ``lease_s`` instead of holding them forever.

Redis's own clock (``TIME``) is used, so workers on several machines share one timeline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from igent.llm import Endpoint
from igent.llm.limiter import RateLimiter

KEY_PREFIX = "igent:limit"
POLL_S = 0.02

# KEYS[1]: the schedule key; ARGV: interval_s (per unit), units, ttl_s. Returns the wait in
# microseconds before the caller may go (its slot), reserving the slot at once.
_SCHEDULE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local step = math.floor(tonumber(ARGV[1]) * tonumber(ARGV[2]) * 1000000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(nxt, now)
redis.call('SET', KEYS[1], slot + step, 'EX', tonumber(ARGV[3]))
return slot - now
"""

# KEYS[1]: the lease set; ARGV: limit, lease id, lease_s. Returns 1 when a lease was taken.
_LEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
  return 1
end
return 0
"""

# KEYS[1]: the token schedule; ARGV: interval_s per token, token difference. Moves the next
# slot by the difference between the estimate and the real usage.
_ADJUST = """
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
if nxt > 0 then
  redis.call('SET', KEYS[1], nxt + math.floor(tonumber(ARGV[1]) * tonumber(ARGV[2]) * 1000000),
    'KEEPTTL')
end
return 0
"""


class SharedRateLimiter(RateLimiter):
    """A :class:`RateLimiter` whose budgets live in Redis, shared by every process using it."""

    def __init__(
        self,
        redis_client: Any,
        name: str,
        *,
        max_concurrency: int | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        lease_s: float = 120.0,
        margin: float = 0.1,
    ) -> None:
        super().__init__()
        self._redis = redis_client
        self.name = name
        self.max_concurrency = max_concurrency
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.lease_s = lease_s
        self.margin = margin
        self._schedule = redis_client.register_script(_SCHEDULE)
        self._lease = redis_client.register_script(_LEASE)
        self._adjust = redis_client.register_script(_ADJUST)

    @classmethod
    def for_endpoint(cls, redis_client: Any, endpoint: Endpoint) -> SharedRateLimiter | None:
        """Return the shared limiter of ``endpoint``'s registry limits, or None without any."""
        if not (
            endpoint.max_concurrency or endpoint.requests_per_minute or endpoint.tokens_per_minute
        ):
            return None
        return cls(
            redis_client,
            f"{endpoint.name}:{endpoint.model}",
            max_concurrency=endpoint.max_concurrency,
            requests_per_minute=endpoint.requests_per_minute,
            tokens_per_minute=endpoint.tokens_per_minute,
        )

    def _key(self, kind: str) -> str:
        return f"{KEY_PREFIX}:{self.name}:{kind}"

    async def _take(self, kind: str, per_minute: float, units: float) -> float:
        interval_s = 60.0 / per_minute * (1.0 + self.margin)
        wait_us = await asyncio.to_thread(
            self._schedule, keys=[self._key(kind)], args=[interval_s, units, 3600]
        )
        wait_s = max(0.0, int(wait_us) / 1_000_000)
        if wait_s:
            await asyncio.sleep(wait_s)
        return wait_s

    @asynccontextmanager
    async def slot(self, estimated_tokens: int = 0) -> AsyncIterator[None]:
        """Hold one call slot across all workers, after the request and token budgets."""
        lease_id = uuid.uuid4().hex
        if self.max_concurrency:
            while not await asyncio.to_thread(
                self._lease,
                keys=[self._key("inflight")],
                args=[self.max_concurrency, lease_id, self.lease_s],
            ):
                self.waited_s += POLL_S
                await asyncio.sleep(POLL_S)
        try:
            if self.requests_per_minute:
                self.waited_s += await self._take("requests", self.requests_per_minute, 1)
            if self.tokens_per_minute and estimated_tokens > 0:
                self.waited_s += await self._take(
                    "tokens", self.tokens_per_minute, estimated_tokens
                )
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                yield
            finally:
                self.in_flight -= 1
        finally:
            if self.max_concurrency:
                await asyncio.to_thread(self._redis.zrem, self._key("inflight"), lease_id)

    def record_tokens(self, estimated_tokens: int, actual_tokens: int) -> None:
        """Move the shared token schedule by the difference between estimate and real use."""
        if self.tokens_per_minute and estimated_tokens > 0:
            self._adjust(
                keys=[self._key("tokens")],
                args=[60.0 / self.tokens_per_minute, actual_tokens - estimated_tokens],
            )


__all__ = ["SharedRateLimiter"]
