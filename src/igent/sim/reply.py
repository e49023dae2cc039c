"""Plan one simulated reply: who answers, what, with which fault, and when."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from igent.agents.protocol import find_task
from igent.sim.answers import TaskContext, correct_answer, false_reject, role_of, wrong_answer
from igent.sim.config import SimConfig
from igent.sim.faults import FaultKind, Role, draw_fault
from igent.sim.prefix_cache import PrefixCache
from igent.sim.profiles import CHARS_PER_TOKEN, IntendedLatency, count_tokens, sample_latency
from igent.sim.prose import wrap_in_prose

FinishReason = Literal["stop", "tool_calls", "length"]
# Errors come back quickly: a gateway refuses before the model runs.
_ERROR_LATENCY_FRACTION = 0.25


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a chat completion request the simulator reads."""

    model: str
    messages: Sequence[Mapping[str, Any]]
    stream: bool
    include_usage: bool
    tool_name: str | None
    json_only: bool
    max_tokens: int | None = None
    key_order: tuple[str, ...] = ()
    """Top-level properties of the request's JSON schema, in the schema's order."""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ChatRequest:
        """Read a request body; raise ValueError when it has no messages list."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise ValueError("'messages' must be a list of message objects")
        stream_options = body.get("stream_options") or {}
        response_format = body.get("response_format") or {}
        return cls(
            model=str(body.get("model") or ""),
            messages=messages,
            stream=bool(body.get("stream")),
            include_usage=bool(stream_options.get("include_usage")),
            tool_name=_first_function(body.get("tools")),
            json_only=response_format.get("type") in ("json_schema", "json_object"),
            max_tokens=_positive_int(body.get("max_completion_tokens") or body.get("max_tokens")),
            key_order=_schema_keys(response_format),
        )


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _schema_keys(response_format: Any) -> tuple[str, ...]:
    """The property names of a ``json_schema`` response format, in the schema's order."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return ()
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return tuple(properties) if isinstance(properties, dict) else ()


def _first_function(tools: Any) -> str | None:
    if not isinstance(tools, list):
        return None
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function":
            name = (tool.get("function") or {}).get("name")
            if isinstance(name, str):
                return name
    return None


@dataclass(frozen=True)
class ReplyPlan:
    """Everything the server needs to send one reply."""

    request_id: str
    model: str
    role: Role
    fault: FaultKind | None
    text: str
    tool_name: str | None
    latency: IntendedLatency
    prompt_tokens: int
    completion_tokens: int
    retry_after_s: float
    hang_s: float
    tokens_per_chunk: int
    cached_tokens: int = 0
    truncated: bool = False
    """The reply hit the request's max_tokens and was cut there."""

    @property
    def finish_reason(self) -> FinishReason:
        """Why the reply ended."""
        if self.truncated:
            return "length"
        return "tool_calls" if self.tool_name else "stop"

    @property
    def status_code(self) -> int:
        """The HTTP status of the reply."""
        return {"rate_limit": 429, "server_error": 500}.get(self.fault or "", 200)


