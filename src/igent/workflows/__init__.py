"""Workflows: constellations, the runner, options, inputs and model selection.

`mock_client` and `open_model` load the LLM clients and the simulator: they are imported on
first use, so a rules-only run never loads them.
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from igent.workflows.constellation import (
    Constellation,
    PhaseSpec,
    builtin_constellations,
    load_constellation,
    parse_constellation,
    resolve_constellation,
)
from igent.workflows.decide import decide, decision_key, to_decision
from igent.workflows.inputs import (
    InputPaths,
    RunInputs,
    demo_input_paths,
    input_fingerprint,
    iter_registrations,
    load_inputs,
)
from igent.workflows.model_choice import choose_model
from igent.workflows.options import RunOptions
from igent.workflows.runner import Runner, RunResult, build_agents, read_run_config
from igent.workflows.session import (
    execute_run,
    model_settings,
    parse_campaign_date,
    select_inputs,
)

if _TYPE_CHECKING:
    from igent.workflows.models import mock_client, open_model


def __getattr__(name: str) -> _Any:
    """Load `mock_client` and `open_model` (the LLM stack) on first use."""
    if name not in ("mock_client", "open_model"):
        raise AttributeError(f"module 'igent.workflows' has no attribute {name!r}")
    value = getattr(_importlib.import_module("igent.workflows.models"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the loaded names and the lazy ones."""
    return sorted({*globals(), "mock_client", "open_model"})


__all__ = [
    "Constellation",
    "InputPaths",
    "PhaseSpec",
    "RunInputs",
    "RunOptions",
    "RunResult",
    "Runner",
    "build_agents",
    "builtin_constellations",
    "choose_model",
    "decide",
    "decision_key",
    "demo_input_paths",
    "execute_run",
    "input_fingerprint",
    "iter_registrations",
    "load_constellation",
    "load_inputs",
    "mock_client",
    "model_settings",
    "open_model",
    "parse_campaign_date",
    "parse_constellation",
    "read_run_config",
    "resolve_constellation",
    "select_inputs",
    "to_decision",
]
