"""Parse a critic's reply into a verdict: approval must be the critic's own verdict."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_VERDICT_LINE = re.compile(
    r"^\s*(?:[*#>\-\s]*)(?:verdict\s*[:=]\s*)?\**\s*(APPROVE|APPROVED|REJECT|REJECTED)\b\**\s*[.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_VERDICT_FIELD = re.compile(
    r"^\s*verdict\s*[:=]\s*\**\s*(APPROVE|APPROVED|REJECT|REJECTED)\b", re.IGNORECASE | re.MULTILINE
)


@dataclass(frozen=True)
class CriticVerdict:
    """A critic's decision and the issues it raised."""

    approved: bool
    issues: tuple[str, ...]
    parsed: bool


def parse_verdict(text: str) -> CriticVerdict:
    """Read a critic reply: a JSON ``{"verdict": ...}``, a ``VERDICT: X`` line, or a bare line.

    "I cannot APPROVE this" is not approval: the word must stand as the verdict itself. A reply
    with no verdict at all counts as a rejection that was not understood.
    """
    stripped = text.strip()
    decision: str | None = None
    issues: list[str] = []
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("verdict"), str):
            decision = data["verdict"]
            raw_issues = data.get("issues") or []
            issues = [str(i) for i in raw_issues] if isinstance(raw_issues, list) else []
    if decision is None:
        found = _VERDICT_FIELD.search(text) or _VERDICT_LINE.search(text)
        decision = found.group(1) if found else None
        issues = [
            line.strip().lstrip("-* ").strip()
            for line in text.splitlines()
            if line.strip().startswith(("-", "*")) and line.strip().lstrip("-* ").strip()
        ]
    if decision is None:
        return CriticVerdict(
            approved=False, issues=(f"no verdict in reply: {text[:200]!r}",), parsed=False
        )
    approved = decision.upper().startswith("APPROVE")
    return CriticVerdict(approved=approved, issues=() if approved else tuple(issues), parsed=True)
