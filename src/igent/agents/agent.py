"""An agent: a role with a system prompt, a model client and the JSON it must answer.

The agent, not the transport, reads the reply: it finds the reply's own JSON, checks it
against the role's schema and the registration it answers for, and records the usage of
every attempt of the call (failed attempts and unreadable replies included), because each
of them was billed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from igent.agents.answer import (
    json_objects,
    partial_object,
    pick_answer,
    prompt_objects,
    task_defaults,
)
from igent.agents.protocol import MATCH_SCHEMA, PURCHASE_ORDER_SCHEMA, VERDICT_SCHEMA
from igent.agents.verdict import CriticVerdict, parse_verdict
from igent.errors import ModelCallError, ModelOutputError
from igent.llm import ChatClient, ChatRequest, ChatResponse, Usage
from igent.llm.cache import PROMPT_VERSION_KEY
from igent.llm.types import Attempt

AgentRole = Literal["matcher", "pricer", "critic"]

DEFAULT_MAX_TOKENS: dict[AgentRole, int] = {"matcher": 64, "critic": 200, "pricer": 384}
"""Output budget per role: a compact match is ~30 tokens, a verdict 40-150, a PO 150-300."""

DEFAULT_SCHEMAS: dict[AgentRole, dict[str, Any]] = {
    "matcher": MATCH_SCHEMA,
    "critic": VERDICT_SCHEMA,
    "pricer": PURCHASE_ORDER_SCHEMA,
}
_SCHEMA_NAMES: dict[AgentRole, str] = {
    "matcher": "match",
    "critic": "verdict",
    "pricer": "purchase_order",
}


@dataclass(frozen=True)
class AgentCall:
    """Measurements of one model call (all its attempts), for timing and cost reports.

    Tokens and cost are summed over every attempt the client reported, failed ones
    included; ``attempts`` keeps each one's time, usage and error.
    """

    role: AgentRole
    duration_s: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    chunks_read: int
    stopped_early: bool
    intended_latency_s: float | None
    cached: bool
    attempts: tuple[Attempt, ...] = ()
    error: str | None = None
    """Why the call gave no answer (transport failure), or None."""
    cached_prompt_tokens: int = 0
    estimated: bool = False
    """True when some tokens were estimated because the endpoint reported none."""

    @property
    def failed(self) -> bool:
        """True when the call raised instead of answering."""
        return self.error is not None


@dataclass(frozen=True)
class AgentReply:
    """A model's reply: its text, the answer read from it (or why none), and the call record.

    ``parsed`` is the validated answer with canonical keys; ``partial`` marks an answer
    read from a stream stopped after ``stop_after_fields``, its other fields filled from the
    rules. A critic's reply also carries its ``verdict``.
    """

    text: str
    parsed: Any
    parse_error: str | None
    call: AgentCall
    partial: bool = False
    filled_fields: tuple[str, ...] = ()
    verdict: CriticVerdict | None = None


class AgentCallError(ModelCallError):
    """A model call failed after all attempts; ``call`` records what they cost."""

    def __init__(self, error: ModelCallError, call: AgentCall) -> None:
        super().__init__(
            str(error),
            endpoint=error.endpoint,
            model=error.model,
            status=error.status,
            retryable=error.retryable,
        )
        self.body_excerpt = error.body_excerpt
        self.attempts = list(call.attempts)
        self.call = call


class Agent:
    """Ask a model, as one role, to answer a conversation; read and check its JSON answer.

    Args:
        schema: the answer's JSON schema; None takes the role's default.
        structured_output: send the schema as ``response_format`` (the client does so where
            the endpoint supports it); False keeps it for checking only (prompt-only JSON).
        max_tokens: output budget; None takes the role's default, 0 sends none.
        stop_after_fields: stop reading the stream once these top-level fields are complete;
            the rest of the answer is filled from the rules (``AgentReply.partial``).
    """

    def __init__(
        self,
        role: AgentRole,
        system_prompt: str,
        client: ChatClient,
        *,
        schema: Mapping[str, Any] | None = None,
        schema_name: str | None = None,
        stream: bool = True,
        early_stop: bool = True,
        watch_fields: Sequence[str] = (),
        max_tokens: int | None = None,
        stop_after_fields: Sequence[str] = (),
        structured_output: bool = True,
    ) -> None:
        self.role = role
        self.system_prompt = system_prompt
        self.client = client
        self.schema = dict(schema) if schema is not None else DEFAULT_SCHEMAS[role]
        self.schema_name = schema_name or _SCHEMA_NAMES[role]
        self.stream = stream
        self.early_stop = early_stop
        self.watch_fields = tuple(watch_fields)
        budget = DEFAULT_MAX_TOKENS[role] if max_tokens is None else max_tokens
        self.max_tokens = budget or None
        self.stop_after_fields = tuple(stop_after_fields)
        self.structured_output = structured_output
        self._system_objects = prompt_objects([{"role": "system", "content": system_prompt}])
        self.prompt_version = prompt_version(system_prompt)
        """Part of the response cache key: an edited prompt never replays old replies."""

    def request(
        self, conversation: Sequence[Mapping[str, str]], metadata: Mapping[str, str] = {}
    ) -> ChatRequest:
        """Build the request ``ask`` sends for ``conversation``."""
        stop_fields = self.stop_after_fields if self.stream else ()
        return ChatRequest(
            messages=[{"role": "system", "content": self.system_prompt}, *map(dict, conversation)],
            response_schema=self.schema if self.structured_output else None,
            schema_name=self.schema_name,
            stream=self.stream,
            early_stop=self.stream and self.early_stop,
            watch_fields=tuple(dict.fromkeys((*self.watch_fields, *stop_fields))),
            max_tokens=self.max_tokens,
            stop_after_fields=stop_fields,
            metadata={"role": self.role, PROMPT_VERSION_KEY: self.prompt_version, **metadata},
        )

    async def ask(
        self,
        conversation: Sequence[Mapping[str, str]],
        *,
        metadata: Mapping[str, str] = {},
        fill: Mapping[str, Any] | None = None,
    ) -> AgentReply:
        """Send the system prompt and ``conversation``; return the reply with its answer.

        ``metadata["registration_id"]`` is the registration the answer must name. ``fill``
        gives the fields of a partial answer (stream stopped after ``stop_after_fields``);
        by default they come from the task's registration.

        Raises:
            AgentCallError: the call failed after all attempts (a `ModelCallError`).
        """
        request = self.request(conversation, metadata)
        seen: dict[str, Any] = {}
        request.on_field = seen.__setitem__
        started = time.perf_counter()
        try:
            response = await self.client.complete(request)
        except ModelOutputError as exc:  # a client that still parses JSON itself
            attempts = tuple(getattr(exc, "attempts", ()) or ())
            call = _failed_call(self.role, attempts, time.perf_counter() - started, None)
            if self.role == "critic":
                return self._verdict_reply(exc.raw_excerpt, call, metadata.get("registration_id"))
            return AgentReply(exc.raw_excerpt, None, str(exc), call)
        except ModelCallError as exc:
            attempts = tuple(getattr(exc, "attempts", ()) or ())
            call = _failed_call(self.role, attempts, time.perf_counter() - started, str(exc))
            raise AgentCallError(exc, call) from exc
        call = _call_record(self.role, response)
        registration_id = metadata.get("registration_id")
        echoes = self._system_objects | prompt_objects(request.messages[1:])
        if self.role == "critic":
            text = response.text
            if response.tool_calls and not text.strip():
                text = json.dumps(_tool_arguments(response))
            return self._verdict_reply(text, call, registration_id, echoes, response.text)
        candidates = _candidates(response)
        answer, error = pick_answer(candidates, self.schema, registration_id, echoes)
        complete = any(isinstance(value, dict) for value in candidates)
        if complete or not stop_fields_met(response, self.stop_after_fields, seen):
            return AgentReply(response.text, answer, error, call)
        return self._partial_reply(response, call, request, seen, fill, registration_id, echoes)

    def _partial_reply(
        self,
        response: ChatResponse,
        call: AgentCall,
        request: ChatRequest,
        seen: Mapping[str, Any],
        fill: Mapping[str, Any] | None,
        registration_id: str | None,
        echoes: frozenset[str],
    ) -> AgentReply:
        """Complete an answer cut after ``stop_after_fields`` from ``fill`` or the task."""
        parsed = response.parsed if isinstance(response.parsed, dict) else {}
        read = {**partial_object(response.text), **parsed, **seen}
        # Only string fields closed before the cut are trusted; a number may have been cut short.
        keep = (*self.stop_after_fields, "registration_id")
        own = {name: read[name] for name in keep if name in read}
        defaults = dict(fill) if fill is not None else task_defaults(request.messages)
        if registration_id is not None:
            defaults.setdefault("registration_id", registration_id)
        filled = {k: v for k, v in defaults.items() if k not in own}
        answer, error = pick_answer([{**own, **filled}], self.schema, registration_id, echoes)
        return AgentReply(
            response.text, answer, error, call, partial=True, filled_fields=tuple(sorted(filled))
        )

    def _verdict_reply(
        self,
        text: str,
        call: AgentCall,
        registration_id: str | None,
        echoes: frozenset[str] = frozenset(),
        reply_text: str | None = None,
    ) -> AgentReply:
        """Read the critic's verdict from ``text`` (the reply, or its tool call's arguments)."""
        verdict = parse_verdict(text, registration_id=registration_id, echoes=echoes)
        reply_text = text if reply_text is None else reply_text
        if verdict.approved is None:
            return AgentReply(reply_text, None, verdict.error, call, verdict=verdict)
        parsed = {
            "registration_id": registration_id,
            "verdict": "APPROVE" if verdict.approved else "REJECT",
            "issues": list(verdict.issues),
        }
        return AgentReply(reply_text, parsed, None, call, verdict=verdict)


def prompt_version(system_prompt: str) -> str:
    """Return a short hash of ``system_prompt``, the prompt's version for the cache key."""
    return hashlib.sha256(system_prompt.encode("utf-8")).hexdigest()[:16]


