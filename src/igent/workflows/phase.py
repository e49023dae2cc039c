"""Run one phase for one registration: answer, check (validator and/or LLM critic), repair."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from igent.agents import Agent, AgentCall, AgentCallError, CriticVerdict, parse_verdict
from igent.errors import ModelCallError
from igent.rules import ValidationReport, normalize_proposal
from igent.workflows.constellation import PhaseSpec

AnswerSource = Literal[
    "llm",
    "rules",
    "fallback_rules",
    "fallback_no_match",
    "last_answer",
    "validator_override",
    "unapproved_rules",
    "deadline_rules",
]
PhaseFailure = Literal["call_failed", "unreadable", "invalid", "unapproved", "deadline"]
"""Why a phase ended without an answer its checks accepted (None when they did)."""
FATAL_STATUSES = frozenset({401, 403, 404})
"""HTTP statuses no retry or other registration can fix: a wrong key or an unknown model."""


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
    failure: PhaseFailure | None = None


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
    group_chat: bool = False
    clock: Callable[[], float] = time.perf_counter


def is_fatal(exc: ModelCallError) -> bool:
    """Return True for a call error that every later call would repeat (key, model name)."""
    return exc.status in FATAL_STATUSES


def fatal_error(exc: ModelCallError) -> ModelCallError:
    """Return the error that stops the run, saying what to fix."""
    fix = "the model name" if exc.status == 404 else "the API key and its permissions"
    return ModelCallError(
        f"endpoint {exc.endpoint!r} refused model {exc.model!r} with HTTP {exc.status}; "
        f"the run stops at the first such call: check {fix} and run again ({exc})",
        endpoint=exc.endpoint,
        model=exc.model,
        status=exc.status,
        body=exc.body_excerpt,
    )


class Deadline:
    """The per-registration time limit (``--deadline``) shared by both phases."""

    def __init__(self, limit_s: float | None) -> None:
        self.limit_s = limit_s
        self._ends: float | None = None
        if limit_s is not None:
            self._ends = asyncio.get_running_loop().time() + limit_s

    async def run(self, job: PhaseJob) -> PhaseResult:
        """Run ``job``; when the time is up, return a result that says so."""
        if self._ends is None:
            return await run_phase(job)
        limit = asyncio.timeout_at(self._ends)
        # Shared with run_phase so the calls made before the deadline are still counted.
        result = PhaseResult(answer=None, source="llm")
        try:
            async with limit:
                return await run_phase(job, result)
        except TimeoutError:
            if not limit.expired():
                raise
        result.answer, result.source, result.failure = None, "fallback_no_match", "deadline"
        result.error = f"the registration's deadline of {self.limit_s:g} s passed (--deadline)"
        return result


async def run_phase(job: PhaseJob, result: PhaseResult | None = None) -> PhaseResult:
    """Run the answer/check/repair loop of ``job.spec`` and return the final answer.

    An unreadable reply (not JSON, not an object, required fields missing) is sent back with
    what was wrong, at most ``repair_limit`` times, whatever the critic kind. A readable one is
    checked by the validator (critic ``validator``/``both``: violations are fed back, at most
    ``repair_limit`` times) and by the LLM critic (``llm``/``both``, unless the skip policy
    says otherwise: a rejection is fed back, at most ``max_turns`` critic rounds). When the
    limits run out the phase's fallback answers.
    """
    spec = job.spec
    if spec.answerer == "rules" or job.answerer is None:
        return PhaseResult(answer=job.rules_answer, source="rules", final_valid=True)
    result = result if result is not None else PhaseResult(answer=None, source="llm")
    conversation = job.conversation
    conversation.append({"role": "user", "content": job.task_message})
    last_parsed: Any = None
    while True:
        try:
            reply = await job.answerer.ask(conversation, metadata=job.metadata)
        except ModelCallError as exc:
            record_failed_call(result.calls, exc)
            if is_fatal(exc):
                raise fatal_error(exc) from exc
            result.error = str(exc)
            return _fallback(job, result, last_parsed, "call_failed")
        result.calls.append(reply.call)
        conversation.append({"role": "assistant", "content": reply.text})
        parse_error = reply.parse_error or _missing_fields(reply.parsed, job.required_fields)
        if parse_error is not None:
            if result.raw_valid is None:
                result.raw_valid = False
            if result.repairs >= spec.repair_limit:
                result.error = f"unreadable reply: {parse_error}"
                return _fallback(job, result, last_parsed, "unreadable")
            result.repairs += 1
            conversation.append({"role": "user", "content": _format_feedback(parse_error)})
            continue
        last_parsed = reply.parsed
        started = job.clock()
        report = job.validate(reply.parsed)
        result.validation_s += job.clock() - started
        if result.raw_valid is None:
            result.raw_valid = report.is_valid
        if spec.critic in ("validator", "both") and not report.is_valid:
            if result.repairs >= spec.repair_limit:
                result.error = "the answer breaks the rules: " + "; ".join(report.violations)
                return _fallback(job, result, last_parsed, "invalid")
            result.repairs += 1
            conversation.append({"role": "user", "content": _violations_feedback(report)})
            continue
        if spec.critic in ("llm", "both") and job.critic is not None:
            if _skip_llm_critic(spec, report.is_valid):
                result.critic_skips += 1
            else:
                review = await _ask_critic(job, reply.parsed, result)
                if isinstance(review, str):
                    return _fallback(job, result, last_parsed, review)
                approved, issues = review
                if not approved:
                    if result.critic_rounds >= spec.max_turns:
                        result.error = f"the critic did not approve the answer:\n{issues}"
                        return _fallback(job, result, last_parsed, "unapproved")
                    # Only the feedback goes back: the task is already in the conversation, so
                    # a repair round costs the feedback's tokens, not the whole task again.
                    conversation.append({"role": "user", "content": _rejection_feedback(issues)})
                    continue
        result.answer = normalize_proposal(reply.parsed)
        result.final_valid = report.is_valid
        return result


def _missing_fields(parsed: Any, required: tuple[str, ...]) -> str | None:
    """Say what is wrong with a parsed reply that is not a usable answer, or None."""
    try:
        fields = normalize_proposal(parsed)
    except ValueError as exc:
        return f"expected a JSON object: {exc}"
    missing = [name for name in required if name not in fields]
    return f"the JSON object lacks {', '.join(missing)}" if missing else None


def _violations_feedback(report: ValidationReport) -> str:
    return "Your answer breaks the rules:\n" + report.feedback() + "\nAnswer again with JSON only."


def _rejection_feedback(issues: str) -> str:
    return (
        f"The critic rejected your answer:\n{issues or '- (no reason given)'}\n"
        "Answer the same task again with the JSON object only."
    )


def _format_feedback(parse_error: str) -> str:
    return f"Your reply could not be read: {parse_error}\nAnswer again with the JSON object only."


def _skip_llm_critic(spec: PhaseSpec, valid: bool) -> bool:
    """Decide whether the LLM critic is skipped for a readable answer."""
    if spec.skip_critic == "valid_json":
        return True  # the reply parsed and has the required fields
    if spec.skip_critic == "validated":
        return valid
    return False


async def _ask_critic(
    job: PhaseJob, proposal: Any, result: PhaseResult
) -> tuple[bool, str] | PhaseFailure:
    """Ask the LLM critic to review ``proposal``.

    Returns (approved, issues), or why there is no verdict when the call failed or the reply held no
    verdict of the critic's own for this registration: an error, never approval or rejection.
    """
    assert job.critic is not None
    result.critic_rounds += 1
    review = {"role": "user", "content": job.review_message(proposal)}
    messages = [*job.conversation, review] if job.group_chat else [review]
    try:
        reply = await job.critic.ask(messages, metadata=job.metadata)
    except ModelCallError as exc:
        record_failed_call(result.calls, exc)
        if is_fatal(exc):
            raise fatal_error(exc) from exc
        result.error = str(exc)
        return "call_failed"
    result.calls.append(reply.call)
    verdict = reply_verdict(reply.verdict, reply.text, job.metadata)
    if job.group_chat:
        # The critic's turn is another participant's message, not the answerer's own. The
        # review task itself is not kept: the shared conversation already holds the task, and
        # the last task the answerer sees stays its own. The turn is told in words, not as
        # the critic's JSON: a later critic's identical verdict (the price review approving
        # like the match review did) would otherwise be refused as copied from the prompt.
        job.conversation.append({"role": "user", "content": _critic_turn(verdict, reply.text)})
    if verdict.approved is None:
        # Booked as a failed call (never the unapproved answer): the check did not happen.
        result.error = f"the critic gave no verdict: {verdict.error}"
        return "call_failed"
    return verdict.approved, "\n".join(f"- {issue}" for issue in verdict.issues)


def _critic_turn(verdict: CriticVerdict, text: str) -> str:
    """Tell the group chat what the critic said, without its verdict JSON."""
    if verdict.approved is None:
        return f"critic: (no verdict) {text[:500]}"
    decision = "APPROVE" if verdict.approved else "REJECT"
    return "\n".join([f"critic: {decision}", *(f"- {issue}" for issue in verdict.issues)])


def reply_verdict(
    verdict: CriticVerdict | None, text: str, metadata: Mapping[str, str]
) -> CriticVerdict:
    """Return the critic agent's checked verdict; read ``text`` only when it gave none."""
    if verdict is not None:
        return verdict
    # A critic that is not an igent Agent (a test double) checked nothing: check it here.
    return parse_verdict(text, registration_id=metadata.get("registration_id"))


def record_failed_call(calls: list[AgentCall], exc: ModelCallError) -> None:
    """Count a failed call: its attempts were made and may have been billed (issue 14.6)."""
    if isinstance(exc, AgentCallError):
        calls.append(exc.call)


def _fallback(
    job: PhaseJob, result: PhaseResult, last_parsed: Any, failure: PhaseFailure
) -> PhaseResult:
    result.failure = failure
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
