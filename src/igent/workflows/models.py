"""Turn a model name into a ChatClient: a registry endpoint, ``mock``, or the simulator."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from igent.errors import ConfigError
from igent.llm import (
    CachingClient,
    ChatClient,
    ChatRequest,
    Endpoint,
    FakeChatClient,
    HedgedClient,
    OpenAICompatibleClient,
    ResponseCache,
    TranscriptClient,
    TranscriptWriter,
    endpoint_secrets,
    load_registry,
    resolve_endpoint,
)
from igent.sim import PROFILES, SimConfig, SimServer
from igent.sim.draw import RequestLedger
from igent.sim.reply import ChatRequest as SimRequest
from igent.sim.reply import plan_reply
from igent.workflows.model_choice import DEFAULT_MODEL as DEFAULT_MODEL
from igent.workflows.model_choice import DEFAULT_SIM_TIME_SCALE as DEFAULT_SIM_TIME_SCALE
from igent.workflows.model_choice import ModelChoice as ModelChoice
from igent.workflows.model_choice import choose_model as choose_model
from igent.workflows.options import CacheMode

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_ATTEMPTS = 4
P90_Z = 1.2816
"""z-score of the 90th percentile of a normal distribution (lognormal TTFT of a profile)."""


MOCK_KEEP_REQUESTS = 10
"""The ``mock`` model keeps only its last requests: a long run must not grow per call."""


def mock_client(
    error_rate: float = 0.0, seed: int = 0, keep_requests: int | None = None
) -> FakeChatClient:
    """The ``mock`` model: instant rules-engine answers, optionally wrong at a seeded rate.

    ``keep_requests`` bounds `FakeChatClient.requests` (``--model mock`` keeps the last 10).
    """
    config = SimConfig(profile="instant", time_scale=0.0, seed=seed, error_rate=error_rate)
    ledger = RequestLedger(seed)

    def reply(request: ChatRequest) -> str:
        body = {"model": "mock", "messages": request.messages, "stream": False}
        request_id, _, rng = ledger.draw(body)
        plan = plan_reply(SimRequest.from_body(body), config, rng, request_id)
        return plan.text

    return FakeChatClient(
        function=reply, model="mock", endpoint="mock", keep_requests=keep_requests
    )


def call_limits(
    endpoint: Endpoint, timeout_s: float | None, max_attempts: int | None
) -> tuple[float, int]:
    """Return (timeout per call, attempts per call): flags, else the registry, else defaults."""
    timeout = timeout_s if timeout_s is not None else endpoint.timeout_s or DEFAULT_TIMEOUT_S
    attempts = max_attempts if max_attempts is not None else endpoint.max_attempts
    attempts = attempts or DEFAULT_MAX_ATTEMPTS
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout!r}: expected a positive number of seconds")
    if attempts < 1:
        raise ConfigError(f"--max-attempts {attempts!r}: expected 1 or more")
    return float(timeout), int(attempts)


def sim_ttft_p90_s(profile: str, time_scale: float) -> float:
    """Return a simulator profile's time-to-first-token p90 (lognormal), at ``time_scale``."""
    latency = PROFILES[profile]
    return time_scale * latency.ttft_median_s * math.exp(P90_Z * latency.ttft_sigma)


@contextlib.contextmanager
def open_model(
    spec: str,
    *,
    time_scale: float = 1.0,
    sim_error_rate: float = 0.0,
    seed: int = 0,
    endpoints_file: Path | None = None,
    cache_mode: CacheMode = "off",
    cache_path: Path | None = None,
    transcript_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    max_attempts: int | None = None,
    sim_base_url: str | None = None,
    hedge: bool = False,
) -> Iterator[ChatClient]:
    """Yield a client for ``spec`` (``mock``, ``sim[:PROFILE]``, ``endpoint[:model]``).

    ``sim`` starts the simulator in a background thread for the duration of the block, unless
    ``sim_base_url`` points at one already running (e.g. in its own process for benchmarks).
    ``timeout_s`` (per call) and ``max_attempts`` (per call, retries included) override the
    endpoint's registry settings; without either, 60 s and 4 attempts. ``hedge`` sends a
    second request when no first token came by the endpoint's ``ttft_p90_s`` (for a simulator
    profile: its TTFT p90 at ``time_scale``).
    """
    env = os.environ if env is None else env
    with contextlib.ExitStack() as stack:
        client: ChatClient
        secrets: tuple[str, ...] = ()
        if spec == "mock":
            client = mock_client(sim_error_rate, seed, keep_requests=MOCK_KEEP_REQUESTS)
        elif spec == "sim" or spec.startswith("sim:"):
            profile = spec.partition(":")[2] or "gpt-4o"
            if profile not in PROFILES:
                raise ConfigError(
                    f"simulator profile {profile!r} is not known; expected one of "
                    f"{', '.join(sorted(PROFILES))}"
                )
            if sim_base_url is None:
                config = SimConfig(
                    profile=profile, time_scale=time_scale, seed=seed, error_rate=sim_error_rate
                )
                sim_base_url = stack.enter_context(SimServer(config)).base_url
            registry = load_registry(endpoints_file)
            endpoint = resolve_endpoint("sim", registry).model_copy(
                update={"base_url": sim_base_url, "model": profile}
            )
            if endpoint.ttft_p90_s is None:
                p90 = sim_ttft_p90_s(profile, time_scale)
                endpoint = endpoint.model_copy(update={"ttft_p90_s": p90})
            call_limits(endpoint, timeout_s, max_attempts)  # refuse bad flags here
            secrets = endpoint_secrets(registry, env)
            client = _hedged(
                OpenAICompatibleClient(
                    endpoint,
                    api_key="sim",
                    timeout_s=timeout_s,
                    max_attempts=max_attempts,
                    env=env,
                    secrets=secrets,
                ),
                hedge,
            )
        else:
            registry = load_registry(endpoints_file)
            endpoint = resolve_endpoint(spec, registry)
            call_limits(endpoint, timeout_s, max_attempts)
            # Unset flags stay None so the client applies the registry's timeout and attempts.
            secrets = endpoint_secrets(registry, env)
            client = _hedged(
                OpenAICompatibleClient(
                    endpoint,
                    env=env,
                    timeout_s=timeout_s,
                    max_attempts=max_attempts,
                    secrets=secrets,
                ),
                hedge,
            )
        if cache_mode != "off":
            if cache_path is None:
                raise ConfigError("a response cache needs a path: set IGENT_CACHE_PATH")
            cache = stack.enter_context(ResponseCache(cache_path, mode=cache_mode))
            client = CachingClient(client, cache, secrets=secrets)
        if transcript_path is not None:
            client = TranscriptClient(client, TranscriptWriter(transcript_path, secrets=secrets))
        yield client


def _hedged(client: OpenAICompatibleClient, hedge: bool) -> ChatClient:
    """Wrap ``client`` in a `HedgedClient` when hedging is on."""
    return HedgedClient(client) if hedge else client
