"""Settings from IGENT_* environment variables; built once by the CLI and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """igent's configuration; every field reads ``IGENT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="IGENT_", extra="ignore")

    model: str | None = Field(
        default=None, description="Model: endpoint[:model], mock, sim or sim:PROFILE."
    )
    time_scale: float | None = Field(default=None, description="Simulator delay multiplier.")
    runs_dir: Path = Field(default=Path("runs"), description="Where run directories go.")
    endpoints_file: Path | None = Field(default=None, description="User endpoint registry YAML.")
    prompt_dir: Path | None = Field(default=None, description="User prompt directory.")
    constellation_dir: Path | None = Field(
        default=None, description="User constellation YAML directory."
    )
    cache_path: Path = Field(
        default=Path(".igent-cache.sqlite"), description="Response cache SQLite file."
    )
