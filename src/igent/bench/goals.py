"""Judge issue 13's latency goals: near the physical limit of one model round trip.

Measured on the gpt-4o simulator profile (prefill and prompt cache on) at time scale 1, for
the best LLM-in-the-loop configuration, in the same run as the plan's baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from igent.bench.analysis import ConfigMetrics
from igent.bench.matrix import BASELINE, TARGET_ERROR_RATE
from igent.bench.targets import TargetResult, best_llm_config, latency_target, verdict

P50_MAX_S = 0.8
P95_MAX_S = 1.3
BEFORE_TOKENS_PER_REG = 1356 + 42
"""p1m1v0_p2r input + output tokens per registration before issue 13 (docs/benchmarks.md 3.1)."""
BEFORE_COST_PER_REG = 0.00381
"""p1m1v0_p2r dollars per registration before issue 13 (docs/benchmarks.md 3.1)."""


def judge_latency_goals(metrics: Sequence[ConfigMetrics], time_scale: float) -> list[TargetResult]:
    """Return issue 13's goals with their verdicts (latency goals judged at time scale 1)."""
    timed = time_scale == 1.0
    by_name = {m.config.name: m for m in metrics}
    best = best_llm_config(metrics)
    noisy = by_name.get(f"{best.config.name} err{TARGET_ERROR_RATE:g}") if best else None
    results = [
        latency_target(
            f"issue 13: best LLM-in-the-loop p50 <= {P50_MAX_S} s, p95 <= {P95_MAX_S} s, "
            "accuracy 100 %",
            best,
            P50_MAX_S,
            P95_MAX_S,
            timed,
        ),
        latency_target(
            f"issue 13: the same at matcher error rate {TARGET_ERROR_RATE:g}",
            noisy,
            P50_MAX_S,
            P95_MAX_S,
            timed,
        ),
    ]
    if best is None:
        return [*results, TargetResult("issue 13: tokens and cost", "not measured", "NOT JUDGED")]
    tokens = best.prompt_tokens_per_reg + best.completion_tokens_per_reg
    token_limit = BEFORE_TOKENS_PER_REG / 2
    results.append(
        TargetResult(
            f"issue 13: tokens per registration <= half of {BEFORE_TOKENS_PER_REG} "
            f"({token_limit:.0f})",
            f"{best.config.name}: {best.prompt_tokens_per_reg:.0f} input + "
            f"{best.completion_tokens_per_reg:.0f} output = {tokens:.0f}",
            verdict(tokens <= token_limit, True),
            f"{abs(token_limit - tokens):.0f} tokens "
            + ("under" if tokens <= token_limit else "over"),
        )
    )
    cost_limit = BEFORE_COST_PER_REG / 2
    cost = best.cost_usd_per_reg
    results.append(
        TargetResult(
            f"issue 13: cost per registration <= half of ${BEFORE_COST_PER_REG} "
            f"(${cost_limit:.5f})",
            f"{best.config.name}: ${cost:.5f}",
            verdict(cost <= cost_limit, True),
            f"${abs(cost_limit - cost):.5f} {'under' if cost <= cost_limit else 'over'}",
        )
    )
    baseline = by_name.get(BASELINE)
    if baseline is not None and best.speedup_p50 is not None:
        results.append(
            TargetResult(
                "issue 13: the plan's baseline in the same run (ratio of p50)",
                f"{best.config.name} {best.speedup_p50.value:.1f}x faster than the baseline "
                f"(p50 {baseline.latency_s['median'].value:.3f} s)",
                verdict(True, timed),
            )
        )
    return results