def stop_fields_met(response: ChatResponse, fields: Sequence[str], seen: Mapping[str, Any]) -> bool:
    """True when the reply was cut after ``fields`` and all of them were read."""
    if not fields or not response.stopped_early:
        return False
    parsed = response.parsed if isinstance(response.parsed, dict) else {}
    read = {**partial_object(response.text), **parsed, **seen}
    return all(name in read for name in fields)


def _candidates(response: ChatResponse) -> list[Any]:
    """Complete JSON values of the reply; a stream cut mid-object has none."""
    if response.tool_calls:
        return [_tool_arguments(response)]
    found = list(json_objects(response.text))
    if response.parsed is not None and not response.stopped_early:
        found.insert(0, response.parsed)  # e.g. a client that read a tool call or fence itself
    return found


def _tool_arguments(response: ChatResponse) -> Any:
    arguments = response.tool_calls[0].get("function", {}).get("arguments", "")
    try:
        return json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        return None


def _attempts(source: Any) -> tuple[Attempt, ...]:
    return tuple(getattr(source, "attempts", ()) or ())


def _total(attempts: Sequence[Attempt], last: Usage | None) -> Usage:
    if not attempts:
        return last or Usage()
    total = Usage()
    for attempt in attempts:
        total = total + attempt.usage
    return total


