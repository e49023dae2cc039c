"""Record the model calls made for each registration, for its response and transcript."""

from __future__ import annotations

import threading
from typing import Any

from igent.errors import excerpt
from igent.llm import ChatClient, ChatRequest, ChatResponse


class CallRecorder:
    """A ChatClient wrapper that keeps each call's summary under its registration id."""

    def __init__(self, inner: ChatClient) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._calls: dict[str, list[dict[str, Any]]] = {}

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Forward the call and record its summary."""
        response = await self.inner.complete(request)
        registration_id = request.metadata.get("registration_id")
        if registration_id is not None:
            entry = {
                "role": request.metadata.get("role"),
                "model": response.model,
                "endpoint": response.endpoint,
                "duration_s": round(response.timing.duration_s, 6),
                "prompt_tokens": response.usage.prompt_tokens,
                "completion_tokens": response.usage.completion_tokens,
                "cost_usd": response.usage.cost_usd,
                "cached": response.cached,
                "messages": [
                    {"role": m.get("role", ""), "content": excerpt(m.get("content", ""), 4000)}
                    for m in request.messages
                ],
                "reply": excerpt(response.text, 4000),
            }
            with self._lock:
                self._calls.setdefault(registration_id, []).append(entry)
        return response

    def take(self, registration_id: str) -> list[dict[str, Any]]:
        """Return and forget the calls recorded for ``registration_id``."""
        with self._lock:
            return self._calls.pop(registration_id, [])

    async def aclose(self) -> None:
        """Close the wrapped client."""
        await self.inner.aclose()


__all__ = ["CallRecorder"]
