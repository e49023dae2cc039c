"""Option declarations shared by several commands (run, eval, bench)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

Opt = typer.Option

RegistrationsOpt = Annotated[Path | None, Opt(help="Registrations JSON file.")]
OffersOpt = Annotated[Path | None, Opt(help="Offers JSON file.")]
IncentivesOpt = Annotated[Path | None, Opt(help="Incentives YAML/JSON file.")]
DataDirOpt = Annotated[Path | None, Opt(help="Data directory (with --scenario).")]
ScenarioOpt = Annotated[str | None, Opt(help="Scenario name: D/registrations/S.json ...")]
ModelOpt = Annotated[
    str | None,
    Opt(help="endpoint[:model] from the registry, mock, sim or sim:PROFILE. [env IGENT_MODEL]"),
]
TimeScaleOpt = Annotated[
    float | None, Opt(help="Simulator delay multiplier. [env IGENT_TIME_SCALE]")
]
SimErrorRateOpt = Annotated[float, Opt(help="Share of wrong matcher answers (sim/mock).")]
SeedOpt = Annotated[int, Opt(help="Simulator / mock seed.")]
CampaignDateOpt = Annotated[
    str | None, Opt(help="Date for incentive validity, YYYY-MM-DD (default today).")
]

# Choices are Literal types so that a bad value is a usage error (exit 2) naming the choices.
CriticSkipOpt = Annotated[
    Literal["never", "valid_json", "validated"] | None,
    Opt(help="When to skip the LLM critic: never, valid_json, validated."),
]
CacheOpt = Annotated[
    Literal["off", "read", "read-write"] | None, Opt(help="Response cache: off, read, read-write.")
]
