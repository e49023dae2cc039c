"""Append each model call to a JSON Lines transcript, with secrets removed.

A record holds the request, then the response or the error, and ``attempts``: every HTTP
attempt the client made (retries included) with its time, usage, error and full reply text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from igent.errors import IgentError, ModelCallError, StoreError
from igent.llm.client import ChatClient
from igent.llm.redaction import redact, secret_values
from igent.llm.types import ChatRequest, ChatResponse

__all__ = ["TranscriptClient", "TranscriptWriter", "redact"]


class TranscriptWriter:
    """Append one redacted JSON object per line to ``path``."""

    def __init__(self, path: Path, *, secrets: Sequence[str] = ()) -> None:
        self.path = path
        self._secrets = secret_values(secrets)

    def add_secrets(self, secrets: Sequence[str]) -> None:
        """Mask these values too from now on (e.g. the keys of a client being wrapped)."""
        self._secrets = secret_values([*self._secrets, *secrets])

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
    """A `ChatClient` that records every request and its reply or error, attempt by attempt."""

    def __init__(
        self, inner: ChatClient, writer: TranscriptWriter, *, now: Callable[[], float] = time.time
    ) -> None:
        self._inner = inner
        self._writer = writer
        self._now = now
        self.secrets: tuple[str, ...] = tuple(getattr(inner, "secrets", ()))
        writer.add_secrets(self.secrets)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Call ``inner`` and append the exchange to the transcript."""
        record: dict[str, Any] = {"at": self._now(), "request": _request_record(request)}
        try:
            response = await self._inner.complete(request)
        except IgentError as exc:
            record["error"] = {"type": type(exc).__name__, "message": str(exc)}
            if isinstance(exc, ModelCallError):
                record["attempts"] = [asdict(attempt) for attempt in exc.attempts]
            self._writer.write(record)
            raise
        record["response"] = _response_record(response)
        record["attempts"] = record["response"].pop("attempts")
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
        "stop_after_fields": list(request.stop_after_fields),
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "metadata": request.metadata,
    }


def _response_record(response: ChatResponse) -> dict[str, Any]:
    record = asdict(response)
    record["duration_s"] = response.timing.duration_s
    record["ttft_s"] = response.timing.ttft_s
    return record
