"""A SQLite cache of model replies, keyed by everything that shapes the reply."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Literal

from igent.errors import StoreError
from igent.llm.client import ChatClient
from igent.llm.types import CallTiming, ChatRequest, ChatResponse, Usage

CacheMode = Literal["off", "read", "read-write"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    parsed TEXT,
    tool_calls TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL
)
"""


def cache_key(request: ChatRequest, *, endpoint: str, model: str) -> str:
    """Return the sha256 of what determines a reply; never includes secrets or metadata."""
    material = {
        "endpoint": endpoint,
        "model": model,
        "messages": request.messages,
        "tools": request.tools,
        "schema": request.response_schema,
        "schema_name": request.schema_name,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Replies stored in SQLite; ``mode`` says whether to read and write, read only, or skip."""

    def __init__(self, path: Path, mode: CacheMode = "read-write") -> None:
        self.path = path
        self.mode: CacheMode = mode
        self.hits = 0
        self.misses = 0
        self._db: sqlite3.Connection | None = None
        if mode != "off":
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path)
                self._db.execute(_SCHEMA)
                self._db.commit()
            except (OSError, sqlite3.Error) as exc:
                raise StoreError(f"response cache {str(path)!r} cannot be opened: {exc}") from exc

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, key: str) -> ChatResponse | None:
        """Return the stored reply for ``key``, counting a hit or a miss."""
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT endpoint, model, text, parsed, tool_calls, prompt_tokens, "
            "completion_tokens, cost_usd FROM replies WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        endpoint, model, text, parsed, tool_calls, prompt, completion, cost = row
        return ChatResponse(
            text=text,
            parsed=None if parsed is None else json.loads(parsed),
            tool_calls=json.loads(tool_calls),
            usage=Usage(prompt, completion, cost),
            timing=CallTiming(started_s=0.0, first_token_s=None, last_token_s=0.0),
            model=model,
            endpoint=endpoint,
            cached=True,
        )

    def put(self, key: str, response: ChatResponse) -> None:
        """Store ``response`` under ``key`` when the mode allows writing."""
        if self._db is None or self.mode != "read-write":
            return
        self._db.execute(
            "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                response.endpoint,
                response.model,
                response.text,
                None if response.parsed is None else json.dumps(response.parsed),
                json.dumps(response.tool_calls),
                response.usage.prompt_tokens,
                response.usage.completion_tokens,
                response.usage.cost_usd,
            ),
        )
        self._db.commit()


class CachingClient:
    """A `ChatClient` that answers from a `ResponseCache` before asking ``inner``."""

    def __init__(
        self,
        inner: ChatClient,
        cache: ResponseCache,
        *,
        endpoint: str | None = None,
        model: str | None = None,
    ) -> None:
        described: Any = getattr(inner, "endpoint", None)
        self._inner = inner
        self._cache = cache
        self._endpoint = endpoint or (described.name if described is not None else "unknown")
        self._model = model or (described.model if described is not None else "unknown")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Return the cached reply when there is one, else call ``inner`` and store its reply."""
        key = cache_key(request, endpoint=self._endpoint, model=self._model)
        cached = self._cache.get(key)
        if cached is not None:
            _replay_fields(request, cached)
            return cached
        response = await self._inner.complete(request)
        self._cache.put(key, response)
        return response

    async def aclose(self) -> None:
        """Close ``inner``; the cache is closed by its owner."""
        await self._inner.aclose()


def _replay_fields(request: ChatRequest, response: ChatResponse) -> None:
    if not isinstance(response.parsed, dict):
        return
    for name in request.watch_fields:
        if name in response.parsed:
            response.field_times[name] = 0.0
            if request.on_field is not None:
                request.on_field(name, response.parsed[name])