def _call_record(role: AgentRole, response: ChatResponse) -> AgentCall:
    attempts = _attempts(response)
    usage = _total(attempts, response.usage)
    duration_s = response.timing.duration_s
    if len(attempts) > 1:
        duration_s = max(duration_s, sum(a.duration_s for a in attempts))
    return AgentCall(
        role=role,
        duration_s=duration_s,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=usage.cost_usd,
        chunks_read=response.chunks_read,
        stopped_early=response.stopped_early,
        intended_latency_s=response.intended_latency_s,
        cached=response.cached,
        attempts=attempts,
        cached_prompt_tokens=int(getattr(usage, "cached_prompt_tokens", 0)),
        estimated=usage.estimated,
    )


def _failed_call(
    role: AgentRole, attempts: Sequence[Attempt], elapsed_s: float, error: str | None
) -> AgentCall:
    usage = _total(attempts, None)
    return AgentCall(
        role=role,
        duration_s=sum(a.duration_s for a in attempts) if attempts else elapsed_s,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=usage.cost_usd,
        chunks_read=0,
        stopped_early=False,
        intended_latency_s=None,
        cached=False,
        attempts=tuple(attempts),
        error=error,
        cached_prompt_tokens=int(getattr(usage, "cached_prompt_tokens", 0)),
        estimated=usage.estimated,
    )


__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_SCHEMAS",
    "Agent",
    "AgentCall",
    "AgentCallError",
    "AgentReply",
    "AgentRole",
]
