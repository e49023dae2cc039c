"""OpenAICompatibleClient over the real SDK and a MockTransport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from igent.errors import ModelCallError
from igent.llm import ChatRequest, RetryPolicy
from tests.support.payloads import (
    SENTINEL_KEY,
    CountingStream,
    FakeClock,
    body_of,
    completion,
    split,
    sse_events,
    sse_response,
    text_chunks,
    tool_call,
)

MATCH_SCHEMA = {
    "type": "object",
    "properties": {"supplier_id": {"type": "string"}, "reason": {"type": "string"}},
    "required": ["supplier_id"],
}


def ask(**kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": "match R-1"}], **kwargs)


async def test_complete_returns_text_usage_cost_and_intended_latency(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = body_of(request)
        assert body["model"] == "gpt-4o"
        assert body["temperature"] == 0
        assert "response_format" not in body
        return httpx.Response(
            200,
            json=completion("hello", prompt_tokens=1000, completion_tokens=100),
            headers={"x-sim-intended-latency-s": "1.25"},
        )

    response = await make_client(handler).complete(ask())

    assert response.text == "hello"
    assert response.parsed is None
    assert response.usage.prompt_tokens == 1000
    assert response.usage.cost_usd == pytest.approx((1000 * 2.5 + 100 * 10) / 1e6)
    assert response.intended_latency_s == 1.25
    assert response.endpoint == "sim"
    assert response.model == "gpt-4o"


async def test_schema_request_sends_response_format_and_parses_json(make_client) -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(body_of(request))
        return httpx.Response(200, json=completion('{"supplier_id": "S1"}'))

    response = await make_client(handler).complete(
        ask(response_schema=MATCH_SCHEMA, schema_name="match", max_tokens=50)
    )

    assert seen["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "match", "schema": MATCH_SCHEMA, "strict": False},
    }
    assert seen["max_tokens"] == 50
    assert response.parsed == {"supplier_id": "S1"}


async def test_schema_is_not_sent_to_endpoints_without_json_schema(make_client, endpoint) -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(body_of(request))
        return httpx.Response(200, json=completion('Sure! {"supplier_id": "S2"} Done.'))

    plain = endpoint.model_copy(update={"supports_json_schema": False})
    response = await make_client(handler, endpoint=plain).complete(
        ask(response_schema=MATCH_SCHEMA)
    )

    assert "response_format" not in seen
    assert response.parsed == {"supplier_id": "S2"}


async def test_fenced_json_with_prose_is_parsed(make_client) -> None:
    reply = 'Here is my answer:\n```json\n{"supplier_id": "S3", "reason": "ok"}\n```\nThanks.'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=completion(reply))

    response = await make_client(handler).complete(ask(response_schema=MATCH_SCHEMA))

    assert response.parsed == {"supplier_id": "S3", "reason": "ok"}


async def test_tool_calls_are_returned(make_client) -> None:
    call = tool_call("lookup_supplier", {"zip": "55101"})

    def handler(request: httpx.Request) -> httpx.Response:
        assert body_of(request)["tools"][0]["function"]["name"] == "lookup_supplier"
        return httpx.Response(200, json=completion(None, tool_calls=[call]))

    tools = [{"type": "function", "function": {"name": "lookup_supplier", "parameters": {}}}]
    response = await make_client(handler).complete(ask(tools=tools, response_schema=MATCH_SCHEMA))

    assert response.tool_calls == [call]
    assert response.parsed is None
    assert json.loads(response.tool_calls[0]["function"]["arguments"]) == {"zip": "55101"}


async def test_billed_non_json_reply_keeps_its_text_tokens_and_cost(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        reply = completion('{"supplier_id": "S1",', prompt_tokens=1000, completion_tokens=500)
        return httpx.Response(200, json=reply)

    response = await make_client(handler).complete(ask(response_schema=MATCH_SCHEMA))

    assert response.parsed is None
    assert response.text == '{"supplier_id": "S1",'
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (1000, 500)
    assert response.usage.cost_usd == pytest.approx((1000 * 2.5 + 500 * 10) / 1e6)
    assert response.usage.estimated is False
    assert [a.usage for a in response.attempts] == [response.usage]
    assert response.attempts[0].reply_text == '{"supplier_id": "S1",'


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_prose_reply_to_a_json_request_is_returned_not_raised(make_client, stream) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if stream:
            return sse_response(CountingStream(sse_events(text_chunks(["I cannot ", "help."]))))
        return httpx.Response(200, json=completion("I cannot help."))

    response = await make_client(handler).complete(
        ask(response_schema=MATCH_SCHEMA, stream=stream, early_stop=stream)
    )

    assert (response.text, response.parsed) == ("I cannot help.", None)
    assert response.usage.prompt_tokens == 10


async def test_stream_assembles_text_usage_and_timing(make_client, clock: FakeClock) -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(body_of(request))
        events = sse_events(text_chunks(["hel", "lo ", "world"]))
        return sse_response(CountingStream(events), headers={"x-sim-intended-latency-s": "0.5"})

    response = await make_client(handler).complete(ask(stream=True))

    assert response.text == "hello world"
    assert seen["stream"] is True
    assert seen["stream_options"] == {"include_usage": True}
    assert response.usage.prompt_tokens == 10
    assert response.usage.estimated is False
    assert response.chunks_read == 5
    assert response.stopped_early is False
    assert response.intended_latency_s == 0.5
    assert response.timing.ttft_s == 0.0


async def test_stream_without_usage_support_estimates_usage(make_client, endpoint) -> None:
    seen: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(body_of(request))
        events = sse_events(text_chunks(["12345678"], usage=False))
        return sse_response(CountingStream(events))

    no_usage = endpoint.model_copy(update={"supports_stream_usage": False})
    response = await make_client(handler, endpoint=no_usage).complete(ask(stream=True))

    assert "stream_options" not in seen
    # counted by the model's own tokenizer where known offline, else four characters a token
    from igent.llm import estimate_tokens
    from igent.llm.tokenizer import token_counter

    assert response.usage.completion_tokens == estimate_tokens(
        "12345678", token_counter(no_usage.model)
    )
    assert response.usage.estimated is True


async def test_early_stop_delivers_fields_before_end_and_stops_reading(
    make_client, clock: FakeClock
) -> None:
    reply = 'Let me check.\n{"supplier_id": "S-7", "reason": "serves 55101"}'
    trailing = split(" and here is a long explanation nobody needs. " * 5, 10)
    pieces = split(reply, 4) + trailing
    stream = CountingStream(sse_events(text_chunks(pieces)))
    delivered: list[tuple[str, Any, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return sse_response(stream)

    def on_field(name: str, value: Any) -> None:
        delivered.append((name, value, stream.pulled))
        clock.advance(1.0)

    response = await make_client(handler).complete(
        ask(
            stream=True,
            early_stop=True,
            response_schema=MATCH_SCHEMA,
            watch_fields=("supplier_id", "reason"),
            on_field=on_field,
        )
    )

    total = len(stream.events)
    assert [(name, value) for name, value, _ in delivered] == [
        ("supplier_id", "S-7"),
        ("reason", "serves 55101"),
    ]
    assert delivered[0][2] < total  # supplier_id arrived while the stream was still going
    assert response.stopped_early is True
    assert response.chunks_read == len(split(reply, 4))
    assert response.chunks_read < total
    assert stream.pulled < total
    assert stream.closed
    assert response.parsed == {"supplier_id": "S-7", "reason": "serves 55101"}
    assert response.text.endswith("}")
    assert response.field_times["supplier_id"] < response.field_times["reason"]
    assert response.usage.estimated is True


async def test_early_stop_reports_skipped_chunks_and_latency_intended_until_the_stop(
    make_client,
) -> None:
    pieces = ['{"supplier_id": "S1"}', " trailing", " prose"]
    offsets = {"x-sim-chunk-offsets-ms": "600,600,700,800,900", "x-sim-intended-latency-s": "0.9"}

    def handler(request: httpx.Request) -> httpx.Response:
        events = sse_events(text_chunks(pieces))
        return sse_response(CountingStream(events), headers=offsets)

    response = await make_client(handler).complete(ask(stream=True, early_stop=True))

    assert response.chunks_read == 1
    assert response.chunks_skipped_estimate == 4
    assert response.intended_latency_s == 0.6


async def test_rate_limit_is_retried_after_the_retry_after_delay(
    make_client, clock: FakeClock
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(
                429, json={"error": {"message": "slow down"}}, headers={"retry-after": "7"}
            )
        return httpx.Response(200, json=completion("ok"))

    response = await make_client(handler).complete(ask())

    assert response.text == "ok"
    assert clock.sleeps == [7.0]


async def test_server_error_is_retried_then_succeeds(make_client, clock: FakeClock) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            return httpx.Response(500, json={"error": {"message": "boom"}})
        return httpx.Response(200, json=completion("ok"))

    response = await make_client(handler).complete(ask())

    assert response.text == "ok"
    assert clock.sleeps == [0.5, 1.0]


async def test_persistent_server_error_raises_model_call_error(
    make_client, clock: FakeClock
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, json={"error": {"message": "overloaded"}})

    with pytest.raises(ModelCallError) as info:
        await make_client(handler).complete(ask())

    error = info.value
    assert len(calls) == 3
    assert error.status == 503
    assert error.retryable
    assert (error.endpoint, error.model) == ("sim", "gpt-4o")
    assert "'sim'" in str(error) and "'gpt-4o'" in str(error) and "503" in str(error)
    assert "overloaded" in error.body_excerpt


async def test_client_error_is_not_retried(make_client, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": "bad schema"}})

    with pytest.raises(ModelCallError) as info:
        await make_client(handler).complete(ask())

    assert info.value.status == 400
    assert not info.value.retryable
    assert clock.sleeps == []


async def test_dropped_stream_is_retried(make_client, clock: FakeClock) -> None:
    streams: list[CountingStream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        events = sse_events(text_chunks(["a", "b", "c"]))
        stream = CountingStream(events, drop_after=2 if not streams else None)
        streams.append(stream)
        return sse_response(stream)

    response = await make_client(handler).complete(ask(stream=True))

    assert response.text == "abc"
    assert len(streams) == 2
    assert all(stream.closed for stream in streams)
    assert len(clock.sleeps) == 1


async def test_truncated_stream_raises_retryable_error(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        events = sse_events(text_chunks(["a", "b"], finish=False, usage=False), done=False)
        return sse_response(CountingStream(events))

    client = make_client(handler, retry_policy=RetryPolicy(max_attempts=1))
    with pytest.raises(ModelCallError, match="ended before the reply finished") as info:
        await client.complete(ask(stream=True))
    assert info.value.retryable


async def test_timeout_raises_model_call_error(make_client, clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    client = make_client(handler, timeout_s=12)
    with pytest.raises(ModelCallError, match=r"timed out after 12s") as info:
        await client.complete(ask())
    assert info.value.retryable
    assert len(clock.sleeps) == 2


async def test_connection_error_raises_retryable_model_call_error(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = make_client(handler, retry_policy=RetryPolicy(max_attempts=1))
    with pytest.raises(ModelCallError, match="connection to endpoint 'sim'") as info:
        await client.complete(ask())
    assert info.value.retryable


async def test_api_key_is_sent_but_never_appears_in_errors(make_client, keyed_endpoint) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        assert auth == f"Bearer {SENTINEL_KEY}"
        message = f"Incorrect API key provided: {SENTINEL_KEY}; header was {auth}"
        return httpx.Response(401, json={"error": {"message": message}})

    client = make_client(handler, endpoint=keyed_endpoint, api_key=SENTINEL_KEY)
    with pytest.raises(ModelCallError) as info:
        await client.complete(ask())

    assert info.value.status == 401
    assert SENTINEL_KEY not in str(info.value)
    assert SENTINEL_KEY not in info.value.body_excerpt
    assert "SENTINEL" not in repr(info.value.args)


async def test_key_is_read_from_the_env_mapping(make_client, keyed_endpoint) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer from-env"
        return httpx.Response(200, json=completion("ok"))

    client = make_client(handler, endpoint=keyed_endpoint, env={"OPENAI_API_KEY": "from-env"})
    assert (await client.complete(ask())).text == "ok"


async def test_azure_endpoint_uses_deployment_url(make_client) -> None:
    from igent.llm import resolve_endpoint

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        assert request.headers["api-key"] == "az-key"
        return httpx.Response(200, json=completion("ok"))

    env = {
        "AZURE_OPENAI_API_KEY": "az-key",
        "AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com",
        "OPENAI_API_VERSION": "2024-10-21",
    }
    client = make_client(handler, endpoint=resolve_endpoint("azure:my-gpt4o"), env=env)
    await client.complete(ask())

    assert "/openai/deployments/my-gpt4o/chat/completions" in seen[0]
    assert "api-version=2024-10-21" in seen[0]


async def test_stop_after_fields_reads_fewer_chunks_than_whole_json_early_stop(
    make_client,
) -> None:
    # The shape a structured-output matcher reply has: supplier_id first, then the rest.
    reply = json.dumps(
        {
            "supplier_id": "S-7",
            "registration_id": "R-1",
            "reason": "serves 55101 and has the lowest used share of its capacity",
            "candidates": [{"supplier_id": "S-7", "used_pct": 0.2}],
        }
    )
    pieces = split(reply, 4)
    streams: list[CountingStream] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(CountingStream(sse_events(text_chunks(pieces))))
        return sse_response(streams[-1])

    client = make_client(handler)
    whole = await client.complete(ask(stream=True, early_stop=True))
    fields = await client.complete(
        ask(stream=True, early_stop=True, stop_after_fields=("supplier_id",))
    )

    assert whole.chunks_read == len(pieces)
    closing_quote = reply.index('", "registration_id"')
    assert fields.chunks_read == closing_quote // 4 + 1
    assert fields.chunks_read < whole.chunks_read / 5
    assert streams[1].pulled < streams[0].pulled and streams[1].closed
    assert fields.stopped_early and fields.parsed == {"supplier_id": "S-7"}
    assert whole.parsed == json.loads(reply)


async def test_stop_after_fields_waits_for_every_named_field(make_client) -> None:
    reply = '{"registration_id": "R-1", "supplier_id": "S-7", "reason": "fair share"}'

    def handler(request: httpx.Request) -> httpx.Response:
        return sse_response(CountingStream(sse_events(text_chunks(split(reply, 3)))))

    response = await make_client(handler).complete(
        ask(stream=True, stop_after_fields=("supplier_id", "registration_id"))
    )

    assert response.stopped_early
    assert response.parsed == {"registration_id": "R-1", "supplier_id": "S-7"}
    assert response.text.endswith('"S-7"') or response.text.endswith('"S-7",')


async def test_max_tokens_is_sent_and_schema_only_where_supported(make_client, endpoint) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(body_of(request))
        return httpx.Response(200, json=completion('{"supplier_id": "S1"}'))

    request = ask(response_schema=MATCH_SCHEMA, schema_name="match", max_tokens=40)
    await make_client(handler).complete(request)
    plain = endpoint.model_copy(update={"supports_json_schema": False})
    await make_client(handler, endpoint=plain).complete(request)

    assert [body["max_tokens"] for body in bodies] == [40, 40]
    assert bodies[0]["response_format"]["json_schema"]["schema"] == MATCH_SCHEMA
    assert "response_format" not in bodies[1]


async def test_every_attempt_is_listed_with_its_time_usage_and_error(
    make_client, clock: FakeClock
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(503, json={"error": {"message": "overloaded"}})
        clock.advance(2.0)
        return httpx.Response(200, json=completion("ok", prompt_tokens=100, completion_tokens=7))

    response = await make_client(handler).complete(ask())

    failed, answered = response.attempts
    assert failed.error is not None and "HTTP 503" in failed.error
    assert failed.usage.total_tokens == 0  # an error status is not billed
    assert answered.error is None and answered.duration_s == 2.0
    assert answered.usage == response.usage and answered.reply_text == "ok"


async def test_failed_call_lists_every_attempt_on_the_error(make_client) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        events = sse_events(text_chunks(["part", "ial"], finish=False, usage=False), done=False)
        return sse_response(CountingStream(events))

    with pytest.raises(ModelCallError, match="ended before the reply finished") as info:
        await make_client(handler).complete(ask(stream=True))

    attempts = info.value.attempts
    assert len(attempts) == 3
    assert all(a.reply_text == "partial" and a.error for a in attempts)
    # The server generated a partial reply each time: billed, estimated.
    from igent.llm import estimate_tokens, resolve_endpoint
    from igent.llm.tokenizer import token_counter

    partial = estimate_tokens("partial", token_counter(resolve_endpoint("sim").model))
    assert all(a.usage.completion_tokens == partial and a.usage.estimated for a in attempts)


async def test_cached_prompt_tokens_are_parsed_and_priced(make_client, endpoint) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = completion("ok", prompt_tokens=2000, completion_tokens=10)
        body["usage"]["prompt_tokens_details"] = {"cached_tokens": 1536}
        return httpx.Response(200, json=body)

    response = await make_client(handler).complete(ask())

    assert endpoint.price_cached_input_per_1m == 1.25
    assert response.usage.cached_prompt_tokens == 1536
    expected = (464 * 2.5 + 1536 * 1.25 + 10 * 10.0) / 1e6
    assert response.usage.cost_usd == pytest.approx(expected)


async def test_reply_echoing_a_non_sk_key_never_reaches_errors(make_client, keyed_endpoint):
    key = "local-canary-7f3a9"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": f"bad key {key} (echo)"}})

    client = make_client(
        handler, endpoint=keyed_endpoint, api_key=key, retry_policy=RetryPolicy(max_attempts=2)
    )
    with pytest.raises(ModelCallError) as info:
        await client.complete(ask())

    assert key not in str(info.value) and key not in info.value.body_excerpt
    assert all(key not in (a.error or "") for a in info.value.attempts)


async def test_endpoint_output_budget_for_the_role_is_sent_when_the_request_sets_none(
    make_client, endpoint
) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(body_of(request))
        return httpx.Response(200, json=completion("ok"))

    budgeted = endpoint.model_copy(update={"max_output_tokens": {"matcher": 40, "default": 300}})
    client = make_client(handler, endpoint=budgeted)
    await client.complete(ask(metadata={"role": "matcher"}))
    await client.complete(ask(metadata={"role": "pricer"}))
    await client.complete(ask(metadata={"role": "matcher"}, max_tokens=7))

    assert [body["max_tokens"] for body in bodies] == [40, 300, 7]


async def test_attempt_that_never_connected_costs_nothing_a_dropped_one_is_estimated(
    make_client,
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        raise httpx.ReadError("peer reset", request=request)

    with pytest.raises(ModelCallError) as info:
        await make_client(handler, retry_policy=RetryPolicy(max_attempts=2)).complete(ask())

    refused, dropped = info.value.attempts
    assert refused.usage.total_tokens == 0 and not refused.usage.estimated
    assert dropped.usage.prompt_tokens > 0 and dropped.usage.estimated
