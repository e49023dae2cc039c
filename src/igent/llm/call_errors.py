"""Turn SDK and transport failures into `ModelCallError`s that say what failed and the fix."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx
import openai

from igent.errors import ModelCallError, excerpt
from igent.llm.endpoints import Endpoint
from igent.llm.redaction import scrub
from igent.llm.retry import RetryAfterError

# How servers say a request does not fit: llama.cpp "Requested tokens (9572) exceed context
# window of 8192", OpenAI/vLLM "maximum context length is 8192 tokens" and
# "context_length_exceeded", Anthropic-style gateways "prompt is too long".
_CONTEXT_EXCEEDED = re.compile(
    r"(?i)exceeds? (the )?context window|context[ _]length|prompt is too long"
)


def to_call_error(
    exc: BaseException, endpoint: Endpoint, *, timeout_s: float, secrets: tuple[str, ...]
) -> ModelCallError:
    """Return the `ModelCallError` for ``exc``, retryable when a retry can help, keys masked."""
    where = describe(endpoint)
    common: dict[str, Any] = {"endpoint": endpoint.name, "model": endpoint.model}
    if isinstance(exc, openai.APITimeoutError | TimeoutError | httpx.TimeoutException):
        return ModelCallError(
            f"call to {where} timed out after {timeout_s:g}s", retryable=True, **common
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        body = scrub(_body_text(exc), secrets)
        if _CONTEXT_EXCEEDED.search(body):
            return context_error(endpoint, status, body)
        message = f"{where} returned HTTP {status}: {excerpt(body)}"
        retry_after = header_float(exc.response.headers, "retry-after")
        if retry_after is not None and status in (429, 503):
            return RetryAfterError(
                message, retry_after_s=retry_after, status=status, body=body, **common
            )
        retryable = status in (408, 409, 429) or status >= 500
        return ModelCallError(message, status=status, body=body, retryable=retryable, **common)
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        cause = exc.__cause__ or exc
        detail = scrub(f"{type(cause).__name__}: {cause}", secrets)
        return ModelCallError(
            f"connection to {where} failed or dropped: {excerpt(detail)}",
            retryable=True,
            **common,
        )
    detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
    if _CONTEXT_EXCEEDED.search(detail):
        return context_error(endpoint, None, detail)
    return ModelCallError(f"call to {where} failed: {excerpt(detail)}", **common)


def context_error(endpoint: Endpoint, status: int | None, body: str) -> ModelCallError:
    """A request the model cannot take: retrying the same request cannot help."""
    return ModelCallError(
        f"{describe(endpoint)} refused the request as larger than its context window "
        f"({excerpt(body)}); shorten the conversation, lower max_output_tokens, or set "
        "context_window in the endpoint registry so igent refuses such requests before "
        "sending",
        endpoint=endpoint.name,
        model=endpoint.model,
        status=status,
        body=body,
        retryable=False,
    )


def describe(endpoint: Endpoint) -> str:
    """Name an endpoint and its model for messages."""
    return f"endpoint {endpoint.name!r} (model {endpoint.model!r})"


def header_float(headers: httpx.Headers | Mapping[str, str], name: str) -> float | None:
    """Return header ``name`` as a float, or None when absent or not a number."""
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _body_text(exc: openai.APIStatusError) -> str:
    if exc.body is not None:
        return exc.body if isinstance(exc.body, str) else json.dumps(exc.body)
    try:
        return exc.response.text
    except Exception:  # the body of a streamed error may be unread
        return exc.message
