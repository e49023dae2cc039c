"""Endpoint presets, user registries, name:model specs and key resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from igent.errors import ConfigError
from igent.llm import (
    load_presets,
    load_registry,
    parse_registry,
    resolve_api_key,
    resolve_base_url,
    resolve_endpoint,
)


def test_presets_cover_the_documented_endpoints() -> None:
    registry = load_presets()
    assert registry.names == sorted(
        ["azure", "deepseek", "llamacpp", "ollama", "openai", "sim", "vllm", "zhipu"]
    )
    sim = registry.get("sim")
    assert (sim.model, sim.api_key_env, sim.base_url) == ("gpt-4o", None, None)
    assert (sim.price_input_per_1m, sim.price_output_per_1m) == (2.5, 10.0)
    assert registry.get("zhipu").model == "glm-4.6"


def test_spec_with_model_overrides_the_default_model() -> None:
    assert resolve_endpoint("openai:gpt-4o-mini").model == "gpt-4o-mini"
    assert resolve_endpoint("openai").model == "gpt-4o"
    assert resolve_endpoint("ollama:qwen2.5:7b").model == "qwen2.5:7b"


def test_unknown_endpoint_lists_known_names() -> None:
    with pytest.raises(ConfigError, match=r"unknown endpoint 'zai'; expected one of 'azure', "):
        resolve_endpoint("zai:glm")


def test_missing_key_names_the_variable() -> None:
    endpoint = resolve_endpoint("deepseek")
    with pytest.raises(ConfigError) as info:
        resolve_api_key(endpoint, {})
    assert str(info.value) == (
        "no API key for endpoint 'deepseek': set DEEPSEEK_API_KEY "
        "or pass api_key= to OpenAICompatibleClient"
    )
    assert resolve_api_key(endpoint, {"DEEPSEEK_API_KEY": "k"}) == "k"
    assert resolve_api_key(resolve_endpoint("vllm"), {}) is None


def test_base_url_env_overrides_and_sim_needs_one() -> None:
    openai = resolve_endpoint("openai")
    assert resolve_base_url(openai, {}) == "https://api.openai.com/v1"
    assert resolve_base_url(openai, {"OPENAI_BASE_URL": "http://proxy/v1"}) == "http://proxy/v1"
    with pytest.raises(ConfigError, match="endpoint 'sim' has no base URL"):
        resolve_base_url(resolve_endpoint("sim"), {})


def test_user_file_merges_over_presets(tmp_path: Path) -> None:
    user = tmp_path / "endpoints.yaml"
    user.write_text(
        "endpoints:\n"
        "  zai:\n"
        "    base_url: https://api.z.ai/api/paas/v4/\n"
        "    api_key_env: ZAI_API_KEY\n"
        "    model: glm-4.6\n"
        "  sim:\n"
        "    base_url: http://127.0.0.1:9999/v1\n",
        encoding="utf-8",
    )
    registry = load_registry(user)

    assert registry.get("zai").api_key_env == "ZAI_API_KEY"
    assert registry.get("sim").base_url == "http://127.0.0.1:9999/v1"
    assert registry.get("sim").price_output_per_1m == 10.0
    with pytest.raises(ConfigError, match="set ZAI_API_KEY or pass api_key="):
        resolve_api_key(registry.get("zai"), {})


def test_validation_errors_name_file_and_field() -> None:
    text = "endpoints:\n  zai:\n    provider: zhipu\n    model: glm\n    colour: blue\n"
    with pytest.raises(ConfigError) as info:
        parse_registry(text, "my/endpoints.yaml")
    message = str(info.value)
    assert message.startswith("endpoint registry (my/endpoints.yaml): ")
    assert "endpoints.zai.provider: Input should be 'openai', 'azure' or 'openai_compatible'" in (
        message
    )
    assert "(got 'zhipu')" in message
    assert "endpoints.zai.colour: Extra inputs are not permitted" in message


def test_missing_model_and_bad_yaml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"endpoints\.x\.model: Field required"):
        parse_registry("endpoints:\n  x:\n    base_url: http://h\n", "f.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("endpoints: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml\): invalid YAML"):
        load_registry(bad)
    with pytest.raises(ConfigError, match=r"unknown key; expected 'endpoints'"):
        parse_registry("endpoint: {}\n", "f.yaml")


@pytest.mark.parametrize(
    ("name", "variable", "default"),
    [
        ("llamacpp", "LLAMACPP_BASE_URL", "http://127.0.0.1:8080/v1"),
        ("ollama", "OLLAMA_BASE_URL", "http://127.0.0.1:11434/v1"),
        ("vllm", "VLLM_BASE_URL", "http://127.0.0.1:8000/v1"),
    ],
)
def test_local_presets_read_their_base_url_variable(name, variable, default) -> None:
    endpoint = load_presets().get(name)
    assert resolve_base_url(endpoint, {}) == default
    assert resolve_base_url(endpoint, {variable: "http://127.0.0.1:8088/v1"}) == (
        "http://127.0.0.1:8088/v1"
    )


def test_registry_takes_limits_budgets_and_cached_prices() -> None:
    text = """
endpoints:
  llamacpp:
    model: gemma-3-270m
    timeout_s: 300
    max_attempts: 1
    max_concurrency: 1
    context_window: 8192
    ttft_p90_s: 2.5
    max_output_tokens: {matcher: 40, critic: 80, default: 200}
  tiny:
    base_url: http://127.0.0.1:9/v1
    model: tiny
    max_output_tokens: 64
    price_input_per_1m: 1.0
    price_cached_input_per_1m: 0.1
"""
    registry = parse_registry(text, "user.yaml", base=load_presets())
    local = registry.get("llamacpp")

    assert (local.timeout_s, local.max_attempts, local.max_concurrency) == (300, 1, 1)
    assert (local.context_window, local.ttft_p90_s) == (8192, 2.5)
    assert local.base_url_env == "LLAMACPP_BASE_URL"  # merged over the preset
    assert [local.output_budget(role) for role in ("matcher", "critic", "pricer")] == [40, 80, 200]
    tiny = registry.get("tiny")
    assert (tiny.output_budget("matcher"), tiny.output_budget()) == (64, 64)
    assert tiny.price_cached_input_per_1m == 0.1
    assert load_presets().get("openai").output_budget("matcher") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout_s", 0), ("max_attempts", 0), ("context_window", -1), ("max_output_tokens", 0)],
)
def test_registry_rejects_impossible_limits(field, value) -> None:
    text = f"endpoints:\n  x:\n    model: m\n    {field}: {value}\n"
    with pytest.raises(ConfigError, match=rf"user.yaml.*endpoints.x.{field}"):
        parse_registry(text, "user.yaml")
