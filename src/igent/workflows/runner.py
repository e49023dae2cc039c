"""Run a constellation over a campaign: load, process (concurrently), commit, write, summarise."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igent.agents import MATCH_SCHEMA, PURCHASE_ORDER_SCHEMA, Agent, load_prompt
from igent.domain import RegistrationRecord
from igent.errors import ConfigError
from igent.llm import ChatClient
from igent.rules import RulesEngine
from igent.store import CapacityState, Ledger, ResultWriter, write_json_atomic, write_text_atomic
from igent.workflows.constellation import Constellation
from igent.workflows.inputs import InputPaths, RunInputs, load_inputs
from igent.workflows.options import RunOptions
from igent.workflows.pipeline import AgentSet, Outcome, Pipeline
from igent.workflows.timing import summarize_timings, timings_csv, to_row

Progress = Callable[[int, int], None]
LEDGER_NAME = "ledger.sqlite"


@dataclass
class RunResult:
    """Where a run wrote its outputs and its summary."""

    run_dir: Path
    summary: dict[str, Any]
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def build_agents(
    constellation: Constellation,
    client: ChatClient | None,
    options: RunOptions,
    prompt_dir: Path | None = None,
) -> AgentSet:
    """Create the agents the constellation's phases need, on ``client``."""
    if client is None:
        if constellation.uses_llm:
            raise ConfigError(f"constellation {constellation.name!r} needs a model; pass --model")
        return AgentSet()
    match, price = constellation.phase("match"), constellation.phase("price")
    stream = options.early_extraction

    def agent(
        role: str,
        prompt: str,
        variant: str,
        schema: dict[str, Any] | None,
        stop_after: tuple[str, ...] = (),
    ) -> Agent:
        return Agent(
            role,  # type: ignore[arg-type]
            load_prompt(prompt, variant, prompt_dir),  # type: ignore[arg-type]
            client,
            schema=schema,
            stream=stream,
            early_stop=stream,
            watch_fields=("supplier_id", "verdict"),
            stop_after_fields=stop_after,
            structured_output=options.structured_output,
        )

    agents = AgentSet()
    if match.answerer == "llm":
        # Validator-gated: only the supplier is needed from the model (the validator and the
        # rules do the rest), so the stream is cut once supplier_id closes (issue 13).
        field_stop = options.field_stop and match.critic == "validator"
        stop_after = ("supplier_id",) if stream and field_stop else ()
        agents.matcher = agent("matcher", "matcher", match.prompt_variant, MATCH_SCHEMA, stop_after)
    if match.critic in ("llm", "both") or match.audit:
        agents.match_critic = agent("critic", "critic_match", match.prompt_variant, None)
    if price.answerer == "llm":
        agents.pricer = agent("pricer", "pricer", price.prompt_variant, PURCHASE_ORDER_SCHEMA)
    if price.critic in ("llm", "both"):
        agents.price_critic = agent("critic", "critic_price", price.prompt_variant, None)
    return agents


