"""An agent: a role with a system prompt, a model client and the JSON it must answer."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from igent.errors import ModelOutputError
from igent.llm import ChatClient, ChatRequest, ChatResponse, extract_json

AgentRole = Literal["matcher", "pricer", "critic"]


@dataclass(frozen=True)
class AgentCall:
    """Measurements of one model call, for timing and accuracy reports."""

    role: AgentRole
    duration_s: float
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    chunks_read: int
    stopped_early: bool
    intended_latency_s: float | None
    cached: bool


@dataclass(frozen=True)
class AgentReply:
    """A model's reply: its text, the JSON read from it (or why none), and the call record."""

    text: str
    parsed: Any
    parse_error: str | None
    call: AgentCall


class Agent:
    """Ask a model, as one role, to answer a conversation; read JSON from the answer."""

    def __init__(
        self,
        role: AgentRole,
        system_prompt: str,
        client: ChatClient,
        *,
        schema: Mapping[str, Any] | None = None,
        schema_name: str = "answer",
        stream: bool = True,
        early_stop: bool = True,
        watch_fields: Sequence[str] = (),
    ) -> None:
        self.role = role
        self.system_prompt = system_prompt
        self.client = client
        self.schema = dict(schema) if schema is not None else None
        self.schema_name = schema_name
        self.stream = stream
        self.early_stop = early_stop
        self.watch_fields = tuple(watch_fields)

    async def ask(
        self, conversation: Sequence[Mapping[str, str]], *, metadata: Mapping[str, str] = {}
    ) -> AgentReply:
        """Send the system prompt and ``conversation``; return the reply with its JSON."""
        request = ChatRequest(
            messages=[{"role": "system", "content": self.system_prompt}, *map(dict, conversation)],
            stream=self.stream,
            early_stop=self.stream and self.early_stop,
            watch_fields=self.watch_fields,
            metadata={"role": self.role, **metadata},
        )
        started = time.perf_counter()
        try:
            response = await self.client.complete(request)
        except ModelOutputError as exc:
            # The model answered, just not with readable JSON: feed that back, don't crash.
            failed = AgentCall(
                self.role, time.perf_counter() - started, 0, 0, 0.0, 0, False, None, False
            )
            return AgentReply(exc.raw_excerpt, None, str(exc), failed)
        parsed: Any = None
        error: str | None = None
        if response.tool_calls:
            parsed = _tool_arguments(response)
        else:
            try:
                parsed = (
                    response.parsed if response.parsed is not None else extract_json(response.text)
                )
            except ModelOutputError as exc:
                error = str(exc)
        return AgentReply(response.text, parsed, error, _call_record(self.role, response))


def _tool_arguments(response: ChatResponse) -> Any:
    arguments = response.tool_calls[0].get("function", {}).get("arguments", "")
    try:
        return json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        return None


def _call_record(role: AgentRole, response: ChatResponse) -> AgentCall:
    return AgentCall(
        role=role,
        duration_s=response.timing.duration_s,
        prompt_tokens=response.usage.prompt_tokens,
        completion_tokens=response.usage.completion_tokens,
        cost_usd=response.usage.cost_usd,
        chunks_read=response.chunks_read,
        stopped_early=response.stopped_early,
        intended_latency_s=response.intended_latency_s,
        cached=response.cached,
    )
