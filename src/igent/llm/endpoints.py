"""Model endpoints as data: built-in presets in ``endpoints.yaml``, merged with a user file."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from igent.errors import ConfigError

Provider = Literal["openai", "azure", "openai_compatible"]
PRESETS_SOURCE = "igent/llm/endpoints.yaml"
Tokens = Annotated[int, Field(ge=1)]


class Endpoint(BaseModel):
    """One OpenAI-compatible endpoint: where it is, which key it needs, what it costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    provider: Provider = "openai_compatible"
    base_url: str | None = Field(default=None, description="URL used when base_url_env is unset.")
    base_url_env: str | None = Field(default=None, description="Env var overriding base_url.")
    api_key_env: str | None = Field(
        default=None, description="Env var with the key; none = no key."
    )
    model: str
    api_version_env: str | None = Field(default=None, description="Azure API version env var.")
    api_version: str | None = Field(default=None, description="Azure API version fallback.")
    extra_params: dict[str, Any] = Field(default_factory=dict, description="Extra body params.")
    supports_json_schema: bool = False
    supports_stream_usage: bool = False
    price_input_per_1m: float = Field(default=0.0, ge=0)
    price_output_per_1m: float = Field(default=0.0, ge=0)
    price_cached_input_per_1m: float | None = Field(
        default=None, ge=0, description="Price of cached prompt tokens; unset = the input price."
    )
    max_concurrency: int | None = Field(default=None, ge=1, description="Calls in flight at most.")
    requests_per_minute: float | None = Field(default=None, gt=0, description="Request limit.")
    tokens_per_minute: float | None = Field(default=None, gt=0, description="Token limit.")
    timeout_s: float | None = Field(
        default=None, gt=0, description="Seconds one attempt may take; unset = the client default."
    )
    max_attempts: int | None = Field(
        default=None, ge=1, description="Attempts per call, retries included; unset = default."
    )
    context_window: int | None = Field(
        default=None, ge=1, description="Prompt plus output tokens the model accepts."
    )
    ttft_p90_s: float | None = Field(
        default=None, ge=0, description="Time to first token, 90th percentile: the hedge delay."
    )
    max_output_tokens: Tokens | dict[str, Tokens] | None = Field(
        default=None,
        description="Output token budget: one number, or per role (matcher, critic, pricer, ...).",
    )

    def output_budget(self, role: str | None = None) -> int | None:
        """Return the output token budget for ``role`` (or the endpoint's single one)."""
        budget = self.max_output_tokens
        if isinstance(budget, dict):
            return budget.get(role or "", budget.get("default"))
        return budget


class EndpointRegistry(BaseModel):
    """Endpoints by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoints: dict[str, Endpoint]

    @property
    def names(self) -> list[str]:
        """Known endpoint names, sorted."""
        return sorted(self.endpoints)

    def get(self, name: str) -> Endpoint:
        """Return the endpoint called ``name``.

        Raises:
            ConfigError: no endpoint has that name.
        """
        try:
            return self.endpoints[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self.names)
            raise ConfigError(f"unknown endpoint {name!r}; expected one of {known}") from None

    def resolve(self, spec: str) -> Endpoint:
        """Resolve ``"name"`` or ``"name:model"`` to an endpoint, overriding its model."""
        name, sep, model = spec.partition(":")
        endpoint = self.get(name.strip())
        if sep and model.strip():
            return endpoint.model_copy(update={"model": model.strip()})
        return endpoint


def parse_registry(
    text: str, source: str | Path, *, base: EndpointRegistry | None = None
) -> EndpointRegistry:
    """Parse registry YAML; entries are merged field by field over ``base`` when given.

    Raises:
        ConfigError: the YAML is malformed or an entry fails validation; the message
            names ``source`` and the field path.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"endpoint registry ({source}): invalid YAML: {exc}") from exc
    raw = {} if raw is None else raw
    if not isinstance(raw, dict) or not isinstance(raw.get("endpoints", {}), dict):
        raise ConfigError(
            f"endpoint registry ({source}): expected a mapping with an 'endpoints' mapping "
            f"of name -> fields, got {type(raw).__name__}"
        )
    extra = sorted(set(raw) - {"endpoints"})
    if extra:
        raise ConfigError(
            f"endpoint registry ({source}): {extra[0]}: unknown key; expected 'endpoints'"
        )
    merged: dict[str, Any] = {
        name: endpoint.model_dump(exclude_unset=True)
        for name, endpoint in (base.endpoints.items() if base else ())
    }
    for name, fields in (raw.get("endpoints") or {}).items():
        if not isinstance(fields, dict):
            raise ConfigError(
                f"endpoint registry ({source}): endpoints.{name}: expected a mapping of "
                f"fields, got {fields!r}"
            )
        merged[str(name)] = {**merged.get(str(name), {}), **fields, "name": str(name)}
    try:
        return EndpointRegistry.model_validate({"endpoints": merged})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from exc


