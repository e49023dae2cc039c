"""A ChatClient wrapper that records each call's wall time and the simulator's intended latency."""

from __future__ import annotations

from dataclasses import dataclass, field

from igent.llm import ChatClient, ChatRequest, ChatResponse


@dataclass(frozen=True)
class CallSample:
    """One model call as the client saw it."""

    duration_s: float
    intended_s: float | None
    stopped_early: bool
    ttft_s: float | None = None


@dataclass
class CallRecorder:
    """Pass calls to ``inner`` and keep a :class:`CallSample` per reply."""

    inner: ChatClient
    samples: list[CallSample] = field(default_factory=list)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Forward ``request`` and record the reply's timing."""
        response = await self.inner.complete(request)
        self.samples.append(
            CallSample(
                response.timing.duration_s,
                response.intended_latency_s,
                response.stopped_early,
                response.timing.ttft_s,
            )
        )
        return response

    async def aclose(self) -> None:
        """Close ``inner``."""
        await self.inner.aclose()
