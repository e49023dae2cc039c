"""A SQLite cache of model replies, keyed by everything that shapes the reply.

The key covers where the request went (endpoint name, base URL, model), every request
parameter that changes the reply (messages, tools, schema, temperature, max_tokens and the
endpoint's output budget, endpoint extra params, streaming early stops) and the prompt
version, so a reply is never replayed to another server, model or prompt. Stored replies are
redacted: a reply that echoes a key is kept with the key masked.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, Literal

from igent.errors import StoreError
from igent.llm.redaction import redact, scrub, secret_values
from igent.llm.types import CallTiming, ChatClient, ChatRequest, ChatResponse, Usage

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


CACHE_KEY_VERSION = 2
"""Bumped whenever the key's material changes, so older entries are never matched."""
SIM_ENDPOINT = "sim"
PROMPT_VERSION_KEY = "prompt_version"
"""``ChatRequest.metadata`` key whose value (the agents' prompt version) is part of the key."""


def cache_key(
    request: ChatRequest,
    *,
    endpoint: str,
    model: str,
    base_url: str = "",
    extra_params: dict[str, Any] | None = None,
    prompt_version: str = "",
    output_budget: Any = None,
) -> str:
    """Return the sha256 of what determines a reply; never includes secrets or labels."""
    material = {
        "key_version": CACHE_KEY_VERSION,
        "endpoint": endpoint,
        "base_url": base_url.rstrip("/"),
        "model": model,
        "extra_params": extra_params or {},
        "prompt_version": request.metadata.get(PROMPT_VERSION_KEY) or prompt_version,
        "messages": request.messages,
        "tools": request.tools,
        "schema": request.response_schema,
        "schema_name": request.schema_name,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "output_budget": output_budget,
        "early_stop": request.stream and request.early_stop,
        "stop_after_fields": list(request.stop_after_fields) if request.stream else [],
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

    def put(self, key: str, response: ChatResponse, *, secrets: tuple[str, ...] = ()) -> None:
        """Store ``response`` under ``key``, keys masked, when the mode allows writing."""
        if self._db is None or self.mode != "read-write":
            return
        self._db.execute(
            "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                response.endpoint,
                response.model,
                scrub(response.text, secrets),
                None if response.parsed is None else json.dumps(redact(response.parsed, secrets)),
                json.dumps(redact(response.tool_calls, secrets)),
                response.usage.prompt_tokens,
                response.usage.completion_tokens,
                response.usage.cost_usd,
            ),
        )
        self._db.commit()


class CachingClient:
    """A `ChatClient` that answers from a `ResponseCache` before asking ``inner``.

    A cached reply makes no HTTP attempt, so its ``attempts`` list is empty.
    """

    def __init__(
        self,
        inner: ChatClient,
        cache: ResponseCache,
        *,
        endpoint: str | None = None,
        model: str | None = None,
        base_url: str | None = None,
        prompt_version: str = "",
        secrets: tuple[str, ...] = (),
    ) -> None:
        described: Any = getattr(inner, "endpoint", None)
        self._inner = inner
        self._cache = cache
        self._endpoint = endpoint or (described.name if described is not None else "unknown")
        self._model = model or (described.model if described is not None else "unknown")
        self._base_url = base_url or str(getattr(inner, "base_url", "") or "")
        if self._endpoint == SIM_ENDPOINT and base_url is None:
            # The simulator started for a run listens on a fresh port each time; its profile
            # (the model) says what answers, so the port must not split the cache.
            self._base_url = SIM_ENDPOINT
        self._extra_params = dict(described.extra_params) if described is not None else {}
        self._output_budget = described.max_output_tokens if described is not None else None
        self._prompt_version = prompt_version
        self.secrets = secret_values([*secrets, *getattr(inner, "secrets", ())])

    def key(self, request: ChatRequest) -> str:
        """Return the cache key of ``request`` for this client's endpoint."""
        return cache_key(
            request,
            endpoint=self._endpoint,
            model=self._model,
            base_url=self._base_url,
            extra_params=self._extra_params,
            prompt_version=self._prompt_version,
            output_budget=self._output_budget,
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Return the cached reply when there is one, else call ``inner`` and store its reply."""
        key = self.key(request)
        cached = self._cache.get(key)
        if cached is not None:
            _replay_fields(request, cached)
            return cached
        response = await self._inner.complete(request)
        self._cache.put(key, response, secrets=self.secrets)
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
