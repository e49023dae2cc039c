"""Async LLM clients: endpoints as data, retries, limits, streaming JSON, cache, transcripts."""

from igent.llm.cache import CacheMode, CachingClient, ResponseCache, cache_key
from igent.llm.client import CallTrace, ChatClient, OpenAICompatibleClient
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
from igent.llm.hedge import HedgedClient
from igent.llm.json_extract import extract_json, parse_reply, wants_json
from igent.llm.limiter import RateLimiter, TokenBucket
from igent.llm.redaction import RedactingFilter, redact, scrub, secret_values
from igent.llm.retry import RetryAfterError, RetryPolicy
from igent.llm.streaming import JsonStreamScanner
from igent.llm.transcript import TranscriptClient, TranscriptWriter
from igent.llm.types import Attempt, CallTiming, ChatRequest, ChatResponse, Clock, Sleep, Usage
from igent.llm.usage import UsageTotals, cost_usd, estimate_prompt_tokens, estimate_tokens

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
