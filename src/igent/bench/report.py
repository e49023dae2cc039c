"""Render a benchmark as markdown."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from igent.bench.analysis import ConfigMetrics
from igent.bench.execute import BenchRun
from igent.bench.fidelity import FidelityVerdict
from igent.bench.matrix import PREDICTED_PCT
from igent.bench.stats import Estimate
from igent.bench.targets import TargetResult


def _ms(e: Estimate) -> str:
    return f"{e.value * 1000:.1f} [{e.low * 1000:.1f}, {e.high * 1000:.1f}]"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _speed(speed: Estimate | None) -> str:
    return "n/a" if speed is None else f"{speed.value:.2f}x [{speed.low:.2f}, {speed.high:.2f}]"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _results(metrics: Sequence[ConfigMetrics]) -> list[str]:
    header = (
        "configuration", "constellation", "profile", "conc.", "err", "n",
        "p50 ms [95 % CI]", "p95 ms [95 % CI]", "max ms", "regs/min", "LLM calls/reg",
        "tokens/reg (in+out)", "cost $/reg", "overhead ms/call (median)", "CPU ms/reg",
        "raw sup. %", "final sup. %", "raw price %", "final price %", "graded %",
        "oversold", "speed-up p50",
    )  # fmt: skip
    rows = []
    for m in metrics:
        c = m.config
        speed = m.speedup_p50
        rows.append(
            (
                c.name, c.constellation, c.profile, str(c.concurrency), f"{c.error_rate:g}",
                str(m.registrations), _ms(m.latency_s["median"]), _ms(m.latency_s["p95"]),
                f"{m.latency_s['max'].value * 1000:.1f}", f"{m.throughput_per_min:.0f}",
                f"{m.llm_calls_per_reg:.2f}",
                f"{m.prompt_tokens_per_reg:.0f}+{m.completion_tokens_per_reg:.0f}",
                f"{m.cost_usd_per_reg:.5f}", _num(m.overhead_ms_per_call),
                f"{m.cpu_ms_per_reg:.1f}", _pct(m.accuracy["raw_supplier"]),
                _pct(m.accuracy["final_supplier"]), _pct(m.accuracy["raw_price"]),
                _pct(m.accuracy["final_price"]),
                _pct(m.graded_accuracy) + ("*" if c.concurrency > 1 else ""),
                "YES" if m.oversold else "no",
                _speed(speed),
            )
        )  # fmt: skip
    return _table(header, rows)


def _ablation(metrics: Sequence[ConfigMetrics]) -> list[str]:
    rows = []
    for m in metrics:
        if m.config.group not in ("baseline", "ablation", "optimised", "constellation"):
            continue
        predicted = PREDICTED_PCT.get(m.config.name)
        speed = m.speedup_p50
        measured = "n/a"
        if speed is not None and speed.value > 0:
            low, high = (1 - 1 / speed.low) * 100, (1 - 1 / speed.high) * 100
            measured = f"{(1 - 1 / speed.value) * 100:+.1f} % [{low:+.1f}, {high:+.1f}]"
        rows.append(
            (
                m.config.name,
                f"{m.latency_s['median'].value * 1000:.1f}",
                f"{m.latency_s['p95'].value * 1000:.1f}",
                "-" if predicted is None else f"{predicted[0]:g}-{predicted[1]:g} %",
                measured,
                "-" if speed is None else f"{speed.value:.2f}x",
            )
        )
    header = ("step", "p50 ms", "p95 ms", "plan predicted", "measured p50 gain [95 % CI]", "x")
    return _table(header, rows)


def _prompt_cache(metrics: Sequence[ConfigMetrics]) -> list[str]:
    rows = []
    for m in metrics:
        if m.billed is None:
            continue
        b = m.billed
        share = b.cached_tokens_per_reg / b.prompt_tokens_per_reg if b.prompt_tokens_per_reg else 0
        rows.append(
            (
                m.config.name,
                f"{m.llm_calls_per_reg:.2f}",
                _num(m.ttft_ms_median, 1),
                f"{b.prompt_tokens_per_reg:.0f}",
                f"{b.cached_tokens_per_reg:.0f} ({share * 100:.0f} %)",
                f"{b.cost_usd_per_reg:.5f}",
            )
        )
    if not rows:
        return ["No calls reached a simulator."]
    header = (
        "configuration", "LLM calls/reg", "TTFT p50 ms", "input tokens/reg (billed)",
        "cached tokens/reg", "cost $/reg (cached input at its price)",
    )  # fmt: skip
    return _table(header, rows)


def _targets(results: Sequence[TargetResult]) -> list[str]:
    return _table(
        ("target", "measured", "verdict", "by how much"),
        [(r.target, r.measured, f"**{r.status}**", r.margin) for r in results],
    )


def render_report(
    run: BenchRun,
    metrics: Sequence[ConfigMetrics],
    targets: Sequence[TargetResult],
    fidelity: FidelityVerdict,
    client_overshoot_p95: float | None,
    *,
    command: str,
    environment: dict[str, str],
    plots: Sequence[Path],
    report_dir: Path,
    json_path: Path,
) -> str:
    """Return the markdown report."""
    plan = run.plan
    lines = [
        "# igent benchmark",
        "",
        "```bash",
        command,
        "```",
        "",
        f"Started {run.started_at}, took {run.elapsed_s:.1f} s. Machine: "
        + ", ".join(f"{k} {v}" for k, v in environment.items())
        + ".",
        "",
        f"- Campaign: generated, scenario `{plan.scenario}`, {plan.registrations} registrations, "
        f"{plan.suppliers} suppliers, seed {plan.seed}, campaign date "
        f"{plan.campaign_date.isoformat()}.",
        f"- Rounds: {plan.rounds}, scheme `{plan.scheme}` "
        + (
            "(round r runs every configuration on chunk r of the registrations)"
            if plan.scheme == "chunks"
            else "(every round runs every configuration on all registrations)"
        )
        + "; the order of the configurations rotates by one each round (A B C, B C A, ...), "
        "each run in a fresh run directory.",
        f"- Simulator: its own process per (profile, matcher error rate), time scale "
        f"{plan.time_scale:g}"
        + (
            ""
            if plan.time_scale == 1
            else " (**not** the published scale 1: latency figures are "
            "scaled and the latency targets are NOT JUDGED)"
        )
        + ".",
        "- Latency is `total_s` per registration (phase 1, capacity commit, phase 2; the result "
        "write is `file_write_s`, outside it). CIs are percentile-bootstrap 95 % (2000 "
        "resamples, seeded); speed-ups resample baseline and configuration independently.",
        "- Overhead per LLM call = (agent conversation wall time - the simulator's intended "
        "latency) / calls; early JSON extraction can make it negative (the reply is cut short).",
        "- CPU is this process's CPU time (the simulator runs elsewhere) per registration.",
        "- `raw`/`final` accuracy come from the run (validator against the capacity state each "
        "answer committed on); `graded` is igent.evaluation: every field of the match and the PO "
        "against the rules engine's sequential answer for the same registrations.",
        f"- Raw data: `{_rel(json_path, report_dir)}`.",
        "",
        "## Simulator fidelity",
        "",
        "The guard uses the simulator's own send lateness (`GET /v1/sim/stats`: how late each "
        "chunk or reply left compared with its plan, excluding everything igent does). It takes "
        "the worst p99 lateness seen after any round and divides it by the median intended call "
        "latency; the report is refused above 5 % (p99 bounds p95 from above).",
        "",
        *(
            []
            if fidelity.passed
            else [
                "**FIDELITY NOT MET: the simulator ran late; these latencies are not faithful. "
                "This report was written only because the guard was not enforced (--quick or "
                "--allow-unfaithful).**",
                "",
            ]
        ),
        *[f"- {line}" for line in fidelity.lines],
        "- Client side, for information (includes igent's own HTTP and parsing overhead): p95 of "
        "(call wall time / intended latency - 1) over calls read to the end = "
        + ("n/a" if client_overshoot_p95 is None else f"{client_overshoot_p95 * 100:.2f} %")
        + ".",
        "",
        "## Results per configuration",
        "",
        *_results(metrics),
        "",
        "\\* concurrency > 1: registrations commit in another order than the sequential "
        "reference, so capacity-dependent supplier choices (and their POs) can differ without "
        "being wrong; `final sup. %` (validator against the committed state) is the accuracy "
        "to read there.",
        "",
        "## Prompt size, prompt cache and time to first token",
        "",
        "Input tokens as the simulator billed them, with the share its prompt cache served "
        "(prefixes of >= 1,024 tokens seen before; a client that cuts a stream never reads the "
        "usage chunk, so the server's counters are used). TTFT is the client's, over all calls.",
        "",
        *_prompt_cache(metrics),
        "",
        "## Ablation (the plan's Expected Results)",
        "",
        "Each optimisation alone on top of the baseline (p1m1m2c, all switches at the plan's "
        '"before"), then all together, then the faster constellations with the optimised '
        "defaults. Gain = 1 - p50 / baseline p50.",
        "",
        *_ablation(metrics),
        "",
        "## Targets (gpt-4o profile, time scale 1)",
        "",
        *_targets(targets),
        "",
        "## Plots",
        "",
        *[f"![{p.stem}]({_rel(p, report_dir)})" for p in plots],
        "",
    ]
    return "\n".join(lines)


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())
