"""Settings from IGENT_* environment variables; built once by the CLI and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    # The service (igent serve); see README "Service".
    data_dir: Path = Field(
        default=Path("igent-data"), description="Service data directory (default database)."
    )
    database_url: str | None = Field(
        default=None,
        description="Service database: postgresql://..., a SQLite path or sqlite:///PATH "
        "(default DATA_DIR/igent.db).",
    )
    broker_url: str | None = Field(
        default=None,
        description="Service batch uploads go to igent worker processes through this broker: "
        "redis://HOST:6379/0 or amqp://... (default: decided in the service process).",
    )
    broker_namespace: str = Field(
        default="igent", description="Redis key prefix of the broker (as igent worker's)."
    )
    host: str = Field(default="127.0.0.1", description="Service bind address.")
    port: int = Field(default=8000, ge=0, le=65535, description="Service port (0: any free port).")
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest request body the service accepts."
    )
    rate_limit_per_minute: int = Field(
        default=600, gt=0, description="Requests per minute allowed per API key (429 beyond)."
    )
    request_deadline_s: float = Field(
        default=30.0, gt=0, description="Deadline for a synchronous registration decision."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed by CORS (comma-separated in IGENT_CORS_ORIGINS; no '*').",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError(
                "IGENT_CORS_ORIGINS: '*' is not allowed; list the origins, e.g. "
                "https://campaign.example.org"
            )
        return value

    def database_target(self) -> str | Path:
        """Return the service database: a PostgreSQL URL as given, else the SQLite file."""
        url = self.database_url
        if url is not None and url.startswith(("postgresql://", "postgres://")):
            return url
        return self.database_path()

    def database_path(self) -> Path:
        """Return the SQLite file of the service database."""
        url = self.database_url
        if url is None:
            return self.data_dir / "igent.db"
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        if "://" in url:
            scheme = url.split("://", 1)[0]  # never the rest: it may hold a password
            raise ValueError(
                f"IGENT_DATABASE_URL with scheme {scheme!r}: not supported; use "
                "postgresql://USER@HOST/DB, a path or sqlite:///PATH"
            )
        return Path(url)
