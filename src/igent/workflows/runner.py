"""Run a constellation over a campaign: stream, decide, group-commit, write, summarise.

A run holds its ledger's lock for its whole length. Registrations are streamed from the file
and pulled by a fixed number of worker coroutines; each finished decision joins a group
commit (booking and decision in one transaction), and only a committed registration counts
as done. The final documents are assembled once: a fresh run builds them as its batches
commit (``LiveDocuments``), a resume by streaming the ledger at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from igent.agents import (
    MATCH_SCHEMA,
    PREDECESSOR_VARIANT,
    PURCHASE_ORDER_SCHEMA,
    Agent,
    load_prompt,
)
from igent.domain import RegistrationRecord
from igent.errors import ConfigError, Interrupted
from igent.llm import ChatClient
from igent.rules import RulesEngine
from igent.store import (
    FINAL_STATUSES,
    CapacityState,
    Decision,
    GroupCommitter,
    OutputLog,
    RunLock,
    Store,
    write_json_atomic,
)
from igent.workflows.constellation import Constellation
from igent.workflows.decide import decide, decision_key
from igent.workflows.inputs import (
    CampaignBooks,
    InputPaths,
    input_fingerprint,
    iter_registrations,
    load_books,
)
from igent.workflows.options import RunOptions
from igent.workflows.pipeline import AgentSet, Pipeline
from igent.workflows.report import (
    LiveDocuments,
    SummaryBuilder,
    write_audits,
    write_capacity,
    write_final_outputs,
)
from igent.workflows.run_store import check_resume_db, db_label, open_run_store
from igent.workflows.timing import to_row

Progress = Callable[[int, int | None], None]
LEDGER_NAME = "ledger.sqlite"
RUN_FILE = "run.json"


@dataclass
class RunResult:
    """Where a run wrote its outputs and its summary."""

    run_dir: Path
    summary: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[dict[str, Any]]:
        """Timing rows of the run's decisions, read back from timings.json (small runs)."""
        rows = json.loads((self.run_dir / "timings.json").read_text(encoding="utf-8"))
        return [{"registration_id": row.get("registration_id"), "timing": row} for row in rows]


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
        variant = match.prompt_variant if options.prompt_diet else PREDECESSOR_VARIANT
        agents.matcher = agent("matcher", "matcher", variant, MATCH_SCHEMA, stop_after)
    if match.critic in ("llm", "both") or match.audit:
        agents.match_critic = agent("critic", "critic_match", match.prompt_variant, None)
    if price.answerer == "llm":
        agents.pricer = agent("pricer", "pricer", price.prompt_variant, PURCHASE_ORDER_SCHEMA)
    if price.critic in ("llm", "both"):
        agents.price_critic = agent("critic", "critic_price", price.prompt_variant, None)
    return agents


@dataclass
class _Progress:
    """Counts as the run goes; ``total`` is known once the input file has been read through."""

    done: int = 0
    read: int = 0
    total: int | None = None
    elsewhere: int = 0
    callback: Progress | None = None

    def advance(self, count: int) -> None:
        self.done += count
        if self.callback:
            self.callback(self.done, self.total)