class Runner:
    """Execute one run in ``run_dir``; ``resume=True`` finishes an interrupted run there."""

    def __init__(
        self,
        constellation: Constellation,
        paths: InputPaths,
        options: RunOptions,
        run_dir: Path,
        *,
        client: ChatClient | None = None,
        model_info: dict[str, Any] | None = None,
        prompt_dir: Path | None = None,
        clock: Callable[[], float] = time.perf_counter,
        today: dt.date | None = None,
        resume: bool = False,
    ) -> None:
        self.constellation = constellation
        self.paths = paths
        self.options = options
        self.run_dir = run_dir
        self.client = client
        self.model_info = model_info or {"spec": None}
        self.prompt_dir = prompt_dir
        self.clock = clock
        self.campaign_date = options.campaign_date or today or dt.date.today()
        self.resume = resume

    def _save_run_config(self, ledger: Ledger) -> None:
        if ledger.get_meta("run") is not None and not self.resume:
            raise ConfigError(
                f"{str(self.run_dir)!r} already holds a run; finish it with --resume "
                f"{self.run_dir} or choose a fresh --out"
            )
        if ledger.get_meta("run") is None:
            ledger.set_meta(
                "run",
                {
                    "constellation": self.constellation.model_dump(mode="json"),
                    "inputs": self.paths.to_json(),
                    "options": self.options.to_json(),
                    "campaign_date": self.campaign_date.isoformat(),
                    "model": self.model_info,
                },
            )

    async def run(self, progress: Progress | None = None) -> RunResult:
        """Process every registration not yet finished and write all outputs."""
        wall_started = self.clock()
        load_started = self.clock()
        inputs = load_inputs(self.paths, parallel=self.options.parallel_loading)
        load_s = self.clock() - load_started
        records = (
            inputs.records[: self.options.max_items] if self.options.max_items else inputs.records
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with Ledger(self.run_dir / LEDGER_NAME) as ledger:
            self._save_run_config(ledger)
            ledger.register_suppliers((s.supplier_id, s.capacity) for s in inputs.offers.suppliers)
            released = ledger.release_unfinished()
            finished = ledger.finished_indexes()
            pending = [r for r in records if r.record_index not in finished]
            capacity = CapacityState(ledger, cache=self.options.capacity_cache)
            engine = RulesEngine(inputs.offers, inputs.incentives, self.campaign_date)
            agents = build_agents(self.constellation, self.client, self.options, self.prompt_dir)
            pipeline = Pipeline(
                self.constellation, engine, capacity, agents, self.options, clock=self.clock
            )
            writer = ResultWriter(
                self.run_dir,
                batch_size=self.options.batch_size,
                flush_interval_s=self.options.flush_interval_s,
            )
            earlier = ledger.results()  # finished before a resume
            writer.preload(earlier)
            finished_now: list[dict[str, Any]] = []
            audits: list[asyncio.Task[dict[str, Any]]] = []
            write_times: dict[int, float] = {}
            done = len(records) - len(pending)
            if progress:
                progress(done, len(records))

            async def finish(outcome: Outcome) -> None:
                nonlocal done
                started = self.clock()
                payload = outcome.payload()
                # The ledger commit is the durable record; the JSON outputs follow in batches.
                ledger.commit_result(outcome.registration_id, outcome.record_index, payload)
                writer.add(payload)
                finished_now.append(payload)
                write_times[outcome.record_index] = self.clock() - started
                if outcome.audit is not None:
                    audits.append(outcome.audit)
                done += 1
                if progress:
                    progress(done, len(records))

            with writer:
                await self._process_all(pipeline, pending, finish)
                gathered = await asyncio.gather(*audits, return_exceptions=True)
                if pipeline.fatal is not None:  # an audit call refused for good (401/403/404)
                    raise pipeline.fatal
                audit_results = [
                    a if isinstance(a, dict) else {"approved": None, "error": repr(a)}
                    for a in gathered
                ]
            results = sorted([*earlier, *finished_now], key=lambda r: int(r["record_index"]))
            for result in results:  # the write time is known only after the commit
                if result["record_index"] in write_times:
                    result["timing"]["file_write_s"] = write_times[result["record_index"]]
            capacity_rows = ledger.capacity()
            summary = self._summary(
                inputs, records, results, audit_results, capacity_rows, load_s, writer, ledger
            )
            summary["resumed_released"] = released
            summary["wall_s"] = round(self.clock() - wall_started, 6)
            summary["throughput_per_min"] = (
                round(len(pending) / summary["wall_s"] * 60, 2) if summary["wall_s"] > 0 else 0.0
            )
            self._write_outputs(results, capacity_rows, summary, audit_results)
        return RunResult(self.run_dir, summary, results)

    async def _process_all(
        self,
        pipeline: Pipeline,
        pending: list[RegistrationRecord],
        finish: Callable[[Outcome], Any],
    ) -> None:
        queue: asyncio.Queue[RegistrationRecord] = asyncio.Queue()
        for record in pending:
            queue.put_nowait(record)
        skip = {status.strip().casefold() for status in self.options.skip_status}

        async def worker() -> None:
            while not queue.empty():
                record = queue.get_nowait()
                status = record.registration.status if record.registration else None
                if status is not None and status.strip().casefold() in skip:
                    outcome = pipeline.skipped(record)
                else:
                    outcome = await pipeline.process(record)
                await finish(outcome)

        workers = max(1, self.options.concurrency)
        await asyncio.gather(*(worker() for _ in range(min(workers, max(1, len(pending))))))

    def _summary(
        self,
        inputs: RunInputs,
        records: list[RegistrationRecord],
        results: list[dict[str, Any]],
        audits: list[dict[str, Any]],
        capacity_rows: dict[str, tuple[int, int]],
        load_s: float,
        writer: ResultWriter,
        ledger: Ledger,
    ) -> dict[str, Any]:
        statuses = Counter(r["match"]["status"] for r in results)
        reasons = Counter(r["match"]["reason"] for r in results if r["match"]["reason"])
        sources = Counter(r["match"].get("source") for r in results)
        graded = [r for r in results if r["match"]["status"] != "skipped"]

        def share(key: str) -> float | None:
            values = [r["grading"].get(key) for r in graded if r["grading"].get(key) is not None]
            return round(sum(bool(v) for v in values) / len(values), 6) if values else None

        timing_rows = [r["timing"] for r in graded]
        matched = sum(1 for r in results if r["match"]["supplier_id"])
        oversold = {
            s: {"used": used, "capacity": cap}
            for s, (used, cap) in capacity_rows.items()
            if used > cap
        }
        return {
            "constellation": self.constellation.name,
            "model": self.model_info,
            "campaign_date": self.campaign_date.isoformat(),
            "options": self.options.to_json(),
            "registrations_in_file": len(inputs.records),
            "registrations": len(records),
            "results": len(results),
            "matched": matched,
            "statuses": dict(statuses),
            "no_match_reasons": dict(reasons),
            "answer_sources": {str(k): v for k, v in sources.items()},
            "skipped": statuses.get("skipped", 0),
            "accuracy": {
                "raw_supplier": share("raw_supplier_ok"),
                "final_supplier": share("final_supplier_ok"),
                "raw_price": share("raw_price_ok"),
                "final_price": share("final_price_ok"),
            },
            "repairs": sum(int(r["timing"]["repairs"]) for r in results),
            "commit_repairs": sum(int(r["timing"]["commit_repairs"]) for r in results),
            "timing": summarize_timings(timing_rows),
            "load_s": round(load_s, 6),
            "file_writes": writer.file_writes,
            "capacity_disk_reads": ledger.disk_reads,
            "capacity_oversold": oversold,
            "audits": {
                "completed": sum(1 for a in audits if a.get("approved") is not None),
                "disagreements": [a for a in audits if a.get("approved") is False],
                "errors": sum(1 for a in audits if a.get("approved") is None),
            },
        }

    def _write_outputs(
        self,
        results: list[dict[str, Any]],
        capacity_rows: dict[str, tuple[int, int]],
        summary: dict[str, Any],
        audits: list[dict[str, Any]],
    ) -> None:
        rows = [to_row_dict(r["timing"]) for r in results]
        write_text_atomic(self.run_dir / "timings.csv", timings_csv(rows))
        write_text_atomic(
            self.run_dir / "timings.json",
            "[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n",
        )
        write_json_atomic(
            self.run_dir / "capacity.json",
            {s: {"used": used, "capacity": cap} for s, (used, cap) in capacity_rows.items()},
        )
        write_json_atomic(self.run_dir / "summary.json", summary)
        if audits:
            write_text_atomic(
                self.run_dir / "audits.jsonl", "".join(json.dumps(a) + "\n" for a in audits)
            )


def to_row_dict(timing: dict[str, Any]) -> dict[str, Any]:
    """Round a stored timing row's floats for CSV output."""
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in timing.items()}


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """Read the configuration an earlier run saved in its ledger (for --resume)."""
    path = run_dir / LEDGER_NAME
    if not path.exists():
        raise ConfigError(
            f"--resume {str(run_dir)!r}: no {LEDGER_NAME} there; is it a run directory?"
        )
    with Ledger(path) as ledger:
        config = ledger.get_meta("run")
    if not isinstance(config, dict):
        raise ConfigError(f"--resume {str(run_dir)!r}: the ledger holds no run configuration")
    return config


__all__ = ["RunResult", "Runner", "build_agents", "read_run_config", "to_row"]
