"""The seams between agents, phases, the pipeline and the model factory (issues 13 and 14)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from igent.agents import PREDECESSOR_VARIANT, load_prompt
from igent.errors import ModelCallError
from igent.llm import Attempt, ChatRequest, FakeChatClient, HedgedClient, Usage
from igent.llm.cache import PROMPT_VERSION_KEY
from igent.sim import PROFILES
from igent.workflows import InputPaths, Runner, RunOptions, mock_client, open_model
from igent.workflows import resolve_constellation as constellation
from igent.workflows.models import sim_ttft_p90_s
from tests.workflows.conftest import CAMPAIGN_DATE
from tests.workflows.support import run_constellation

OPTIONS = RunOptions(campaign_date=CAMPAIGN_DATE, transcripts=False)


def run(client: Any, name: str, paths: InputPaths, run_dir: Path, **options: Any) -> dict:
    options = dataclasses.replace(OPTIONS, **options)
    runner = Runner(constellation(name), paths, options, run_dir, client=client)
    return asyncio.run(runner.run()).summary


def scripted(critic: Any) -> FakeChatClient:
    """A client whose matcher answers right and whose critic answers ``critic(request)``."""
    right = mock_client()
    assert right._function is not None
    answer_right = right._function

    def answer(request: ChatRequest) -> Any:
        if request.metadata.get("role") == "critic":
            return critic(request)
        return answer_right(request)

    return FakeChatClient(function=answer)


def own_verdict(request: ChatRequest, verdict: str = "APPROVE") -> dict[str, Any]:
    return {"registration_id": request.metadata["registration_id"], "verdict": verdict}


@pytest.mark.parametrize(
    "reply",
    [
        {"verdict": "APPROVE", "issues": []},  # no registration: the prompt's example shape
        {"registration_id": "SOMEONE-ELSE", "verdict": "APPROVE", "issues": []},
        "I have looked at it carefully.",  # no verdict at all
    ],
)
def test_a_critic_reply_without_its_own_verdict_is_an_error_never_an_approval(
    reply: Any, campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run(scripted(lambda request: reply), "p1m1m2c", campaign50, tmp_path, max_items=3)

    assert summary["statuses"] == {"failed": 3}
    matches = json.loads((tmp_path / "matches.json").read_text())
    assert [m["reason"] for m in matches] == ["model_call_failed"] * 3
    assert all("the critic gave no verdict" in m["message"] for m in matches)


def test_a_critic_verdict_naming_this_registration_is_taken(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run(scripted(own_verdict), "p1m1m2c", campaign50, tmp_path, max_items=3)

    assert summary["statuses"] == {"matched": 3}


@pytest.mark.parametrize(
    ("reply", "completed", "errors"),
    [
        ({"verdict": "REJECT", "issues": ["copied"]}, 0, 3),  # no registration id: not a verdict
        (lambda request: own_verdict(request, "REJECT"), 3, 0),
    ],
)
def test_an_audit_counts_only_the_critics_own_verdict_as_a_disagreement(
    reply: Any, completed: int, errors: int, campaign50: InputPaths, tmp_path: Path
) -> None:
    critic = reply if callable(reply) else (lambda request: reply)

    summary = run(scripted(critic), "p1r_audit", campaign50, tmp_path, max_items=3)

    assert summary["audits"]["completed"] == completed
    assert summary["audits"]["errors"] == errors
    assert len(summary["audits"]["disagreements"]) == completed


class FailingClient:
    """Every call fails after one billed attempt of 1,000 + 5 tokens and 2 s."""

    model = "mock"
    endpoint_name = "mock"

    def __init__(self, status: int | None = 500) -> None:
        self.status = status
        self.calls = 0

    async def complete(self, request: ChatRequest) -> Any:
        self.calls += 1
        error = ModelCallError("boom", endpoint="mock", model="mock", status=self.status)
        usage = Usage(prompt_tokens=1000, completion_tokens=5, cost_usd=0.01)
        error.attempts = [Attempt(duration_s=2.0, usage=usage, error="boom")]
        raise error

    async def aclose(self) -> None:
        return None


def test_a_failed_model_call_is_counted_and_costed(campaign50: InputPaths, tmp_path: Path) -> None:
    run(FailingClient(), "p1m1v0_p2r", campaign50, tmp_path, max_items=2)

    timings = json.loads((tmp_path / "timings.json").read_text())
    assert [row["llm_calls"] for row in timings] == [1, 1]
    assert [row["prompt_tokens"] for row in timings] == [1000, 1000]
    assert all(row["agent_conversation_s"] == pytest.approx(2.0) for row in timings)
    assert all(row["cost_usd"] == pytest.approx(0.01) for row in timings)


@pytest.mark.parametrize("status", [401, 403, 404])
def test_an_audit_call_refused_for_good_stops_the_run(
    status: int, campaign50: InputPaths, tmp_path: Path
) -> None:
    client = FailingClient(status)

    with pytest.raises(ModelCallError, match=f"HTTP {status}; the run stops"):
        run(client, "p1r_audit", campaign50, tmp_path, max_items=5)
    assert client.calls < 5  # no audit is sent after the first refusal


def test_an_audit_call_failing_otherwise_is_an_audit_error(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run(FailingClient(503), "p1r_audit", campaign50, tmp_path, max_items=2)

    assert summary["audits"]["errors"] == 2
    audits = [json.loads(line) for line in (tmp_path / "audits.jsonl").read_text().splitlines()]
    assert [a["prompt_tokens"] for a in audits] == [1000, 1000]


def chunks_read(run_dir: Path) -> int:
    return sum(row["chunks_read"] for row in json.loads((run_dir / "timings.json").read_text()))


@pytest.mark.parametrize("error_rate", [0.0, 0.2])
def test_validator_gated_matcher_stops_at_supplier_id_at_the_simulator(
    error_rate: float, campaign50: InputPaths, tmp_path: Path
) -> None:
    def go(field_stop: bool) -> dict[str, Any]:
        return run_constellation(
            "p1m1v0_p2r",
            campaign50,
            tmp_path / str(field_stop),
            model="sim:gpt-4o",
            sim_error_rate=error_rate,
            options=RunOptions(field_stop=field_stop, max_items=12),
        )

    whole_json, field_level = go(False), go(True)

    assert chunks_read(tmp_path / "True") < chunks_read(tmp_path / "False")
    assert field_level["accuracy"]["final_supplier"] == 1.0
    assert whole_json["accuracy"]["final_supplier"] == 1.0
    if error_rate == 0.0:
        assert field_level["accuracy"]["raw_supplier"] == 1.0


def test_the_matcher_of_an_llm_critic_constellation_reads_the_whole_answer() -> None:
    from igent.workflows.runner import build_agents

    agents = build_agents(constellation("p1m1m2c"), mock_client(), RunOptions())
    gated = build_agents(constellation("p1m1v0_p2r"), mock_client(), RunOptions())
    no_stream = build_agents(
        constellation("p1m1v0_p2r"), mock_client(), RunOptions(early_extraction=False)
    )

    assert agents.matcher is not None and agents.matcher.stop_after_fields == ()
    assert gated.matcher is not None and gated.matcher.stop_after_fields == ("supplier_id",)
    assert no_stream.matcher is not None and no_stream.matcher.stop_after_fields == ()


def test_requests_carry_the_prompt_version_for_the_cache_key(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    client = scripted(own_verdict)
    run(client, "p1m1m2c", campaign50, tmp_path, max_items=1)

    versions = {r.metadata["role"]: r.metadata[PROMPT_VERSION_KEY] for r in client.requests}
    assert set(versions) == {"matcher", "critic", "pricer"}
    assert len(set(versions.values())) == 3  # each prompt text has its own version


def write_registry(path: Path) -> Path:
    path.write_text(
        "endpoints:\n"
        "  first: {base_url: 'http://127.0.0.1:9/v1', model: m, api_key_env: FIRST_KEY,"
        " timeout_s: 7.5, max_attempts: 2}\n"
        "  second: {base_url: 'http://127.0.0.1:9/v1', model: m, api_key_env: SECOND_KEY}\n"
    )
    return path


def test_registry_timeout_and_attempts_apply_without_flags(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "endpoints.yaml")
    env = {"FIRST_KEY": "first-secret-value"}

    with open_model("first", endpoints_file=registry, env=env) as client:
        assert (client.timeout_s, client.max_attempts) == (7.5, 2)  # type: ignore[attr-defined]
    with open_model("first", endpoints_file=registry, env=env, timeout_s=3.0) as client:
        assert client.timeout_s == 3.0  # type: ignore[attr-defined]


def test_keys_of_every_user_registry_endpoint_are_masked_in_transcripts(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "endpoints.yaml")
    env = {"FIRST_KEY": "first-secret-value", "SECOND_KEY": "second-secret-value"}
    transcript = tmp_path / "transcripts.jsonl"

    with open_model("first", endpoints_file=registry, env=env, transcript_path=transcript) as c:
        c._writer.write({"reply": "echo second-secret-value"})  # type: ignore[attr-defined]

    text = transcript.read_text()
    assert "second-secret-value" not in text
    assert "echo" in text


def test_hedging_wraps_the_simulator_client_with_its_ttft_p90() -> None:
    profile = PROFILES["gpt-4o"]
    expected = profile.ttft_median_s * 2.718281828 ** (1.2816 * profile.ttft_sigma)

    with open_model("sim:gpt-4o", time_scale=0.0, hedge=True) as client:
        assert isinstance(client, HedgedClient)
        assert client.delay_s == pytest.approx(0.0)
    with open_model("sim:gpt-4o", time_scale=0.0) as client:
        assert not isinstance(client, HedgedClient)
    assert sim_ttft_p90_s("gpt-4o", 1.0) == pytest.approx(expected)


def test_the_hedge_switch_is_saved_with_the_run_options() -> None:
    options = RunOptions(hedge=True, field_stop=False, structured_output=False)

    assert RunOptions.from_json(options.to_json()) == options
    assert RunOptions().hedge is False


def test_the_prompt_switches_are_saved_with_the_run_options() -> None:
    options = RunOptions(prompt_diet=False, prompt_order="registration-first")

    assert RunOptions.from_json(options.to_json()) == options
    assert (RunOptions().prompt_diet, RunOptions().prompt_order) == (True, "static-first")


def test_without_the_diet_the_matcher_gets_the_predecessors_prompt_and_offers(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    def matcher_request(**options: Any) -> ChatRequest:
        client = scripted(own_verdict)
        run(client, "p1m1v0_p2r", campaign50, tmp_path / str(options), max_items=1, **options)
        return next(r for r in client.requests if r.metadata["role"] == "matcher")

    dieted, whole = matcher_request(), matcher_request(prompt_diet=False)

    assert whole.messages[0]["content"] == load_prompt("matcher", PREDECESSOR_VARIANT)
    assert "### CANDIDATES" in dieted.messages[1]["content"]
    assert "### SUPPLIERS" in whole.messages[1]["content"]
    assert len(whole.messages[1]["content"]) > 2 * len(dieted.messages[1]["content"])


def test_registration_first_reorders_the_pricers_task(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    def pricer_task(order: str) -> str:
        client = scripted(own_verdict)
        run(client, "p1m1m2c", campaign50, tmp_path / order, max_items=1, prompt_order=order)
        return next(r for r in client.requests if r.metadata["role"] == "pricer").messages[1][
            "content"
        ]

    static_first, registration_first = (
        pricer_task("static-first"),
        pricer_task("registration-first"),
    )

    assert static_first.index("### SUPPLIER\n") < static_first.index("### REGISTRATION")
    assert registration_first.index("### REGISTRATION") < registration_first.index("### SUPPLIER\n")


@dataclasses.dataclass
class CachedTokens:
    """Pass calls on and keep each reply's cached prompt tokens (from the usage chunk)."""

    inner: Any
    cached: list[int] = dataclasses.field(default_factory=list)

    async def complete(self, request: ChatRequest) -> Any:
        response = await self.inner.complete(request)
        self.cached.append(response.usage.cached_prompt_tokens)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize(
    ("order", "cached"), [("static-first", True), ("registration-first", False)]
)
def test_the_simulator_caches_the_predecessors_offers_only_when_they_come_first(
    order: str, cached: bool, campaign50: InputPaths, tmp_path: Path
) -> None:
    # Whole replies (no streaming): the usage of each one carries its cached tokens.
    options = dataclasses.replace(
        OPTIONS, prompt_diet=False, prompt_order=order, early_extraction=False, max_items=12
    )

    async def go(recorder: CachedTokens) -> dict[str, Any]:
        runner = Runner(constellation("p1m1v0_p2r"), campaign50, options, tmp_path, client=recorder)
        try:
            return (await runner.run()).summary
        finally:
            await recorder.aclose()

    with open_model("sim:gpt-4o", time_scale=0.0) as client:
        recorder = CachedTokens(client)
        summary = asyncio.run(go(recorder))

    assert summary["accuracy"]["final_supplier"] == 1.0
    assert len(recorder.cached) == 12
    assert (sum(recorder.cached) >= 1_024) is cached
    assert (max(recorder.cached) == 0) is not cached
