"""Benchmark configurations and the named matrices (quick, ablation, targets, full)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from igent.errors import ConfigError
from igent.workflows import RunOptions

MatrixName = Literal["quick", "ablation", "targets", "latency", "full"]
MATRICES: tuple[MatrixName, ...] = ("quick", "ablation", "targets", "latency", "full")
Group = Literal["baseline", "ablation", "optimised", "constellation", "target", "profile"]
BASELINE = "baseline"
ALL_OPTIMISED = "all-optimised"

# The plan's "Expected Results": predicted p50 improvement over the baseline, in percent.
PREDICTED_PCT: dict[str, tuple[float, float]] = {
    "+capacity-cache": (2.0, 3.0),
    "+parallel-loading": (1.0, 2.0),
    "+batched-writes": (5.0, 10.0),
    "+early-extraction": (5.0, 15.0),
    "+critic-skip": (15.0, 25.0),
    "no-critic p1m1_p2m2": (30.0, 40.0),
}


@dataclass(frozen=True)
class BenchConfig:
    """One configuration of the matrix: constellation, switches, simulator and load."""

    name: str
    constellation: str
    options: RunOptions = field(default_factory=RunOptions)
    profile: str = "gpt-4o"
    concurrency: int = 1
    error_rate: float = 0.0
    group: Group = "constellation"

    def describe(self) -> dict[str, object]:
        """Return the configuration as JSON-friendly values."""
        return {
            "name": self.name,
            "constellation": self.constellation,
            "options": self.options.to_json(),
            "profile": self.profile,
            "concurrency": self.concurrency,
            "error_rate": self.error_rate,
            "group": self.group,
        }


def _baseline(**switches: object) -> RunOptions:
    return RunOptions.baseline(**switches)


def baseline_config() -> BenchConfig:
    """The plan's "before": p1m1m2c with every switch at its "before" setting."""
    return BenchConfig(BASELINE, "p1m1m2c", _baseline(), group="baseline")


def ablation_configs() -> list[BenchConfig]:
    """Each optimisation alone on the baseline, all together, and no critic at all."""
    single: list[tuple[str, dict[str, Any]]] = [
        ("+capacity-cache", {"capacity_cache": True}),
        ("+parallel-loading", {"parallel_loading": True}),
        ("+batched-writes", {"batch_size": 50}),
        ("+early-extraction", {"early_extraction": True}),
        ("+critic-skip", {"critic_skip": "valid_json"}),
    ]
    configs = [BenchConfig(n, "p1m1m2c", _baseline(**s), group="ablation") for n, s in single]
    configs.append(BenchConfig("no-critic p1m1_p2m2", "p1m1_p2m2", _baseline(), group="ablation"))
    configs.append(all_optimised_config())
    return configs


def all_optimised_config() -> BenchConfig:
    """p1m1m2c with every optimisation on and the critic skipped for valid JSON."""
    return BenchConfig(
        ALL_OPTIMISED, "p1m1m2c", RunOptions(critic_skip="valid_json"), group="optimised"
    )


def constellation_configs(names: Sequence[str]) -> list[BenchConfig]:
    """The faster constellations with the optimised defaults."""
    return [BenchConfig(n, n, RunOptions(), group="constellation") for n in names]


FAST_CONSTELLATIONS = ("p1m1v_p2r", "p1m1v0_p2r", "p1m1v_p2m2v", "p1r_audit", "rules")
LLM_IN_LOOP = ("p1m1v_p2r", "p1m1v0_p2r", "p1m1v_p2m2v")
THROUGHPUT_CONCURRENCY = 16
TARGET_ERROR_RATE = 0.2


def target_configs() -> list[BenchConfig]:
    """Extra configurations the targets need: matcher errors and concurrency 16."""
    configs = [
        BenchConfig(
            f"{n} err{TARGET_ERROR_RATE:g}", n, error_rate=TARGET_ERROR_RATE, group="target"
        )
        for n in LLM_IN_LOOP
    ]
    configs.append(
        BenchConfig(
            f"p1m1v_p2r c{THROUGHPUT_CONCURRENCY}",
            "p1m1v_p2r",
            concurrency=THROUGHPUT_CONCURRENCY,
            group="target",
        )
    )
    return configs


