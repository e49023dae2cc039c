"""Whatever the model answers, the run finishes, stays within capacity and says what happened."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from igent.agents import find_task
from igent.errors import ConfigError
from igent.llm import ChatRequest, FakeChatClient
from igent.workflows import InputPaths, Runner, RunOptions, mock_client, resolve_constellation
from tests.workflows.conftest import CAMPAIGN_DATE

OPTIONS = RunOptions(campaign_date=CAMPAIGN_DATE, transcripts=False)


def run_with(client: Any, name: str, paths: InputPaths, run_dir: Path, **kw: Any) -> dict:
    constellation = resolve_constellation(name)
    options = dataclasses.replace(OPTIONS, **kw)
    runner = Runner(constellation, paths, options, run_dir, client=client)
    return asyncio.run(runner.run()).summary


def correct_or(wrong: Any, *, rate_every: int = 2):
    """A model that answers right, except every ``rate_every``-th matcher call with ``wrong``."""
    right = mock_client()
    calls = {"n": 0}

    def answer(request: ChatRequest) -> Any:
        task = find_task(request.messages)
        if task is not None and task.kind == "match":
            calls["n"] += 1
            if calls["n"] % rate_every == 0:
                return wrong(task) if callable(wrong) else wrong
        assert right._function is not None
        return right._function(request)

    return FakeChatClient(function=answer)


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param('["S1"]', id="json-list"),
        pytest.param('"TruNorthSolar"', id="json-string"),
        pytest.param("{}", id="empty-object"),
        pytest.param("I think the best supplier is the cheapest one.", id="prose"),
    ],
)
@pytest.mark.parametrize("name", ["p1m1_p2m2", "p1m1m2c", "p1m1v_p2r"])
def test_unreadable_matcher_replies_never_crash_a_run(
    name: str, garbage: str, campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run_with(correct_or(garbage), name, campaign50, tmp_path)

    assert summary["results"] == 50
    assert summary["repairs"] > 0
    if name == "p1m1v_p2r":
        assert summary["accuracy"]["final_supplier"] == 1.0


@pytest.mark.parametrize("trust_model", [False, True])
def test_a_supplier_outside_the_offers_is_replaced_by_the_rules_answer(
    trust_model: bool, campaign50: InputPaths, tmp_path: Path
) -> None:
    def unknown_supplier(task: Any) -> str:
        return json.dumps({"registration_id": task.registration["RegistrationNumber"],
                           "supplier_id": "NoSuchSupplier", "num_panels": 10,
                           "num_batteries": 0})  # fmt: skip

    summary = run_with(
        correct_or(unknown_supplier), "p1m1_p2m2", campaign50, tmp_path, trust_model=trust_model
    )

    assert summary["results"] == 50
    assert summary["answer_sources"]["validator_override"] == 25
    matches = json.loads((tmp_path / "matches.json").read_text())
    assert "NoSuchSupplier" not in {m["supplier_id"] for m in matches}
    capacity = json.loads((tmp_path / "capacity.json").read_text())
    assert all(row["used"] <= row["capacity"] for row in capacity.values())


def test_group_chat_rejections_send_the_matcher_its_own_task_again(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    client = mock_client(error_rate=0.5, seed=3)

    summary = run_with(client, "p1m1c1m2c2", campaign50, tmp_path, max_items=20)

    matcher_requests = [
        r for r in client.requests if r.metadata.get("role") == "matcher" and len(r.messages) > 2
    ]
    assert matcher_requests, "some matcher answers should have been rejected and asked again"
    for request in matcher_requests:
        task = find_task(request.messages)
        assert task is not None and task.kind == "match"
    accuracy = summary["accuracy"]
    assert accuracy["final_supplier"] > accuracy["raw_supplier"]  # the critic loop helps
    outputs = (tmp_path / "matches.json").read_text() + (tmp_path / "pos.json").read_text()
    assert '"verdict"' not in outputs  # no critic reply was taken for an answer


def test_reusing_a_run_directory_without_resume_is_refused(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    rules = resolve_constellation("rules")
    asyncio.run(Runner(rules, campaign50, OPTIONS, tmp_path).run())

    with pytest.raises(ConfigError, match="already holds a run; finish it with --resume"):
        asyncio.run(Runner(rules, campaign50, OPTIONS, tmp_path).run())


def test_duplicate_registration_ids_are_reported_not_matched_twice(tmp_path: Path) -> None:
    from igent.campaign import demo_campaign_paths

    demo = demo_campaign_paths()
    registrations = json.loads(demo["registrations"].read_text())[:6]
    registrations.append(dict(registrations[0]))
    path = tmp_path / "registrations.json"
    path.write_text(json.dumps(registrations))
    paths = InputPaths(path, demo["offers"], demo["incentives"])

    summary = run_with(None, "rules", paths, tmp_path / "run")

    matches = json.loads((tmp_path / "run" / "matches.json").read_text())
    assert len(matches) == 7
    assert matches[-1]["reason"] == "invalid_registration"
    assert "repeats record #0" in matches[-1]["message"]
    capacity = json.loads((tmp_path / "run" / "capacity.json").read_text())
    assert sum(row["used"] for row in capacity.values()) == summary["matched"]
