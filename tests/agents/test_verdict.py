"""Critic verdicts are parsed, never substring-matched."""

from __future__ import annotations

import pytest

from igent.agents import parse_verdict


@pytest.mark.parametrize(
    ("reply", "approved", "parsed"),
    [
        pytest.param('{"verdict": "APPROVE", "issues": []}', True, True, id="json-approve"),
        pytest.param('{"verdict":"REJECT","issues":["wrong tier"]}', False, True, id="json-reject"),
        pytest.param("APPROVE", True, True, id="bare-approve"),
        pytest.param("Checked capacity and tiers.\n\nVERDICT: APPROVE", True, True, id="line"),
        pytest.param("**APPROVE**", True, True, id="markdown"),
        pytest.param("I cannot APPROVE this: the ZIP is not served.", None, False, id="negated"),
        pytest.param("Do not approve.", None, False, id="lowercase-negation"),
        pytest.param("- supplier S2 is full\nVERDICT: REJECT", False, True, id="reject-line"),
        pytest.param("Looks fine to me", None, False, id="no-verdict"),
    ],
)
def test_verdict_is_read_from_the_critics_own_verdict(
    reply: str, approved: bool | None, parsed: bool
) -> None:
    verdict = parse_verdict(reply)

    assert (verdict.approved, verdict.parsed) == (approved, parsed)


def test_rejection_keeps_the_issues_to_feed_back() -> None:
    verdict = parse_verdict('{"verdict": "REJECT", "issues": ["price is 15043, not 14030"]}')

    assert verdict.issues == ("price is 15043, not 14030",)
