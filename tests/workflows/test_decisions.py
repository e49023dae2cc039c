"""What a decision says about itself, and what a repair round or an audit costs the endpoint."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from igent.llm import ChatRequest, ChatResponse, FakeChatClient
from igent.workflows import InputPaths, Runner, RunOptions, mock_client, resolve_constellation
from tests.workflows.conftest import CAMPAIGN_DATE

OPTIONS = RunOptions(campaign_date=CAMPAIGN_DATE, transcripts=False)
REJECT = {"verdict": "REJECT", "issues": ["the supplier looks wrong"]}
DISAGREEMENT = re.compile(
    r"^model chose ('[^']+'|NO MATCH FOUND); the rules choose ('[^']+'|NO MATCH FOUND) because .+"
)


def run(client: Any, name: str, paths: InputPaths, run_dir: Path, **options: Any) -> dict:
    runner = Runner(
        resolve_constellation(name),
        paths,
        dataclasses.replace(OPTIONS, **options),
        run_dir,
        client=client,
    )
    return asyncio.run(runner.run()).summary


def matches_of(run_dir: Path) -> list[dict[str, Any]]:
    return json.loads((run_dir / "matches.json").read_text())


def test_a_booked_model_choice_that_differs_from_the_rules_is_explained_as_such(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    run(mock_client(error_rate=1.0, seed=4), "p1m1_p2m2", campaign50, tmp_path, trust_model=True)
    matches = matches_of(tmp_path)

    for match in matches:
        chosen = [c["supplier_id"] for c in match["candidates"] if c["outcome"] == "chosen"]
        assert chosen == ([match["supplier_id"]] if match["supplier_id"] else [])
    differing = [m for m in matches if m["message"].startswith("model chose")]
    assert differing
    for match in differing:
        found = DISAGREEMENT.match(match["message"])
        assert found is not None, match["message"]
        model_choice, rules_choice = (g.strip("'") for g in found.groups())
        assert model_choice == (match["supplier_id"] or "NO MATCH FOUND") != rules_choice
        demoted = next(c for c in match["candidates"] if c["supplier_id"] == rules_choice)
        assert demoted["outcome"] == "ranked_lower"


def test_matches_json_carries_the_grading_of_each_match(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run(mock_client(error_rate=0.3), "p1m1_p2m2", campaign50, tmp_path)
    matches = matches_of(tmp_path)

    assert all(set(m["grading"]) >= {"raw_supplier_ok", "final_supplier_ok"} for m in matches)
    raw_ok = [m["grading"]["raw_supplier_ok"] for m in matches]
    assert sum(bool(v) for v in raw_ok) / len(raw_ok) == summary["accuracy"]["raw_supplier"]


@pytest.mark.parametrize("name", ["p1m1m2c", "p1m1c1m2c2"])
def test_a_repair_turn_carries_the_feedback_not_the_whole_task_again(
    name: str, campaign50: InputPaths, tmp_path: Path
) -> None:
    right = mock_client()
    assert right._function is not None
    answer_right = right._function

    def answer(request: ChatRequest) -> Any:
        if request.metadata.get("role") == "critic":
            return {**REJECT, "registration_id": request.metadata["registration_id"]}
        return answer_right(request)

    client = FakeChatClient(function=answer)
    run(client, name, campaign50, tmp_path, max_items=2)

    matcher = [r for r in client.requests if r.metadata.get("role") == "matcher"]
    first_registration = [
        r
        for r in matcher
        if r.metadata["registration_id"] == matcher[0].metadata["registration_id"]
    ]
    assert len(first_registration) == 3  # the answer and two repair rounds
    task_size = len(first_registration[0].messages[-1]["content"])
    sizes = [sum(len(m["content"]) for m in r.messages) for r in first_registration]
    for request in first_registration:
        tasks = sum(m["content"].count("### TASK") for m in request.messages)
        assert tasks == 1
    growth = [later - earlier for earlier, later in zip(sizes, sizes[1:], strict=False)]
    assert all(step < task_size for step in growth)


class CountingClient:
    """A model that counts its calls in flight; each call yields to the loop a few times."""

    model = "mock"
    endpoint_name = "mock"

    def __init__(self, max_concurrency: int | None = None) -> None:
        self._inner = mock_client()
        self.endpoint = SimpleNamespace(max_concurrency=max_concurrency)
        self.in_flight = 0
        self.peak = 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            for _ in range(5):
                await asyncio.sleep(0)
            return await self._inner.complete(request)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("concurrency", "endpoint_limit", "expected_peak"), [(1, None, 1), (3, None, 3), (4, 2, 2)]
)
def test_audits_respect_the_run_concurrency_and_the_endpoint_limit(
    concurrency: int,
    endpoint_limit: int | None,
    expected_peak: int,
    campaign50: InputPaths,
    tmp_path: Path,
) -> None:
    client = CountingClient(endpoint_limit)

    summary = run(client, "p1r_audit", campaign50, tmp_path, concurrency=concurrency)

    assert summary["audits"]["completed"] == 50
    assert client.peak == expected_peak
