"""The simulator's configuration: latency profile, time scale, seed, prose and faults."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from igent.sim.faults import FaultConfig, Role
from igent.sim.profiles import PROFILES, LatencyProfile, get_profile

_NO_FAULTS = FaultConfig()


class SimConfig(BaseModel):
    """How the simulator behaves; the same config and seed give the same replies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str | LatencyProfile = Field(
        default="gpt-4o",
        description="Preset name or a custom profile, used when the request's "
        "model is not a preset name.",
    )
    time_scale: float = Field(default=1.0, ge=0, description="Multiplies every delay.")
    seed: int = Field(default=0, description="Seed of every random draw.")
    prose: bool = Field(default=True, description="Wrap answers in prose like chat models do.")
    faults: dict[Role, FaultConfig] = Field(default_factory=dict, description="Faults per role.")
    error_rate: float | None = Field(
        default=None, ge=0, le=1, description="Shortcut: the matcher's wrong-answer rate."
    )
    prompt_cache: bool = Field(
        default=True, description="Cache long prompt prefixes like OpenAI's prompt caching."
    )
    prompt_cache_entries: int = Field(
        default=8192, ge=1, description="Prefixes (128-token steps) the prompt cache keeps."
    )

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str | LatencyProfile) -> str | LatencyProfile:
        if isinstance(value, str):
            get_profile(value)
        return value

    def latency_profile(self, model: str | None = None) -> LatencyProfile:
        """Return the preset named by ``model`` when there is one, else the configured one."""
        if model is not None and model in PROFILES:
            return PROFILES[model]
        return get_profile(self.profile) if isinstance(self.profile, str) else self.profile

    def fault(self, role: Role) -> FaultConfig:
        """Return the fault config of ``role``, with ``error_rate`` applied to the matcher."""
        config = self.faults.get(role, _NO_FAULTS)
        if role == "matcher" and self.error_rate is not None:
            config = config.model_copy(update={"wrong_answer": self.error_rate})
        return config
