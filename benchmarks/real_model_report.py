"""Read the output of one ``igent eval`` run for benchmarks/real_model.py.

Everything comes from files igent wrote: ``eval.json`` (graded against the rules engine),
``run/summary.json`` (raw and final accuracy, answer sources, repairs), ``run/timings.json``
(per-registration latency and tokens) and ``run/transcripts.jsonl`` (one line per model call,
with its reply or its error).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def percentile(values: list[float], q: float) -> float | None:
    """Return the ``q``-th percentile of ``values``; None when empty."""
    return float(np.percentile(values, q)) if values else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class CallStats:
    """Per-call figures from a run's transcript."""

    calls: int = 0
    replies: int = 0
    errors_by_type: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)
    duration_s: list[float] = field(default_factory=list)
    ttft_s: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_usage: int = 0
    empty_replies: int = 0
    no_json_replies: int = 0
    stopped_early: int = 0
    reply_samples: list[str] = field(default_factory=list)
    conversations: list[list[dict[str, str]]] = field(default_factory=list, repr=False)
    reply_texts: list[str] = field(default_factory=list, repr=False)

    @property
    def unparseable(self) -> int:
        """Replies with no JSON igent could read: raised by the client, or returned unparsed."""
        return self.errors_by_type.get("ModelOutputError", 0) + self.no_json_replies

    @property
    def failed(self) -> int:
        """Calls that failed at the transport or HTTP level (after the client's retries)."""
        return self.errors_by_type.get("ModelCallError", 0) + self.errors_by_type.get(
            "RetryAfterError", 0
        )


def read_transcript(path: Path, samples: int = 3) -> CallStats:
    """Count calls, errors, latency and tokens in ``transcripts.jsonl``."""
    stats = CallStats()
    if not path.exists():
        return stats
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        stats.calls += 1
        stats.conversations.append(list((record.get("request") or {}).get("messages") or []))
        error = record.get("error")
        if error:
            kind = str(error.get("type", "?"))
            stats.errors_by_type[kind] += 1
            stats.error_samples.setdefault(kind, str(error.get("message", ""))[:300])
            continue
        response = record.get("response") or {}
        stats.replies += 1
        usage = response.get("usage") or {}
        stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        stats.completion_tokens += int(usage.get("completion_tokens") or 0)
        stats.estimated_usage += bool(usage.get("estimated"))
        if response.get("duration_s") is not None:
            stats.duration_s.append(float(response["duration_s"]))
        if response.get("ttft_s") is not None:
            stats.ttft_s.append(float(response["ttft_s"]))
        text = str(response.get("text") or "")
        stats.reply_texts.append(text)
        stats.empty_replies += not text.strip()
        # Every agent call asks for JSON; a client that leaves parsing to the agent returns
        # unreadable replies with parsed=None instead of raising ModelOutputError.
        stats.no_json_replies += response.get("parsed") is None
        stats.stopped_early += bool(response.get("stopped_early"))
        if len(stats.reply_samples) < samples and text.strip():
            stats.reply_samples.append(text.strip()[:200])
    return stats


@dataclass
class RunFigures:
    """The figures of one constellation's run, as the benchmark reports them."""

    constellation: str
    status: str
    wall_s: float
    registrations: int | None = None
    graded_accuracy: float | None = None
    raw_supplier: float | None = None
    final_supplier: float | None = None
    raw_price: float | None = None
    final_price: float | None = None
    answer_sources: dict[str, int] = field(default_factory=dict)
    repairs: int | None = None
    commit_repairs: int | None = None
    critic_rounds: int | None = None
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    igent_llm_calls: int | None = None
    igent_prompt_tokens: int | None = None
    igent_completion_tokens: int | None = None
    calls: CallStats = field(default_factory=CallStats)
    server: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""
    load_avg_1m: tuple[float, float] | None = None
    """The machine's 1-minute load average at the run's start and end (others share the CPUs)."""
    tokenizer_prompt_tokens: int | None = None
    tokenizer_reply_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the figures as JSON-friendly values."""
        data = {k: v for k, v in self.__dict__.items() if k != "calls"}
        data.pop("tokenizer_prompt_tokens")
        data.pop("tokenizer_reply_tokens")
        c = self.calls
        data["calls"] = {
            "calls": c.calls,
            "replies": c.replies,
            "errors_by_type": dict(c.errors_by_type),
            "error_samples": c.error_samples,
            "unparseable": c.unparseable,
            "failed": c.failed,
            "call_p50_s": percentile(c.duration_s, 50),
            "call_p95_s": percentile(c.duration_s, 95),
            "ttft_p50_s": percentile(c.ttft_s, 50),
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "replies_with_estimated_usage": c.estimated_usage,
            "empty_replies": c.empty_replies,
            "no_json_replies": c.no_json_replies,
            "stopped_early": c.stopped_early,
            "reply_samples": c.reply_samples,
            "tokenizer_prompt_tokens": self.tokenizer_prompt_tokens,
            "tokenizer_reply_tokens": self.tokenizer_reply_tokens,
        }
        return data


def read_run(constellation: str, out_dir: Path, status: str, wall_s: float) -> RunFigures:
    """Collect the figures of the eval run written to ``out_dir``."""
    figures = RunFigures(constellation, status, wall_s)
    run_dir = out_dir / "run"
    figures.calls = read_transcript(run_dir / "transcripts.jsonl")
    evaluation = _read_json(out_dir / "eval.json") or {}
    summary = _read_json(run_dir / "summary.json") or {}
    figures.registrations = evaluation.get("registrations", summary.get("registrations"))
    figures.graded_accuracy = evaluation.get("accuracy")
    accuracy = summary.get("accuracy") or evaluation.get("run_accuracy") or {}
    figures.raw_supplier = accuracy.get("raw_supplier")
    figures.final_supplier = accuracy.get("final_supplier")
    figures.raw_price = accuracy.get("raw_price")
    figures.final_price = accuracy.get("final_price")
    figures.answer_sources = dict(summary.get("answer_sources") or {})
    figures.repairs = summary.get("repairs")
    figures.commit_repairs = summary.get("commit_repairs")
    timing = summary.get("timing") or {}
    figures.critic_rounds = _sum(timing, "critic_rounds")
    figures.igent_llm_calls = _sum(timing, "llm_calls")
    figures.igent_prompt_tokens = _sum(timing, "prompt_tokens")
    figures.igent_completion_tokens = _sum(timing, "completion_tokens")
    rows = _read_json(run_dir / "timings.json") or []
    totals = [float(row["total_s"]) for row in rows if "total_s" in row]
    figures.latency_p50_s = percentile(totals, 50)
    figures.latency_p95_s = percentile(totals, 95)
    return figures


def _sum(timing: dict[str, Any], name: str) -> int | None:
    value = (timing.get(name) or {}).get("sum")
    return None if value is None else int(value)
