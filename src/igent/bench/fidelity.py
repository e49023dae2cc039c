"""The fidelity guard: refuse to report when the simulator sent late.

Two measurements exist. The simulator's own one (``GET {base_url}/sim/stats``) is how late each
chunk or reply left the server compared with its planned send time; it excludes everything igent
does, so it is the one the guard uses. The client-side one (per call: wall time minus the
simulator's intended latency) includes igent's own overhead, HTTP and parsing, which is what the
benchmark measures, so it is reported but does not gate the report.

The server reports its lateness as p50/p99/max in seconds over its recent sends, not per call.
The guard divides the p99 lateness by the median intended call latency: p99 >= p95, so a pass
means the p95 overshoot is within the limit too (a failure might be a p95 pass; we refuse then
anyway, as the safer reading).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from igent.errors import ConfigError

FIDELITY_LIMIT = 0.05


@dataclass(frozen=True)
class SimLateness:
    """One simulator process's send lateness and the calls the benchmark made to it."""

    label: str
    sends: int
    lag_p50_s: float
    lag_p99_s: float
    lag_max_s: float
    intended_median_s: float

    @property
    def overshoot(self) -> float | None:
        """p99 lateness over the median intended call latency; None without delays."""
        if self.intended_median_s <= 0 or self.sends == 0:
            return None
        return self.lag_p99_s / self.intended_median_s


@dataclass(frozen=True)
class FidelityVerdict:
    """Whether every simulator kept to its plan, with a line per simulator."""

    passed: bool
    lines: tuple[str, ...]


def sim_lateness(
    label: str, stats: Mapping[str, float | int], intended_s: Sequence[float]
) -> SimLateness:
    """Combine a ``/sim/stats`` payload with the intended latencies of the calls made."""
    ordered = sorted(intended_s)
    median = ordered[len(ordered) // 2] if ordered else 0.0
    return SimLateness(
        label,
        int(stats.get("sends", 0)),
        float(stats.get("p50_s", 0.0)),
        float(stats.get("p99_s", 0.0)),
        float(stats.get("max_s", 0.0)),
        median,
    )


def check_fidelity(
    samples: Sequence[SimLateness], limit: float = FIDELITY_LIMIT
) -> FidelityVerdict:
    """Pass when no simulator's p99 send lateness exceeds ``limit`` of the median call."""
    passed = True
    lines = []
    for s in samples:
        ratio = s.overshoot
        if ratio is None:
            lines.append(f"{s.label}: no delays to keep (time scale 0 or no sends); not checked")
            continue
        ok = ratio <= limit
        passed = passed and ok
        lines.append(
            f"{s.label}: p99 send lateness {s.lag_p99_s * 1000:.2f} ms over {s.sends} sends = "
            f"{ratio * 100:.2f} % of the median intended call ({s.intended_median_s * 1000:.1f} "
            f"ms); limit {limit * 100:.0f} % -> {'ok' if ok else 'TOO LATE'}"
        )
    return FidelityVerdict(passed, tuple(lines))


def require_fidelity(verdict: FidelityVerdict) -> None:
    """Raise ConfigError when the simulator overshot its plan."""
    if not verdict.passed:
        detail = "; ".join(line for line in verdict.lines if "TOO LATE" in line)
        raise ConfigError(
            f"simulator fidelity check failed, refusing to report: {detail}; the machine is "
            "too loaded for faithful latencies: lower --concurrency, run fewer configurations "
            "or use a quieter machine"
        )


def fetch_sim_stats(base_url: str, timeout_s: float = 5.0) -> dict[str, float | int]:
    """Read the simulator's send lateness from ``{base_url}/sim/stats``."""
    url = base_url.rstrip("/") + "/sim/stats"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            data = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"simulator stats at {url!r} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"simulator stats at {url!r} are not a JSON object: {data!r}")
    return data
