"""Turn raw benchmark runs into per-configuration metrics and ratios against the baseline."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from igent.bench.execute import BenchRun, RunMeasurement
from igent.bench.matrix import BASELINE, BenchConfig
from igent.bench.stats import Estimate, Statistic, bootstrap_ci, statistic
from igent.llm import cost_usd, resolve_endpoint

PHASE_COLUMNS = (
    "agent_conversation_s",
    "validation_s",
    "capacity_update_s",
    "file_write_s",
)
STATS: tuple[Statistic, ...] = ("median", "p95", "max")


@dataclass(frozen=True)
class BilledInput:
    """Per registration: input tokens the simulator billed, the cached ones, and the cost.

    The client cannot see the cached share of a stream it cut before the usage chunk, so
    these come from the simulator's counters; the cost prices cached input at the endpoint's
    cached rate and adds the client's output tokens.
    """

    prompt_tokens_per_reg: float
    cached_tokens_per_reg: float
    cost_usd_per_reg: float

    def to_json(self) -> dict[str, float]:
        """Return the figures as JSON-friendly values."""
        return {
            "prompt_tokens_per_reg": self.prompt_tokens_per_reg,
            "cached_tokens_per_reg": self.cached_tokens_per_reg,
            "cost_usd_per_reg": self.cost_usd_per_reg,
        }


@dataclass
class ConfigMetrics:
    """What one configuration measured over all its rounds."""

    config: BenchConfig
    registrations: int
    latency_s: dict[str, Estimate]
    wall_s: float
    throughput_per_min: float
    llm_calls_per_reg: float
    prompt_tokens_per_reg: float
    completion_tokens_per_reg: float
    cost_usd_per_reg: float
    overhead_ms_per_call: float | None
    cpu_ms_per_reg: float
    accuracy: dict[str, float | None]
    graded_accuracy: float | None
    graded_field_accuracy: float | None
    graded_wrong: int
    oversold: list[dict[str, Any]]
    audits: dict[str, int]
    phase_median_s: dict[str, float]
    file_writes: int
    capacity_disk_reads: int
    latencies: list[float] = field(repr=False, default_factory=list)
    speedup_p50: Estimate | None = None
    ttft_ms_median: float | None = None
    """Median time to the first token the client read, over every call."""
    billed: BilledInput | None = None
    """Input tokens as the simulator billed them (cached share included)."""

    @property
    def improvement_pct(self) -> float | None:
        """p50 improvement over the baseline, in percent (positive = faster)."""
        if self.speedup_p50 is None or self.speedup_p50.value <= 0:
            return None
        return (1 - 1 / self.speedup_p50.value) * 100

    def to_json(self) -> dict[str, Any]:
        """Return the metrics (not the raw rows) as JSON-friendly values."""
        return {
            "config": self.config.describe(),
            "registrations": self.registrations,
            "latency_s": {k: v.to_json() for k, v in self.latency_s.items()},
            "wall_s": self.wall_s,
            "throughput_per_min": self.throughput_per_min,
            "llm_calls_per_reg": self.llm_calls_per_reg,
            "prompt_tokens_per_reg": self.prompt_tokens_per_reg,
            "completion_tokens_per_reg": self.completion_tokens_per_reg,
            "cost_usd_per_reg": self.cost_usd_per_reg,
            "overhead_ms_per_call": self.overhead_ms_per_call,
            "cpu_ms_per_reg": self.cpu_ms_per_reg,
            "accuracy": self.accuracy,
            "graded_accuracy": self.graded_accuracy,
            "graded_field_accuracy": self.graded_field_accuracy,
            "graded_wrong": self.graded_wrong,
            "oversold": self.oversold,
            "audits": self.audits,
            "phase_median_s": self.phase_median_s,
            "file_writes": self.file_writes,
            "capacity_disk_reads": self.capacity_disk_reads,
            "speedup_p50": self.speedup_p50.to_json() if self.speedup_p50 else None,
            "improvement_pct": self.improvement_pct,
            "ttft_ms_median": self.ttft_ms_median,
            "billed": self.billed.to_json() if self.billed else None,
        }


def _weighted(runs: Sequence[RunMeasurement], key: str) -> float | None:
    pairs = [
        (m.summary["accuracy"].get(key), m.registrations)
        for m in runs
        if m.summary.get("accuracy", {}).get(key) is not None
    ]
    total = sum(n for _, n in pairs)
    return sum(float(v) * n for v, n in pairs) / total if total else None


def _graded(runs: Sequence[RunMeasurement]) -> tuple[float | None, float | None, int]:
    graded = sum(int(m.grading["registrations"]) for m in runs)
    correct = sum(int(m.grading["correct"]) for m in runs)
    checked = sum(t["checked"] for m in runs for t in m.grading["fields"].values())
    wrong = sum(t["wrong"] for m in runs for t in m.grading["fields"].values())
    return (
        correct / graded if graded else None,
        (checked - wrong) / checked if checked else None,
        graded - correct,
    )


def _billed(runs: Sequence[RunMeasurement], rows: Sequence[dict[str, Any]]) -> BilledInput | None:
    if not rows or not any(m.sim_usage for m in runs):
        return None
    prompt = sum(int(m.sim_usage.get("prompt_tokens", 0)) for m in runs)
    cached = sum(int(m.sim_usage.get("cached_tokens", 0)) for m in runs)
    completion = sum(int(r["completion_tokens"]) for r in rows)
    total = cost_usd(resolve_endpoint("sim"), prompt, completion, cached)
    return BilledInput(prompt / len(rows), cached / len(rows), total / len(rows))


def _ttft_ms(runs: Sequence[RunMeasurement]) -> float | None:
    ttfts = [c.ttft_s for m in runs for c in m.calls if c.ttft_s is not None]
    return statistics.median(ttfts) * 1000 if ttfts else None


def config_metrics(config: BenchConfig, runs: Sequence[RunMeasurement], seed: int) -> ConfigMetrics:
    """Aggregate the rounds of one configuration."""
    rows = [row for m in runs for row in m.rows]
    latencies = [float(r["total_s"]) for r in rows]
    count = max(1, len(rows))
    wall_s = sum(m.wall_s for m in runs)
    calls = sum(int(r["llm_calls"]) for r in rows)
    # Typical (median) overhead per call: the mean would be dominated by each run's first
    # calls, which pay the SDK's one-off imports and connection set-up (docs/benchmarks.md).
    per_call = sorted(
        (float(r["agent_conversation_s"]) - float(r["intended_llm_s"])) / int(r["llm_calls"])
        for r in rows
        if int(r["llm_calls"])
    )
    graded, field_graded, wrong = _graded(runs)
    audits = {"completed": 0, "disagreements": 0, "errors": 0}
    for m in runs:
        found = m.summary.get("audits", {})
        audits["completed"] += int(found.get("completed", 0))
        audits["disagreements"] += len(found.get("disagreements", []))
        audits["errors"] += int(found.get("errors", 0))
    return ConfigMetrics(
        config=config,
        registrations=len(rows),
        latency_s={k: bootstrap_ci(latencies, k, seed=seed) for k in STATS},
        wall_s=wall_s,
        throughput_per_min=len(rows) / wall_s * 60 if wall_s > 0 else 0.0,
        llm_calls_per_reg=calls / count,
        prompt_tokens_per_reg=sum(int(r["prompt_tokens"]) for r in rows) / count,
        completion_tokens_per_reg=sum(int(r["completion_tokens"]) for r in rows) / count,
        cost_usd_per_reg=sum(float(r["cost_usd"]) for r in rows) / count,
        overhead_ms_per_call=statistics.median(per_call) * 1000 if per_call else None,
        cpu_ms_per_reg=sum(m.cpu_s for m in runs) / count * 1000,
        accuracy={
            k: _weighted(runs, k)
            for k in ("raw_supplier", "final_supplier", "raw_price", "final_price")
        },
        graded_accuracy=graded,
        graded_field_accuracy=field_graded,
        graded_wrong=wrong,
        oversold=[
            {"round": m.round, **m.summary.get("capacity_oversold", {})}
            for m in runs
            if m.summary.get("capacity_oversold")
        ],
        audits=audits,
        phase_median_s={c: statistic([float(r[c]) for r in rows], "median") for c in PHASE_COLUMNS}
        | {"total_s": statistic(latencies, "median")},
        file_writes=sum(int(m.summary.get("file_writes", 0)) for m in runs),
        capacity_disk_reads=sum(int(m.summary.get("capacity_disk_reads", 0)) for m in runs),
        latencies=latencies,
        ttft_ms_median=_ttft_ms(runs),
        billed=_billed(runs, rows),
    )


def ratio_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    seed: int = 0,
    resamples: int = 2000,
) -> Estimate:
    """Return median(numerator) / median(denominator) with an independent-bootstrap 95 % CI."""
    top, bottom = np.asarray(numerator, float), np.asarray(denominator, float)
    value = float(np.median(top) / np.median(bottom)) if bottom.size and top.size else 0.0
    if top.size < 2 or bottom.size < 2 or np.median(bottom) <= 0:
        return Estimate(value, value, value)
    rng = np.random.default_rng(seed)
    tops = np.median(top[rng.integers(0, top.size, (resamples, top.size))], axis=1)
    bottoms = np.median(bottom[rng.integers(0, bottom.size, (resamples, bottom.size))], axis=1)
    ratios = tops / np.maximum(bottoms, 1e-12)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return Estimate(value, float(min(low, value)), float(max(high, value)))


def analyse(run: BenchRun) -> list[ConfigMetrics]:
    """Return metrics per configuration, with p50 speed-ups against the baseline."""
    metrics = [
        config_metrics(c, run.for_config(c.name), run.plan.seed)
        for c in run.plan.configs
        if run.for_config(c.name)
    ]
    baseline = next((m for m in metrics if m.config.name == BASELINE), None)
    if baseline is not None:
        for m in metrics:
            if m.latencies and baseline.latencies:
                m.speedup_p50 = ratio_ci(baseline.latencies, m.latencies, seed=run.plan.seed)
    return metrics
