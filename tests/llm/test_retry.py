"""RetryPolicy: backoff, jitter, Retry-After and what is retried."""

from __future__ import annotations

import pytest

from igent.errors import ModelCallError
from igent.llm import RetryAfterError, RetryPolicy
from tests.support.payloads import FakeClock


def failure(retryable: bool = True) -> ModelCallError:
    return ModelCallError("boom", endpoint="sim", model="m", status=500, retryable=retryable)


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3, jitter=0)
    assert [policy.delay_s(n, failure()) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_stays_in_bounds_and_is_seeded() -> None:
    first = RetryPolicy(seed=7, jitter=0.25)
    second = RetryPolicy(seed=7, jitter=0.25)
    delays = [first.delay_s(2, failure()) for _ in range(20)]
    assert delays == [second.delay_s(2, failure()) for _ in range(20)]
    assert all(0.75 <= delay <= 1.25 for delay in delays)


def test_retry_after_wins_but_is_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=60)
    error = RetryAfterError("429", endpoint="sim", model="m", retry_after_s=7)
    assert policy.delay_s(1, error) == 7
    huge = RetryAfterError("429", endpoint="sim", model="m", retry_after_s=3600)
    assert policy.delay_s(1, huge) == 60


async def test_run_retries_retryable_errors_until_success() -> None:
    clock = FakeClock()
    attempts: list[int] = []

    async def call() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise failure()
        return "ok"

    assert await RetryPolicy(jitter=0).run(call, sleep=clock.sleep) == "ok"
    assert clock.sleeps == [0.5, 1.0]


async def test_run_gives_up_after_max_attempts() -> None:
    clock = FakeClock()

    async def call() -> str:
        raise failure()

    with pytest.raises(ModelCallError):
        await RetryPolicy(max_attempts=2, jitter=0).run(call, sleep=clock.sleep)
    assert clock.sleeps == [0.5]


async def test_run_does_not_retry_permanent_errors() -> None:
    clock = FakeClock()

    async def call() -> str:
        raise failure(retryable=False)

    with pytest.raises(ModelCallError):
        await RetryPolicy().run(call, sleep=clock.sleep)
    assert clock.sleeps == []
