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
    source: str = Field(default=_SOURCE, description="Where the numbers come from.")


PROFILES: dict[str, LatencyProfile] = {
    p.name: p
    for p in (
        LatencyProfile(name="gpt-4o", ttft_median_s=0.6, output_tokens_per_s=70.0),
        LatencyProfile(name="gpt-4o-mini", ttft_median_s=0.45, output_tokens_per_s=85.0),
        LatencyProfile(
            name="glm-4.6", ttft_median_s=0.9, ttft_sigma=0.45, output_tokens_per_s=55.0
        ),
        LatencyProfile(
            name="gpt-5",
            ttft_median_s=6.0,
            ttft_sigma=0.5,
            tail_prob=0.05,
            tail_multiplier=2.5,
            output_tokens_per_s=60.0,
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


def sample_latency(
    profile: LatencyProfile,
    rng: random.Random,
    completion_tokens: int,
    *,
    time_scale: float = 1.0,
) -> IntendedLatency:
    """Plan TTFT, per-chunk send offsets and the total time for a reply of this length.

    Chunk ``i`` holds tokens up to ``min((i + 1) * tokens_per_chunk, completion_tokens)``; the
    first chunk leaves at the TTFT and each later one when its last token is generated. The
    draws do not depend on ``time_scale``, so a scaled plan is the unscaled one times the scale.
    """
    ttft = profile.ttft_median_s * math.exp(profile.ttft_sigma * rng.gauss(0.0, 1.0))
    if rng.random() < profile.tail_prob:
        ttft *= profile.tail_multiplier
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
