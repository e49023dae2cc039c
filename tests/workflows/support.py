"""Run a constellation in-process for tests."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

from igent.campaign.loader import load_incentives, load_offers, load_registrations
from igent.rules import RulesEngine, RulesRun
from igent.workflows import InputPaths, Runner, RunOptions, open_model, resolve_constellation
from tests.workflows.conftest import CAMPAIGN_DATE


def run_constellation(
    name: str,
    paths: InputPaths,
    run_dir: Path,
    *,
    model: str = "sim:instant",
    sim_error_rate: float = 0.0,
    options: RunOptions | None = None,
    cache_path: Path | None = None,
    endpoints_file: Path | None = None,
) -> dict[str, Any]:
    """Run ``name`` over ``paths`` in ``run_dir`` and return its summary."""
    constellation = resolve_constellation(name)
    options = dataclasses.replace(
        options or RunOptions(), campaign_date=CAMPAIGN_DATE, transcripts=False
    )

    async def go(client: Any) -> dict[str, Any]:
        runner = Runner(constellation, paths, options, run_dir, client=client)
        try:
            return (await runner.run()).summary
        finally:
            if client is not None:
                await client.aclose()

    if not constellation.uses_llm:
        return asyncio.run(go(None))
    with open_model(
        model,
        time_scale=0.0,
        sim_error_rate=sim_error_rate,
        cache_mode=options.cache_mode,
        cache_path=cache_path,
        endpoints_file=endpoints_file,
    ) as client:
        return asyncio.run(go(client))


def rules_reference(paths: InputPaths) -> RulesRun:
    """The rules engine's sequential answer for the campaign."""
    engine = RulesEngine(
        load_offers(paths.offers), load_incentives(paths.incentives), CAMPAIGN_DATE
    )
    return engine.run(load_registrations(paths.registrations))


def read_outputs(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return matches.json and pos.json of a run."""
    matches = json.loads((run_dir / "matches.json").read_text())
    orders = json.loads((run_dir / "pos.json").read_text())
    return matches, orders
