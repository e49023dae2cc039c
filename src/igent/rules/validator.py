"""The programmatic critic: check a proposed match or PO and say precisely what is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from igent.domain import (
    NO_MATCH_FOUND,
    MatchDecision,
    PurchaseOrder,
    RegistrationRecord,
)
from igent.rules.engine import RulesEngine
from igent.rules.proposal import is_no_match, normalize_proposal, read_int, read_money, read_text
from igent.rules.rule import Verdict

MONEY_TOLERANCE = 0.005


@dataclass(frozen=True)
class ValidationReport:
    """Every check made on a proposal; it is valid when all passed."""

    verdicts: tuple[Verdict, ...]

    @property
    def is_valid(self) -> bool:
        """Return True when no check failed."""
        return all(v.passed for v in self.verdicts)

    @property
    def violations(self) -> list[str]:
        """Return the reasons of the failed checks, ready to send back to a model."""
        return [v.reason for v in self.verdicts if not v.passed]

    def feedback(self) -> str:
        """Return the violations as a bullet list, or APPROVE when there are none."""
        if self.is_valid:
            return "APPROVE"
        return "\n".join(f"- {reason}" for reason in self.violations)


def _unreadable(check: str, value: Any) -> ValidationReport:
    return ValidationReport((Verdict.fail(check, value),))


def validate_match(
    engine: RulesEngine,
    record: RegistrationRecord,
    capacity_used: Mapping[str, int],
    proposal: Any,
) -> ValidationReport:
    """Check a proposed phase 1 match against the rules and the capacity state."""
    try:
        fields = normalize_proposal(proposal)
    except ValueError as exc:
        return _unreadable("format", f"the match must be a JSON object: {exc}")
    expected = engine.match(record, capacity_used)
    verdicts = [_check_registration_id(fields, record)]
    proposed = fields.get("supplier_id")
    if "supplier_id" not in fields:
        verdicts.append(Verdict.fail("supplier", "field 'supplier_id' is missing"))
    elif is_no_match(proposed):
        verdicts.append(_check_no_match(expected))
    else:
        verdicts.extend(_check_supplier(engine, expected, str(proposed)))
    if expected.is_match:
        verdicts.append(_check_quantity(fields, "num_panels", expected.num_panels))
        verdicts.append(_check_quantity(fields, "num_batteries", expected.num_batteries))
    return ValidationReport(tuple(verdicts))


def _check_registration_id(fields: Mapping[str, Any], record: RegistrationRecord) -> Verdict:
    given = read_text(fields.get("registration_id"))
    if given is None or given == record.registration_id:
        return Verdict.ok("registration_id")
    return Verdict.fail(
        "registration_id",
        f"registration_id is {given!r} but this task is for {record.registration_id!r}",
    )


def _check_no_match(expected: MatchDecision) -> Verdict:
    if not expected.is_match:
        return Verdict.ok("supplier")
    chosen = next(c for c in expected.candidates if c.outcome == "chosen")
    return Verdict.fail(
        "supplier",
        f"{NO_MATCH_FOUND} is wrong: supplier {chosen.supplier_id!r} serves ZIP "
        f"{expected.zip_code}, has capacity (used {chosen.used} of {chosen.capacity}) "
        "and offers the products asked",
    )


def _check_supplier(engine: RulesEngine, expected: MatchDecision, proposed: str) -> list[Verdict]:
    supplier = engine.supplier(proposed.strip())
    zip_code = expected.zip_code or "?"
    if supplier is None:
        serving = ", ".join(c.supplier_id for c in expected.candidates) or "none"
        return [
            Verdict.fail(
                "supplier",
                f"supplier {proposed!r} is not in the offers file; suppliers serving ZIP "
                f"{zip_code}: {serving}",
            )
        ]
    if expected.reason == "invalid_registration":
        return [Verdict.fail("supplier", f"expected {NO_MATCH_FOUND}: {expected.message}")]
    assessment = next(
        (c for c in expected.candidates if c.supplier_id == supplier.supplier_id), None
    )
    if assessment is None:
        return [
            Verdict.fail(
                "supplier", f"supplier {supplier.supplier_id!r} does not serve ZIP {zip_code}"
            )
        ]
    if assessment.outcome in ("no_capacity", "product_unavailable"):
        return [Verdict.fail("supplier", f"supplier {supplier.supplier_id!r}: {assessment.reason}")]
    if assessment.outcome == "ranked_lower":
        return [Verdict.fail("supplier", f"{supplier.supplier_id!r} {assessment.reason}")]
    return [Verdict.ok("supplier")]


def _check_quantity(fields: Mapping[str, Any], name: str, expected: int | None) -> Verdict:
    if name not in fields:
        return Verdict.fail(name, f"field {name!r} is missing; expected {expected}")
    given = read_int(fields[name])
    if given == expected:
        return Verdict.ok(name)
    return Verdict.fail(name, f"{name} is {fields[name]!r}, expected {expected}")


def validate_purchase_order(
    engine: RulesEngine,
    record: RegistrationRecord,
    supplier_id: str,
    proposal: Any,
) -> ValidationReport:
    """Check a proposed PO for ``record`` matched to ``supplier_id`` against the price rules."""
    try:
        fields = normalize_proposal(proposal)
    except ValueError as exc:
        return _unreadable("format", f"the purchase order must be a JSON object: {exc}")
    if record.registration is None:
        return _unreadable("registration", f"no PO is possible: {record.error}")
    expected = engine.price(record.registration, supplier_id)
    verdicts = [_check_registration_id(fields, record)]
    given_supplier = read_text(fields.get("supplier_id"))
    verdicts.append(
        Verdict.ok("supplier_id")
        if given_supplier == supplier_id
        else Verdict.fail(
            "supplier_id", f"supplier_id is {given_supplier!r}, the match is {supplier_id!r}"
        )
    )
    verdicts.append(_check_quantity(fields, "num_panels", expected.num_panels))
    verdicts.append(_check_quantity(fields, "num_batteries", expected.num_batteries))
    verdicts.append(_check_payment_type(fields, expected))
    verdicts.extend(_check_prices(fields, expected))
    verdicts.extend(_check_incentives(fields, expected))
    if expected.payment_type == "Loan":
        verdicts.append(_check_loan_term(fields, expected))
    return ValidationReport(tuple(verdicts))


def _check_payment_type(fields: Mapping[str, Any], expected: PurchaseOrder) -> Verdict:
    given = read_text(fields.get("payment_type"))
    if given is not None and given.lower() == expected.payment_type.lower():
        return Verdict.ok("payment_type")
    return Verdict.fail(
        "payment_type", f"payment_type is {given!r}, expected {expected.payment_type!r}"
    )


def _show_money(amount: float) -> str:
    # Not ``:g``: it keeps 6 significant digits, so 123456.78 would read as 123457.
    return f"{amount:.2f}".rstrip("0").rstrip(".")


def _money_verdict(check: str, given_raw: Any, expected: float, what: str) -> Verdict:
    given = read_money(given_raw)
    if given is not None and abs(given - expected) <= MONEY_TOLERANCE:
        return Verdict.ok(check)
    shown = "missing" if given_raw is None else f"not {given_raw}"
    return Verdict.fail(check, f"{what} is {_show_money(expected)}, {shown}")


def _check_prices(fields: Mapping[str, Any], expected: PurchaseOrder) -> list[Verdict]:
    payment = expected.payment_type.lower()
    lmi = " LMI" if expected.low_medium_income else ""
    solar = expected.lines[0]
    verdicts = [
        _money_verdict(
            "solar_price",
            fields.get("solar_price"),
            expected.solar_price,
            f"solar_price for {expected.num_panels} panels{lmi} {payment} "
            f"(tier {solar.tier_quantity}, {solar.price_column})",
        ),
        _money_verdict(
            "battery_price",
            fields.get("battery_price", 0 if expected.num_batteries == 0 else None),
            expected.battery_price,
            f"battery_price for {expected.num_batteries} batteries{lmi} {payment}",
        ),
        _money_verdict(
            "total_price",
            fields.get("total_price"),
            expected.total_price,
            "total_price (solar_price + battery_price)",
        ),
        _money_verdict(
            "net_price",
            fields.get("net_price"),
            expected.net_price,
            "net_price (the monthly installment total_price; incentives never reduce a loan "
            "installment)"
            if expected.payment_type == "Loan"
            else "net_price (total_price minus incentives, not below 0)",
        ),
    ]
    # Optional in a proposal: the amounts are checked one by one below.
    if "incentives_total" in fields:
        verdicts.append(
            _money_verdict(
                "incentives_total",
                fields.get("incentives_total"),
                expected.incentives_total,
                "incentives_total (sum of the incentives, computed on the Cash price for a loan)",
            )
        )
    return verdicts


def _check_incentives(fields: Mapping[str, Any], expected: PurchaseOrder) -> list[Verdict]:
    raw = fields.get("incentives", [])
    if not isinstance(raw, list):
        return [Verdict.fail("incentives", f"incentives must be a list, got {raw!r}")]
    given: dict[str, Any] = {}
    for item in raw:
        if isinstance(item, Mapping) and read_text(item.get("name")):
            given[str(read_text(item.get("name")))] = item.get("amount")
    verdicts: list[Verdict] = []
    for incentive in expected.incentives:
        if incentive.name not in given:
            verdicts.append(
                Verdict.fail(
                    "incentives",
                    f"incentive {incentive.name!r} ({_show_money(incentive.amount)}) applies "
                    "but is missing",
                )
            )
            continue
        verdicts.append(
            _money_verdict(
                "incentives",
                given.pop(incentive.name),
                incentive.amount,
                f"incentive {incentive.name!r} amount",
            )
        )
    verdicts.extend(
        Verdict.fail("incentives", f"incentive {name!r} does not apply to this registration")
        for name in given
    )
    return verdicts or [Verdict.ok("incentives")]


def _check_loan_term(fields: Mapping[str, Any], expected: PurchaseOrder) -> Verdict:
    problems = []
    if expected.interest_rate is not None and "interest_rate" in fields:
        rate = read_money(fields["interest_rate"])
        if rate is None or abs(rate - expected.interest_rate) > 1e-9:
            problems.append(
                f"interest_rate is {expected.interest_rate:g}, not {fields['interest_rate']}"
            )
    if expected.loan_term_months is not None and "loan_term_months" in fields:
        if read_int(fields["loan_term_months"]) != expected.loan_term_months:
            problems.append(
                f"loan_term_months is {expected.loan_term_months}, not {fields['loan_term_months']}"
            )
    return Verdict.fail("loan", "; ".join(problems)) if problems else Verdict.ok("loan")
