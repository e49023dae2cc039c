"""OpenAICompatibleClient, with the real openai SDK inside, against igent.sim over HTTP.

Everything runs on 127.0.0.1 with the "instant" profile or gpt-4o at time_scale 0.01. Retry
delays go to a fake ``sleep`` that only records them, so no test waits for a backoff; the only
real waits are the few hundred milliseconds of the client timeouts in the hang tests.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from igent.agents.protocol import MATCH_SCHEMA, Task, match_answer, render_task
from igent.errors import ModelCallError, ModelOutputError
from igent.llm import (
    CachingClient,
    ChatRequest,
    OpenAICompatibleClient,
    ResponseCache,
    RetryAfterError,
    RetryPolicy,
    TranscriptClient,
    TranscriptWriter,
    extract_json,
    resolve_endpoint,
)
from igent.sim import FaultConfig, FaultKind, SimConfig, SimServer
from tests.support.factories import (
    make_engine,
    make_offers,
    make_record,
    make_registration,
    make_supplier,
)
from tests.support.payloads import SENTINEL_KEY

SUPPLIERS = [make_supplier("S1", capacity=10), make_supplier("S2", capacity=10)]
REGISTRATION = make_registration(RegistrationNumber="R-0042", Proposal_OptimalAmountOfBatteries=1)
# S1 is more than half full, so the fairest eligible supplier is S2.
CAPACITY = [
    {"supplier_id": "S1", "used": 6, "capacity": 10, "used_pct": 0.6},
    {"supplier_id": "S2", "used": 2, "capacity": 10, "used_pct": 0.2},
]
SUBMIT_MATCH_TOOL = {
    "type": "function",
    "function": {
        "name": "submit_match",
        "description": "Submit the match for the registration.",
        "parameters": MATCH_SCHEMA,
    },
}
MAX_ATTEMPTS = 4
BASE_DELAY_S = 0.5
RETRY_AFTER_S = 7.0
# Enough distinct requests that, at a fault rate of 0.5, one fails first and then succeeds
# (the chance that none of them does is below 1e-5); the sim's draws depend only on the seed
# and the request, so the same request is found on every run.
SCAN_REQUESTS = 24


@pytest.fixture(scope="module")
def expected_match() -> dict[str, Any]:
    engine = make_engine(make_offers(*SUPPLIERS))
    decision = engine.match(make_record(REGISTRATION), {"S1": 6, "S2": 2})
    answer = match_answer(decision)
    assert answer["supplier_id"] == "S2"
    return answer


def match_messages(note: str = "") -> list[dict[str, str]]:
    """Return a matcher's messages; ``note`` makes the request distinct, not the task."""
    task = Task(kind="match", registration=REGISTRATION, suppliers=SUPPLIERS, capacity=CAPACITY)
    system = "You are the matcher. Answer with the match JSON." + (f" ({note})" if note else "")
    return [{"role": "system", "content": system}, {"role": "user", "content": render_task(task)}]


def review_messages(proposal: dict[str, Any]) -> list[dict[str, str]]:
    task = Task(
        kind="review_match",
        registration=REGISTRATION,
        suppliers=SUPPLIERS,
        capacity=CAPACITY,
        proposal=proposal,
    )
    return [{"role": "user", "content": render_task(task)}]


@dataclass
class Wire:
    """What went over HTTP: one entry per request sent and per response headers received."""

    requests: int = 0
    authorization: set[str] = field(default_factory=set)
    faults: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    chunk_offsets_ms: list[list[float]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)

    async def on_request(self, request: httpx.Request) -> None:
        self.requests += 1
        self.authorization.add(request.headers.get("authorization", ""))

    async def on_response(self, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)
        self.faults.append(response.headers.get("x-sim-fault", "?"))
        offsets = response.headers.get("x-sim-chunk-offsets-ms")
        self.chunk_offsets_ms.append([float(x) for x in offsets.split(",")] if offsets else [])

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def reset(self) -> None:
        self.requests = 0
        self.faults.clear()
        self.statuses.clear()
        self.chunk_offsets_ms.clear()
        self.sleeps.clear()


class TickClock:
    """A clock that advances by one on every reading.

    The client reads its clock once when it sends and once per streamed chunk, so a field's
    time minus the start time is the number of chunks read when the field was delivered.
    """

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> float:
        self.ticks += 1
        return float(self.ticks)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(profile="instant", seed=7)) as server:
        yield server


