"""Each optimisation switch changes behaviour observably, shown by counts, never by time."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from igent.campaign import loader
from igent.workflows import InputPaths, RunOptions, load_inputs
from tests.workflows.support import run_constellation

N = 50


def test_batched_writes_write_files_far_less_often_than_a_write_per_result(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    per_result = run_constellation(
        "rules", campaign50, tmp_path / "a", options=RunOptions(batch_size=1)
    )
    batched = run_constellation(
        "rules", campaign50, tmp_path / "b", options=RunOptions(batch_size=20, flush_interval_s=1e9)
    )

    # one ledger transaction and one append to matches.jsonl + pos.jsonl per batch (the last
    # one partial), then matches.json + pos.json assembled once at the end
    assert per_result["file_writes"] == 2 * N + 2
    assert per_result["commits"]["transactions"] == N
    assert batched["file_writes"] == 2 * -(-N // 20) + 2
    assert batched["commits"]["transactions"] == -(-N // 20)


def test_capacity_cache_reads_the_store_once_while_reload_reads_it_per_registration(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    cached = run_constellation("rules", campaign50, tmp_path / "a", options=RunOptions())
    reloaded = run_constellation(
        "rules", campaign50, tmp_path / "b", options=RunOptions(capacity_cache=False)
    )

    assert reloaded["capacity_disk_reads"] >= 2 * N
    assert cached["capacity_disk_reads"] <= 3


def test_early_extraction_stops_reading_streams_before_the_prose_ends(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    # Without structured output the simulator wraps its JSON in prose, as chat models do.
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("endpoints:\n  sim:\n    supports_json_schema: false\n")
    early = run_constellation(
        "p1m1_p2m2", campaign50, tmp_path / "a", options=RunOptions(), endpoints_file=endpoints
    )
    full = run_constellation(
        "p1m1_p2m2",
        campaign50,
        tmp_path / "b",
        options=RunOptions(early_extraction=False),
        endpoints_file=endpoints,
    )

    assert early["timing"]["early_stops"]["sum"] == early["timing"]["llm_calls"]["sum"] > 0
    assert full["timing"]["early_stops"]["sum"] == 0
    # the trailing prose after the JSON is never read, so fewer completion tokens arrive
    assert early["timing"]["completion_tokens"]["sum"] < full["timing"]["completion_tokens"]["sum"]


@pytest.mark.parametrize(
    ("policy", "critic_calls"), [("never", N), ("valid_json", 0), ("validated", 0)]
)
def test_critic_skip_policy_decides_how_many_critic_calls_are_made(
    policy: str, critic_calls: int, campaign50: InputPaths, tmp_path: Path
) -> None:
    summary = run_constellation(
        "p1m1m2c",
        campaign50,
        tmp_path,
        options=RunOptions(critic_skip=policy),  # type: ignore[arg-type]
    )

    assert summary["timing"]["critic_rounds"]["sum"] == critic_calls
    assert summary["timing"]["critic_skips"]["sum"] == N - critic_calls


def test_response_cache_answers_a_rerun_without_calling_the_model(
    campaign50: InputPaths, tmp_path: Path
) -> None:
    options = RunOptions(cache_mode="read-write")
    cache = tmp_path / "cache.sqlite"
    first = run_constellation(
        "p1m1_p2m2", campaign50, tmp_path / "a", options=options, cache_path=cache
    )
    second = run_constellation(
        "p1m1_p2m2", campaign50, tmp_path / "b", options=options, cache_path=cache
    )

    assert first["timing"]["cache_hits"]["sum"] == 0
    assert second["timing"]["cache_hits"]["sum"] == second["timing"]["llm_calls"]["sum"] > 0


@pytest.mark.parametrize("parallel", [True, False])
def test_parallel_loading_reads_the_three_files_on_worker_threads(
    parallel: bool, campaign50: InputPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    real = loader.load_offers

    def spy(path: Path):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        return real(path)

    monkeypatch.setattr("igent.workflows.inputs.load_offers", spy)
    inputs = load_inputs(campaign50, parallel=parallel)

    assert len(inputs.records) == N
    assert (threads == {threading.main_thread().name}) is not parallel
