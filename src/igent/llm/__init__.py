"""Async LLM clients: endpoints as data, retries, limits, streaming JSON, cache, transcripts.

The client, cache, hedger, streaming and transcript modules import the openai SDK (about a
second of start-up): they load on first use of one of their names, so a rules-only run that
imports `ChatClient` or `FakeChatClient` never pays for the SDK.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from igent.llm.endpoints import (
    Endpoint,
    EndpointRegistry,
    Provider,
    endpoint_secrets,
    load_presets,
    load_registry,
    parse_registry,
    resolve_api_key,
    resolve_base_url,
    resolve_endpoint,
)
from igent.llm.fake import FakeChatClient
from igent.llm.json_extract import extract_json, parse_reply, wants_json
from igent.llm.limiter import RateLimiter, TokenBucket
from igent.llm.redaction import RedactingFilter, redact, scrub, secret_values
from igent.llm.retry import RetryAfterError, RetryPolicy
from igent.llm.types import (
    Attempt,
    CallTiming,
    ChatClient,
    ChatRequest,
    ChatResponse,
    Clock,
    Sleep,
    Usage,
)
from igent.llm.usage import UsageTotals, cost_usd, estimate_prompt_tokens, estimate_tokens

if _TYPE_CHECKING:
    from igent.llm.cache import CacheMode, CachingClient, ResponseCache, cache_key
    from igent.llm.client import CallTrace, OpenAICompatibleClient
    from igent.llm.hedge import HedgedClient
    from igent.llm.streaming import JsonStreamScanner
    from igent.llm.transcript import TranscriptClient, TranscriptWriter

_LAZY = {
    "CacheMode": "igent.llm.cache",
    "CachingClient": "igent.llm.cache",
    "ResponseCache": "igent.llm.cache",
    "cache_key": "igent.llm.cache",
    "CallTrace": "igent.llm.client",
    "OpenAICompatibleClient": "igent.llm.client",
    "HedgedClient": "igent.llm.hedge",
    "JsonStreamScanner": "igent.llm.streaming",
    "TranscriptClient": "igent.llm.transcript",
    "TranscriptWriter": "igent.llm.transcript",
}
"""Names whose modules import the openai SDK, by module: loaded on first use."""


def __getattr__(name: str) -> _Any:
    """Load a name of `_LAZY` from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'igent.llm' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the loaded names and the lazy ones."""
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Attempt",
    "CacheMode",
    "CachingClient",
    "CallTiming",
    "CallTrace",
    "ChatClient",
    "ChatRequest",
    "ChatResponse",
    "Clock",
    "Endpoint",
    "EndpointRegistry",
    "FakeChatClient",
    "HedgedClient",
    "JsonStreamScanner",
    "OpenAICompatibleClient",
    "Provider",
    "RateLimiter",
    "RedactingFilter",
    "ResponseCache",
    "RetryAfterError",
    "RetryPolicy",
    "Sleep",
    "TokenBucket",
    "TranscriptClient",
    "TranscriptWriter",
    "Usage",
    "UsageTotals",
    "cache_key",
    "cost_usd",
    "endpoint_secrets",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "extract_json",
    "load_presets",
    "load_registry",
    "parse_registry",
    "parse_reply",
    "redact",
    "resolve_api_key",
    "resolve_base_url",
    "resolve_endpoint",
    "scrub",
    "secret_values",
    "wants_json",
]
