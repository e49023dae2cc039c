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


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param('{"registration_id": "R-2", "verdict": "APPROVE", "issues": []}', id="other"),
        pytest.param('{"verdict": "APPROVE", "issues": []}', id="no-id"),
        pytest.param(
            '{"registration_id": "R-1", "verdict": "<APPROVE or REJECT>"}', id="placeholder"
        ),
        pytest.param("VERDICT: APPROVE", id="line-without-id"),
        pytest.param("", id="empty"),
    ],
)
def test_a_verdict_must_name_this_registration_or_it_is_an_error(reply: str) -> None:
    verdict = parse_verdict(reply, registration_id="R-1")

    assert verdict.approved is None and not verdict.parsed
    assert verdict.error and verdict.issues == (verdict.error,)


def test_a_verdict_copied_from_the_prompt_is_not_the_critics_own() -> None:
    from igent.agents import prompt_objects

    example = '{"registration_id": "R-1", "verdict": "APPROVE", "issues": []}'
    echoes = prompt_objects([{"role": "user", "content": f"Answer like {example}"}])

    verdict = parse_verdict(example, registration_id="R-1", echoes=echoes)

    assert verdict.approved is None and "copied from the prompt" in (verdict.error or "")


def test_the_critics_own_verdict_for_this_registration_counts() -> None:
    reply = 'Checked.\n{"registration_id": "R-1", "verdict": "REJECT", "issues": ["S2 is full"]}'

    verdict = parse_verdict(reply, registration_id="R-1")

    assert (verdict.approved, verdict.issues) == (False, ("S2 is full",))


def test_the_packaged_critic_example_cannot_approve_anything() -> None:
    from igent.agents import load_prompt

    for name in ("critic_match", "critic_price"):
        prompt = load_prompt(name)
        assert parse_verdict(prompt, registration_id="R-1").approved is None
        assert parse_verdict(prompt).approved is None
