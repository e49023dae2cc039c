"""Append each model call to a JSON Lines transcript, with secrets removed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from igent.errors import IgentError, StoreError
from igent.llm.client import ChatClient, scrub
from igent.llm.types import ChatRequest, ChatResponse

_SECRET_KEYS = frozenset({"api_key", "authorization", "api-key", "x-api-key", "password"})


def redact(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """Drop secret-named keys and mask key-like strings anywhere in ``value``."""
    if isinstance(value, dict):
        return {
            key: redact(item, secrets)
            for key, item in value.items()
            if str(key).lower() not in _SECRET_KEYS
        }
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    if isinstance(value, str):
        return scrub(value, secrets)
    return value


class TranscriptWriter:
    """Append one redacted JSON object per line to ``path``."""

    def __init__(self, path: Path, *, secrets: Sequence[str] = ()) -> None:
        self.path = path
        self._secrets = tuple(secret for secret in secrets if secret)

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` after redaction."""
        line = json.dumps(redact(record, self._secrets), ensure_ascii=False, default=str)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as file:
                file.write(line + "\n")
        except OSError as exc:
            raise StoreError(f"transcript {str(self.path)!r} cannot be written: {exc}") from exc


class TranscriptClient:
    """A `ChatClient` that records every request and its reply or error."""

    def __init__(
        self, inner: ChatClient, writer: TranscriptWriter, *, now: Callable[[], float] = time.time
    ) -> None:
        self._inner = inner
        self._writer = writer
        self._now = now

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Call ``inner`` and append the exchange to the transcript."""
        record: dict[str, Any] = {"at": self._now(), "request": _request_record(request)}
        try:
            response = await self._inner.complete(request)
        except IgentError as exc:
            record["error"] = {"type": type(exc).__name__, "message": str(exc)}
            self._writer.write(record)
            raise
        record["response"] = _response_record(response)
        self._writer.write(record)
        return response

    async def aclose(self) -> None:
        """Close ``inner``."""
        await self._inner.aclose()


def _request_record(request: ChatRequest) -> dict[str, Any]:
    return {
        "messages": request.messages,
        "tools": request.tools,
        "response_schema": request.response_schema,
        "stream": request.stream,
        "early_stop": request.early_stop,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "metadata": request.metadata,
    }


def _response_record(response: ChatResponse) -> dict[str, Any]:
    record = asdict(response)
    record["duration_s"] = response.timing.duration_s
    record["ttft_s"] = response.timing.ttft_s
    return record
