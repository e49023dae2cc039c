"""Run a benchmark matrix: one campaign, simulators in their own processes, interleaved rounds.

Round ``r`` runs every configuration once, in an order rotated by ``r`` (A B C, B C A, ...), so
slow drift of the machine hits every configuration alike. With the ``chunks`` scheme round ``r``
processes chunk ``r`` of the registrations; with ``repeats`` every round processes them all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from igent.bench.fidelity import SimLateness, fetch_sim_stats, sim_lateness
from igent.bench.matrix import BenchConfig
from igent.bench.recorder import CallRecorder, CallSample
from igent.campaign import generate_campaign, write_campaign
from igent.errors import ConfigError
from igent.evaluation import grade_run, reference_for_inputs
from igent.llm import ChatClient, ChatRequest
from igent.llm.tokenizer import token_counter
from igent.rules import RulesRun
from igent.sim import SimConfig, start_sim_process
from igent.store import write_json_atomic
from igent.workflows import InputPaths, Runner, builtin_constellations, open_model

Scheme = Literal["chunks", "repeats"]
SimKey = tuple[str, float]
Progress = Callable[[str], None]
CAMPAIGN_DATE = dt.date(2026, 6, 1)


@dataclass(frozen=True)
class BenchPlan:
    """What to run and on which data."""

    configs: list[BenchConfig]
    out_dir: Path
    registrations: int = 40
    rounds: int = 4
    scheme: Scheme = "chunks"
    time_scale: float = 1.0
    seed: int = 0
    scenario: str = "overlap"
    suppliers: int = 5
    campaign_date: dt.date = CAMPAIGN_DATE
    call_timeout_s: float = 120.0

    def describe(self) -> dict[str, Any]:
        """Return the plan (without configurations) as JSON-friendly values."""
        return {
            "registrations": self.registrations,
            "rounds": self.rounds,
            "scheme": self.scheme,
            "time_scale": self.time_scale,
            "seed": self.seed,
            "scenario": self.scenario,
            "suppliers": self.suppliers,
            "campaign_date": self.campaign_date.isoformat(),
        }


@dataclass
class RunMeasurement:
    """One configuration run on one round's registrations."""

    config: str
    round: int
    run_dir: str
    registrations: int
    wall_s: float
    cpu_s: float
    rows: list[dict[str, Any]]
    calls: list[CallSample]
    summary: dict[str, Any]
    grading: dict[str, Any]
    sim_usage: dict[str, int] = field(default_factory=dict)
    """Input tokens the simulator billed during the run, and its prompt-cache share."""

    def to_json(self) -> dict[str, Any]:
        """Return every raw number of the run."""
        return {
            "config": self.config,
            "round": self.round,
            "run_dir": self.run_dir,
            "registrations": self.registrations,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "rows": self.rows,
            "calls": [
                {
                    "duration_s": c.duration_s,
                    "intended_s": c.intended_s,
                    "early": c.stopped_early,
                    "ttft_s": c.ttft_s,
                }
                for c in self.calls
            ],
            "summary": self.summary,
            "grading": self.grading,
            "sim_usage": self.sim_usage,
        }


@dataclass
class BenchRun:
    """Everything measured by :func:`execute_plan`."""

    plan: BenchPlan
    measurements: list[RunMeasurement] = field(default_factory=list)
    lateness: list[SimLateness] = field(default_factory=list)
    started_at: str = ""
    elapsed_s: float = 0.0

    def for_config(self, name: str) -> list[RunMeasurement]:
        """Return the runs of configuration ``name`` in round order."""
        return [m for m in self.measurements if m.config == name]


