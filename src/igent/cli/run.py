"""``igent run`` / ``python -m igent.workflows``: run a constellation over a campaign."""

from __future__ import annotations

import cProfile
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from igent.cli.options import (
    CampaignDateOpt,
    DataDirOpt,
    IncentivesOpt,
    ModelOpt,
    OffersOpt,
    RegistrationsOpt,
    ScenarioOpt,
    SeedOpt,
    SimErrorRateOpt,
    TimeScaleOpt,
)
from igent.cli.render import render_summary
from igent.errors import ConfigError, RegistrationsFailed
from igent.settings import Settings

if TYPE_CHECKING:
    from igent.workflows import RunOptions

stdout = Console()
stderr = Console(stderr=True, soft_wrap=True)

Opt = typer.Option


BATCH_HELP = (
    "Commit this many results per ledger transaction (also after --flush-interval seconds); "
    "1 = commit and write per result (the plan's 'before'). A registration is finished once "
    "its batch is committed: after kill -9 or a crash every committed batch survives and "
    "--resume redoes the rest; after a power loss or OS crash the last committed batches may "
    "be lost too (WAL, synchronous=NORMAL), never half a batch."
)


def _options(
    baseline: bool, overrides: dict[str, Any], concurrency: int, max_items: int | None
) -> RunOptions:
    from igent.workflows import RunOptions

    base = RunOptions.baseline() if baseline else RunOptions()
    values = {**base.to_json(), **{k: v for k, v in overrides.items() if v is not None}}
    values.update(concurrency=concurrency, max_items=max_items)
    return RunOptions.from_json(values)


def _progress_columns() -> tuple[Any, ...]:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )


# Flags that shape a run: given with --resume they must match what the run started with.
_OPTION_FLAGS = {
    "max_items": "max_items",
    "concurrency": "concurrency",
    "parallel_loading": "parallel_loading",
    "capacity_cache": "capacity_cache",
    "batch_size": "batch_size",
    "flush_interval": "flush_interval_s",
    "early_extraction": "early_extraction",
    "critic_skip": "critic_skip",
    "cache": "cache_mode",
    "skip_status": "skip_status",
    "campaign_date": "campaign_date",
    "timeout": "timeout_s",
    "max_attempts": "max_attempts",
    "deadline": "deadline_s",
    "trust_model": "trust_model",
    "hedge": "hedge",
    "structured_output": "structured_output",
    "field_stop": "field_stop",
    "prompt_diet": "prompt_diet",
    "prompt_order": "prompt_order",
}
_MODEL_FLAGS = {"model": "spec", "time_scale": "time_scale", "sim_error_rate": "sim_error_rate",
                "seed": "seed"}  # fmt: skip
_INPUT_FLAGS = ("data_dir", "scenario", "registrations", "offers", "incentives")


def _given(ctx: typer.Context) -> set[str]:
    """The parameters the user typed (not defaults)."""
    given = set()
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            given.add(name)
    return given


def _check_resume_flags(
    given: set[str],
    saved: dict[str, Any],
    fresh: dict[str, Any],
) -> None:
    """Refuse flags given with --resume that differ from the saved run."""
    differ: list[str] = []

    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    for name, key in _OPTION_FLAGS.items():
        if name in given and fresh["options"].get(key) != saved["options"].get(key):
            differ.append(f"{flag(name)} {fresh['options'].get(key)!r} (the run has "
                          f"{saved['options'].get(key)!r})")  # fmt: skip
    if "baseline" in given and fresh["options"] != saved["options"]:
        differ.append("--baseline (the run started with other switches)")
    for name, key in _MODEL_FLAGS.items():
        if name in given and fresh["model"].get(key) != saved["model"].get(key):
            differ.append(f"{flag(name)} {fresh['model'].get(key)!r} (the run has "
                          f"{saved['model'].get(key)!r})")  # fmt: skip
    if given & set(_INPUT_FLAGS) and fresh["inputs"] != saved["inputs"]:
        differ.append(f"input files {fresh['inputs']} (the run has {saved['inputs']})")
    if "constellation" in given and fresh["constellation"] != saved["constellation"]["name"]:
        differ.append(f"constellation {fresh['constellation']!r} (the run has "
                      f"{saved['constellation']['name']!r})")  # fmt: skip
    if "campaign" in given and fresh["campaign"] != saved.get("campaign"):
        differ.append(f"--campaign {fresh['campaign']!r} (the run has {saved.get('campaign')!r})")
    if "ledger" in given and fresh["ledger"] != saved.get("ledger"):
        differ.append(f"--ledger {fresh['ledger']} (the run has {saved.get('ledger')})")
    if differ:
        raise ConfigError(
            "--resume continues a run with the settings it started with; these flags differ: "
            + "; ".join(differ)
            + ". Drop them, or start a fresh run with --out"
        )


