"""Missing PostgreSQL/Redis: tests skip with how to start them, but fail under CI=true."""

from __future__ import annotations

import pytest

from tests.support.services import unavailable


def test_a_missing_service_skips_with_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="docker run -d -p 6379:6379 redis"):
        unavailable("Redis", "connection refused")


def test_a_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI requires PostgreSQL"):
        unavailable("PostgreSQL", "connection refused")
