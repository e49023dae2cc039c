"""OpenAI wire formats: chat.completion bodies, chat.completion.chunk SSE events, errors."""

from __future__ import annotations

import json
from typing import Any

from igent.sim.profiles import CHARS_PER_TOKEN
from igent.sim.reply import ReplyPlan

# A fixed timestamp keeps replies byte-identical across runs with the same seed.
CREATED = 1767225600
SYSTEM_FINGERPRINT = "fp_igent_sim"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _usage(plan: ReplyPlan) -> dict[str, Any]:
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": plan.cached_tokens},
    }


def _tool_call_id(plan: ReplyPlan) -> str:
    return "call_" + plan.request_id.removeprefix("chatcmpl-")[:24]


def completion_body(plan: ReplyPlan) -> bytes:
    """Return the non-streaming chat.completion JSON."""
    message: dict[str, Any] = {"role": "assistant", "content": plan.text, "refusal": None}
    if plan.tool_name:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": _tool_call_id(plan),
                "type": "function",
                "function": {"name": plan.tool_name, "arguments": plan.text},
            }
        ]
    body = {
        "id": plan.request_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": plan.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": plan.finish_reason,
            }
        ],
        "usage": _usage(plan),
    }
    return _dumps(body).encode()


def stream_events(plan: ReplyPlan, include_usage: bool) -> list[tuple[float, bytes]]:
    """Return every SSE event with its send offset (seconds), serialized ahead of time."""
    offsets = plan.latency.chunk_offsets_s or (plan.latency.ttft_s,)
    size = plan.tokens_per_chunk * CHARS_PER_TOKEN
    pieces = [plan.text[i : i + size] for i in range(0, len(plan.text), size)] or [""]
    events: list[tuple[float, bytes]] = []
    head = {
        "id": plan.request_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": plan.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    extra = {"usage": None} if include_usage else {}

    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + _dumps({**head, "choices": [choice], **extra}).encode() + b"\n\n"

    if plan.tool_name:
        opening = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "index": 0,
                    "id": _tool_call_id(plan),
                    "type": "function",
                    "function": {"name": plan.tool_name, "arguments": ""},
                }
            ],
        }
    else:
        opening = {"role": "assistant", "content": "", "refusal": None}
    events.append((offsets[0], event(opening)))
    for offset, piece in zip(offsets, pieces, strict=False):
        if plan.tool_name:
            delta: dict[str, Any] = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        else:
            delta = {"content": piece}
        events.append((offset, event(delta)))
    end = plan.latency.total_s
    events.append((end, event({}, plan.finish_reason)))
    if include_usage:
        usage = {**head, "choices": [], "usage": _usage(plan)}
        events.append((end, b"data: " + _dumps(usage).encode() + b"\n\n"))
    events.append((end, b"data: [DONE]\n\n"))
    return events


def error_body(message: str, error_type: str, code: str | None) -> bytes:
    """Return an error body in OpenAI's format."""
    return _dumps(
        {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    ).encode()
