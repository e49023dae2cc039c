"""Input tokens and cost per matcher/pricer call and per registration, before vs after the diet.

Usage: python benchmarks/prompt_tokens.py [--registrations 100] [--json OUT]

Tokens are ESTIMATES: characters / 4 (the simulator's own count), not a real tokenizer.
"Before" is the prompt as igent sent it before the prompt diet (full offers of every supplier
serving the ZIP with all price tiers and ZIP lists, every Registration field, pretty prose
replies); "after" is today's render_task and prompts. Two campaigns: the bundled demo, and a
generated "real-export-like" one (4 suppliers, each serving 400+ ZIPs with 30 solar
tiers and a free-text note, sized like the Minnesota export of issue 13: ~5,000 tokens
before). Cost is at gpt-4o prices ($2.50 / $10 per 1M tokens,
cached input $1.25); a registration of p1m1v0_p2r costs one matcher call.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from igent.agents import (
    Task,
    capacity_block,
    incentive_block,
    load_prompt,
    render_task,
    supplier_block,
)
from igent.campaign import demo_campaign_paths, generate_campaign
from igent.campaign.loader import load_incentives, load_offers, load_registrations
from igent.domain import IncentiveBook, OfferBook, Registration, RegistrationRecord
from igent.rules import RulesEngine

PRICE_INPUT_PER_1M = 2.5
PRICE_OUTPUT_PER_1M = 10.0
CAMPAIGN_DATE = "2026-06-01"
TARGET_MATCHER_TOKENS = 800
MODEL_FIELDS = frozenset(f.alias or n for n, f in Registration.model_fields.items())

# The prompts as they were before the diet (src/igent/agents/prompts/default at 678aea4).
OLD_MATCHER = """You match one customer registration of a collective solar/battery purchase to one supplier.
Rules:
1. Panels: Product_AmountOfPanels when Product_KnowsAmountOfPanels is 1 and it is positive, else Proposal_OptimalAmountOfPanels. Batteries: Proposal_OptimalAmountOfBatteries (missing = 0).
2. Candidates: SUPPLIERS whose ServiceAreas contain Contact_Zip.
3. Eligible: used < capacity (see CAPACITY), offers a Solar product with prices, and a Battery product when batteries > 0.
4. Pick the eligible supplier with the lowest used_pct; tie: most remaining capacity; tie: first listed.
5. None eligible: supplier_id "NO MATCH FOUND".
Answer with compact JSON only:
{"registration_id": "...", "supplier_id": "...", "num_panels": 0, "num_batteries": 0}"""  # noqa: E501
OLD_PRICER_CHARS = 1_358  # length of the pre-diet pricer prompt


def tokens(text: str) -> int:
    """Estimate tokens as characters / 4 (rounded up), as the simulator counts them."""
    return math.ceil(len(text) / 4)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def old_task(kind: str, blocks: list[tuple[str, Any]]) -> str:
    """Render a task the pre-diet way: every block as compact JSON, no DATA fence."""
    return "\n".join(f"### {name}\n{_dumps(value)}" for name, value in [("TASK", kind), *blocks])


def old_supplier_block(offers: OfferBook, supplier_ids: set[str]) -> list[dict[str, Any]]:
    return [
        s.model_dump(mode="json", by_alias=True, exclude_none=True)
        for s in offers.suppliers
        if s.supplier_id in supplier_ids
    ]


def real_export_like(directory: Path) -> dict[str, Path]:
    """Write a campaign shaped like a real export: few suppliers, huge ZIP lists, many tiers."""
    campaign = generate_campaign(num_registrations=100, num_suppliers=4, seed=13)
    zips = [f"55{n:03d}" for n in range(100, 500)]
    for supplier in campaign.offers["SupplierOffers"]:
        supplier["ServiceAreas"] = sorted(set(supplier["ServiceAreas"]) | set(zips))
        supplier["Notes"] = "Preferred installer; call before 5 pm."
        for product in supplier["Offers"]:
            if product["ProductType"] != "Solar":
                continue
            base = product["ProductPrices"][-1]
            per_panel = base["CashPrice"] / base["Quantity"]
            product["ProductPrices"] = [
                {
                    "Quantity": q,
                    "CashPrice": round(per_panel * q),
                    "LMICashPrice": round(per_panel * q * 0.85),
                    "LoanInstallment": round(per_panel * q / 150, 2),
                    "LMILoanInstallment": round(per_panel * q * 0.85 / 150, 2),
                }
                for q in range(5, 35)
            ]
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "registrations": directory / "registrations.json",
        "offers": directory / "offers.json",
        "incentives": directory / "incentives.json",
    }
    paths["registrations"].write_text(json.dumps(campaign.registrations))
    paths["offers"].write_text(json.dumps(campaign.offers))
    paths["incentives"].write_text(json.dumps(campaign.incentives))
    return paths


def _match_reply_tokens_before(answer: Mapping[str, Any]) -> int:
    # A prose opening and pretty JSON, read until the JSON closed (early stop at the time).
    return tokens("Here is the match:\n" + json.dumps(answer, indent=2))


def _match_reply_tokens_after(answer: Mapping[str, Any]) -> int:
    # Structured output (compact JSON, supplier_id first), read until supplier_id is complete.
    return tokens(_dumps({"supplier_id": answer["supplier_id"]}).rstrip("}") + ",")


def measure(paths: Mapping[str, Path], limit: int) -> dict[str, Any]:
    """Walk the campaign like a run (capacity grows) and size every matcher and pricer prompt."""
    import datetime as dt

    offers = load_offers(paths["offers"])
    incentives: IncentiveBook = load_incentives(paths["incentives"])
    records: list[RegistrationRecord] = load_registrations(paths["registrations"])[:limit]
    engine = RulesEngine(offers, incentives, dt.date.fromisoformat(CAMPAIGN_DATE))
    matcher_prompt = load_prompt("matcher")
    pricer_prompt = load_prompt("pricer")
    used: dict[str, int] = {}
    rows: list[dict[str, float]] = []
    for record in records:
        if record.registration is None:
            continue
        decision = engine.match(record, used)
        suppliers = engine.suppliers_for_zip(decision.zip_code or "")
        ids = {s.supplier_id for s in suppliers}
        raw = {k: v for k, v in record.raw.items() if k in MODEL_FIELDS}
        capacity = capacity_block(suppliers, used)
        before_match = OLD_MATCHER + old_task(
            "match",
            [
                ("REGISTRATION", raw),
                ("SUPPLIERS", old_supplier_block(offers, ids)),
                ("CAPACITY", capacity),
            ],
        )
        after_match = matcher_prompt + render_task(
            Task(
                kind="match",
                registration=raw,
                suppliers=supplier_block(suppliers),
                capacity=capacity,
            )
        )
        answer = {
            "registration_id": record.registration_id,
            "supplier_id": decision.supplier_id or "NO MATCH FOUND",
            "num_panels": decision.num_panels,
            "num_batteries": decision.num_batteries,
        }
        row = {
            "match_in_before": tokens(before_match),
            "match_in_after": tokens(after_match),
            "match_out_before": _match_reply_tokens_before(answer),
            "match_out_after": _match_reply_tokens_after(answer),
        }
        if decision.supplier_id is not None:
            used[decision.supplier_id] = used.get(decision.supplier_id, 0) + 1
            match = {"supplier_id": decision.supplier_id}
            before_price = old_task(
                "price",
                [
                    ("REGISTRATION", raw),
                    ("SUPPLIERS", old_supplier_block(offers, ids)),
                    ("CAPACITY", capacity),
                    ("MATCH", match),
                    ("CAMPAIGN_DATE", CAMPAIGN_DATE),
                    ("INCENTIVES", incentive_block(incentives)),
                ],
            )
            after_price = pricer_prompt + render_task(
                Task(
                    kind="price",
                    registration=raw,
                    suppliers=supplier_block(suppliers),
                    capacity=capacity,
                    campaign_date=engine.campaign_date,
                    incentives=incentive_block(incentives),
                    match=match,
                )
            )
            row["price_in_before"] = OLD_PRICER_CHARS // 4 + tokens(before_price)
            row["price_in_after"] = tokens(after_price)
        rows.append(row)
    return summarize(rows)


def _mean(rows: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in rows if key in r]
    return sum(values) / len(values) if values else 0.0


def _cost(input_tokens: float, output_tokens: float) -> float:
    return (input_tokens * PRICE_INPUT_PER_1M + output_tokens * PRICE_OUTPUT_PER_1M) / 1e6


def summarize(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Mean tokens per call and p1m1v0_p2r cost per registration, before and after."""
    result: dict[str, Any] = {"registrations": len(rows)}
    for key in (
        "match_in_before",
        "match_in_after",
        "match_out_before",
        "match_out_after",
        "price_in_before",
        "price_in_after",
    ):
        result[key] = round(_mean(rows, key), 1)
    result["match_in_after_max"] = max((r["match_in_after"] for r in rows), default=0)
    result["cost_per_registration_before"] = round(
        _cost(result["match_in_before"], result["match_out_before"]), 6
    )
    result["cost_per_registration_after"] = round(
        _cost(result["match_in_after"], result["match_out_after"]), 6
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=100)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--workdir", type=Path, default=Path(".bench-prompt-tokens"))
    args = parser.parse_args()
    campaigns = {
        "demo": demo_campaign_paths(),
        "real-export-like": real_export_like(args.workdir / "real-export-like"),
    }
    report = {name: measure(paths, args.registrations) for name, paths in campaigns.items()}
    print(
        "tokens are estimates (characters / 4); cost at gpt-4o prices; p1m1v0_p2r = 1 matcher call"
    )
    header = (
        f"{'campaign':18} {'matcher in':>17} {'matcher out':>12} {'pricer in':>15} "
        f"{'$/registration':>19} {'max in':>7}"
    )
    print(header)
    for name, r in report.items():
        print(
            f"{name:18} {r['match_in_before']:>7.0f} -> {r['match_in_after']:>5.0f}"
            f" {r['match_out_before']:>5.0f} -> {r['match_out_after']:>3.0f}"
            f" {r['price_in_before']:>6.0f} -> {r['price_in_after']:>5.0f}"
            f" {r['cost_per_registration_before']:.5f} -> {r['cost_per_registration_after']:.5f}"
            f" {r['match_in_after_max']:>7}"
        )
    real = report["real-export-like"]
    checks = {
        "matcher call <= 800 input tokens (real-export-like, max)": real["match_in_after_max"]
        <= TARGET_MATCHER_TOKENS,
        **{
            f"input tokens per registration <= half ({name})": r["match_in_after"]
            <= r["match_in_before"] / 2
            for name, r in report.items()
        },
        **{
            f"cost per registration <= half ({name})": r["cost_per_registration_after"]
            <= r["cost_per_registration_before"] / 2
            for name, r in report.items()
        },
    }
    for label, ok in checks.items():
        print(f"{'MET    ' if ok else 'NOT MET'} {label}")
    if args.json is not None:
        args.json.write_text(json.dumps({"campaigns": report, "checks": checks}, indent=2) + "\n")


if __name__ == "__main__":
    main()
