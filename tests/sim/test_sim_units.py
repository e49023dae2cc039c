"""Latency sampling, fault draws and wrong answers, without HTTP."""

from __future__ import annotations

import json
import random

import pytest

from igent.agents.protocol import parse_task
from igent.domain import parse_registration_record
from igent.rules import validate_match, validate_purchase_order
from igent.sim import FaultConfig, SimConfig, get_profile, sample_latency
from igent.sim.answers import TaskContext, correct_answer, wrong_answer
from igent.sim.faults import draw_fault
from igent.sim.reply import malform


def test_sampled_latency_scales_linearly_and_is_seeded():
    profile = get_profile("gpt-4o")
    full = sample_latency(profile, random.Random(1), 100)
    scaled = sample_latency(profile, random.Random(1), 100, time_scale=0.01)
    assert scaled.total_s == pytest.approx(full.total_s * 0.01)
    assert scaled.chunk_offsets_s == pytest.approx([o * 0.01 for o in full.chunk_offsets_s])
    assert len(full.chunk_offsets_s) == 25
    assert full.chunk_offsets_s[0] == full.ttft_s
    assert list(full.chunk_offsets_s) == sorted(full.chunk_offsets_s)


def test_ttft_median_is_near_the_profile():
    profile = get_profile("glm-4.6")
    rng = random.Random(0)
    ttfts = sorted(sample_latency(profile, rng, 10).ttft_s for _ in range(2001))
    assert ttfts[1000] == pytest.approx(profile.ttft_median_s, rel=0.1)


def test_instant_profile_has_no_delay():
    latency = sample_latency(get_profile("instant"), random.Random(0), 500)
    assert latency.total_s == pytest.approx(0.0, abs=1e-6)


def test_unknown_profile_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="'gpt-9'.*gpt-4o"):
        SimConfig(profile="gpt-9")


def test_error_rate_sets_the_matcher_wrong_answer_rate():
    config = SimConfig(error_rate=0.25, faults={"matcher": FaultConfig(server_error=0.5)})
    assert config.fault("matcher") == FaultConfig(wrong_answer=0.25, server_error=0.5)
    assert config.fault("critic") == FaultConfig()


def test_fault_rates_are_close_to_their_probabilities():
    config = FaultConfig(server_error=0.2)
    rng = random.Random(0)
    hits = sum(draw_fault(config, rng, "matcher") == "server_error" for _ in range(5000))
    assert hits / 5000 == pytest.approx(0.2, abs=0.02)


def test_role_specific_faults_skip_other_roles():
    config = FaultConfig(wrong_answer=1.0, false_reject=1.0)
    assert draw_fault(config, random.Random(0), "critic") == "false_reject"
    assert draw_fault(config, random.Random(0), "pricer") == "wrong_answer"
    assert draw_fault(config, random.Random(0), "chat") is None


@pytest.mark.parametrize("kind", ["match", "price"])
def test_wrong_answers_always_fail_the_validator(kind, task_message):
    task = parse_task(task_message(kind)[1]["content"])
    context = TaskContext.from_task(task)
    record = parse_registration_record(dict(task.registration), 0)
    assert correct_answer(context) != wrong_answer(context, random.Random(0))
    for seed in range(40):
        wrong = wrong_answer(context, random.Random(seed))
        if kind == "match":
            report = validate_match(context.engine, record, task.capacity_used, wrong)
        else:
            report = validate_purchase_order(context.engine, record, "S1", wrong)
        assert not report.is_valid, wrong


def test_malformed_json_never_parses():
    text = json.dumps({"verdict": "REJECT", "issues": ['a "quoted": thing'], "n": 1})
    for seed in range(200):
        with pytest.raises(json.JSONDecodeError):
            json.loads(malform(text, random.Random(seed)))
