"""The igent command line, end to end: outputs, errors and the plan's quickstart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from igent.campaign import demo_campaign_paths
from igent.cli import app
from igent.cli.errors import run_guarded

SENTINEL_KEY = "sk-SENTINEL-0123456789abcdef0123"


def igent(*args: str) -> int:
    """Run the igent CLI in-process and return its exit status."""
    return run_guarded(app, list(args))


def test_quickstart_runs_p1m1m2c_offline_with_no_key_and_no_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IGENT_", "OPENAI_"))}
    env["IGENT_RUNS_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "igent.workflows", "p1m1m2c", "--max-items", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "local simulator in-process" in done.stderr
    (run_dir,) = tmp_path.iterdir()
    matches = json.loads((run_dir / "matches.json").read_text())
    assert len(matches) == 5
    assert "accuracy vs rules engine" in done.stdout
    for name in ("pos.json", "timings.csv", "summary.json", "transcripts.jsonl", "ledger.sqlite"):
        assert (run_dir / name).exists(), name


def test_rules_run_writes_matches_pos_and_capacity(tmp_path: Path) -> None:
    demo = demo_campaign_paths()
    status = igent(
        "run", "rules", "--registrations", str(demo["registrations"]),
        "--offers", str(demo["offers"]), "--incentives", str(demo["incentives"]),
        "--max-items", "20", "--out", str(tmp_path), "--quiet", "--campaign-date", "2026-06-01",
    )  # fmt: skip

    assert status == 0
    matches = json.loads((tmp_path / "matches.json").read_text())
    orders = json.loads((tmp_path / "pos.json").read_text())
    capacity = json.loads((tmp_path / "capacity.json").read_text())
    assert len(matches) == 20
    assert {"registration_id", "supplier_id", "status", "reason"} <= set(matches[0])
    matched = [m for m in matches if m["status"] == "matched"]
    assert len(orders) == len(matched) > 0
    assert {
        "registration_id", "supplier_id", "num_panels", "num_batteries", "payment_type",
        "solar_price", "battery_price", "total_price", "incentives", "net_price",
    } <= set(orders[0])  # fmt: skip
    assert sum(row["used"] for row in capacity.values()) == len(matched)


def test_malformed_offers_file_stops_before_any_work_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = demo_campaign_paths()
    offers = json.loads(demo["offers"].read_text())
    offers["SupplierOffers"][1]["Capacity"] = "lots"
    bad = tmp_path / "offers.json"
    bad.write_text(json.dumps(offers))
    out = tmp_path / "run"

    status = igent(
        "run", "rules", "--registrations", str(demo["registrations"]), "--offers", str(bad),
        "--out", str(out), "--quiet",
    )  # fmt: skip

    assert status == 1
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("error: ")
    assert str(bad) in err and "SupplierOffers[1]" in err and "Capacity" in err
    assert not (out / "matches.json").exists()


def test_unknown_constellation_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert igent("run", "p9x", "--quiet") == 1
    err = capsys.readouterr().err
    assert "'p9x' is not known" in err and "p1m1m2c" in err and "p1r_audit" in err


def test_missing_api_key_names_the_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = igent(
        "run", "p1m1_p2m2", "--model", "openai:gpt-4o", "--out", str(tmp_path), "--quiet"
    )

    assert status == 1
    assert "OPENAI_API_KEY" in capsys.readouterr().err


def test_an_unreachable_endpoint_error_never_shows_the_api_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there

    status = igent(
        "run", "p1m1v_p2r", "--model", "openai:gpt-4o", "--max-items", "2",
        "--out", str(tmp_path), "--quiet",
    )  # fmt: skip

    captured = capsys.readouterr()
    assert SENTINEL_KEY not in captured.err + captured.out
    transcript = tmp_path / "transcripts.jsonl"
    if transcript.exists():
        assert SENTINEL_KEY not in transcript.read_text()
    # the validator-gated constellation falls back to the rules when the model is unreachable
    assert status == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["accuracy"]["final_supplier"] == 1.0


def test_skip_status_reports_left_out_registrations(tmp_path: Path) -> None:
    demo = demo_campaign_paths()
    registrations = json.loads(demo["registrations"].read_text())
    declined = {
        r["RegistrationNumber"] for r in registrations if r["RegistrationStatus"] == "Declined"
    }
    assert declined, "the demo campaign should hold a declined registration"

    status = igent(
        "run", "rules", "--skip-status", "Cancelled,Declined", "--out", str(tmp_path), "--quiet"
    )
    assert status == 0

    matches = json.loads((tmp_path / "matches.json").read_text())
    assert len(matches) == len(registrations)
    assert {m["registration_id"] for m in matches if m["status"] == "skipped"} == declined
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["skipped"] == len(declined)


def test_constellations_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert igent("constellations", "list") == 0
    listed = capsys.readouterr().out
    for name in ("p1m1m2c", "p1m1_p2m2", "p1m1c1_p2m2c2", "p1m1c1m2c2", "p1m1v_p2r", "p1r_audit"):
        assert name in listed

    assert igent("constellations", "show", "p1m1m2c") == 0
    shown = capsys.readouterr().out
    assert "name: p1m1m2c" in shown and "critic: llm" in shown


def test_capacity_show_and_reset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert igent("run", "rules", "--out", str(tmp_path), "--quiet") == 0
    capsys.readouterr()

    assert igent("capacity", "show", str(tmp_path), "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == json.loads((tmp_path / "capacity.json").read_text())

    assert igent("capacity", "reset", str(tmp_path), "--yes") == 0
    capsys.readouterr()
    assert igent("capacity", "show", str(tmp_path), "--json") == 0
    assert all(row["used"] == 0 for row in json.loads(capsys.readouterr().out).values())


def test_data_generate_writes_the_data_dir_convention(tmp_path: Path) -> None:
    status = igent(
        "data", "generate", "--out", str(tmp_path), "--name", "s1",
        "--registrations", "12", "--scenario", "diverse",
    )  # fmt: skip

    assert status == 0
    for kind, ext in (("registrations", "json"), ("offers", "json"), ("incentives", "yaml")):
        assert (tmp_path / kind / f"s1.{ext}").exists()
    assert igent("run", "rules", "--data-dir", str(tmp_path), "--scenario", "s1",
                 "--out", str(tmp_path / "run"), "--quiet") == 0  # fmt: skip
    assert len(json.loads((tmp_path / "run" / "matches.json").read_text())) == 12


def test_sim_serve_prints_its_base_url_and_answers_the_plain_openai_sdk() -> None:
    import openai

    server = subprocess.Popen(
        [sys.executable, "-m", "igent.cli", "sim", "serve", "--profile", "gpt-4o",
         "--time-scale", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        with openai.OpenAI(base_url=base_url, api_key="sim", max_retries=0) as client:
            reply = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hello"}]
            )
        assert "igent simulator" in (reply.choices[0].message.content or "")
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_scenario_file_ties_inputs_outputs_and_campaign_date(tmp_path: Path) -> None:
    assert igent("data", "generate", "--out", str(tmp_path), "--name", "spring",
                 "--registrations", "6") == 0  # fmt: skip
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "spring.yaml").write_text(
        "description: spring campaign\n"
        "registrations: ../registrations/spring.json\n"
        "offers: ../offers/spring.json\n"
        "incentives: ../incentives/spring.yaml\n"
        "out: ../runs\n"
        "campaign_date: 2026-04-01\n"
    )

    assert (
        igent("run", "rules", "--data-dir", str(tmp_path), "--scenario", "spring", "--quiet") == 0
    )

    (run_dir,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["registrations"] == 6
    assert summary["campaign_date"] == "2026-04-01"


def test_scenario_file_with_a_misspelt_key_names_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("registrations: r.json\noffer: o.json\n")

    assert igent("run", "rules", "--scenario", str(bad), "--quiet") == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "offer" in err


def test_profile_option_writes_cprofile_stats(tmp_path: Path) -> None:
    import pstats

    stats_file = tmp_path / "run.prof"
    assert igent("run", "rules", "--max-items", "3", "--out", str(tmp_path / "run"),
                 "--profile", str(stats_file), "--quiet") == 0  # fmt: skip
    functions = {f"{fn[0]}:{fn[2]}" for fn in pstats.Stats(str(stats_file)).stats}  # type: ignore[attr-defined]
    assert any("decide_match" in name for name in functions)


def test_latency_switches_reach_the_run_and_the_matchers_request(tmp_path: Path) -> None:
    demo = demo_campaign_paths()
    common = (
        "--registrations", str(demo["registrations"]), "--offers", str(demo["offers"]),
        "--incentives", str(demo["incentives"]), "--max-items", "2", "--quiet",
        "--campaign-date", "2026-06-01", "--model", "mock",
    )  # fmt: skip
    diet, old = tmp_path / "diet", tmp_path / "old"
    assert igent("run", "p1m1v0_p2r", *common, "--out", str(diet)) == 0
    status = igent(
        "run", "p1m1v0_p2r", *common, "--out", str(old), "--predecessor-prompt",
        "--prompt-order", "registration-first", "--prompt-only-json", "--no-field-stop",
    )  # fmt: skip

    assert status == 0
    options = json.loads((old / "run.json").read_text())["options"]
    assert options["prompt_diet"] is False
    assert options["prompt_order"] == "registration-first"
    assert options["structured_output"] is False
    assert options["field_stop"] is False
    defaults = json.loads((diet / "run.json").read_text())["options"]
    assert (defaults["prompt_diet"], defaults["prompt_order"]) == (True, "static-first")

    def first_prompt(run_dir: Path) -> str:
        call = json.loads((run_dir / "transcripts.jsonl").read_text().splitlines()[0])
        return "\n".join(m["content"] for m in call["request"]["messages"])

    # the predecessor's prompt carries whole offers: every price tier of the serving suppliers
    assert "ProductPrices" in first_prompt(old)
    assert "ProductPrices" not in first_prompt(diet)
    assert len(first_prompt(old)) > 2 * len(first_prompt(diet))


def test_an_unknown_prompt_order_is_refused_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = igent("run", "p1m1v0_p2r", "--prompt-order", "random", "--out", str(tmp_path))

    assert status != 0
    assert "--prompt-order 'random'" in capsys.readouterr().err
