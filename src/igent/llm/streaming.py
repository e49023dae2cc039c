"""Read a streamed chat completion, spotting the reply's JSON value as it arrives.

`JsonStreamScanner` walks the streamed text once, jumping between the few characters that
matter (quotes, backslashes, brackets, commas, colons), so each chunk costs time in
proportion to its own length. It knows exactly when the first top-level JSON value
closes, and when each top-level field's value is complete: a string once its closing
quote is seen, a container once its bracket closes, a number/literal once the next ``,``
or ``}`` is seen. A partly streamed value is never delivered.

Every completed top-level field is kept in ``fields``, so a reader asked to stop after some
fields (``ChatRequest.stop_after_fields``) can return the partial object read so far.

Values are decoded with jiter (the parser behind pydantic-core). Its partial mode alone cannot
say where a value ends when prose follows it, nor whether a streamed number is complete, so
the scanner tracks the structure and hands jiter exact, complete slices.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import jiter
from openai.types.chat import ChatCompletionChunk

from igent.llm.json_extract import wants_json
from igent.llm.types import ChatRequest, Clock

_IN_STRING = re.compile(r'["\\]')
_STRUCTURAL = re.compile(r'["{}\[\],:]')
_OPENERS = {"object": re.compile(r"\{"), "any": re.compile(r"[{\[]")}


class JsonStreamScanner:
    """Find the first top-level JSON value in text fed piece by piece."""

    def __init__(self, *, watch_fields: tuple[str, ...] = (), objects_only: bool = False) -> None:
        self._watch = frozenset(watch_fields)
        self._opener = _OPENERS["object" if objects_only else "any"]
        self._buf = ""
        self._pos = 0
        self.fields: dict[str, Any] = {}
        self.done = False
        self.value: Any = None
        self._reset()

    def _reset(self) -> None:
        self._start: int | None = None
        self._depth = 0
        self._is_object = False
        self._in_string = False
        self._string_start = 0
        self._key: str | None = None
        self._value_start: int | None = None
        self._value_done = False

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return self._buf

    def feed(self, piece: str) -> list[tuple[str, Any]]:
        """Add streamed text; return the watched fields completed by it, in order."""
        self._buf += piece
        completed: list[tuple[str, Any]] = []
        buf = self._buf
        while not self.done:
            if self._start is None:
                found = self._opener.search(buf, self._pos)
                if found is None:
                    self._pos = len(buf)
                    break
                self._start = found.start()
                self._depth = 1
                self._is_object = found.group() == "{"
                self._pos = found.end()
                continue
            if self._in_string:
                found = _IN_STRING.search(buf, self._pos)
                if found is None:
                    self._pos = len(buf)
                    break
                if found.group() == "\\":
                    if found.end() >= len(buf):  # the escaped character has not arrived yet
                        self._pos = found.start()
                        break
                    self._pos = found.end() + 1
                    continue
                self._in_string = False
                self._pos = found.end()
                if self._depth == 1 and self._is_object:
                    self._string_closed(found.start(), completed)
                continue
            found = _STRUCTURAL.search(buf, self._pos)
            if found is None:
                self._pos = len(buf)
                break
            self._pos = found.end()
            self._structural(found.group(), found.start(), completed)
        return completed

    def _structural(self, char: str, index: int, completed: list[tuple[str, Any]]) -> None:
        if char == '"':
            self._in_string = True
            self._string_start = index
        elif char in "{[":
            self._depth += 1
        elif char in "}]":
            self._depth -= 1
            if self._depth == 1 and self._is_object:
                self._complete_value(index + 1, completed)
            elif self._depth == 0:
                if self._is_object:
                    self._complete_value(index, completed)
                self._close(index)
        elif self._depth == 1 and self._is_object:
            if char == ":":
                self._value_start = index + 1
                self._value_done = False
            else:  # ","
                self._complete_value(index, completed)
                self._key = None
                self._value_start = None

    def _string_closed(self, quote_index: int, completed: list[tuple[str, Any]]) -> None:
        if self._value_start is None:
            try:
                self._key = jiter.from_json(
                    self._buf[self._string_start : quote_index + 1].encode()
                )
            except ValueError:
                self._key = None
        else:
            self._complete_value(quote_index + 1, completed)

    def _complete_value(self, end: int, completed: list[tuple[str, Any]]) -> None:
        if self._value_start is None or self._value_done:
            return
        self._value_done = True
        key = self._key
        if key is None or key in self.fields:
            return
        try:
            value = jiter.from_json(self._buf[self._value_start : end].strip().encode())
        except ValueError:
            return
        self.fields[key] = value
        if key in self._watch:
            completed.append((key, value))

    def _close(self, index: int) -> None:
        assert self._start is not None
        start = self._start
        try:
            self.value = jiter.from_json(self._buf[start : index + 1].encode())
        except ValueError:
            # Brackets in prose ("see [1]") or a broken value: look for the next candidate.
            self.fields = {}
            self._reset()
            self._pos = start + 1
            return
        self.done = True


@dataclass
class StreamResult:
    """What was read from one streamed completion."""

    text: str = ""
    parts: list[str] = field(default_factory=list)
    """Content pieces read so far; still there when reading fails part-way."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_prompt_tokens: int = 0
    model: str | None = None
    first_token_s: float | None = None
    last_token_s: float | None = None
    chunks_read: int = 0
    finished: bool = False
    stopped_early: bool = False
    scanner: JsonStreamScanner | None = None
    field_times: dict[str, float] = field(default_factory=dict)


