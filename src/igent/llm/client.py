"""The `ChatClient` seam and its implementation over the OpenAI SDK."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletion

from igent.errors import ModelCallError
from igent.llm.call_errors import describe, header_float, to_call_error
from igent.llm.endpoints import (
    Endpoint,
    endpoint_secrets,
    load_presets,
    resolve_api_key,
    resolve_api_version,
    resolve_base_url,
)
from igent.llm.json_extract import parse_reply, wants_object
from igent.llm.limiter import RateLimiter
from igent.llm.redaction import scrub, secret_values
from igent.llm.retry import RetryPolicy
from igent.llm.streaming import StreamResult, read_stream
from igent.llm.tokenizer import token_counter
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
from igent.llm.usage import estimate_prompt_tokens, estimate_tokens, to_usage

INTENDED_LATENCY_HEADER = "x-sim-intended-latency-s"
CHUNK_OFFSETS_HEADER = "x-sim-chunk-offsets-ms"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_ATTEMPTS = 4
MIN_CALIBRATION_TOKENS = 100
"""Prompts shorter than this (estimated) do not calibrate the token estimate."""
_NO_KEY = "unused"  # the SDK insists on a key; local servers ignore it

__all__ = ["CallTrace", "ChatClient", "OpenAICompatibleClient", "scrub"]


@dataclass
class CallTrace:
    """A live view of one call, for wrappers such as the hedger: first token and attempts."""

    first_token: asyncio.Event = field(default_factory=asyncio.Event)
    attempts: list[Attempt] = field(default_factory=list)


class OpenAICompatibleClient:
    """A `ChatClient` for one endpoint, over a single shared ``openai.AsyncOpenAI``.

    The SDK's own retries are off; `RetryPolicy` retries instead, so tests and runs
    control every delay. ``timeout_s``, ``max_attempts``, ``max_concurrency`` and
    ``context_window`` override the endpoint's registry values when given.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_retries: int | None = None,
        max_attempts: int | None = None,
        timeout_s: float | None = None,
        max_concurrency: int | None = None,
        context_window: int | None = None,
        retry_policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        env: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        env = os.environ if env is None else env
        self.endpoint = endpoint
        self.timeout_s = timeout_s or endpoint.timeout_s or DEFAULT_TIMEOUT_S
        self.context_window = context_window or endpoint.context_window
        if max_attempts is None and max_retries is not None:
            max_attempts = max_retries + 1
        self.max_attempts = max_attempts or endpoint.max_attempts or DEFAULT_MAX_ATTEMPTS
        self._retry = retry_policy or RetryPolicy(max_attempts=self.max_attempts)
        concurrency = max_concurrency or endpoint.max_concurrency
        if limiter is None and (
            concurrency or endpoint.requests_per_minute or endpoint.tokens_per_minute
        ):
            limiter = RateLimiter(
                max_concurrency=concurrency,
                requests_per_minute=endpoint.requests_per_minute,
                tokens_per_minute=endpoint.tokens_per_minute,
                clock=clock,
                sleep=sleep,
            )
        self._limiter = limiter
        self._rough_seen = 0
        self._counted_seen = 0
        self._clock = clock
        self._sleep = sleep
        key = api_key if api_key is not None else resolve_api_key(endpoint, env)
        # Every configured key of the built-in endpoints too: a reply or an error body may
        # echo any key the process holds, not only this endpoint's.
        self.secrets = secret_values([key, *secrets, *endpoint_secrets(load_presets(), env)])
        """Key values masked in errors; wrappers (cache, transcript) mask them too."""
        self.base_url = resolve_base_url(endpoint, env)
        # The SDK types http_client as its vendored httpx2 client but accepts httpx's too.
        sdk_http = cast(Any, http_client)
        if endpoint.provider == "azure":
            self._sdk: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
                api_key=key,
                azure_endpoint=self.base_url,
                api_version=resolve_api_version(endpoint, env),
                http_client=sdk_http,
                max_retries=0,
                timeout=self.timeout_s,
            )
        else:
            self._sdk = openai.AsyncOpenAI(
                api_key=key or _NO_KEY,
                base_url=self.base_url,
                http_client=sdk_http,
                max_retries=0,
                timeout=self.timeout_s,
            )
        # The SDK imports its chat resources on first use (~30 ms); pay that here, not inside the
        # first call of a run, where it would stall every concurrent request at once.
        _ = self._sdk.chat.completions.with_raw_response

    async def aclose(self) -> None:
        """Close the SDK client and its HTTP connections."""
        await self._sdk.close()

    async def complete(
        self, request: ChatRequest, *, trace: CallTrace | None = None
    ) -> ChatResponse:
        """Send ``request``, retrying transient failures per the retry policy.

        The reply's content never raises: a reply that is not JSON comes back with
        ``parsed=None``, its text and its usage. Every attempt is listed in
        ``ChatResponse.attempts`` (or ``ModelCallError.attempts``) and, live, in ``trace``.

        Raises:
            ModelCallError: the request cannot fit the context window, or the call failed
                after all attempts.
        """
        self._check_context_window(request)
        trace = trace or CallTrace()
        try:
            response = await self._retry.run(
                lambda: self._attempt(request, trace), sleep=self._sleep
            )
        except ModelCallError as error:
            error.attempts = list(trace.attempts)
            raise
        response.attempts = list(trace.attempts)
        return response

    def _check_context_window(self, request: ChatRequest) -> None:
        if self.context_window is None:
            return
        prompt = self.estimate_prompt_tokens(request)
        output = self.max_tokens(request) or 0
        if prompt + output <= self.context_window:
            return
        raise ModelCallError(
            f"request to {self._where()} does not fit its context window of "
            f"{self.context_window} tokens: about {prompt} prompt tokens (estimated) + "
            f"{output} max_tokens; shorten the conversation, lower max_output_tokens, or set "
            "context_window for a model that takes more",
            endpoint=self.endpoint.name,
            model=self.endpoint.model,
            retryable=False,
        )

    def max_tokens(self, request: ChatRequest) -> int | None:
        """Return the output budget sent: the request's, else the endpoint's for its role."""
        if request.max_tokens is not None:
            return request.max_tokens
        return self.endpoint.output_budget(request.metadata.get("role"))

    async def _attempt(self, request: ChatRequest, trace: CallTrace) -> ChatResponse:
        estimated = self.estimate_prompt_tokens(request) + (self.max_tokens(request) or 0)
        slot: AbstractAsyncContextManager[None] = (
            self._limiter.slot(estimated) if self._limiter else nullcontext()
        )
        async with slot:
            started_s = self._clock()
            progress = StreamResult()
            try:
                # The SDK's timeout is per read; this bounds the whole call, slow drips included.
                async with asyncio.timeout(self.timeout_s):
                    if request.stream:
                        response = await self._stream(request, progress, trace)
                    else:
                        response = await self._once(request, trace)
            except asyncio.CancelledError:
                # Cancelled from outside (a hedge's loser, a deadline): the server was
                # working on it, so it is still an attempt with a cost.
                self._record_failure(trace, request, progress, started_s, "cancelled", True)
                raise
            except (openai.OpenAIError, TimeoutError, httpx.TransportError, ModelCallError) as exc:
                error = exc if isinstance(exc, ModelCallError) else self._to_call_error(exc)
                billed = _reached_the_model(exc)
                self._record_failure(trace, request, progress, started_s, str(error), billed)
                if error is exc:
                    raise
                raise error from exc
        trace.attempts.append(
            Attempt(
                duration_s=self._clock() - started_s,
                usage=response.usage,
                reply_text=response.text,
            )
        )
        if self._limiter is not None:
            self._limiter.record_tokens(estimated, response.usage.total_tokens)
        return response

    def _record_failure(
        self,
        trace: CallTrace,
        request: ChatRequest,
        progress: StreamResult,
        started_s: float,
        error: str,
        billed: bool,
    ) -> None:
        """Record a failed attempt; one the server worked on is billed (estimated if unsaid)."""
        text = "".join(progress.parts)
        if progress.prompt_tokens is not None and progress.completion_tokens is not None:
            usage = to_usage(
                self.endpoint,
                progress.prompt_tokens,
                progress.completion_tokens,
                progress.cached_prompt_tokens,
            )
        elif billed:
            # The server took the prompt (a timeout, a drop, a cancel) but reported nothing.
            usage = self._estimated_usage(request, text)
        else:
            usage = Usage()  # refused before any work: an HTTP error status, no connection
        trace.attempts.append(
            Attempt(duration_s=self._clock() - started_s, usage=usage, error=error, reply_text=text)
        )

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": request.messages,
            "timeout": self.timeout_s,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        max_tokens = self.max_tokens(request)
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if request.tools:
            params["tools"] = request.tools
        if request.response_schema is not None and self.endpoint.supports_json_schema:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": request.response_schema,
                    "strict": False,
                },
            }
        if self.endpoint.extra_params:
            params["extra_body"] = dict(self.endpoint.extra_params)
        return params

    async def _once(self, request: ChatRequest, trace: CallTrace) -> ChatResponse:
        started_s = self._clock()
        raw = await self._sdk.chat.completions.with_raw_response.create(**self._params(request))
        completion = cast(ChatCompletion, raw.parse())
        ended_s = self._clock()
        trace.first_token.set()
        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content if choice else None) or ""
        tool_calls = [
            call.model_dump(exclude_none=True)
            for call in ((choice.message.tool_calls if choice else None) or [])
        ]
        if completion.usage is not None:
            details = completion.usage.prompt_tokens_details
            usage = to_usage(
                self.endpoint,
                completion.usage.prompt_tokens,
                completion.usage.completion_tokens,
                (details.cached_tokens or 0) if details else 0,
            )
            self._calibrate(request, usage.prompt_tokens)
        else:
            usage = self._estimated_usage(request, text)
        parsed, field_times = _parse(request, text, tool_calls, ended_s)
        return ChatResponse(
            text=text,
            parsed=parsed,
            tool_calls=tool_calls,
            usage=usage,
            timing=CallTiming(started_s=started_s, first_token_s=None, last_token_s=ended_s),
            model=completion.model or self.endpoint.model,
            endpoint=self.endpoint.name,
            chunks_read=1,
            intended_latency_s=header_float(raw.headers, INTENDED_LATENCY_HEADER),
            field_times=field_times,
        )

    async def _stream(
        self, request: ChatRequest, progress: StreamResult, trace: CallTrace
    ) -> ChatResponse:
        params = self._params(request)
        params["stream"] = True
        if self.endpoint.supports_stream_usage:
            params["stream_options"] = {"include_usage": True}
        started_s = self._clock()
        raw = await self._sdk.chat.completions.with_raw_response.create(**params)
        stream = cast(openai.AsyncStream[Any], raw.parse())
        chunks = aiter(stream)
        try:
            result = await read_stream(
                chunks,
                request,
                self._clock,
                objects_only=wants_object(request),
                result=progress,
                on_first_token=trace.first_token.set,
            )
        finally:
            # Closing the response closes the connection, so a server still generating (after
            # an early stop, a timeout or a cancel) sees the client go and can stop.
            await stream.close()
            await _unwind(chunks)
        ended_s = self._clock()
        if not result.finished and not result.stopped_early:
            raise ModelCallError(
                f"stream from {self._where()} ended before the reply finished, after "
                f"{result.chunks_read} chunks",
                endpoint=self.endpoint.name,
                model=self.endpoint.model,
                body=scrub(result.text, self.secrets),
                retryable=True,
            )
        return self._stream_response(request, raw.headers, result, started_s, ended_s)

    def _stream_response(
        self,
        request: ChatRequest,
        headers: httpx.Headers | Mapping[str, str],
        result: StreamResult,
        started_s: float,
        ended_s: float,
    ) -> ChatResponse:
        if result.prompt_tokens is not None and result.completion_tokens is not None:
            usage = to_usage(
                self.endpoint,
                result.prompt_tokens,
                result.completion_tokens,
                result.cached_prompt_tokens,
            )
            self._calibrate(request, usage.prompt_tokens)
        else:
            usage = self._estimated_usage(request, result.text)
        scanner = result.scanner
        if scanner is not None and scanner.done:
            parsed: Any = scanner.value
            field_times = dict(result.field_times)
            _deliver_missing_fields(request, parsed, field_times, ended_s)
        elif scanner is not None and result.stopped_early:
            # Stopped after the fields asked for: the object read so far is the answer.
            parsed = dict(scanner.fields)
            field_times = dict(result.field_times)
        else:
            parsed, field_times = _parse(request, result.text, result.tool_calls, ended_s)
        offsets_ms = _chunk_offsets_ms(headers)
        intended = header_float(headers, INTENDED_LATENCY_HEADER)
        skipped = None
        if offsets_ms and result.stopped_early:
            skipped = max(0, len(offsets_ms) - result.chunks_read)
            # The server intended this call to last until the chunk where reading stopped.
            intended = offsets_ms[min(result.chunks_read, len(offsets_ms)) - 1] / 1000
        return ChatResponse(
            text=result.text,
            parsed=parsed,
            tool_calls=result.tool_calls,
            usage=usage,
            timing=CallTiming(
                started_s=started_s,
                first_token_s=result.first_token_s,
                last_token_s=result.last_token_s if result.last_token_s is not None else ended_s,
            ),
            model=result.model or self.endpoint.model,
            endpoint=self.endpoint.name,
            chunks_read=result.chunks_read,
            stopped_early=result.stopped_early,
            chunks_skipped_estimate=skipped,
            intended_latency_s=intended,
            field_times=field_times,
        )

    def _estimated_usage(self, request: ChatRequest, text: str) -> Usage:
        prompt = self.estimate_prompt_tokens(request)
        counter = token_counter(self.endpoint.model)
        return to_usage(self.endpoint, prompt, estimate_tokens(text, counter), estimated=True)

    def estimate_prompt_tokens(self, request: ChatRequest) -> int:
        """Estimate the prompt tokens of ``request``, scaled to what this server has counted.

        Four characters per token is far off for some tokenizers and texts (JSON, ZIP lists:
        5,032 estimated vs 8,968 counted by llama.cpp), so once the server has reported
        usage, estimates use its observed tokens per estimated token. Where the model's own
        tokenizer is known offline (OpenAI models), it counts instead.
        """
        counter = token_counter(self.endpoint.model)
        if counter is not None:
            return estimate_prompt_tokens(request.messages, request.tools, counter)
        rough = estimate_prompt_tokens(request.messages, request.tools)
        if self._rough_seen and self._counted_seen:
            return round(rough * self._counted_seen / self._rough_seen)
        return rough

    def _calibrate(self, request: ChatRequest, counted_prompt_tokens: int) -> None:
        rough = estimate_prompt_tokens(request.messages, request.tools)
        # A tiny prompt (a warm-up "ping") is mostly per-message overhead, which servers count
        # differently: its ratio would scale every later estimate (by 1/3 on the simulator).
        if counted_prompt_tokens > 0 and rough >= MIN_CALIBRATION_TOKENS:
            self._rough_seen += rough
            self._counted_seen += counted_prompt_tokens

    def _where(self) -> str:
        return describe(self.endpoint)

    def _to_call_error(self, exc: BaseException) -> ModelCallError:
        return to_call_error(exc, self.endpoint, timeout_s=self.timeout_s, secrets=self.secrets)


