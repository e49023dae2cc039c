"""Parse a critic's reply into a verdict: approval must be the critic's own verdict.

A verdict is the critic's own JSON (an object copied from the prompt, such as the example
in the critic's instructions, is not one) and, when the registration is known, it must name
that registration. A reply with no readable verdict is an error, never an approval and never
a disagreement: ``approved`` is None then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from igent.agents.answer import canonical, json_objects

_VERDICT_LINE = re.compile(
    r"^\s*(?:[*#>\-\s]*)(?:verdict\s*[:=]\s*)?\**\s*(APPROVE|APPROVED|REJECT|REJECTED)\b\**\s*[.!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_VERDICT_FIELD = re.compile(
    r"^\s*verdict\s*[:=]\s*\**\s*(APPROVE|APPROVED|REJECT|REJECTED)\b", re.IGNORECASE | re.MULTILINE
)
_DECISIONS = {"APPROVE": True, "APPROVED": True, "REJECT": False, "REJECTED": False}


@dataclass(frozen=True)
class CriticVerdict:
    """A critic's decision and the issues it raised; ``approved`` is None when there is none."""

    approved: bool | None
    issues: tuple[str, ...]
    parsed: bool
    error: str | None = None
    """Why no verdict could be read (then ``approved`` is None)."""


def _no_verdict(error: str) -> CriticVerdict:
    return CriticVerdict(approved=None, issues=(error,), parsed=False, error=error)


def _issues(value: object) -> tuple[str, ...]:
    return tuple(str(i) for i in value) if isinstance(value, list) else ()


def parse_verdict(
    text: str,
    *,
    registration_id: str | None = None,
    echoes: frozenset[str] = frozenset(),
) -> CriticVerdict:
    """Read a critic reply: a JSON ``{"verdict": ...}``, a ``VERDICT: X`` line, or a bare line.

    "I cannot APPROVE this" is not approval: the word must stand as the verdict itself. With
    ``registration_id`` the verdict must name it (the JSON's ``registration_id``, or the id in
    the text of a reply without JSON); ``echoes`` are canonical JSON objects of the prompt.
    """
    problems: list[str] = []
    for value in json_objects(text):
        if not isinstance(value, dict) or "verdict" not in value:
            continue
        if canonical(value) in echoes:
            problems.append("the verdict JSON is copied from the prompt")
            continue
        decision = _DECISIONS.get(str(value["verdict"]).strip().upper())
        if decision is None:
            problems.append(f"verdict is {value['verdict']!r}; expected APPROVE or REJECT")
            continue
        given = value.get("registration_id")
        if registration_id is not None and str(given).strip() != registration_id:
            problems.append(f"the verdict is for registration {given!r}, not {registration_id!r}")
            continue
        issues = _issues(value.get("issues"))
        return CriticVerdict(approved=decision, issues=() if decision else issues, parsed=True)
    if problems:
        return _no_verdict(f"no usable verdict in reply: {problems[0]}")
    found = _VERDICT_FIELD.search(text) or _VERDICT_LINE.search(text)
    if found is None:
        return _no_verdict(f"no verdict in reply: {text[:200]!r}")
    if registration_id is not None and registration_id not in text:
        return _no_verdict(
            f"the verdict does not name registration {registration_id!r}: {text[:200]!r}"
        )
    approved = _DECISIONS[found.group(1).upper()]
    issues = tuple(
        line.strip().lstrip("-* ").strip()
        for line in text.splitlines()
        if line.strip().startswith(("-", "*")) and line.strip().lstrip("-* ").strip()
    )
    return CriticVerdict(approved=approved, issues=() if approved else issues, parsed=True)
