"""Latency profiles: how fast a hosted model answers, and a sampler for one request's timing."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

CHARS_PER_TOKEN = 4
_SOURCE = (
    "Approximate medians read from public latency dashboards (artificialanalysis.ai and "
    "OpenRouter provider pages, 2024-2025) for short prompts on the provider's own API; "
    "rounded, not measured by igent, and they drift with load and region"
)

_PREFILL_SOURCE = (
    "Prefill: TTFT growth with input length read from artificialanalysis.ai's "
    "TTFT-by-prompt-length charts (1k vs 10k vs 100k input tokens, 2024-2025), rounded; cached "
    "prefix: OpenAI's prompt-caching guide (>= 1,024 tokens, 128-token steps, latency 'up to "
    "80 %' lower, cached_tokens in usage.prompt_tokens_details); approximate, not measured by igent"
)


class LatencyProfile(BaseModel):
    """How long a model takes to start answering and how fast it streams tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Model name clients send to select it.")
    ttft_median_s: float = Field(ge=0, description="Median time to first token, seconds.")
    ttft_sigma: float = Field(default=0.35, ge=0, description="Sigma of the lognormal TTFT.")
    tail_prob: float = Field(default=0.02, ge=0, le=1, description="Chance of a slow outlier.")
    tail_multiplier: float = Field(default=4.0, ge=1, description="TTFT factor of an outlier.")
    output_tokens_per_s: float = Field(gt=0, description="Median streaming speed.")
    tokens_per_chunk: int = Field(default=4, ge=4, description="Tokens per streamed chunk.")
    prefill_s_per_1k_tokens: float = Field(
        default=0.0, ge=0, description="TTFT added per 1,000 uncached input tokens (prefill)."
    )
    cached_prefill_factor: float = Field(
        default=0.2, ge=0, le=1, description="Share of the prefill time a cached token costs."
    )
    source: str = Field(default=_SOURCE, description="Where the numbers come from.")
    prefill_source: str = Field(
        default=_PREFILL_SOURCE, description="Where the prefill and cache numbers come from."
    )


PROFILES: dict[str, LatencyProfile] = {
    p.name: p
    for p in (
        LatencyProfile(
            name="gpt-4o", ttft_median_s=0.6, output_tokens_per_s=70.0, prefill_s_per_1k_tokens=0.05
        ),
        LatencyProfile(
            name="gpt-4o-mini",
            ttft_median_s=0.45,
            output_tokens_per_s=85.0,
            prefill_s_per_1k_tokens=0.04,
        ),
        LatencyProfile(
            name="glm-4.6",
            ttft_median_s=0.9,
            ttft_sigma=0.45,
            output_tokens_per_s=55.0,
            prefill_s_per_1k_tokens=0.08,
        ),
        LatencyProfile(
            name="gpt-5",
            ttft_median_s=6.0,
            ttft_sigma=0.5,
            tail_prob=0.05,
            tail_multiplier=2.5,
            output_tokens_per_s=60.0,
            prefill_s_per_1k_tokens=0.06,
            source=_SOURCE + "; hidden reasoning time is folded into the TTFT",
        ),
        LatencyProfile(
            name="instant",
            ttft_median_s=0.0,
            ttft_sigma=0.0,
            tail_prob=0.0,
            tail_multiplier=1.0,
            output_tokens_per_s=1e9,
            source="no delay at all; for functional tests",
        ),
    )
}


def get_profile(name: str) -> LatencyProfile:
    """Return the preset named ``name``."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        message = f"latency profile {name!r} is not known; expected one of {known}"
        raise ValueError(message) from None


@dataclass(frozen=True)
class IntendedLatency:
    """The timing planned for one reply, in seconds from the request's arrival."""

    ttft_s: float
    total_s: float
    chunk_offsets_s: tuple[float, ...]


def count_tokens(text: str) -> int:
    """Estimate tokens as one per four characters."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def prefill_s(profile: LatencyProfile, prompt_tokens: int, cached_tokens: int = 0) -> float:
    """Seconds of prefill for a prompt, its cached prefix at the cached rate."""
    cached = min(max(cached_tokens, 0), max(prompt_tokens, 0))
    uncached = max(prompt_tokens, 0) - cached
    effective = uncached + cached * profile.cached_prefill_factor
    return effective * profile.prefill_s_per_1k_tokens / 1000


def sample_latency(
    profile: LatencyProfile,
    rng: random.Random,
    completion_tokens: int,
    *,
    time_scale: float = 1.0,
    prompt_tokens: int = 0,
    cached_tokens: int = 0,
) -> IntendedLatency:
    """Plan TTFT, per-chunk send offsets and the total time for a reply of this length.

    Chunk ``i`` holds tokens up to ``min((i + 1) * tokens_per_chunk, completion_tokens)``; the
    first chunk leaves at the TTFT and each later one when its last token is generated. The
    draws do not depend on ``time_scale``, so a scaled plan is the unscaled one times the scale.
    The TTFT is the profile's short-prompt draw plus the prefill of ``prompt_tokens``, of which
    ``cached_tokens`` cost only ``cached_prefill_factor`` of the time.
    """
    ttft = profile.ttft_median_s * math.exp(profile.ttft_sigma * rng.gauss(0.0, 1.0))
    if rng.random() < profile.tail_prob:
        ttft *= profile.tail_multiplier
    ttft += prefill_s(profile, prompt_tokens, cached_tokens)
    # Throughput varies less than TTFT between requests on the same deployment.
    tokens_per_s = profile.output_tokens_per_s * math.exp(0.1 * rng.gauss(0.0, 1.0))
    step = profile.tokens_per_chunk
    ends = [min(end, completion_tokens) for end in range(step, completion_tokens + step, step)]
    first = ends[0] if ends else 0
    offsets = tuple(time_scale * (ttft + (end - first) / tokens_per_s) for end in ends)
    ttft_s = time_scale * ttft
    return IntendedLatency(
        ttft_s=ttft_s,
        total_s=offsets[-1] if offsets else ttft_s,
        chunk_offsets_s=offsets,
    )
