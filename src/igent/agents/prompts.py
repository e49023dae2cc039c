"""System prompts per role and variant, shipped as package data; users may bring their own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from igent.errors import ConfigError

PromptName = Literal["matcher", "pricer", "critic_match", "critic_price"]
PROMPT_NAMES: tuple[PromptName, ...] = ("matcher", "pricer", "critic_match", "critic_price")
PREDECESSOR_VARIANT = "predecessor"
"""The matcher prompt as the predecessor sent it, for the ``prompt_diet`` off benchmark row."""


def load_prompt(name: PromptName, variant: str = "default", user_dir: Path | None = None) -> str:
    """Return the system prompt ``name`` of ``variant``; ``user_dir/variant/name.txt`` wins."""
    if user_dir is not None:
        custom = user_dir / variant / f"{name}.txt"
        if custom.exists():
            return custom.read_text(encoding="utf-8").strip()
    packaged = resources.files("igent.agents") / "prompts" / variant / f"{name}.txt"
    if not packaged.is_file():
        raise ConfigError(
            f"prompt {name!r} of variant {variant!r} not found; expected "
            f"{variant}/{name}.txt in the prompt directory or one of the built-in variants"
        )
    return packaged.read_text(encoding="utf-8").strip()