def run_command(
    ctx: typer.Context,
    constellation: Annotated[str, typer.Argument(help="Constellation name or YAML path.")] = "",
    max_items: Annotated[int | None, Opt(help="Process only the first N registrations.")] = None,
    data_dir: DataDirOpt = None,
    scenario: ScenarioOpt = None,
    registrations: RegistrationsOpt = None,
    offers: OffersOpt = None,
    incentives: IncentivesOpt = None,
    model: ModelOpt = None,
    concurrency: Annotated[int, Opt(min=1, help="Registrations processed at once.")] = 1,
    out: Annotated[Path | None, Opt(help="Run directory (default runs/NAME-TIME).")] = None,
    resume: Annotated[
        Path | None,
        Opt(
            help="Finish the interrupted run in this directory, with the settings it started with."
        ),
    ] = None,
    baseline: Annotated[bool, Opt(help="The plan's 'before' settings for every switch.")] = False,
    parallel_loading: Annotated[
        bool | None, Opt("--parallel-loading/--sequential-loading", help="Load files at once.")
    ] = None,
    capacity_cache: Annotated[
        bool | None,
        Opt("--capacity-cache/--capacity-reload", help="Keep capacity in memory or reread it."),
    ] = None,
    batch_size: Annotated[int | None, Opt(min=1, help=BATCH_HELP)] = None,
    flush_interval: Annotated[
        float | None, Opt(help="Commit a batch once its oldest result waited this many seconds.")
    ] = None,
    early_extraction: Annotated[
        bool | None,
        Opt("--early-extraction/--wait-full-reply", help="Stop reading once the JSON closes."),
    ] = None,
    critic_skip: Annotated[
        str | None, Opt(help="When to skip the LLM critic: never, valid_json, validated.")
    ] = None,
    cache: Annotated[str | None, Opt(help="Response cache: off, read, read-write.")] = None,
    time_scale: TimeScaleOpt = None,
    sim_error_rate: SimErrorRateOpt = 0.0,
    seed: SeedOpt = 0,
    skip_status: Annotated[
        str | None, Opt(help="Comma-separated RegistrationStatus values to leave out.")
    ] = None,
    campaign_date: CampaignDateOpt = None,
    profile: Annotated[Path | None, Opt(help="Write cProfile stats here (snakeviz).")] = None,
    prompt_dir: Annotated[Path | None, Opt(help="Your own prompt directory.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
    timeout: Annotated[
        float | None, Opt(min=0.001, help="Per model call, seconds (default: endpoint, else 60).")
    ] = None,
    max_attempts: Annotated[
        int | None, Opt(min=1, help="Attempts per model call (default: endpoint, else 4).")
    ] = None,
    deadline: Annotated[
        float | None,
        Opt(
            min=0.001,
            help="Per registration, seconds: then the rules answer (validator-gated "
            "constellations, source deadline_rules) or status failed.",
        ),
    ] = None,
    trust_model: Annotated[
        bool,
        Opt(
            help="Book the plan's constellations' answers without the validator check "
            "(benchmark baseline); a price of 0 or an ineligible supplier is still refused."
        ),
    ] = False,
    hedge: Annotated[
        bool,
        Opt(
            "--hedge/--no-hedge",
            help="Send a second request when no first token came by the endpoint's TTFT p90.",
        ),
    ] = False,
    structured_output: Annotated[
        bool | None,
        Opt(
            "--structured-output/--prompt-only-json",
            help="Send the answer's JSON schema where the endpoint supports it.",
        ),
    ] = None,
    field_stop: Annotated[
        bool | None,
        Opt(
            "--field-stop/--no-field-stop",
            help="Validator-gated matcher: stop reading once supplier_id is complete.",
        ),
    ] = None,
    prompt_diet: Annotated[
        bool | None,
        Opt(
            "--prompt-diet/--predecessor-prompt",
            help="Matcher gets candidate rows, not whole offers (the predecessor's prompt).",
        ),
    ] = None,
    prompt_order: Annotated[
        str | None,
        Opt(help="static-first (cacheable prefix, default) or registration-first."),
    ] = None,
    quiet: Annotated[bool, Opt(help="No progress bar.")] = False,
    timings: Annotated[bool, Opt(help="Also print the per-registration latency table.")] = False,
    campaign: Annotated[
        str | None, Opt(help="Campaign id in the ledger (default: the offers file name).")
    ] = None,
    ledger: Annotated[
        Path | None,
        Opt(
            help="Share this ledger file between runs of one campaign, so together they never "
            "book beyond capacity (default: each run directory has a ledger of its own)."
        ),
    ] = None,
    update: Annotated[
        bool,
        Opt(
            help="With --resume (or a shared --ledger): apply changed inputs: process new "
            "registrations, release removed ones, apply capacity changes."
        ),
    ] = False,
    workers: Annotated[
        bool,
        Opt(
            help="Queue the registrations for igent worker processes instead of deciding them "
            "here, and wait for their decisions (needs --db and --broker)."
        ),
    ] = False,
    db: Annotated[
        str | None,
        Opt(
            help="The ledger: postgresql://USER@HOST:PORT/DB books there (shared with other "
            "runs, the service and workers; outputs still go to the run directory; --resume "
            "needs it again), a SQLite path is the same as --ledger; with --workers the "
            "workers' shared ledger. [env IGENT_DATABASE_URL]"
        ),
    ] = None,
    broker: Annotated[
        str | None,
        Opt(help="With --workers: redis://... or amqp://... [env IGENT_BROKER_URL]"),
    ] = None,
) -> None:
    """Run CONSTELLATION over the campaign and write results to the run directory."""
    if workers or broker:  # scale-out: the workers decide (docs/deployment.md)
        from igent.cli.worker import enqueue_campaign_files

        return enqueue_campaign_files(
            constellation or "rules",
            db=db,
            broker=broker,
            campaign=campaign,
            inputs=(data_dir, scenario, registrations, offers, incentives),
            model=model,
            campaign_date=campaign_date,
            skip_status=skip_status,
        )
    from igent.workflows import (
        Constellation,
        InputPaths,
        RunOptions,
        execute_run,
        model_settings,
        parse_campaign_date,
        read_run_config,
        resolve_constellation,
        select_inputs,
    )

    settings = Settings()
    given = _given(ctx)
    pg_db, ledger = _ledger_target(db or settings.database_url, ledger)
    if critic_skip not in (None, "never", "valid_json", "validated"):
        raise ConfigError(f"--critic-skip {critic_skip!r}: expected never, valid_json or validated")
    if cache not in (None, "off", "read", "read-write"):
        raise ConfigError(f"--cache {cache!r}: expected off, read or read-write")
    if prompt_order not in (None, "static-first", "registration-first"):
        raise ConfigError(
            f"--prompt-order {prompt_order!r}: expected static-first or registration-first"
        )
    # one set of switch values, for a fresh run and for checking a resume's flags against
    overrides: dict[str, Any] = {
        "parallel_loading": parallel_loading,
        "capacity_cache": capacity_cache,
        "batch_size": batch_size,
        "flush_interval_s": flush_interval,
        "early_extraction": early_extraction,
        "critic_skip": critic_skip,
        "cache_mode": cache,
        "skip_status": [s.strip() for s in skip_status.split(",")] if skip_status else None,
        "timeout_s": timeout,
        "max_attempts": max_attempts,
        "deadline_s": deadline,
        "trust_model": trust_model or None,
        "hedge": hedge or None,
        "structured_output": structured_output,
        "field_stop": field_stop,
        "prompt_diet": prompt_diet,
        "prompt_order": prompt_order,
    }
    if resume is not None:
        config = read_run_config(resume)
        if given - {"resume", "update", "quiet", "as_json", "profile", "timings", "prompt_dir"}:
            _check_resume_flags(
                given,
                config,
                _fresh_config(
                    constellation or config["constellation"]["name"],
                    settings,
                    select_inputs(data_dir, scenario, registrations, offers, incentives)[0]
                    if given & set(_INPUT_FLAGS)
                    else InputPaths.from_json(config["inputs"]),
                    campaign_date,
                    baseline,
                    overrides,
                    concurrency,
                    max_items,
                    (model, time_scale, sim_error_rate, seed),
                    campaign,
                    ledger,
                ),
            )
        chosen = Constellation.model_validate(config["constellation"])
        paths = InputPaths.from_json(config["inputs"])
        options = RunOptions.from_json(config["options"])
        model_info = config["model"]
        run_dir = resume
        source = f"resume of {resume}"
    else:
        if not constellation:
            raise ConfigError("name a constellation, e.g. p1m1m2c (see: igent constellations list)")
        chosen = resolve_constellation(constellation, settings.constellation_dir)
        paths, source, scenario_file = select_inputs(
            data_dir, scenario, registrations, offers, incentives
        )
        date = parse_campaign_date(campaign_date)
        if date is None and scenario_file is not None:
            date = scenario_file.campaign_date
        date = date or dt.date.today()
        options = _options(
            baseline,
            {**overrides, "campaign_date": date.isoformat()},
            concurrency,
            max_items,
        )
        model_info, note = model_settings(
            chosen,
            model or settings.model,
            time_scale if time_scale is not None else settings.time_scale,
            sim_error_rate,
            seed,
        )
        if note:
            stderr.print(f"[yellow]note:[/] {note}")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        scenario_out = scenario_file.out if scenario_file is not None else None
        run_dir = (
            out or (scenario_out or settings.runs_dir) / f"{chosen.name}-{stamp}-{os.getpid()}"
        )
    stderr.print(f"igent: {chosen.name} on {source} -> {run_dir}")
    if resume is None and ledger is None and pg_db is None:
        stderr.print(
            "note: this run directory is its own capacity ledger; runs in other directories do "
            "not see its bookings (share one with --ledger PATH)"
        )
    profiler = cProfile.Profile() if profile else None
    from rich.progress import Progress

    try:
        if profiler:
            profiler.enable()
        with Progress(*_progress_columns(), console=stderr, disable=quiet) as bar:
            task_id = bar.add_task(chosen.name, total=None)
            result = execute_run(
                chosen,
                paths,
                options,
                run_dir,
                model_info,
                endpoints_file=settings.endpoints_file,
                cache_path=settings.cache_path,
                prompt_dir=prompt_dir or settings.prompt_dir,
                progress=lambda done, total: bar.update(task_id, completed=done, total=total),
                resume=resume is not None,
                update=update,
                ledger=ledger,
                campaign=campaign,
                db=pg_db,
            )
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
            stderr.print(f"profile written to {profile} (view: snakeviz {profile})")
    summary = result.summary
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    else:
        render_summary(stdout, summary, run_dir, timings=timings)
    failed = int(summary.get("failed", 0))
    if failed:
        reasons = ", ".join(
            f"{count} {reason}" for reason, count in sorted(summary["failure_reasons"].items())
        )
        raise RegistrationsFailed(
            f"{failed} registrations failed: {reasons or 'see matches.json'}; retry with "
            f"igent run --resume {run_dir}"
        )


def _ledger_target(db: str | None, ledger: Path | None) -> tuple[str | None, Path | None]:
    """Split ``--db`` into a PostgreSQL URL or a SQLite ledger file (as ``--ledger``)."""
    from igent.store.backend import is_postgres_url, sqlite_path

    if db is None:
        return None, ledger
    if ledger is not None:
        raise ConfigError(
            f"--ledger {str(ledger)!r} and --db (or IGENT_DATABASE_URL) both name the ledger; "
            "give one of them"
        )
    if is_postgres_url(db):
        return db, None
    return None, sqlite_path(db)


def _fresh_config(
    constellation: str,
    settings: Settings,
    paths: Any,
    campaign_date: str | None,
    baseline: bool,
    overrides: dict[str, Any],
    concurrency: int,
    max_items: int | None,
    model: tuple[str | None, float | None, float, int],
    campaign: str | None,
    ledger: Path | None,
) -> dict[str, Any]:
    """What a fresh run with these flags would save (to compare with a resumed run)."""
    from igent.workflows import model_settings, parse_campaign_date, resolve_constellation

    chosen = resolve_constellation(constellation, settings.constellation_dir)
    date = parse_campaign_date(campaign_date)
    options = _options(
        baseline,
        {**overrides, "campaign_date": date.isoformat() if date else None},
        concurrency,
        max_items,
    )
    spec, time_scale, sim_error_rate, seed = model
    model_info, _ = model_settings(
        chosen,
        spec or settings.model,
        time_scale if time_scale is not None else settings.time_scale,
        sim_error_rate,
        seed,
    )
    return {
        "constellation": chosen.name,
        "inputs": paths.to_json(),
        "options": options.to_json(),
        "model": model_info,
        "campaign": campaign or paths.offers.stem,
        "ledger": str(ledger.resolve()) if ledger else None,
    }