def _chunks(items: Sequence[Any], count: int) -> list[list[Any]]:
    size, extra = divmod(len(items), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def prepare_inputs(plan: BenchPlan) -> list[InputPaths]:
    """Write the campaign under ``out_dir/data`` and return each round's input files."""
    if plan.rounds < 1:
        raise ConfigError(f"--rounds {plan.rounds!r}: expected 1 or more")
    if plan.scheme == "chunks" and plan.registrations < plan.rounds:
        raise ConfigError(
            f"--registrations {plan.registrations} cannot be split into {plan.rounds} rounds; "
            "use at least one registration per round or --scheme repeats"
        )
    campaign = generate_campaign(
        num_registrations=plan.registrations,
        num_suppliers=plan.suppliers,
        scenario=plan.scenario,  # type: ignore[arg-type]
        seed=plan.seed,
    )
    data_dir = plan.out_dir / "data"
    paths = write_campaign(campaign, data_dir, plan.scenario)
    full = InputPaths(paths["registrations"], paths["offers"], paths["incentives"])
    if plan.scheme == "repeats":
        return [full] * plan.rounds
    rounds = []
    for index, chunk in enumerate(_chunks(campaign.registrations, plan.rounds)):
        chunk_path = data_dir / "registrations" / f"{plan.scenario}-round{index}.json"
        write_json_atomic(chunk_path, chunk)
        rounds.append(replace(full, registrations=chunk_path))
    return rounds


def _sim_key(config: BenchConfig) -> SimKey:
    return (config.profile, config.error_rate)


async def _warm_up(client: ChatClient, connections: int, model: str) -> None:
    """Open ``connections`` connections and load the SDK's lazy parts before the clock runs.

    A long-running service has them already; without this, every run's first wave of calls
    would be measured with one-off start-up costs (~100 ms each at concurrency 16). The
    model's tokenizer (which estimates the usage of a stream cut before its usage chunk)
    loads in 1-2 s of CPU on first use: in the first measured registration without this.
    """
    token_counter(model)
    request = ChatRequest(messages=[{"role": "user", "content": "warm-up"}], stream=True)
    await asyncio.gather(*(client.complete(request) for _ in range(connections)))


async def _execute(
    runner: Runner,
    client: ChatClient | None,
    warm_up: ChatClient | None = None,
    model: str = "",
) -> dict[str, Any]:
    try:
        if warm_up is not None:
            await _warm_up(warm_up, max(1, runner.options.concurrency), model)
        result = await runner.run()
    finally:
        if client is not None:
            await client.aclose()
    return {"summary": result.summary, "rows": [dict(r["timing"]) for r in result.outcomes]}


def run_config(
    config: BenchConfig,
    paths: InputPaths,
    run_dir: Path,
    plan: BenchPlan,
    base_url: str | None,
    reference: RulesRun,
    round_index: int = 0,
) -> RunMeasurement:
    """Run one configuration on ``paths`` in a fresh ``run_dir`` and measure it."""
    constellation = builtin_constellations()[config.constellation]
    options = replace(
        config.options,
        concurrency=config.concurrency,
        campaign_date=plan.campaign_date,
        transcripts=False,
    )
    model_info = {
        "spec": f"sim:{config.profile}" if constellation.uses_llm else None,
        "time_scale": plan.time_scale,
        "sim_error_rate": config.error_rate,
        "seed": plan.seed,
    }
    calls: list[CallSample] = []
    cpu_started = time.process_time()
    if constellation.uses_llm:
        with open_model(
            f"sim:{config.profile}",
            sim_base_url=base_url,
            time_scale=plan.time_scale,
            timeout_s=plan.call_timeout_s,
            hedge=config.options.hedge,
        ) as client:
            recorder = CallRecorder(client)
            runner = Runner(
                constellation, paths, options, run_dir, client=recorder, model_info=model_info
            )
            outcome = asyncio.run(_execute(runner, recorder, warm_up=client, model=config.profile))
            calls = recorder.samples
    else:
        runner = Runner(constellation, paths, options, run_dir, model_info=model_info)
        outcome = asyncio.run(_execute(runner, None))
    cpu_s = time.process_time() - cpu_started
    summary = outcome["summary"]
    report = grade_run(run_dir, reference)
    return RunMeasurement(
        config=config.name,
        round=round_index,
        run_dir=str(run_dir),
        registrations=len(outcome["rows"]),
        wall_s=float(summary["wall_s"]),
        cpu_s=cpu_s,
        rows=outcome["rows"],
        calls=calls,
        summary={k: summary[k] for k in _SUMMARY_KEYS if k in summary},
        grading={**report.to_json(), "diffs": report.diff_rows()},
    )


_SUMMARY_KEYS = (
    "accuracy",
    "wall_s",
    "throughput_per_min",
    "file_writes",
    "capacity_disk_reads",
    "capacity_oversold",
    "audits",
    "repairs",
    "commit_repairs",
    "load_s",
    "matched",
    "statuses",
)


def _start_sims(
    plan: BenchPlan, keys: set[SimKey], stack: list[subprocess.Popen[str]]
) -> dict[SimKey, str]:
    urls: dict[SimKey, str] = {}
    for profile, error_rate in sorted(keys):
        config = SimConfig(
            profile=profile,
            time_scale=plan.time_scale,
            seed=plan.seed,
            error_rate=error_rate or None,
        )
        process, url = start_sim_process(config)
        stack.append(process)
        urls[(profile, error_rate)] = url
    return urls


def _stop_sims(processes: Sequence[subprocess.Popen[str]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


_USAGE_KEYS = ("billed_requests", "prompt_tokens", "cached_tokens")


def sim_usage_between(
    before: Mapping[str, float | int], after: Mapping[str, float | int]
) -> dict[str, int]:
    """The simulator's billed-token counters run up between two ``/sim/stats`` readings."""
    return {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in _USAGE_KEYS if k in after}


def _label(key: SimKey) -> str:
    return f"sim {key[0]} error rate {key[1]:g}"


def execute_plan(plan: BenchPlan, progress: Progress | None = None) -> BenchRun:
    """Run every configuration in every round and collect the measurements."""
    known = builtin_constellations()
    for config in plan.configs:
        if config.constellation not in known:
            raise ConfigError(f"constellation {config.constellation!r} is not a built-in one")
    run = BenchRun(plan, started_at=dt.datetime.now().isoformat(timespec="seconds"))
    started = time.perf_counter()
    round_inputs = prepare_inputs(plan)
    references = {
        str(p.registrations): reference_for_inputs(p, plan.campaign_date)
        for p in {p.registrations: p for p in round_inputs}.values()
    }
    llm_keys = {_sim_key(c) for c in plan.configs if known[c.constellation].uses_llm}
    processes: list[subprocess.Popen[str]] = []
    worst: dict[SimKey, dict[str, float | int]] = {}
    try:
        urls = _start_sims(plan, llm_keys, processes)
        for round_index, paths in enumerate(round_inputs):
            shift = round_index % len(plan.configs)
            order = plan.configs[shift:] + plan.configs[:shift]
            for config in order:
                if progress:
                    progress(f"round {round_index + 1}/{plan.rounds}: {config.name}")
                slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in config.name)
                run_dir = plan.out_dir / "runs" / f"r{round_index}-{slug}"
                url = urls.get(_sim_key(config))
                before = fetch_sim_stats(url) if url else {}
                measurement = run_config(
                    config,
                    paths,
                    run_dir,
                    plan,
                    url,
                    references[str(paths.registrations)],
                    round_index,
                )
                if url:
                    measurement.sim_usage = sim_usage_between(before, fetch_sim_stats(url))
                run.measurements.append(measurement)
            # The simulator keeps only its recent sends; keep the worst snapshot per simulator.
            for key, url in urls.items():
                stats = fetch_sim_stats(url)
                if float(stats.get("p99_s", 0.0)) >= float(worst.get(key, {}).get("p99_s", -1.0)):
                    worst[key] = stats
    finally:
        _stop_sims(processes)
    keys = {c.name: _sim_key(c) for c in plan.configs}
    for key, stats in sorted(worst.items()):
        intended = [
            c.intended_s
            for m in run.measurements
            if keys[m.config] == key
            for c in m.calls
            if c.intended_s is not None
        ]
        run.lateness.append(sim_lateness(_label(key), stats, intended))
    run.elapsed_s = time.perf_counter() - started
    return run


def environment() -> dict[str, str]:
    """Describe the machine the benchmark ran on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": str(_cpu_count()),
    }


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def dump_json(data: Any) -> str:
    """Serialise benchmark data (dates and paths as strings)."""
    return json.dumps(data, indent=1, default=str)
