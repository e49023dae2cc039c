"""Values passed to and returned by chat clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Clock = Callable[[], float]
"""Monotonic seconds, e.g. ``time.monotonic``; tests inject a fake."""

Sleep = Callable[[float], Awaitable[None]]
"""Awaitable sleep, e.g. ``asyncio.sleep``; tests inject one that only records delays."""

FieldCallback = Callable[[str, Any], None]


@dataclass
class ChatRequest:
    """One chat-completion request, independent of the endpoint it goes to."""

    messages: list[dict[str, str]]
    tools: list[dict[str, Any]] | None = None
    response_schema: dict[str, Any] | None = None
    schema_name: str = "reply"
    stream: bool = False
    early_stop: bool = False
    """Stop reading the stream once the top-level JSON value is complete and valid."""
    watch_fields: tuple[str, ...] = ()
    """Top-level fields handed to ``on_field`` as soon as their value is complete."""
    on_field: FieldCallback | None = None
    temperature: float | None = 0
    max_tokens: int | None = None
    stop_after_fields: tuple[str, ...] = ()
    """Stop reading the stream as soon as every named top-level field is complete."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Labels such as role or registration_id; recorded in transcripts, never sent."""


@dataclass(frozen=True)
class Usage:
    """Tokens and cost of one or more calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False
    """True when some tokens were estimated because the endpoint reported none."""
    cached_prompt_tokens: int = 0
    """Prompt tokens the provider served from its prompt cache (part of ``prompt_tokens``)."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            estimated=self.estimated or other.estimated,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
        )

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CallTiming:
    """Clock readings for one call, in monotonic seconds from the client's clock."""

    started_s: float
    first_token_s: float | None
    last_token_s: float

    @property
    def duration_s(self) -> float:
        """Seconds from sending the request to the last token read."""
        return self.last_token_s - self.started_s

    @property
    def ttft_s(self) -> float | None:
        """Seconds to the first content token, when one arrived."""
        return None if self.first_token_s is None else self.first_token_s - self.started_s


@dataclass
class ChatResponse:
    """A completed chat call: text, parsed JSON, tool calls, usage and timing."""

    text: str
    parsed: Any | None
    tool_calls: list[dict[str, Any]]
    usage: Usage
    timing: CallTiming
    model: str
    endpoint: str
    chunks_read: int = 0
    stopped_early: bool = False
    chunks_skipped_estimate: int | None = None
    intended_latency_s: float | None = None
    """The simulator's ``x-sim-intended-latency-s`` header, when present."""
    cached: bool = False
    field_times: dict[str, float] = field(default_factory=dict)
    """Clock reading at which each watched field became available."""
    attempts: list[Attempt] = field(default_factory=list)
    """Every HTTP attempt made for this call, failed ones first; the last one answered."""


@dataclass(frozen=True)
class Attempt:
    """One HTTP attempt of a call (retries included): its time, usage and error, if any."""

    duration_s: float
    usage: Usage
    error: str | None = None
    reply_text: str = ""
    """The full reply text read in this attempt (keys redacted by the transcript writer)."""


class ChatClient(Protocol):
    """Anything that can complete a `ChatRequest`."""

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` and return the reply."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
