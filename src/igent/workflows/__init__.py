"""Workflows: constellations, the runner, options, inputs and model selection."""

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
from igent.workflows.models import choose_model, mock_client, open_model
from igent.workflows.options import RunOptions
from igent.workflows.runner import Runner, RunResult, build_agents, read_run_config
from igent.workflows.session import (
    execute_run,
    model_settings,
    parse_campaign_date,
    select_inputs,
)

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