BEST_LLM = "p1m1v0_p2r"
"""The validator-gated constellation with one matcher call: the latency goals' candidate."""


def latency_configs() -> list[BenchConfig]:
    """Issue 13's switches, each turned back on ``p1m1v0_p2r``: what each one is worth.

    The dieted matcher prompt (~430 tokens) is under the 1,024-token prefix a prompt cache
    needs, so ``-order`` alone cannot change it; ``-diet -order`` against ``-diet`` measures
    the cache-friendly order where the static part (the predecessor's offers) is long enough.
    """
    rows: list[tuple[str, dict[str, Any]]] = [
        (f"{BEST_LLM} -schema", {"structured_output": False}),
        (f"{BEST_LLM} -field-stop", {"field_stop": False}),
        (f"{BEST_LLM} +hedge", {"hedge": True}),
        (f"{BEST_LLM} -diet", {"prompt_diet": False}),
        (f"{BEST_LLM} -order", {"prompt_order": "registration-first"}),
        (
            f"{BEST_LLM} -diet -order",
            {"prompt_diet": False, "prompt_order": "registration-first"},
        ),
    ]
    return [BenchConfig(n, BEST_LLM, RunOptions(**s), group="ablation") for n, s in rows]


def latency_matrix() -> list[BenchConfig]:
    """The baseline, the best LLM-in-the-loop constellation (also at errors) and its switches."""
    best = constellation_configs([BEST_LLM])[0]
    noisy = BenchConfig(
        f"{BEST_LLM} err{TARGET_ERROR_RATE:g}",
        BEST_LLM,
        error_rate=TARGET_ERROR_RATE,
        group="target",
    )
    return [baseline_config(), best, noisy, *latency_configs()]


def profile_configs(profiles: Sequence[str]) -> list[BenchConfig]:
    """The baseline, all-optimised and the validator constellation on other latency profiles."""
    configs = []
    for profile in profiles:
        for base in (
            baseline_config(),
            all_optimised_config(),
            *constellation_configs(["p1m1v_p2r"]),
        ):
            configs.append(
                replace(base, name=f"{base.name} @{profile}", profile=profile, group="profile")
            )
    return configs


def build_matrix(name: MatrixName) -> list[BenchConfig]:
    """Return the configurations of a named matrix (the baseline always first)."""
    if name == "quick":
        return [
            baseline_config(),
            all_optimised_config(),
            *constellation_configs(["p1m1v_p2r", "p1r_audit"]),
        ]
    if name == "ablation":
        return [
            baseline_config(),
            *ablation_configs(),
            *constellation_configs(FAST_CONSTELLATIONS),
            *latency_configs(),
        ]
    if name == "latency":
        return latency_matrix()
    if name == "targets":
        return [
            baseline_config(),
            *constellation_configs(FAST_CONSTELLATIONS),
            *target_configs(),
        ]
    if name == "full":
        return [
            baseline_config(),
            *ablation_configs(),
            *constellation_configs(FAST_CONSTELLATIONS),
            *latency_configs(),
            *target_configs(),
            *profile_configs(["gpt-4o-mini", "glm-4.6"]),
        ]
    raise ConfigError(f"--matrix {name!r} is not known; expected one of {', '.join(MATRICES)}")


def select_configs(configs: Sequence[BenchConfig], only: Sequence[str]) -> list[BenchConfig]:
    """Keep the configurations named in ``only`` (plus the baseline, which ratios need)."""
    if not only:
        return list(configs)
    known = {c.name for c in configs}
    unknown = [n for n in only if n not in known]
    if unknown:
        raise ConfigError(
            f"--only {', '.join(map(repr, unknown))}: not in this matrix; expected some of "
            f"{', '.join(sorted(known))}"
        )
    return [c for c in configs if c.name in only or c.name == BASELINE]