def _describe(exc: ValidationError, source: str | Path) -> str:
    problems = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        problems.append(f"{path}: {error['msg']} (got {error.get('input')!r})")
    return f"endpoint registry ({source}): " + "; ".join(problems)


def load_presets() -> EndpointRegistry:
    """Return the built-in endpoints shipped with igent."""
    text = resources.files("igent.llm").joinpath("endpoints.yaml").read_text(encoding="utf-8")
    return parse_registry(text, PRESETS_SOURCE)


def load_registry(user_file: Path | None = None) -> EndpointRegistry:
    """Return the built-in endpoints, with ``user_file`` merged over them when given."""
    presets = load_presets()
    if user_file is None:
        return presets
    try:
        text = user_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"endpoint registry ({user_file}): cannot read file: {exc}") from exc
    return parse_registry(text, user_file, base=presets)


def resolve_endpoint(spec: str, registry: EndpointRegistry | None = None) -> Endpoint:
    """Resolve ``"name"`` or ``"name:model"`` (e.g. ``"openai:gpt-4o-mini"``)."""
    return (registry or load_presets()).resolve(spec)


def resolve_api_key(endpoint: Endpoint, env: Mapping[str, str]) -> str | None:
    """Return the endpoint's key from ``env``; None for endpoints that need no key.

    Raises:
        ConfigError: the endpoint needs a key and its variable is unset or empty.
    """
    if endpoint.api_key_env is None:
        return None
    key = env.get(endpoint.api_key_env, "").strip()
    if not key:
        raise ConfigError(
            f"no API key for endpoint {endpoint.name!r}: set {endpoint.api_key_env} "
            "or pass api_key= to OpenAICompatibleClient"
        )
    return key


def endpoint_secrets(registry: EndpointRegistry, env: Mapping[str, str]) -> tuple[str, ...]:
    """Return every key value configured in ``env`` for any endpoint of ``registry``.

    Redaction masks these exact values, so a key that does not look like ``sk-...`` (or a
    reply that echoes it) is still never written anywhere.
    """
    names = {e.api_key_env for e in registry.endpoints.values() if e.api_key_env}
    values = {env.get(name, "").strip() for name in names}
    return tuple(sorted(value for value in values if value))


def resolve_base_url(endpoint: Endpoint, env: Mapping[str, str]) -> str:
    """Return the base URL: the ``base_url_env`` variable when set, else ``base_url``.

    Raises:
        ConfigError: neither is available.
    """
    if endpoint.base_url_env and env.get(endpoint.base_url_env, "").strip():
        return env[endpoint.base_url_env].strip()
    if endpoint.base_url:
        return endpoint.base_url
    hint = f"set {endpoint.base_url_env} or " if endpoint.base_url_env else ""
    raise ConfigError(
        f"endpoint {endpoint.name!r} has no base URL: {hint}set base_url in the endpoint "
        "registry (for 'sim', pass the simulator's URL)"
    )


def resolve_api_version(endpoint: Endpoint, env: Mapping[str, str]) -> str:
    """Return the Azure API version from ``api_version_env`` or ``api_version``."""
    if endpoint.api_version_env and env.get(endpoint.api_version_env, "").strip():
        return env[endpoint.api_version_env].strip()
    if endpoint.api_version:
        return endpoint.api_version
    raise ConfigError(
        f"no API version for endpoint {endpoint.name!r}: set "
        f"{endpoint.api_version_env or 'api_version'} for this Azure endpoint"
    )
