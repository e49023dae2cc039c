"""Verdicts: rule outcomes are values, so every decision can be explained."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: whether it passed, and why not."""

    check: str
    passed: bool
    reason: str = ""

    @classmethod
    def ok(cls, check: str) -> Verdict:
        """Return a passing verdict for ``check``."""
        return cls(check=check, passed=True)

    @classmethod
    def fail(cls, check: str, reason: str) -> Verdict:
        """Return a failing verdict for ``check`` with an actionable reason."""
        return cls(check=check, passed=False, reason=reason)