async def read_stream(
    chunks: AsyncIterator[ChatCompletionChunk],
    request: ChatRequest,
    clock: Clock,
    *,
    objects_only: bool = False,
    result: StreamResult | None = None,
    on_first_token: Callable[[], None] | None = None,
) -> StreamResult:
    """Consume ``chunks``, delivering watched fields and stopping early when asked.

    Reading stops once the top-level JSON value is complete (``early_stop``) or once every
    field of ``stop_after_fields`` is. ``result``, when given, is filled as reading goes, so
    the caller still has the text and usage read so far if the stream fails. The caller owns
    the stream and must close it; after an early stop it has not been read to the end.
    """
    result = StreamResult() if result is None else result
    scanner = (
        JsonStreamScanner(
            watch_fields=(*request.watch_fields, *request.stop_after_fields),
            objects_only=objects_only or bool(request.stop_after_fields),
        )
        if wants_json(request)
        else None
    )
    result.scanner = scanner
    stop_after = frozenset(request.stop_after_fields)
    watched = frozenset(request.watch_fields)
    parts = result.parts
    calls: dict[int, dict[str, Any]] = {}
    async for chunk in chunks:
        result.chunks_read += 1
        now = clock()
        result.model = result.model or chunk.model
        if chunk.usage is not None:
            result.prompt_tokens = chunk.usage.prompt_tokens
            result.completion_tokens = chunk.usage.completion_tokens
            details = chunk.usage.prompt_tokens_details
            result.cached_prompt_tokens = (details.cached_tokens or 0) if details else 0
        for choice in chunk.choices[:1]:
            if choice.finish_reason is not None:
                result.finished = True
            delta = choice.delta
            for call in delta.tool_calls or []:
                _merge_tool_call(calls, call.index, call.model_dump(exclude_none=True))
                if result.first_token_s is None:
                    result.first_token_s = now
                    if on_first_token is not None:
                        on_first_token()
                result.last_token_s = now
            if not delta.content:
                continue
            if result.first_token_s is None:
                result.first_token_s = now
                if on_first_token is not None:
                    on_first_token()
            result.last_token_s = now
            parts.append(delta.content)
            if scanner is None:
                continue
            for name, value in scanner.feed(delta.content):
                result.field_times[name] = now
                if request.on_field is not None and name in watched:
                    request.on_field(name, value)
            if (request.early_stop and scanner.done) or (
                stop_after and stop_after <= scanner.fields.keys()
            ):
                result.stopped_early = True
                break
        if result.stopped_early:
            break
    result.text = "".join(parts)
    result.tool_calls = [calls[index] for index in sorted(calls)]
    return result


def _merge_tool_call(calls: dict[int, dict[str, Any]], index: int, delta: dict[str, Any]) -> None:
    call = calls.setdefault(index, {"id": "", "type": "function", "function": {}})
    if delta.get("id"):
        call["id"] = delta["id"]
    if delta.get("type"):
        call["type"] = delta["type"]
    function = call["function"]
    for key, piece in (delta.get("function") or {}).items():
        if key == "arguments":
            function["arguments"] = function.get("arguments", "") + piece
        else:
            function[key] = piece
