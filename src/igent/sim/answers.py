"""What each role answers: the rules engine's answer, a plausible wrong one, a critic verdict."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from igent.agents.protocol import Task, match_answer, purchase_order_answer
from igent.domain import (
    NO_MATCH_FOUND,
    IncentiveBook,
    OfferBook,
    RegistrationRecord,
    parse_registration_record,
)
from igent.rules import RulesEngine, price_line, validate_match, validate_purchase_order
from igent.sim.faults import Role
from igent.sim.task_data import engine_incentives, engine_suppliers

# The rules never read the clock; a task without a campaign date is priced on this day.
DEFAULT_CAMPAIGN_DATE = dt.date(2026, 1, 1)
_ROLES: dict[str, Role] = {
    "match": "matcher",
    "price": "pricer",
    "review_match": "critic",
    "review_price": "critic",
}
_FALSE_ISSUES = (
    "solar_price does not look like the closest tier; please re-check the tier choice",
    "the capacity figures suggest another supplier should have been chosen",
    "num_batteries should be double-checked against the registration",
)


def role_of(task: Task) -> Role:
    """Return the role that answers ``task``."""
    return _ROLES[task.kind]


@dataclass(frozen=True)
class TaskContext:
    """A task with the rules engine and record built from its own blocks."""

    task: Task
    engine: RulesEngine
    record: RegistrationRecord

    @classmethod
    def from_task(cls, task: Task) -> TaskContext:
        """Build the engine from the suppliers and incentives the task carries."""
        engine = RulesEngine(
            OfferBook.model_validate({"SupplierOffers": engine_suppliers(task)}),
            IncentiveBook.model_validate({"incentives": engine_incentives(task)}),
            task.campaign_date or DEFAULT_CAMPAIGN_DATE,
        )
        return cls(task, engine, parse_registration_record(dict(task.registration), 0))

    @property
    def matched_supplier_id(self) -> str:
        """The supplier of the task's MATCH block (pricing and PO review)."""
        return str((self.task.match or {}).get("supplier_id", ""))


def correct_answer(context: TaskContext) -> dict[str, Any]:
    """Return the answer a perfect agent gives for the task."""
    task = context.task
    if task.kind == "match":
        return match_answer(context.engine.match(context.record, task.capacity_used))
    if task.kind == "price":
        registration = context.record.registration
        try:
            if registration is None:
                raise ValueError(context.record.error or "invalid registration")
            order = context.engine.price(registration, context.matched_supplier_id)
        except ValueError as exc:
            return {"registration_id": context.record.registration_id, "error": str(exc)}
        return purchase_order_answer(order)
    return critic_answer(context)


def critic_answer(context: TaskContext) -> dict[str, Any]:
    """Return the verdict the validator reaches on the task's proposal."""
    task = context.task
    try:
        if task.kind == "review_match":
            report = validate_match(
                context.engine, context.record, task.capacity_used, task.proposal
            )
        else:
            report = validate_purchase_order(
                context.engine, context.record, context.matched_supplier_id, task.proposal
            )
    except ValueError as exc:
        return _verdict(context, "REJECT", [str(exc)])
    if report.is_valid:
        return _verdict(context, "APPROVE", [])
    return _verdict(context, "REJECT", list(report.violations))


def _verdict(context: TaskContext, verdict: str, issues: list[str]) -> dict[str, Any]:
    # A verdict names the registration it is about, as igent's critic prompts ask.
    return {
        "registration_id": context.record.registration_id,
        "verdict": verdict,
        "issues": issues,
    }


def false_reject(context: TaskContext, rng: random.Random) -> dict[str, Any]:
    """Return a rejection with a made-up issue."""
    return _verdict(context, "REJECT", [rng.choice(_FALSE_ISSUES)])


def wrong_answer(context: TaskContext, rng: random.Random) -> dict[str, Any]:
    """Return a plausible wrong answer of the kind real models make."""
    answer = correct_answer(context)
    if context.task.kind == "match":
        return _wrong_match(context, answer, rng)
    if context.task.kind == "price" and "error" not in answer:
        return _wrong_order(context, answer, rng)
    return answer


def _wrong_match(
    context: TaskContext, answer: dict[str, Any], rng: random.Random
) -> dict[str, Any]:
    chosen = answer["supplier_id"]
    others = [s.supplier_id for s in context.engine.offers.suppliers if s.supplier_id != chosen]
    options = ["other_supplier"]
    if chosen != NO_MATCH_FOUND:
        options.append("no_match")
        if answer["num_batteries"]:
            options.append("missed_battery")
    kind = rng.choice(options)
    if kind == "missed_battery":
        return {**answer, "num_batteries": 0}
    if kind == "no_match":
        return {**answer, "supplier_id": NO_MATCH_FOUND}
    supplier_id = rng.choice(others) if others else f"S-{rng.randint(100, 999)}"
    return {**answer, "supplier_id": supplier_id}


def _wrong_order(
    context: TaskContext, answer: dict[str, Any], rng: random.Random
) -> dict[str, Any]:
    options = ["wrong_tier"]
    if answer["num_batteries"]:
        options.append("missed_battery")
    wrong = dict(answer)
    if rng.choice(options) == "missed_battery":
        wrong.update(num_batteries=0, battery_tier_quantity=None, battery_price=0.0)
    else:
        tier_quantity, solar_price = _other_tier_price(context, answer, rng)
        wrong.update(solar_tier_quantity=tier_quantity, solar_price=solar_price)
    wrong["total_price"] = round(wrong["solar_price"] + wrong["battery_price"], 2)
    granted = sum(float(i["amount"]) for i in wrong["incentives"])
    # Incentives never reduce a loan's monthly installment (docs/rules.md, rule 9).
    if wrong["payment_type"] == "Loan":
        wrong["net_price"] = wrong["total_price"]
    else:
        wrong["net_price"] = round(max(0.0, wrong["total_price"] - granted), 2)
    return wrong


def _other_tier_price(
    context: TaskContext, answer: dict[str, Any], rng: random.Random
) -> tuple[int | None, float]:
    """A solar tier and price from another tier of the same column, else the right one +7%."""
    registration = context.record.registration
    supplier = context.engine.supplier(context.matched_supplier_id)
    solar = supplier.product("Solar") if supplier is not None else None
    right = float(answer["solar_price"])
    if solar is not None and registration is not None:
        lmi = registration.low_medium_income
        tiers = {
            line.price: line.tier_quantity
            for line in (
                price_line(solar, tier.quantity, answer["payment_type"], lmi)
                for tier in solar.prices
            )
            if line.price > 0 and abs(line.price - right) > 0.01
        }
        if tiers:
            price = rng.choice(sorted(tiers))
            return tiers[price], round(price, 2)
    return answer.get("solar_tier_quantity"), round(right * 1.07 + 0.01, 2)
