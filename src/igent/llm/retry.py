"""Retry failed model calls with exponential backoff, jitter and Retry-After."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from igent.errors import ModelCallError
from igent.llm.types import Sleep

T = TypeVar("T")


class RetryAfterError(ModelCallError):
    """A `ModelCallError` whose response said how long to wait (``Retry-After``)."""

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        model: str,
        retry_after_s: float,
        status: int | None = None,
        body: str = "",
    ) -> None:
        super().__init__(
            message, endpoint=endpoint, model=model, status=status, body=body, retryable=True
        )
        self.retry_after_s = retry_after_s


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; retries only errors marked ``retryable``."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    jitter: float = 0.25
    """Fraction of the delay added or removed at random."""
    seed: int | None = None
    max_retry_after_s: float = 120.0
    """Cap on a server's Retry-After, so a bad header cannot stall a run."""
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def delay_s(self, attempt: int, error: ModelCallError) -> float:
        """Seconds to wait after failed ``attempt`` (1-based)."""
        if isinstance(error, RetryAfterError):
            return min(max(error.retry_after_s, 0.0), self.max_retry_after_s)
        delay = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        spread = delay * self.jitter
        return max(0.0, delay + self._rng.uniform(-spread, spread))

    async def run(self, call: Callable[[], Awaitable[T]], *, sleep: Sleep) -> T:
        """Await ``call()``, retrying retryable `ModelCallError`s up to ``max_attempts``."""
        attempt = 1
        while True:
            try:
                return await call()
            except ModelCallError as error:
                if not error.retryable or attempt >= self.max_attempts:
                    raise
                await sleep(self.delay_s(attempt, error))
                attempt += 1
