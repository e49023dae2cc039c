"""What ``--model`` means when it is missing: the defaults, without loading any client."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "sim:gpt-4o"
DEFAULT_SIM_TIME_SCALE = 0.1


@dataclass(frozen=True)
class ModelChoice:
    """What ``--model`` asked for, and what the run should say about it."""

    spec: str
    time_scale: float
    note: str


def choose_model(model: str | None, time_scale: float | None) -> ModelChoice:
    """Apply defaults: no model means the in-process simulator at a fast time scale."""
    if model:
        return ModelChoice(model, time_scale if time_scale is not None else 1.0, "")
    scale = time_scale if time_scale is not None else DEFAULT_SIM_TIME_SCALE
    return ModelChoice(
        DEFAULT_MODEL,
        scale,
        f"no model configured (--model / IGENT_MODEL): using the local simulator in-process, "
        f"profile gpt-4o at time scale {scale:g}",
    )
