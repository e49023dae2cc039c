"""Fixtures for workflow tests: generated campaigns on disk and a fast simulator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from igent.campaign.generator import generate_campaign, write_campaign
from igent.sim import SimConfig, SimServer
from igent.workflows import InputPaths

CAMPAIGN_DATE = dt.date(2026, 6, 1)


def make_campaign(
    directory: Path, *, registrations: int, suppliers: int, scenario: str, seed: int
) -> InputPaths:
    """Write a generated campaign under ``directory`` and return its paths."""
    campaign = generate_campaign(
        num_registrations=registrations,
        num_suppliers=suppliers,
        scenario=scenario,  # type: ignore[arg-type]
        seed=seed,
    )
    written = write_campaign(campaign, directory, scenario)
    return InputPaths(written["registrations"], written["offers"], written["incentives"])


@pytest.fixture(scope="session")
def campaign50(tmp_path_factory: pytest.TempPathFactory) -> InputPaths:
    """A 50-registration campaign with shared ZIPs, batteries, loans and LMI."""
    return make_campaign(
        tmp_path_factory.mktemp("c50"), registrations=50, suppliers=4, scenario="overlap", seed=11
    )


@pytest.fixture(scope="session")
def scarce_campaign(tmp_path_factory: pytest.TempPathFactory) -> InputPaths:
    """More registrations than total capacity, so suppliers fill up."""
    return make_campaign(
        tmp_path_factory.mktemp("scarce"), registrations=40, suppliers=3, scenario="scarce", seed=5
    )


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    """A simulator with no delays and no faults, shared by the session."""
    with SimServer(SimConfig(profile="instant", time_scale=0.0)) as server:
        yield server.base_url
