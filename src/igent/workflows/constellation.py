"""Constellations: named arrangements of agents in phases, loaded from YAML."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from igent.errors import ConfigError

PhaseTask = Literal["match", "price"]
Answerer = Literal["llm", "rules"]
CriticKind = Literal["none", "llm", "validator", "both"]
SkipPolicy = Literal["never", "valid_json", "validated"]
Fallback = Literal["rules", "no_match", "last_answer"]


class PhaseSpec(BaseModel):
    """One phase: who answers, who checks, and what happens when checks keep failing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: PhaseTask = Field(description="match (phase 1) or price (phase 2).")
    answerer: Answerer = Field(default="llm", description="llm agent or the rules engine.")
    critic: CriticKind = Field(default="none", description="Who checks the answer.")
    skip_critic: SkipPolicy = Field(
        default="never",
        description="When the LLM critic is skipped: never; valid_json (the answer parsed); "
        "validated (the validator proved it right).",
    )
    max_turns: int = Field(default=3, ge=1, description="Answer/critique rounds at most.")
    repair_limit: int = Field(
        default=2, ge=0, description="Validator feedback rounds sent back to the answerer."
    )
    fallback: Fallback = Field(
        default="rules", description="Answer used when the checks still fail at the end."
    )
    audit: bool = Field(
        default=False, description="An LLM critic audits the answer off the critical path."
    )
    prompt_variant: str = Field(default="default", description="Prompt directory to use.")


class Constellation(BaseModel):
    """A named sequence of phases; ``group_chat`` shares one conversation across phases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    group_chat: bool = False
    phases: tuple[PhaseSpec, ...] = Field(min_length=1)

    def phase(self, task: PhaseTask) -> PhaseSpec:
        """Return the phase for ``task``; a constellation without a price phase uses rules."""
        for phase in self.phases:
            if phase.task == task:
                return phase
        return PhaseSpec(task=task, answerer="rules")

    @property
    def uses_llm(self) -> bool:
        """Return True when some phase calls a model."""
        return any(
            p.answerer == "llm" or p.critic in ("llm", "both") or p.audit for p in self.phases
        )


def _field_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def parse_constellation(text: str, source: str) -> Constellation:
    """Parse constellation YAML; errors name the file and the field path."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"constellation file {source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"constellation file {source}: expected a mapping at the top level")
    try:
        return Constellation.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = data.get("name", "?")
        where = _field_path(tuple(err["loc"]))
        detail = (
            "field is missing"
            if err["type"] == "missing"
            else f"{err['msg']} (got {err['input']!r:.60})"
        )
        raise ConfigError(f"constellation {name!r} ({source}): {where}: {detail}") from exc


def load_constellation(path: Path) -> Constellation:
    """Read a constellation YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"constellation file {str(path)!r} cannot be read: {exc}") from exc
    return parse_constellation(text, source=str(path))


def builtin_constellations() -> dict[str, Constellation]:
    """Return the constellations shipped with igent, by name."""
    folder = resources.files("igent.workflows") / "constellations"
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            constellation = parse_constellation(
                entry.read_text(encoding="utf-8"), source=f"constellations/{entry.name}"
            )
            found[constellation.name] = constellation
    return found


def resolve_constellation(name_or_path: str, user_dir: Path | None = None) -> Constellation:
    """Find a constellation by name (user directory first, then built-ins) or by file path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return load_constellation(candidate)
    if user_dir is not None and (user_dir / f"{name_or_path}.yaml").exists():
        return load_constellation(user_dir / f"{name_or_path}.yaml")
    builtins = builtin_constellations()
    if name_or_path in builtins:
        return builtins[name_or_path]
    raise ConfigError(
        f"constellation {name_or_path!r} is not known; expected one of "
        f"{', '.join(sorted(builtins))} or a path to a .yaml file"
    )
