"""`FakeChatClient`: an in-process `ChatClient` for tests and offline demos."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from igent.llm.json_extract import parse_reply
from igent.llm.types import Attempt, CallTiming, ChatRequest, ChatResponse, Usage

Reply = str | dict[str, Any] | list[Any] | BaseException
ReplyFunction = Callable[[ChatRequest], Reply]


class FakeChatClient:
    """Answer from a queue of scripted replies, or from a function of the request.

    A reply is text, a JSON-able value (sent as its JSON text) or an exception to raise.
    Every request is kept in ``requests`` for asserts on prompts; with ``keep_requests=N``
    only the last N are (a long run with the ``mock`` model must not grow per call), and
    ``request_count`` counts them all. Like the real client, a
    reply that is not JSON comes back with ``parsed=None``; each reply is one attempt
    costing ``usage``.
    """

    def __init__(
        self,
        replies: Sequence[Reply] = (),
        *,
        function: ReplyFunction | None = None,
        model: str = "mock",
        endpoint: str = "mock",
        usage: Usage | None = None,
        keep_requests: int | None = None,
    ) -> None:
        if keep_requests is not None and keep_requests < 0:
            raise ValueError(f"keep_requests={keep_requests!r}: expected 0 or more (or None)")
        self._queue: deque[Reply] = deque(replies)
        self._function = function
        self.model = model
        self.endpoint_name = endpoint
        self.usage = usage or Usage()
        self.requests: list[ChatRequest] = []
        self.request_count = 0
        self.keep_requests = keep_requests
        self.closed = False

    def enqueue(self, *replies: Reply) -> None:
        """Add replies to the end of the queue."""
        self._queue.extend(replies)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Return the next scripted reply for ``request``."""
        self.request_count += 1
        self.requests.append(request)
        if self.keep_requests is not None and len(self.requests) > self.keep_requests:
            del self.requests[: len(self.requests) - self.keep_requests]
        if self._queue:
            reply = self._queue.popleft()
        elif self._function is not None:
            reply = self._function(request)
        else:
            raise AssertionError("FakeChatClient has no reply queued for this request")
        if isinstance(reply, BaseException):
            raise reply
        text = reply if isinstance(reply, str) else json.dumps(reply)
        parsed = parse_reply(request, text)
        field_times: dict[str, float] = {}
        if isinstance(parsed, dict):
            for name in request.watch_fields:
                if name in parsed:
                    field_times[name] = 0.0
                    if request.on_field is not None:
                        request.on_field(name, parsed[name])
        return ChatResponse(
            text=text,
            parsed=parsed,
            tool_calls=[],
            usage=self.usage,
            timing=CallTiming(started_s=0.0, first_token_s=None, last_token_s=0.0),
            model=self.model,
            endpoint=self.endpoint_name,
            field_times=field_times,
            attempts=[Attempt(duration_s=0.0, usage=self.usage, reply_text=text)],
        )

    async def aclose(self) -> None:
        """Mark the client closed."""
        self.closed = True
