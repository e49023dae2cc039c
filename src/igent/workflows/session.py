"""One run from start to finish: pick inputs and model, open the client, run, close."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from igent.errors import ConfigError
from igent.workflows.constellation import Constellation
from igent.workflows.inputs import InputPaths, demo_input_paths
from igent.workflows.model_choice import choose_model
from igent.workflows.options import RunOptions
from igent.workflows.runner import Progress, Runner, RunResult
from igent.workflows.scenario import ScenarioFile, load_scenario

if TYPE_CHECKING:
    from igent.llm import ChatClient


def select_inputs(
    data_dir: Path | None,
    scenario: str | None,
    registrations: Path | None,
    offers: Path | None,
    incentives: Path | None,
) -> tuple[InputPaths, str, ScenarioFile | None]:
    """Pick the campaign files from CLI options (the bundled demo when none are given).

    ``--scenario`` may name a scenario YAML file, or, with ``--data-dir D``, a scenario S found
    as ``D/scenarios/S.yaml`` or by the convention ``D/registrations/S.json`` etc. Returns the
    paths, a phrase describing them for progress output, and the scenario file if one was used.
    """
    if scenario is not None and scenario.endswith((".yaml", ".yml")) and data_dir is None:
        found = load_scenario(Path(scenario))
        return _paths_of(found), f"scenario file {scenario}", found
    if data_dir is not None or scenario is not None:
        if data_dir is None or scenario is None:
            raise ConfigError("--data-dir and --scenario go together: D/registrations/S.json ...")
        scenario_file = data_dir / "scenarios" / f"{scenario}.yaml"
        if scenario_file.exists():
            found = load_scenario(scenario_file)
            return _paths_of(found), f"scenario file {scenario_file}", found
        paths = InputPaths.from_data_dir(data_dir, scenario)
        return paths, f"scenario {scenario!r} in {data_dir}", None
    if registrations is None and offers is None:
        return demo_input_paths(), "the bundled demo campaign", None
    if registrations is None or offers is None:
        raise ConfigError("--registrations and --offers go together (--incentives is optional)")
    return InputPaths(registrations, offers, incentives), str(registrations), None


def _paths_of(scenario: ScenarioFile) -> InputPaths:
    return InputPaths(scenario.registrations, scenario.offers, scenario.incentives)


def parse_campaign_date(text: str | None) -> dt.date | None:
    """Read ``--campaign-date``; a bad date is a ConfigError naming the option."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--campaign-date {text!r} is not a date; expected YYYY-MM-DD, e.g. 2026-06-01"
        ) from None


def model_settings(
    constellation: Constellation,
    model: str | None,
    time_scale: float | None,
    sim_error_rate: float = 0.0,
    seed: int = 0,
) -> tuple[dict[str, Any], str]:
    """Return the model settings a run stores (for --resume) and a note about defaults."""
    choice = choose_model(model, time_scale)
    settings = {
        "spec": choice.spec if constellation.uses_llm else None,
        "time_scale": choice.time_scale,
        "sim_error_rate": sim_error_rate,
        "seed": seed,
    }
    return settings, choice.note if constellation.uses_llm else ""


async def _run(runner: Runner, client: ChatClient | None, progress: Progress | None) -> RunResult:
    try:
        return await runner.run(progress)
    finally:
        if client is not None:
            await client.aclose()


def execute_run(
    constellation: Constellation,
    paths: InputPaths,
    options: RunOptions,
    run_dir: Path,
    model: Mapping[str, Any],
    *,
    endpoints_file: Path | None = None,
    cache_path: Path | None = None,
    prompt_dir: Path | None = None,
    progress: Progress | None = None,
    resume: bool = False,
    update: bool = False,
    ledger: Path | None = None,
    campaign: str | None = None,
    db: str | None = None,
) -> RunResult:
    """Open the model in ``model`` (when the constellation needs one), run, and close it."""
    spec = model.get("spec")
    ledger_options: dict[str, Any] = {
        "resume": resume,
        "update": update,
        "ledger": ledger,
        "campaign": campaign,
        "db": db,
    }
    if not spec:
        runner = Runner(
            constellation, paths, options, run_dir, model_info=dict(model), **ledger_options
        )
        return asyncio.run(_run(runner, None, progress))
    from igent.workflows.models import open_model  # the LLM stack: only when a model is used

    with open_model(
        str(spec),
        time_scale=float(model.get("time_scale", 1.0)),
        sim_error_rate=float(model.get("sim_error_rate", 0.0)),
        seed=int(model.get("seed", 0)),
        endpoints_file=endpoints_file,
        cache_mode=options.cache_mode,
        cache_path=cache_path,
        transcript_path=run_dir / "transcripts.jsonl" if options.transcripts else None,
        timeout_s=options.timeout_s,
        max_attempts=options.max_attempts,
        hedge=options.hedge,
    ) as client:
        runner = Runner(
            constellation,
            paths,
            options,
            run_dir,
            client=client,
            model_info=dict(model),
            prompt_dir=prompt_dir,
            **ledger_options,
        )
        return asyncio.run(_run(runner, client, progress))
