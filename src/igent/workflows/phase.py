"""Run one phase for one registration: answer, check (validator and/or LLM critic), repair."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from igent.agents import Agent, AgentCall, parse_verdict
from igent.errors import ModelCallError
from igent.rules import ValidationReport, normalize_proposal
from igent.workflows.constellation import PhaseSpec

AnswerSource = Literal["llm", "rules", "fallback_rules", "fallback_no_match", "last_answer"]


@dataclass
class PhaseResult:
    """What a phase produced for one registration and what it cost."""

    answer: dict[str, Any] | None
    source: AnswerSource
    raw_valid: bool | None = None
    final_valid: bool | None = None
    calls: list[AgentCall] = field(default_factory=list)
    repairs: int = 0
    critic_rounds: int = 0
    critic_skips: int = 0
    validation_s: float = 0.0
    error: str | None = None


@dataclass
class PhaseJob:
    """The inputs of one phase run; the callables close over registration and capacity."""

    spec: PhaseSpec
    answerer: Agent | None
    critic: Agent | None
    task_message: str
    review_message: Callable[[Any], str]
    validate: Callable[[Any], ValidationReport]
    rules_answer: dict[str, Any] | None
    conversation: list[dict[str, str]]
    required_fields: tuple[str, ...]
    metadata: Mapping[str, str]
    spec_group_chat: bool = False
    clock: Callable[[], float] = time.perf_counter


def _has_required(answer: Any, required: tuple[str, ...]) -> bool:
    try:
        fields = normalize_proposal(answer)
    except ValueError:
        return False
    return all(name in fields for name in required)


async def run_phase(job: PhaseJob) -> PhaseResult:
    """Run the answer/check/repair loop of ``job.spec`` and return the final answer."""
    spec = job.spec
    if spec.answerer == "rules" or job.answerer is None:
        return PhaseResult(
            answer=job.rules_answer, source="rules", raw_valid=True, final_valid=True
        )
    result = PhaseResult(answer=None, source="llm")
    conversation = job.conversation
    conversation.append({"role": "user", "content": job.task_message})
    last_parsed: Any = None
    while True:
        try:
            reply = await job.answerer.ask(conversation, metadata=job.metadata)
        except ModelCallError as exc:
            result.error = str(exc)
            return _fallback(job, result, last_parsed)
        result.calls.append(reply.call)
        conversation.append({"role": "assistant", "content": reply.text})
        started = job.clock()
        report = job.validate(reply.parsed) if reply.parse_error is None else None
        result.validation_s += job.clock() - started
        valid = report is not None and report.is_valid
        if result.raw_valid is None:
            result.raw_valid = valid
        if reply.parse_error is None:
            last_parsed = reply.parsed
        feedback = _validator_feedback(spec, reply.parse_error, report)
        if feedback is not None:
            if result.repairs >= spec.repair_limit:
                return _fallback(job, result, last_parsed)
            result.repairs += 1
            conversation.append({"role": "user", "content": feedback})
            continue
        if spec.critic in ("llm", "both") and job.critic is not None:
            if _skip_llm_critic(spec, reply.parsed, valid, job.required_fields):
                result.critic_skips += 1
            else:
                approved, issues = await _ask_critic(job, reply.parsed, reply.text, result)
                if approved is None:
                    return _fallback(job, result, last_parsed)
                if not approved:
                    if result.critic_rounds >= spec.max_turns:
                        return _fallback(job, result, last_parsed)
                    conversation.append(
                        {"role": "user", "content": "The critic rejected your answer:\n" + issues}
                    )
                    continue
        if reply.parse_error is not None:
            if result.critic_rounds + result.repairs >= spec.max_turns + spec.repair_limit:
                return _fallback(job, result, last_parsed)
            result.repairs += 1
            conversation.append({"role": "user", "content": _format_feedback(reply.parse_error)})
            continue
        result.answer = normalize_proposal(reply.parsed)
        result.final_valid = valid
        return result


def _validator_feedback(
    spec: PhaseSpec, parse_error: str | None, report: ValidationReport | None
) -> str | None:
    if spec.critic not in ("validator", "both"):
        return None
    if parse_error is not None:
        return _format_feedback(parse_error)
    if report is not None and not report.is_valid:
        return (
            "Your answer breaks the rules:\n" + report.feedback() + "\nAnswer again with JSON only."
        )
    return None


def _format_feedback(parse_error: str) -> str:
    return f"Your reply could not be read: {parse_error}\nAnswer again with the JSON object only."


def _skip_llm_critic(spec: PhaseSpec, parsed: Any, valid: bool, required: tuple[str, ...]) -> bool:
    if spec.skip_critic == "valid_json":
        return _has_required(parsed, required)
    if spec.skip_critic == "validated":
        return valid
    return False


async def _ask_critic(
    job: PhaseJob, parsed: Any, text: str, result: PhaseResult
) -> tuple[bool | None, str]:
    assert job.critic is not None
    result.critic_rounds += 1
    proposal = parsed if parsed is not None else text
    review = {"role": "user", "content": job.review_message(proposal)}
    messages = [*job.conversation, review] if job.spec_group_chat else [review]
    try:
        reply = await job.critic.ask(messages, metadata=job.metadata)
    except ModelCallError as exc:
        result.error = str(exc)
        return None, ""
    result.calls.append(reply.call)
    if job.spec_group_chat:
        job.conversation.extend([review, {"role": "assistant", "content": reply.text}])
    verdict = parse_verdict(
        json.dumps(reply.parsed) if isinstance(reply.parsed, dict) else reply.text
    )
    return verdict.approved, "\n".join(f"- {issue}" for issue in verdict.issues)


def _fallback(job: PhaseJob, result: PhaseResult, last_parsed: Any) -> PhaseResult:
    fallback = job.spec.fallback
    if fallback == "rules":
        result.answer, result.source, result.final_valid = job.rules_answer, "fallback_rules", True
    elif fallback == "last_answer" and last_parsed is not None:
        try:
            result.answer = normalize_proposal(last_parsed)
        except ValueError:
            result.answer = None
        result.source = "last_answer"
        started = job.clock()
        result.final_valid = job.validate(last_parsed).is_valid
        result.validation_s += job.clock() - started
    else:
        result.answer, result.source, result.final_valid = None, "fallback_no_match", None
    return result
