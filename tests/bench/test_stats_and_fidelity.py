"""Bootstrap CIs are seeded and bracket the statistic; the fidelity guard refuses late sims."""

from __future__ import annotations

import random

import pytest

from igent.bench import (
    SimLateness,
    bootstrap_ci,
    build_matrix,
    check_fidelity,
    ratio_ci,
    require_fidelity,
    select_configs,
    statistic,
)
from igent.bench.fidelity import sim_lateness
from igent.bench.matrix import MATRICES
from igent.errors import ConfigError

_RNG = random.Random(3)
VALUES = [_RNG.lognormvariate(0, 0.5) for _ in range(200)]


def test_bootstrap_ci_is_deterministic_for_a_seed_and_brackets_the_median() -> None:
    first = bootstrap_ci(VALUES, "median", seed=7)
    again = bootstrap_ci(VALUES, "median", seed=7)
    other = bootstrap_ci(VALUES, "median", seed=8)

    assert first == again
    assert first != other
    assert first.low < first.value < first.high
    assert first.value == pytest.approx(statistic(VALUES, "median"))


@pytest.mark.parametrize("kind", ["median", "p95", "max"])
def test_bootstrap_ci_contains_the_point_estimate(kind: str) -> None:
    estimate = bootstrap_ci(VALUES, kind, seed=1)  # type: ignore[arg-type]

    assert estimate.low <= estimate.value <= estimate.high


def test_bootstrap_ci_of_one_value_is_that_value() -> None:
    assert bootstrap_ci([0.25]).to_json() == {"value": 0.25, "ci_low": 0.25, "ci_high": 0.25}


def test_ratio_ci_of_twice_as_slow_is_about_two() -> None:
    ratio = ratio_ci([v * 2 for v in VALUES], VALUES, seed=0)

    assert ratio.value == pytest.approx(2.0)
    assert ratio.low <= 2.0 <= ratio.high


def _late(p99_ms: float, intended_ms: float = 1000.0) -> SimLateness:
    stats = {"sends": 500, "p50_s": 0.001, "p99_s": p99_ms / 1000, "max_s": p99_ms / 500}
    return sim_lateness("sim gpt-4o", stats, [intended_ms / 1000] * 9)


def test_fidelity_guard_passes_a_punctual_simulator() -> None:
    verdict = check_fidelity([_late(p99_ms=20.0)])

    assert verdict.passed
    require_fidelity(verdict)
    assert "2.00 %" in verdict.lines[0]


def test_fidelity_guard_refuses_when_p99_lateness_exceeds_five_percent() -> None:
    verdict = check_fidelity([_late(p99_ms=20.0), _late(p99_ms=51.0)])

    assert not verdict.passed
    with pytest.raises(ConfigError, match="fidelity check failed.*5.10 %"):
        require_fidelity(verdict)


def test_fidelity_guard_skips_a_simulator_without_delays() -> None:
    verdict = check_fidelity([sim_lateness("instant", {"sends": 0}, [])])

    assert verdict.passed
    assert "not checked" in verdict.lines[0]


def test_matrices_have_unique_names_and_start_with_the_baseline() -> None:
    for name in MATRICES:
        configs = build_matrix(name)  # type: ignore[arg-type]
        assert configs[0].name == "baseline"
        assert len({c.name for c in configs}) == len(configs)


def test_select_configs_keeps_the_baseline_and_rejects_unknown_names() -> None:
    configs = build_matrix("ablation")

    assert [c.name for c in select_configs(configs, ["rules"])] == ["baseline", "rules"]
    with pytest.raises(ConfigError, match="'nope'"):
        select_configs(configs, ["nope"])
