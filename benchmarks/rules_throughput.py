"""Time the rules-only path: N registrations matched and priced on one core.

Usage: python benchmarks/rules_throughput.py [--registrations 10000] [--suppliers 8]
           [--scenario diverse] [--repeats 5] [--json OUT]

It measures three things separately, each the best of --repeats runs:
parsing the registration records, RulesEngine.run (match + capacity + price + incentives),
and the whole rules-only workflow (load files, ledger, outputs) through the Runner.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

from igent.campaign import generate_campaign, parse_registrations, write_campaign
from igent.domain import IncentiveBook, OfferBook
from igent.rules import RulesEngine
from igent.workflows import InputPaths, Runner, RunOptions, resolve_constellation

TARGET_S = 2.0


def _best(repeats: int, action) -> float:  # type: ignore[no-untyped-def]
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=10_000)
    parser.add_argument("--suppliers", type=int, default=8)
    parser.add_argument("--scenario", default="diverse")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    campaign = generate_campaign(
        num_registrations=args.registrations,
        num_suppliers=args.suppliers,
        scenario=args.scenario,
        seed=1,
    )
    text = json.dumps(campaign.registrations)
    offers = OfferBook.model_validate(campaign.offers)
    incentives = IncentiveBook.model_validate(campaign.incentives)
    date = dt.date(2026, 6, 1)
    records = parse_registrations(text)

    parse_s = _best(args.repeats, lambda: parse_registrations(text))
    engine_s = _best(args.repeats, lambda: RulesEngine(offers, incentives, date).run(records))

    with tempfile.TemporaryDirectory() as tmp:
        written = write_campaign(campaign, Path(tmp), "bench")
        paths = InputPaths(written["registrations"], written["offers"], written["incentives"])
        rules = resolve_constellation("rules")
        options = RunOptions(campaign_date=date, batch_size=args.registrations, transcripts=False)
        counter = iter(range(10_000))

        def workflow() -> None:
            run_dir = Path(tmp) / f"run-{next(counter)}"
            asyncio.run(Runner(rules, paths, options, run_dir).run())

        workflow_s = _best(max(1, args.repeats // 2), workflow)

    result = engine_run = RulesEngine(offers, incentives, date).run(records)
    matched = sum(1 for o in engine_run.outcomes if o.decision.is_match)
    rows = [
        ("parse registrations", parse_s),
        ("rules engine (match + price)", engine_s),
        ("parse + rules engine", parse_s + engine_s),
        ("whole rules-only workflow (files, ledger, outputs)", workflow_s),
    ]
    print(
        f"{args.registrations} registrations, {args.suppliers} suppliers, scenario "
        f"{args.scenario!r}, {matched} matched; one core; best of {args.repeats}"
    )
    print("| step | seconds | registrations/s |")
    print("| --- | ---: | ---: |")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.3f} | {args.registrations / seconds:,.0f} |")
    verdict = "MET" if parse_s + engine_s < TARGET_S else "NOT MET"
    print(f"\ntarget: parse + rules engine < {TARGET_S:g} s: {verdict}")
    if args.json:
        args.json.write_text(json.dumps({label: s for label, s in rows}, indent=2))
    del result


if __name__ == "__main__":
    main()
