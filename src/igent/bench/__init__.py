"""Benchmarks: a matrix of constellations x switches x latency profiles x load, measured
against the simulator and graded against the rules engine."""

from igent.bench.analysis import ConfigMetrics, analyse, ratio_ci
from igent.bench.execute import BenchPlan, BenchRun, RunMeasurement, execute_plan
from igent.bench.fidelity import (
    FIDELITY_LIMIT,
    FidelityVerdict,
    SimLateness,
    check_fidelity,
    require_fidelity,
)
from igent.bench.matrix import MATRICES, BenchConfig, build_matrix, select_configs
from igent.bench.stats import Estimate, bootstrap_ci, statistic
from igent.bench.suite import BenchOutcome, run_benchmark
from igent.bench.targets import TargetResult, judge_targets

__all__ = [
    "FIDELITY_LIMIT",
    "MATRICES",
    "BenchConfig",
    "BenchOutcome",
    "BenchPlan",
    "BenchRun",
    "ConfigMetrics",
    "Estimate",
    "FidelityVerdict",
    "RunMeasurement",
    "SimLateness",
    "TargetResult",
    "analyse",
    "bootstrap_ci",
    "build_matrix",
    "check_fidelity",
    "execute_plan",
    "judge_targets",
    "ratio_ci",
    "require_fidelity",
    "run_benchmark",
    "select_configs",
    "statistic",
]