@pytest.fixture
def start_sim() -> Iterator[Callable[..., SimServer]]:
    servers: list[SimServer] = []

    def start(**fault_rates: Any) -> SimServer:
        faults = {"matcher": FaultConfig(retry_after_s=RETRY_AFTER_S, **fault_rates)}
        server = SimServer(SimConfig(profile="instant", time_scale=0.01, seed=11, faults=faults))
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


Connect = Callable[..., tuple[OpenAICompatibleClient, Wire]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Build real clients for a server; each records its wire traffic and retry delays."""
    opened: list[tuple[OpenAICompatibleClient, httpx.AsyncClient]] = []

    def build(
        server: SimServer | str, *, model: str = "sim", **kwargs: Any
    ) -> tuple[OpenAICompatibleClient, Wire]:
        base_url = server if isinstance(server, str) else server.base_url
        endpoint = resolve_endpoint("sim").model_copy(update={"base_url": base_url, "model": model})
        wire = Wire()
        http = httpx.AsyncClient(
            event_hooks={"request": [wire.on_request], "response": [wire.on_response]}
        )
        kwargs.setdefault("timeout_s", 10.0)
        kwargs.setdefault(
            "retry_policy",
            RetryPolicy(max_attempts=MAX_ATTEMPTS, base_delay_s=BASE_DELAY_S, jitter=0.0),
        )
        client = OpenAICompatibleClient(
            endpoint, http_client=http, sleep=wire.sleep, env={}, **kwargs
        )
        opened.append((client, http))
        return client, wire

    yield build
    for client, http in opened:
        await client.aclose()
        await http.aclose()


# --- answers, streams, tools and schemas -------------------------------------------------


async def test_non_stream_reply_carries_the_rules_engine_match(sim, connect, expected_match):
    client, wire = connect(sim)

    response = await client.complete(ChatRequest(messages=match_messages()))

    assert extract_json(response.text, prefer="object") == expected_match
    assert response.parsed is None  # no JSON was asked for, so none is parsed
    assert response.text != json.dumps(expected_match)  # the sim wraps it in prose
    assert response.chunks_read == 1
    assert response.usage.completion_tokens > 0 and not response.usage.estimated
    assert response.endpoint == "sim" and response.model == "sim"
    assert response.intended_latency_s == 0.0
    assert wire.requests == 1 and wire.faults == ["none"]


async def test_stream_assembles_the_same_reply_as_non_stream(sim, connect, expected_match):
    client, wire = connect(sim)

    def ask(*, stream: bool) -> ChatRequest:
        return ChatRequest(
            messages=match_messages(),
            response_schema=MATCH_SCHEMA,
            schema_name="match",
            stream=stream,
        )

    whole = await client.complete(ask(stream=False))
    streamed = await client.complete(ask(stream=True))
    prose = await client.complete(ChatRequest(messages=match_messages(), stream=True))

    assert streamed.text == whole.text
    assert streamed.parsed == whole.parsed == expected_match
    assert (streamed.usage.prompt_tokens, streamed.usage.completion_tokens) == (
        whole.usage.prompt_tokens,
        whole.usage.completion_tokens,
    )
    assert not streamed.usage.estimated  # usage came in the stream's last chunk
    # Every chunk the server announced was read: opening, content pieces, finish, usage.
    assert streamed.chunks_read == len(wire.chunk_offsets_ms[1]) > 3
    assert not streamed.stopped_early and streamed.chunks_skipped_estimate is None
    assert extract_json(prose.text, prefer="object") == expected_match
    assert prose.chunks_read == len(wire.chunk_offsets_ms[2])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_tool_call_arguments_parse_to_the_match(sim, connect, expected_match, stream):
    client, _ = connect(sim)

    response = await client.complete(
        ChatRequest(messages=match_messages(), tools=[SUBMIT_MATCH_TOOL], stream=stream)
    )

    assert response.text == ""
    assert len(response.tool_calls) == 1
    call = response.tool_calls[0]
    assert call["type"] == "function"
    assert call["id"].startswith("call_")
    assert call["function"]["name"] == "submit_match"
    assert json.loads(call["function"]["arguments"]) == expected_match


async def test_schema_request_gets_json_only_text(sim, connect, expected_match):
    client, _ = connect(sim)

    response = await client.complete(
        ChatRequest(messages=match_messages(), response_schema=MATCH_SCHEMA, schema_name="match")
    )

    assert json.loads(response.text) == expected_match  # no prose, no code fence
    assert response.parsed == expected_match


# --- early extraction ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def paced_sim() -> Iterator[SimServer]:
    """gpt-4o pacing at 1/100 of real time: chunks arrive spread out, as from a real API."""
    with SimServer(SimConfig(profile="gpt-4o", time_scale=0.01, seed=3)) as server:
        yield server


async def test_watched_field_is_delivered_before_the_stream_ends(
    paced_sim, connect, expected_match
):
    clock = TickClock()
    client, wire = connect(paced_sim, clock=clock)
    delivered: list[tuple[str, Any, int]] = []

    response = await client.complete(
        ChatRequest(
            messages=match_messages(),
            stream=True,
            watch_fields=("supplier_id",),
            on_field=lambda name, value: delivered.append((name, value, clock.ticks)),
        )
    )

    total_chunks = len(wire.chunk_offsets_ms[0])
    assert response.chunks_read == total_chunks and not response.stopped_early
    assert [(name, value) for name, value, _ in delivered] == [("supplier_id", "S2")]
    chunks_at_delivery = response.field_times["supplier_id"] - response.timing.started_s
    assert chunks_at_delivery == delivered[0][2] - response.timing.started_s
    # Delivered while the prose after the JSON was still to come.
    assert 1 <= chunks_at_delivery < total_chunks - 2
    assert response.parsed == expected_match


async def test_early_stop_skips_the_chunks_after_the_json(paced_sim, connect, expected_match):
    clock = TickClock()
    client, wire = connect(paced_sim, clock=clock)
    delivered: list[tuple[str, Any]] = []

    response = await client.complete(
        ChatRequest(
            messages=match_messages(),
            stream=True,
            early_stop=True,
            watch_fields=("supplier_id",),
            on_field=lambda name, value: delivered.append((name, value)),
        )
    )

    offsets_ms = wire.chunk_offsets_ms[0]
    assert response.stopped_early
    assert response.parsed == expected_match
    assert delivered == [("supplier_id", "S2")]
    assert response.field_times["supplier_id"] - response.timing.started_s < response.chunks_read
    assert response.chunks_read < len(offsets_ms)
    assert response.chunks_skipped_estimate == len(offsets_ms) - response.chunks_read > 0
    assert response.intended_latency_s == offsets_ms[response.chunks_read - 1] / 1000


# --- faults --------------------------------------------------------------------------------


async def _first_fault_then_success(
    client: OpenAICompatibleClient, wire: Wire, kind: FaultKind, *, stream: bool
) -> Any:
    """Send distinct requests until one suffers ``kind`` first and then succeeds on a retry."""
    for n in range(SCAN_REQUESTS):
        wire.reset()
        request = ChatRequest(
            messages=match_messages(f"request {n}"), response_schema=MATCH_SCHEMA, stream=stream
        )
        try:
            response = await client.complete(request)
        except ModelCallError:
            continue  # every attempt failed; try another request
        if wire.requests > 1 and (kind == "hang" or wire.faults[0] == kind):
            return response
    pytest.fail(f"no request among {SCAN_REQUESTS} had a {kind!r} fault and then succeeded")


@pytest.mark.parametrize(
    ("kind", "stream"),
    [
        ("rate_limit", False),
        ("server_error", True),
        ("hang", False),
        ("truncated_stream", True),
    ],
)
async def test_transient_fault_is_retried_until_a_correct_reply(
    start_sim, connect, expected_match, kind, stream
):
    server = start_sim(**{kind: 0.5, "hang_s": 100.0})  # a hang lasts 1 s at time_scale 0.01
    client, wire = connect(server, timeout_s=0.25)

    response = await _first_fault_then_success(client, wire, kind, stream=stream)

    assert response.parsed == expected_match
    assert wire.faults[-1] == "none"
    retries = wire.requests - 1
    if kind == "hang":
        # A hung attempt never sends headers; the client gives up on it at its timeout.
        assert len(wire.faults) == 1
    else:
        assert wire.faults == [kind] * retries + ["none"]
    if kind == "rate_limit":
        assert wire.statuses == [429] * retries + [200]
        assert wire.sleeps == [RETRY_AFTER_S] * retries  # Retry-After honoured, no backoff
    else:
        assert wire.sleeps == [BASE_DELAY_S * 2**n for n in range(retries)]


async def test_persistent_rate_limit_ends_in_retry_after_error(start_sim, connect):
    client, wire = connect(start_sim(rate_limit=1.0))

    with pytest.raises(RetryAfterError) as caught:
        await client.complete(ChatRequest(messages=match_messages()))

    error = caught.value
    assert (error.status, error.retry_after_s, error.endpoint, error.model) == (
        429,
        RETRY_AFTER_S,
        "sim",
        "sim",
    )
    assert "rate_limit_exceeded" in error.body_excerpt
    assert wire.statuses == [429] * MAX_ATTEMPTS
    assert wire.sleeps == [RETRY_AFTER_S] * (MAX_ATTEMPTS - 1)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_persistent_server_error_names_endpoint_model_and_status(start_sim, connect, stream):
    client, wire = connect(start_sim(server_error=1.0))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(ChatRequest(messages=match_messages(), stream=stream))

    error = caught.value
    message = str(error)
    assert message.startswith("endpoint 'sim' (model 'sim') returned HTTP 500: ")
    assert "simulated by igent.sim" in message
    assert (error.status, error.endpoint, error.model, error.retryable) == (500, "sim", "sim", True)
    assert wire.statuses == [500] * MAX_ATTEMPTS
    assert wire.sleeps == [BASE_DELAY_S * 2**n for n in range(MAX_ATTEMPTS - 1)]


async def test_hang_ends_in_a_timeout_error(start_sim, connect):
    server = start_sim(hang=1.0, hang_s=500.0)  # 5 s at time_scale 0.01
    client, wire = connect(server, timeout_s=0.2, retry_policy=RetryPolicy(max_attempts=2))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(ChatRequest(messages=match_messages()))

    assert str(caught.value) == "call to endpoint 'sim' (model 'sim') timed out after 0.2s"
    assert caught.value.status is None and caught.value.retryable
    assert wire.requests == 2 and wire.statuses == []
    assert len(wire.sleeps) == 1


async def test_truncated_stream_ends_in_a_call_error_after_retries(start_sim, connect):
    client, wire = connect(start_sim(truncated_stream=1.0))

    with pytest.raises(ModelCallError) as caught:
        await client.complete(ChatRequest(messages=match_messages(), stream=True))

    message = str(caught.value)
    assert message.startswith("connection to endpoint 'sim' (model 'sim') failed or dropped")
    assert caught.value.retryable
    assert wire.faults == ["truncated_stream"] * MAX_ATTEMPTS
    assert len(wire.sleeps) == MAX_ATTEMPTS - 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_malformed_json_comes_back_with_the_raw_reply_and_its_usage(
    start_sim, connect, stream
):
    client, wire = connect(start_sim(malformed_json=1.0))

    response = await client.complete(
        ChatRequest(messages=match_messages(), response_schema=MATCH_SCHEMA, stream=stream)
    )

    # Parsing is the agent's job: the transport hands back the billed reply as it came.
    assert response.parsed is None
    assert response.text.startswith('{"supplier_id"')  # the schema's key order
    with pytest.raises(ModelOutputError, match="reply is not valid JSON"):
        extract_json(response.text)
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert response.usage.cost_usd > 0
    assert len(response.attempts) == 1 and response.attempts[0].reply_text == response.text
    # A bad reply is the model's answer, not a transport failure: it is not retried.
    assert wire.requests == 1 and wire.faults == ["malformed_json"] and wire.sleeps == []


async def test_wrong_answer_is_returned_as_the_models_reply(start_sim, connect, expected_match):
    client, wire = connect(start_sim(wrong_answer=1.0))

    response = await client.complete(
        ChatRequest(messages=match_messages(), response_schema=MATCH_SCHEMA)
    )

    # The client cannot know an answer is wrong; catching it is the critic's job.
    assert isinstance(response.parsed, dict) and response.parsed != expected_match
    assert set(response.parsed) == set(expected_match)
    assert wire.faults == ["wrong_answer"]


async def test_false_reject_is_returned_as_the_critics_reply(connect, expected_match):
    config = SimConfig(profile="instant", faults={"critic": FaultConfig(false_reject=1.0)})
    with SimServer(config) as server:
        client, wire = connect(server)
        response = await client.complete(
            ChatRequest(messages=review_messages(expected_match), stream=True)
        )

    assert wire.faults == ["false_reject"]
    assert "VERDICT: REJECT" in response.text


# --- response cache ------------------------------------------------------------------------


async def test_cache_hits_identical_requests_and_misses_on_messages_or_model(
    sim, connect, tmp_path: Path, expected_match
):
    sim_client, sim_wire = connect(sim, model="sim")
    instant_client, instant_wire = connect(sim, model="instant")

    def ask(note: str = "") -> ChatRequest:
        return ChatRequest(messages=match_messages(note), response_schema=MATCH_SCHEMA)

    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cached_sim = CachingClient(sim_client, cache)
        cached_instant = CachingClient(instant_client, cache)

        first = await cached_sim.complete(ask())
        again = await cached_sim.complete(ask())
        assert sim_wire.requests == 1  # the hit never reached the server
        assert not first.cached and again.cached
        assert again.text == first.text and again.parsed == first.parsed == expected_match

        other_messages = await cached_sim.complete(ask("another registration batch"))
        assert sim_wire.requests == 2 and not other_messages.cached

        other_model = await cached_instant.complete(ask())
        assert instant_wire.requests == 1 and not other_model.cached
        assert other_model.parsed == expected_match

        assert (cache.hits, cache.misses) == (1, 3)


# --- the API key stays secret --------------------------------------------------------------


def _exception_texts(error: BaseException) -> str:
    """Return the traceback (every chained cause included), str, repr and args of ``error``."""
    parts = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


async def test_api_key_never_leaks_into_errors_logs_transcript_or_cache(
    connect, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    faults = {"matcher": FaultConfig(server_error=1.0), "critic": FaultConfig(hang=1.0)}
    config = SimConfig(profile="instant", time_scale=0.01, seed=5, faults=faults)
    transcript_path = tmp_path / "transcript.jsonl"
    cache_path = tmp_path / "cache.sqlite"
    errors: list[ModelCallError] = []

    with SimServer(config) as server, ResponseCache(cache_path) as cache:
        client, wire = connect(
            server,
            api_key=SENTINEL_KEY,
            timeout_s=0.2,
            retry_policy=RetryPolicy(max_attempts=2, jitter=0.0),
        )
        # A writer given no secrets: the key must not reach it in the first place.
        chain = TranscriptClient(CachingClient(client, cache), TranscriptWriter(transcript_path))
        chat = ChatRequest(messages=[{"role": "user", "content": "hello"}], stream=True)
        reply = await chain.complete(chat)
        assert "Hello from the igent simulator" in reply.text
        for request in (
            ChatRequest(messages=match_messages()),  # HTTP 500 on every attempt
            ChatRequest(messages=review_messages({"supplier_id": "S2"})),  # hangs: timeout
        ):
            with pytest.raises(ModelCallError) as caught:
                await chain.complete(request)
            errors.append(caught.value)
        assert wire.statuses == [200, 500, 500]
        assert wire.authorization == {f"Bearer {SENTINEL_KEY}"}  # the key was really used

    closed_client, _ = connect("http://127.0.0.1:9/v1", api_key=SENTINEL_KEY, timeout_s=2.0)
    with pytest.raises(ModelCallError) as caught:
        await closed_client.complete(chat)
    errors.append(caught.value)

    assert [e.status for e in errors] == [500, None, None]
    assert "timed out" in str(errors[1]) and "failed or dropped" in str(errors[2])
    for error in errors:
        assert SENTINEL_KEY not in _exception_texts(error)
    assert caplog.records, "expected the SDK and httpx to log at DEBUG"
    for record in caplog.records:
        assert SENTINEL_KEY not in record.getMessage()
        assert SENTINEL_KEY not in repr(record.args)
    assert SENTINEL_KEY not in caplog.text
    transcript = transcript_path.read_text(encoding="utf-8")
    assert len(transcript.splitlines()) == 3
    assert SENTINEL_KEY not in transcript
    cache_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("cache.sqlite*"))
    assert SENTINEL_KEY.encode() not in cache_bytes
    with closing(sqlite3.connect(cache_path)) as db:
        assert db.execute("SELECT count(*) FROM replies").fetchone() == (1,)
