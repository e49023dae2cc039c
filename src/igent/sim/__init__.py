"""A local, latency-faithful OpenAI-compatible model simulator that answers igent tasks.

Replies come from the rules engine, wrapped in prose, streamed at a provider-like pace, with
seeded faults (wrong answers, malformed JSON, 429/500, hangs, cut streams). See
docs/simulator.md.
"""

from igent.sim.config import SimConfig
from igent.sim.faults import FAULT_ORDER, FaultConfig, FaultKind, Role
from igent.sim.profiles import (
    PROFILES,
    IntendedLatency,
    LatencyProfile,
    get_profile,
    sample_latency,
)
from igent.sim.runner import SimServer, serve, start_sim_process
from igent.sim.server import create_sim_app

__all__ = [
    "FAULT_ORDER",
    "FaultConfig",
    "FaultKind",
    "IntendedLatency",
    "LatencyProfile",
    "PROFILES",
    "Role",
    "SimConfig",
    "SimServer",
    "create_sim_app",
    "get_profile",
    "sample_latency",
    "serve",
    "start_sim_process",
]
