"""Async LLM clients: endpoints as data, retries, limits, streaming JSON, cache, transcripts."""

from igent.llm.cache import CacheMode, CachingClient, ResponseCache, cache_key
from igent.llm.client import ChatClient, OpenAICompatibleClient, scrub
from igent.llm.endpoints import (
    Endpoint,
    EndpointRegistry,
    Provider,
    load_presets,
    load_registry,
    parse_registry,
    resolve_api_key,
    resolve_base_url,
    resolve_endpoint,
)
from igent.llm.fake import FakeChatClient
from igent.llm.json_extract import extract_json
from igent.llm.limiter import RateLimiter, TokenBucket
from igent.llm.retry import RetryAfterError, RetryPolicy
from igent.llm.streaming import JsonStreamScanner
from igent.llm.transcript import TranscriptClient, TranscriptWriter, redact
from igent.llm.types import CallTiming, ChatRequest, ChatResponse, Clock, Sleep, Usage
from igent.llm.usage import UsageTotals, cost_usd

__all__ = [
    "CacheMode",
    "CachingClient",
    "CallTiming",
    "ChatClient",
    "ChatRequest",
    "ChatResponse",
    "Clock",
    "Endpoint",
    "EndpointRegistry",
    "FakeChatClient",
    "JsonStreamScanner",
    "OpenAICompatibleClient",
    "Provider",
    "RateLimiter",
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
    "extract_json",
    "load_presets",
    "load_registry",
    "parse_registry",
    "redact",
    "resolve_api_key",
    "resolve_base_url",
    "resolve_endpoint",
    "scrub",
]
