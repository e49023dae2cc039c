"""Summary statistics with seeded bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Statistic = Literal["median", "p95", "max"]
_PERCENTILE: dict[Statistic, float] = {"median": 50.0, "p95": 95.0, "max": 100.0}
DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A statistic and its bootstrap confidence interval (equal to it for 0-1 samples)."""

    value: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        """Return the estimate as a JSON object."""
        return {"value": self.value, "ci_low": self.low, "ci_high": self.high}


def statistic(values: Sequence[float], kind: Statistic) -> float:
    """Return the median, p95 (linear interpolation) or max of ``values``; 0 for none."""
    if not values:
        return 0.0
    return float(np.percentile(np.asarray(values, dtype=float), _PERCENTILE[kind]))


def bootstrap_ci(
    values: Sequence[float],
    kind: Statistic = "median",
    *,
    level: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Return ``kind`` of ``values`` with a percentile-bootstrap CI; the same seed, the same CI.

    The interval of ``max`` can only reach down from the sample maximum, never above it; read it
    as a lower bound of the true worst case.
    """
    data = np.asarray(values, dtype=float)
    value = statistic(values, kind)
    if data.size < 2:
        return Estimate(value, value, value)
    rng = np.random.default_rng(seed)
    samples = data[rng.integers(0, data.size, size=(resamples, data.size))]
    stats = np.percentile(samples, _PERCENTILE[kind], axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return Estimate(value, float(min(low, value)), float(max(high, value)))
