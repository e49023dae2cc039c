"""``igent run`` / ``python -m igent.workflows``: run a constellation over a campaign."""

from __future__ import annotations

import cProfile
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
from igent.errors import ConfigError
from igent.settings import Settings
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

stdout = Console()
stderr = Console(stderr=True, soft_wrap=True)

Opt = typer.Option


def _options(
    baseline: bool, overrides: dict[str, Any], concurrency: int, max_items: int | None
) -> RunOptions:
    base = RunOptions.baseline() if baseline else RunOptions()
    values = {**base.to_json(), **{k: v for k, v in overrides.items() if v is not None}}
    values.update(concurrency=concurrency, max_items=max_items)
    return RunOptions.from_json(values)


def _progress_columns() -> tuple[Any, ...]:
    return (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )


def run_command(
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
    batch_size: Annotated[
        int | None, Opt(min=1, help="Flush outputs every N results (1 = write per result).")
    ] = None,
    flush_interval: Annotated[float | None, Opt(help="Also flush after this many seconds.")] = None,
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
    quiet: Annotated[bool, Opt(help="No progress bar.")] = False,
) -> None:
    """Run CONSTELLATION over the campaign and write results to the run directory."""
    settings = Settings()
    if critic_skip not in (None, "never", "valid_json", "validated"):
        raise ConfigError(f"--critic-skip {critic_skip!r}: expected never, valid_json or validated")
    if cache not in (None, "off", "read", "read-write"):
        raise ConfigError(f"--cache {cache!r}: expected off, read or read-write")
    if resume is not None:
        config = read_run_config(resume)
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
            {
                "parallel_loading": parallel_loading,
                "capacity_cache": capacity_cache,
                "batch_size": batch_size,
                "flush_interval_s": flush_interval,
                "early_extraction": early_extraction,
                "critic_skip": critic_skip,
                "cache_mode": cache,
                "skip_status": [s.strip() for s in skip_status.split(",")] if skip_status else None,
                "campaign_date": date.isoformat(),
                "timeout_s": timeout,
                "max_attempts": max_attempts,
                "deadline_s": deadline,
                "trust_model": trust_model or None,
                "hedge": hedge or None,
            },
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
    profiler = cProfile.Profile() if profile else None
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
        render_summary(stdout, summary, run_dir)