def plan_reply(
    request: ChatRequest,
    config: SimConfig,
    rng: random.Random,
    request_id: str,
    prefix_cache: PrefixCache | None = None,
) -> ReplyPlan:
    """Decide the reply to ``request``; every random choice comes from ``rng``.

    With ``prefix_cache``, a prompt whose long prefix was seen recently reports it as cached
    tokens and prefills faster. A reply longer than ``max_tokens`` is cut there.
    """
    task = find_task(request.messages)
    role: Role = role_of(task) if task is not None else "chat"
    faults = config.fault(role)
    fault = draw_fault(faults, rng, role)
    if fault == "truncated_stream" and not request.stream:
        fault = None  # only a stream can be cut mid-way in a way the SDK notices
    if task is None:
        text = _chat_text(request.messages)
    else:
        context = TaskContext.from_task(task)
        if fault == "wrong_answer":
            answer = wrong_answer(context, rng)
        elif fault == "false_reject" and correct_answer(context)["verdict"] == "APPROVE":
            answer = false_reject(context, rng)
        else:
            answer = correct_answer(context)
        text = _render(role, answer, request, config, rng, malformed=fault == "malformed_json")
    profile = config.latency_profile(request.model)
    truncated = request.max_tokens is not None and count_tokens(text) > request.max_tokens
    if truncated and request.max_tokens is not None:
        text = text[: request.max_tokens * CHARS_PER_TOKEN]
    completion_tokens = count_tokens(text)
    prompt = "".join(_text_of(m) for m in request.messages)
    prompt_tokens = count_tokens(prompt)
    cached_tokens = 0
    if prefix_cache is not None and fault not in ("rate_limit", "server_error"):
        cached_tokens = prefix_cache.lookup_and_store(request.model or profile.name, prompt)
    latency = sample_latency(
        profile,
        rng,
        completion_tokens,
        time_scale=config.time_scale,
        prompt_tokens=prompt_tokens,
        cached_tokens=cached_tokens,
    )
    if fault in ("rate_limit", "server_error"):
        short = latency.ttft_s * _ERROR_LATENCY_FRACTION
        latency = IntendedLatency(ttft_s=short, total_s=short, chunk_offsets_s=())
    return ReplyPlan(
        request_id=request_id,
        model=request.model or profile.name,
        role=role,
        fault=fault,
        text=text,
        tool_name=request.tool_name if task is not None else None,
        latency=latency,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        retry_after_s=faults.retry_after_s,
        hang_s=faults.hang_s * config.time_scale,
        tokens_per_chunk=profile.tokens_per_chunk,
        cached_tokens=cached_tokens,
        truncated=truncated,
    )


def _render(
    role: Role,
    answer: Mapping[str, Any],
    request: ChatRequest,
    config: SimConfig,
    rng: random.Random,
    *,
    malformed: bool,
) -> str:
    plain = request.json_only or request.tool_name is not None or not config.prose
    # Structured output writes the properties in the schema's order (OpenAI's Structured
    # Outputs guide: "outputs will be produced in the same order as the ordering of keys in
    # the schema"), so a schema that puts the decision first gets it in the first tokens.
    answer = _in_schema_order(answer, request.key_order)
    if not malformed:
        if plain:
            return json.dumps(answer, separators=(",", ":"), ensure_ascii=False)
        return wrap_in_prose(role, answer, rng)
    broken = malform(json.dumps(answer, indent=None if plain else 2, ensure_ascii=False), rng)
    return broken if plain else "Here is my answer:\n" + broken


def _in_schema_order(answer: Mapping[str, Any], key_order: Sequence[str]) -> dict[str, Any]:
    """``answer`` with the schema's properties first, in its order, then any others."""
    first = {key: answer[key] for key in key_order if key in answer}
    return {**first, **{k: v for k, v in answer.items() if k not in first}}


def malform(json_text: str, rng: random.Random) -> str:
    """Cut the JSON short or drop the colon after a key; either way it no longer parses."""
    keys = [i for i in range(len(json_text) - 1) if json_text[i : i + 2] == '":']
    if keys and rng.random() < 0.5:
        at = rng.choice(keys) + 1
        garbled = json_text[:at] + " " + json_text[at + 1 :]
        if not _parses(garbled):  # the colon may have been inside a string value
            return garbled
    # Any proper prefix of a JSON object is invalid: its closing brace is missing.
    cut = max(1, int(len(json_text) * rng.uniform(0.4, 0.8)))
    return json_text[:cut]


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _chat_text(messages: Sequence[Mapping[str, Any]]) -> str:
    last = next((_text_of(m) for m in reversed(messages) if m.get("role") == "user"), "")
    said = f" You said: {last[:80]!r}." if last else ""
    return (
        "Hello from the igent simulator. Send a message made of '### TASK' blocks to get a "
        f"match, a purchase order or a review.{said}"
    )