def _reached_the_model(exc: BaseException) -> bool:
    """Whether a failed attempt got as far as the model (so it may be billed)."""
    if isinstance(exc, openai.APIStatusError):
        return False  # refused with an error status before any generation
    cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
    return not isinstance(cause, httpx.ConnectError | httpx.ConnectTimeout)


def _parse(
    request: ChatRequest, text: str, tool_calls: list[dict[str, Any]], now: float
) -> tuple[Any, dict[str, float]]:
    if tool_calls and not text.strip():
        return None, {}
    parsed = parse_reply(request, text)
    field_times: dict[str, float] = {}
    _deliver_missing_fields(request, parsed, field_times, now)
    return parsed, field_times


def _deliver_missing_fields(
    request: ChatRequest, parsed: Any, field_times: dict[str, float], now: float
) -> None:
    """Hand watched fields not yet delivered to ``on_field`` (non-stream or a late parse)."""
    if not isinstance(parsed, dict):
        return
    for name in request.watch_fields:
        if name in parsed and name not in field_times:
            field_times[name] = now
            if request.on_field is not None:
                request.on_field(name, parsed[name])


async def _unwind(chunks: AsyncIterator[Any]) -> None:
    """Run a stream's generators to their end after the response was closed.

    Reading stopped early leaves the SDK's and httpx's nested generators suspended; pulling
    once more makes the closed response raise through all of them, so each one finishes
    here instead of being finalised later by the garbage collector.
    """
    with contextlib.suppress(Exception):
        async for _ in chunks:
            pass


def _chunk_offsets_ms(headers: httpx.Headers | Mapping[str, str]) -> list[float]:
    raw = headers.get(CHUNK_OFFSETS_HEADER)
    if not raw:
        return []
    try:
        return [float(part) for part in raw.split(",")]
    except ValueError:
        return []
