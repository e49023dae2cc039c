"""Issue 9: NDJSON and streamed JSON registrations give the same records and outputs as the
in-memory loader."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from igent.campaign.loader import load_registrations
from igent.errors import DataError
from igent.workflows import InputPaths, Runner, RunOptions, resolve_constellation
from igent.workflows.inputs import iter_registrations
from tests.reliability.runs import CAMPAIGN_DATE, make_campaign

OPTIONS = RunOptions(campaign_date=__import__("datetime").date.fromisoformat(CAMPAIGN_DATE))


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> InputPaths:
    """A campaign with invalid records and a repeated registration number."""
    paths = make_campaign(tmp_path_factory.mktemp("stream"), 60, scenario="overlap", seed=3)
    registrations = json.loads(paths.registrations.read_text())
    registrations[5]["Contact_Zip"] = ""  # invalid
    registrations.append(dict(registrations[0]))  # repeated number
    registrations.append("not an object")
    paths.registrations.write_text(json.dumps(registrations, indent=1))
    return paths


def as_ndjson(paths: InputPaths, directory: Path) -> InputPaths:
    registrations = json.loads(paths.registrations.read_text())
    target = directory / "registrations.ndjson"
    target.write_text("".join(json.dumps(r) + "\n" for r in registrations))
    return dataclasses.replace(paths, registrations=target)


def as_wrapped(paths: InputPaths, directory: Path) -> InputPaths:
    registrations = json.loads(paths.registrations.read_text())
    target = directory / "wrapped.json"
    target.write_text(json.dumps({"registrations": registrations}))
    return dataclasses.replace(paths, registrations=target)


def test_streamed_records_equal_the_in_memory_loader(campaign: InputPaths, tmp_path: Path) -> None:
    expected = load_registrations(campaign.registrations)

    for paths in (campaign, as_ndjson(campaign, tmp_path), as_wrapped(campaign, tmp_path)):
        streamed = list(iter_registrations(paths.registrations))
        assert streamed == expected, paths.registrations.name
    assert "repeats record #0" in (expected[-2].error or "")


def test_ndjson_and_streamed_json_runs_write_identical_outputs(
    campaign: InputPaths, tmp_path: Path
) -> None:
    outputs = []
    for name, paths in (
        ("json", campaign),
        ("ndjson", as_ndjson(campaign, tmp_path)),
        ("wrapped", as_wrapped(campaign, tmp_path)),
    ):
        run_dir = tmp_path / name
        asyncio.run(Runner(resolve_constellation("rules"), paths, OPTIONS, run_dir).run())
        outputs.append(
            [(run_dir / f).read_text() for f in ("matches.json", "pos.json", "capacity.json")]
        )

    assert outputs[0] == outputs[1] == outputs[2]
    matches = json.loads(outputs[0][0])
    assert len(matches) == 62
    assert matches[-2]["reason"] == "invalid_registration"


def test_a_broken_ndjson_line_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text('{"RegistrationNumber": "R1"}\n{not json\n')

    with pytest.raises(DataError, match="bad.ndjson: line 2"):
        list(iter_registrations(path))
