"""Failures are not decisions: failed calls, pricer failures and unapproved answers book nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from igent.cli import app
from igent.cli.errors import run_guarded
from igent.errors import ModelCallError
from igent.llm import ChatRequest, ChatResponse, FakeChatClient, OpenAICompatibleClient
from igent.workflows import InputPaths, Runner, RunOptions, mock_client, resolve_constellation
from igent.workflows.models import open_model
from tests.workflows.conftest import CAMPAIGN_DATE, make_campaign

OPTIONS = RunOptions(campaign_date=CAMPAIGN_DATE, transcripts=False)
REJECT = {"verdict": "REJECT", "issues": ["I do not like this supplier"]}


def reject(request: ChatRequest) -> dict[str, Any]:
    """The critic's own rejection of this registration's answer."""
    return {**REJECT, "registration_id": request.metadata["registration_id"]}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> InputPaths:
    """A 12-registration campaign with shared ZIPs (most registrations match)."""
    return make_campaign(
        tmp_path_factory.mktemp("c12"), registrations=12, suppliers=4, scenario="overlap", seed=11
    )


def by_role(**overrides: Callable[[ChatRequest], Any]) -> FakeChatClient:
    """A right model, except the roles in ``overrides`` (matcher, pricer, critic)."""
    right = mock_client()
    assert right._function is not None
    answer_right = right._function

    def answer(request: ChatRequest) -> Any:
        role = request.metadata.get("role", "")
        if role in overrides:
            return overrides[role](request)
        return answer_right(request)

    return FakeChatClient(function=answer)


def error(status: int) -> Callable[[ChatRequest], Any]:
    def fail(request: ChatRequest) -> Any:
        return ModelCallError(
            f"HTTP {status} from the endpoint",
            endpoint="sim",
            model="gpt-4o",
            status=status,
            retryable=status >= 500,
        )

    return fail


def run(client: Any, name: str, paths: InputPaths, run_dir: Path, **options: Any) -> dict:
    runner = Runner(
        resolve_constellation(name),
        paths,
        dataclasses.replace(OPTIONS, **options),
        run_dir,
        client=client,
    )
    return asyncio.run(runner.run()).summary


def outputs(run_dir: Path) -> tuple[list[dict], list[dict], dict]:
    read = lambda name: json.loads((run_dir / name).read_text())  # noqa: E731
    return read("matches.json"), read("pos.json"), read("capacity.json")


def used(capacity: dict) -> int:
    return sum(row["used"] for row in capacity.values())


@pytest.mark.parametrize("status", [401, 403, 404])
def test_an_auth_error_or_unknown_model_stops_the_run_at_the_first_call(
    status: int, campaign: InputPaths, tmp_path: Path
) -> None:
    client = by_role(matcher=error(status))

    with pytest.raises(ModelCallError, match=f"HTTP {status}; the run stops"):
        run(client, "p1m1m2c", campaign, tmp_path)

    assert len(client.requests) == 1


@pytest.mark.parametrize("name", ["p1m1_p2m2", "p1m1m2c", "p1m1c1m2c2"])
def test_a_registration_whose_model_calls_failed_is_failed_and_holds_no_capacity(
    name: str, campaign: InputPaths, tmp_path: Path
) -> None:
    summary = run(by_role(matcher=error(500)), name, campaign, tmp_path)
    matches, orders, capacity = outputs(tmp_path)

    assert summary["statuses"] == {"failed": 12}
    assert {m["reason"] for m in matches} == {"model_call_failed"}
    assert all("HTTP 500" in m["message"] for m in matches)
    assert orders == [] and used(capacity) == 0 and summary["matched"] == 0


def test_a_failed_critic_call_fails_the_registration_rather_than_booking(
    campaign: InputPaths, tmp_path: Path
) -> None:
    summary = run(by_role(critic=error(503)), "p1m1m2c", campaign, tmp_path)

    assert summary["statuses"] == {"failed": 12}
    assert used(outputs(tmp_path)[2]) == 0


def test_validator_gated_constellation_answers_with_rules_when_calls_fail(
    campaign: InputPaths, tmp_path: Path
) -> None:
    summary = run(by_role(matcher=error(500)), "p1m1v_p2r", campaign, tmp_path)

    assert summary["answer_sources"] == {"fallback_rules": 12}
    assert summary["accuracy"]["final_supplier"] == 1.0


class HangingClient:
    """A model endpoint that never answers (a server stuck on prefill)."""

    model = "hang"
    endpoint_name = "hang"

    def __init__(self, answer_first: bool = False) -> None:
        self.requests: list[ChatRequest] = []
        self.answer_first = answer_first

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self.answer_first and len(request.messages) == 2:
            return await FakeChatClient(["I would pick the nearest one."]).complete(request)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("name", "expected"),
    [("p1m1v_p2r", {"deadline_rules": 12}), ("p1m1_p2m2", None), ("p1m1m2c", None)],
)
def test_a_registration_past_its_deadline_gets_the_rules_answer_or_fails(
    name: str, expected: dict | None, campaign: InputPaths, tmp_path: Path
) -> None:
    client = HangingClient()

    summary = run(client, name, campaign, tmp_path, deadline_s=0.001)
    matches, orders, capacity = outputs(tmp_path)

    assert len(client.requests) == 12
    if expected is not None:
        assert summary["answer_sources"] == expected
        assert summary["accuracy"]["final_supplier"] == 1.0
    else:
        assert summary["statuses"] == {"failed": 12}
        assert {m["reason"] for m in matches} == {"deadline"}
        assert "--deadline" in matches[0]["message"]
        assert orders == [] and used(capacity) == 0


def test_calls_made_before_the_deadline_are_still_counted(
    campaign: InputPaths, tmp_path: Path
) -> None:
    client = HangingClient(answer_first=True)

    summary = run(client, "p1m1_p2m2", campaign, tmp_path, deadline_s=0.001, max_items=3)

    assert summary["statuses"] == {"failed": 3}
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert [row["llm_calls"] for row in timings] == [1, 1, 1]
    assert [row["repairs"] for row in timings] == [1, 1, 1]


def test_timeout_and_attempts_reach_the_model_client() -> None:
    env = {"OPENAI_API_KEY": "test-key"}
    with open_model("openai", timeout_s=7.5, max_attempts=2, env=env) as client:
        assert isinstance(client, OpenAICompatibleClient)
        assert client.timeout_s == 7.5
        assert client._retry.max_attempts == 2
    with open_model("openai", env=env) as client:
        assert isinstance(client, OpenAICompatibleClient)
        assert (client.timeout_s, client._retry.max_attempts) == (60.0, 4)


def test_failure_settings_are_saved_with_the_run_options() -> None:
    options = RunOptions(timeout_s=5.0, max_attempts=2, deadline_s=30.0, trust_model=True)

    assert RunOptions.from_json(options.to_json()) == options
    assert RunOptions.baseline().trust_model is True
    assert RunOptions().trust_model is False


def garbage(request: ChatRequest) -> str:
    return "The price is fair."


@pytest.mark.parametrize("failure", ["call", "unreadable"])
def test_a_pricer_failure_never_leaves_a_booked_match_without_a_purchase_order(
    failure: str, campaign: InputPaths, tmp_path: Path
) -> None:
    pricer = error(500) if failure == "call" else garbage

    summary = run(by_role(pricer=pricer), "p1m1_p2m2", campaign, tmp_path, trust_model=True)
    matches, orders, capacity = outputs(tmp_path)

    assert summary["matched"] == 0 and orders == [] and used(capacity) == 0
    assert set(summary["statuses"]) <= {"failed", "no_match"}
    failed = [m for m in matches if m["status"] == "failed"]
    assert failed and all(m["supplier_id"] is None for m in failed)
    expected_reason = "model_call_failed" if failure == "call" else "model_no_answer"
    assert {m["reason"] for m in failed} == {expected_reason}


def test_an_unreadable_purchase_order_is_replaced_by_the_rules_price_when_checked(
    campaign: InputPaths, tmp_path: Path
) -> None:
    summary = run(by_role(pricer=garbage), "p1m1_p2m2", campaign, tmp_path)
    matches, orders, capacity = outputs(tmp_path)

    matched = [m for m in matches if m["status"] == "matched"]
    assert matched and len(orders) == len(matched) == used(capacity)
    assert {o["source"] for o in orders} == {"validator_override"}
    assert summary["accuracy"]["final_price"] == 1.0


def test_validator_gated_pricing_falls_back_to_the_rules_price(
    campaign: InputPaths, tmp_path: Path
) -> None:
    run(by_role(pricer=error(500)), "p1m1v_p2m2v", campaign, tmp_path)
    matches, orders, capacity = outputs(tmp_path)

    assert len(orders) == sum(m["status"] == "matched" for m in matches) == used(capacity) > 0
    assert {o["source"] for o in orders} == {"fallback_rules"}


@pytest.mark.parametrize("name", ["p1m1m2c", "p1m1c1_p2m2c2"])
def test_an_answer_the_critic_never_approved_is_replaced_by_the_rules_answer(
    name: str, campaign: InputPaths, tmp_path: Path
) -> None:
    wrong = mock_client(error_rate=1.0, seed=2)
    assert wrong._function is not None
    client = by_role(matcher=wrong._function, critic=reject)

    summary = run(client, name, campaign, tmp_path)
    matches, _, _ = outputs(tmp_path)

    assert summary["answer_sources"]["unapproved_rules"] > 0
    assert summary["accuracy"]["final_supplier"] == 1.0
    assert summary["accuracy"]["final_price"] == 1.0
    unapproved = [m for m in matches if m["source"] == "unapproved_rules"]
    assert all(m["status"] in ("matched", "no_match") for m in unapproved)
    assert all("did not approve" in m["message"] for m in unapproved if m["supplier_id"])


def test_trusting_the_model_an_unapproved_answer_is_recorded_and_never_booked(
    campaign: InputPaths, tmp_path: Path
) -> None:
    client = by_role(critic=reject)

    summary = run(client, "p1m1m2c", campaign, tmp_path, trust_model=True)
    matches, orders, capacity = outputs(tmp_path)

    assert summary["statuses"] == {"unapproved": 12}
    assert {m["reason"] for m in matches} == {"critic_not_approved"}
    assert "did not approve" in matches[0]["message"]
    assert orders == [] and used(capacity) == 0


def test_run_flags_set_timeout_attempts_deadline_and_trust(tmp_path: Path) -> None:
    args = ["run", "p1m1_p2m2", "--model", "mock", "--max-items", "2", "--quiet"]
    args += ["--campaign-date", "2026-06-01", "--out", str(tmp_path / "run")]
    args += ["--timeout", "5", "--max-attempts", "2", "--deadline", "30", "--trust-model"]

    assert run_guarded(app, args) == 0

    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    options = summary["options"]
    assert (options["timeout_s"], options["max_attempts"], options["deadline_s"]) == (5, 2, 30)
    assert options["trust_model"] is True