class Runner:
    """Execute one run in ``run_dir``; ``resume=True`` finishes an interrupted run there.

    ``ledger`` shares one ledger between several runs of a campaign (default: a ledger of its
    own in the run directory); ``campaign`` names the campaign (default: the offers file
    stem); ``update`` applies changed inputs on resume instead of refusing them.
    """

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
        update: bool = False,
        ledger: Path | None = None,
        campaign: str | None = None,
        db: str | None = None,
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
        self.update = update
        if ledger is None and resume:
            saved_ledger = read_run_config(run_dir).get("ledger")
            ledger = Path(saved_ledger) if saved_ledger else None
        self.shared_ledger = ledger is not None
        self.ledger_path = ledger or run_dir / LEDGER_NAME
        self.campaign_id = campaign or paths.offers.stem
        self.db = db  # postgresql://...: book there, not in a SQLite ledger (see run_store)
        if resume:
            check_resume_db(run_dir, read_run_config(run_dir).get("db"), db)
        self.run_id = ""
        self.changes: list[str] = []
        self.removed: list[str] = []

    def _config(self, fingerprint: dict[str, str | None]) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "campaign": self.campaign_id,
            "ledger": str(self.ledger_path.resolve()) if self.shared_ledger else None,
            "db": db_label(self.db),
            "constellation": self.constellation.model_dump(mode="json"),
            "inputs": self.paths.to_json(),
            "options": self.options.to_json(),
            "campaign_date": self.campaign_date.isoformat(),
            "model": self.model_info,
            "fingerprint": fingerprint,
        }

    def _open_run(
        self, store: Store, books: CampaignBooks, fingerprint: dict[str, str | None]
    ) -> None:
        """Start or reopen the run: check what changed, apply it (``--update``) or refuse."""
        run_file = self.run_dir / RUN_FILE
        capacities = [(s.supplier_id, s.capacity) for s in books.offers.suppliers]
        if self.resume:
            saved = read_run_config(self.run_dir)
            self.run_id = str(saved["run_id"])
            self.campaign_id = str(saved["campaign"])
            changed = [
                f"{kind} file {self.paths.to_json()[kind]} (its content differs)"
                for kind, digest in fingerprint.items()
                if saved.get("fingerprint", {}).get(kind) != digest
            ]
        else:
            if run_file.exists():
                raise ConfigError(
                    f"{str(self.run_dir)!r} already holds a run; finish it with --resume "
                    f"{self.run_dir} or choose a fresh --out"
                )
            self.run_id = uuid.uuid4().hex[:12]
            changed = []
        created = store.ensure_campaign(self.campaign_id)
        if not created:
            changed += [
                f"supplier {c.supplier_id!r} capacity {c.before} -> {c.after}"
                + (f" ({c.used} booked)" if c.used else "")
                for c in store.capacity_changes(self.campaign_id, capacities)
            ]
        if changed and not self.update:
            where = f"--resume {self.run_dir}" if self.resume else f"campaign {self.campaign_id!r}"
            raise ConfigError(
                f"{where}: the inputs differ from the ledger's: {'; '.join(changed)}; pass "
                "--update to process new registrations, release removed ones and apply "
                "capacity changes, or start a fresh run"
            )
        self.changes = changed
        if self.resume and self.update and changed:
            self._drop_withdrawn(store)
        store.set_suppliers(self.campaign_id, capacities)
        config = self._config(fingerprint)
        write_json_atomic(run_file, config)
        store.set_meta(self.campaign_id, f"run:{self.run_id}", config)

    def _drop_withdrawn(self, store: Store) -> None:
        """Release this run's decisions whose registrations left the file; renumber the rest."""
        ours = {
            rid
            for rid, run in store.decided_ids(self.campaign_id, final_only=False).items()
            if run == self.run_id
        }
        present: list[tuple[str, int]] = []
        for record in self._records():
            key = decision_key(record)
            if key in ours:
                present.append((key, record.record_index))
        store.renumber(self.campaign_id, present)
        gone = ours - {key for key, _ in present}
        store.remove(self.campaign_id, sorted(gone))
        self.removed = sorted(gone)

    def _records(self) -> Iterator[RegistrationRecord]:
        records = iter_registrations(self.paths.registrations)
        for count, record in enumerate(records):
            if self.options.max_items is not None and count >= self.options.max_items:
                return
            yield record

    def _pending(
        self, decided: dict[str, str], progress: _Progress
    ) -> Iterator[RegistrationRecord]:
        for record in self._records():
            progress.read += 1
            run_id = decided.get(decision_key(record))
            if run_id is None:
                yield record
            elif run_id != self.run_id:
                progress.elsewhere += 1
        progress.total = progress.read

    async def run(self, progress: Progress | None = None) -> RunResult:
        """Process every registration not yet decided and write all outputs."""
        wall_started = self.clock()
        load_started = self.clock()
        books = load_books(self.paths, parallel=self.options.parallel_loading)
        fingerprint = input_fingerprint(self.paths)
        load_s = self.clock() - load_started
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (
            RunLock(self.ledger_path, label=str(self.run_dir)),
            open_run_store(self.ledger_path, self.db) as store,
        ):
            self._open_run(store, books, fingerprint)
            return await self._execute(store, books, progress, wall_started, load_s)

    async def _execute(
        self,
        store: Store,
        books: CampaignBooks,
        callback: Progress | None,
        wall_started: float,
        load_s: float,
    ) -> RunResult:
        capacity = CapacityState(store, self.campaign_id, cache=self.options.capacity_cache)
        engine = RulesEngine(books.offers, books.incentives, self.campaign_date)
        agents = build_agents(self.constellation, self.client, self.options, self.prompt_dir)
        pipeline = Pipeline(
            self.constellation, engine, capacity, agents, self.options, clock=self.clock
        )
        decided = store.decided_ids(self.campaign_id)
        progress = _Progress(
            done=sum(1 for run in decided.values() if run == self.run_id), callback=callback
        )
        log = OutputLog(self.run_dir)
        log.open(
            (row.match_json, row.order_json)
            for row in store.output_rows(self.campaign_id, self.run_id)
            if row.status in FINAL_STATUSES
        )
        # A fresh run builds its final documents as it goes; a resume, from the ledger.
        live = LiveDocuments(self.run_dir) if log.rows == 0 else None

        def settled(batch: Sequence[Decision]) -> None:
            progress.advance(len(batch))

        def committed(batch: Sequence[Decision]) -> None:
            log.append(batch)
            if live is not None:
                live.add(batch)

        committer = GroupCommitter(
            store,
            self.campaign_id,
            self.run_id,
            capacity,
            batch_size=self.options.batch_size,
            max_delay_s=self.options.flush_interval_s,
            after_commit=committed,
            on_settled=settled,
            clock=self.clock,
        )
        if callback:
            callback(progress.done, None)
        pending = self._pending(decided, progress)
        del decided  # only the ledger keeps per-registration state from here on
        skip = frozenset(status.strip().casefold() for status in self.options.skip_status)

        async def worker() -> None:
            for record in pending:
                await decide(pipeline, committer, record, skip_status=skip, wait=False)

        workers = [asyncio.ensure_future(worker()) for _ in range(max(1, self.options.concurrency))]
        interrupted = False
        try:
            await asyncio.gather(*workers)
            await committer.close()
            if pipeline.fatal is not None:  # an audit call refused for good (401/403/404)
                raise pipeline.fatal
        except asyncio.CancelledError:
            interrupted = True
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await _stop(workers)
            await committer.close(abandon_waiting=True)
        except BaseException:
            await _stop(workers)
            with contextlib.suppress(Exception):
                await committer.close(abandon_waiting=True)
            log.close()
            if live is not None:
                live.discard()
            self._finish(store, committer, load_s, wall_started, progress)
            raise
        log.close()
        summary = self._finish(store, committer, load_s, wall_started, progress, log, live)
        if interrupted:
            total = progress.total if progress.total is not None else self._count_records()
            raise Interrupted(
                f"interrupted: {progress.done} of {total} done; continue with igent run "
                f"--resume {self.run_dir}"
            )
        return RunResult(self.run_dir, summary)

    def _count_records(self) -> int:
        return sum(1 for _ in self._records())

    def _finish(
        self,
        store: Store,
        committer: GroupCommitter,
        load_s: float,
        wall_started: float,
        progress: _Progress,
        log: OutputLog | None = None,
        live: LiveDocuments | None = None,
    ) -> dict[str, Any]:
        if (
            live is not None
            and log is not None
            and live.finish(log, store.run_rows(self.campaign_id, self.run_id))
        ):
            builder, files = live.builder, 4
        else:
            builder = SummaryBuilder()
            files = write_final_outputs(store, self.campaign_id, self.run_id, self.run_dir, builder)
        audits = write_audits(store, self.campaign_id, self.run_id, self.run_dir)
        rows = {s.supplier_id: (s.used, s.capacity) for s in store.suppliers(self.campaign_id)}
        write_capacity(self.run_dir, rows)
        booked = store.counts(self.campaign_id).booked_by_supplier
        oversold = {
            s: {"used": booked.get(s, 0), "capacity": cap}
            for s, (used, cap) in rows.items()
            if booked.get(s, 0) > cap or used > cap
        }
        statuses = dict(builder.statuses)
        wall_s = round(self.clock() - wall_started, 6)
        processed = committer.stats.decisions
        summary: dict[str, Any] = {
            "constellation": self.constellation.name,
            "model": self.model_info,
            "campaign": self.campaign_id,
            "run_id": self.run_id,
            "ledger": db_label(self.db) or str(self.ledger_path),
            "campaign_date": self.campaign_date.isoformat(),
            "options": self.options.to_json(),
            "registrations_in_file": progress.total,
            "registrations": progress.total,
            "results": builder.results,
            "matched": builder.statuses.get("matched", 0),
            "matched_by_supplier": dict(builder.matched_by_supplier),
            "statuses": statuses,
            "no_match_reasons": dict(builder.reasons),
            "failed": statuses.get("failed", 0) + statuses.get("unapproved", 0),
            "failure_reasons": dict(builder.failure_reasons),
            "answer_sources": dict(builder.sources),
            "skipped": statuses.get("skipped", 0),
            "decided_by_other_runs": progress.elsewhere,
            "accuracy": builder.accuracy(),
            "repairs": builder.repairs,
            "commit_repairs": builder.commit_repairs,
            # every billed call: the registrations' own and the audits beside them
            "cost_usd": round(builder.cost_usd + float(audits["cost_usd"]), 6),
            "timing": builder.timing(),
            "load_s": round(load_s, 6),
            "file_writes": 2 * committer.stats.transactions + 2,
            "output_files": files,
            "commits": {
                "transactions": committer.stats.transactions,
                "decisions": processed,
                "largest_batch": committer.stats.largest_batch,
                "commit_s": round(committer.stats.commit_s, 6),
            },
            "capacity_disk_reads": getattr(store, "disk_reads", 0),
            "capacity_oversold": oversold,
            "input_changes": self.changes,
            "removed_registrations": self.removed,
            "resumed_released": [],
            "audits": audits,
            "wall_s": wall_s,
            "throughput_per_min": round(processed / wall_s * 60, 2) if wall_s > 0 else 0.0,
        }
        write_json_atomic(self.run_dir / "summary.json", summary)
        return summary


async def _stop(workers: Sequence[asyncio.Future[None]]) -> None:
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """Read the configuration an earlier run saved in its run directory (for --resume)."""
    path = run_dir / RUN_FILE
    if not path.exists():
        raise ConfigError(f"--resume {str(run_dir)!r}: no {RUN_FILE} there; is it a run directory?")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--resume {str(run_dir)!r}: {RUN_FILE} cannot be read: {exc}") from exc
    if not isinstance(config, dict) or "run_id" not in config:
        raise ConfigError(f"--resume {str(run_dir)!r}: {RUN_FILE} holds no run configuration")
    return config


__all__ = ["RunResult", "Runner", "build_agents", "read_run_config", "to_row"]
