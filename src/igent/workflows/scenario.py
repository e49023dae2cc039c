"""Scenario files: one YAML that ties a campaign's inputs and its outputs together.

```yaml
description: Minneapolis spring campaign
registrations: registrations/spring.json   # relative to this file
offers: offers/spring.json
incentives: incentives/spring.yaml         # optional
out: ../runs/spring                        # optional run directory
campaign_date: 2026-04-01                  # optional, for incentive validity
```
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from igent.errors import ConfigError


class ScenarioFile(BaseModel):
    """A scenario: input files, and optionally where runs go and the campaign date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    registrations: Path
    offers: Path
    incentives: Path | None = None
    out: Path | None = None
    campaign_date: dt.date | None = None

    def resolved(self, base: Path) -> ScenarioFile:
        """Return a copy whose relative paths are taken from ``base``."""

        def anchor(path: Path | None) -> Path | None:
            return None if path is None else (path if path.is_absolute() else base / path)

        return self.model_copy(
            update={
                "registrations": anchor(self.registrations),
                "offers": anchor(self.offers),
                "incentives": anchor(self.incentives),
                "out": anchor(self.out),
            }
        )


def parse_scenario(text: str, source: Path) -> ScenarioFile:
    """Parse scenario YAML; errors name the file and the field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"scenario file {source}: not valid YAML: {exc}") from exc
    try:
        scenario = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        detail = "field is missing" if err["type"] == "missing" else err["msg"]
        raise ConfigError(f"scenario file {source}: {where}: {detail}") from exc
    return scenario.resolved(source.parent)


def load_scenario(path: Path) -> ScenarioFile:
    """Read a scenario YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"scenario file {str(path)!r} cannot be read: {exc}") from exc
    return parse_scenario(text, path)
