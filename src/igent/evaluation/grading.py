"""Grade a run's matches and purchase orders field by field against the rules engine.

The reference is the rules engine's *sequential* answer: registrations in file order, one unit of
capacity reserved per match. A run at concurrency 1 that is fully correct reproduces it exactly.
At higher concurrency the run may legitimately commit registrations in another order, so a
capacity-dependent supplier choice can differ from the sequential one; the run's own
``summary.accuracy`` (validator against the state each answer committed on) covers that case.
One wrong supplier also changes the capacity every later registration sees, so later supplier
diffs may follow from an earlier one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from igent.agents import purchase_order_answer
from igent.errors import ConfigError
from igent.rules import RulesEngine, RulesRun, is_no_match
from igent.rules.proposal import normalize_proposal, read_int, read_money, read_text
from igent.rules.validator import MONEY_TOLERANCE
from igent.workflows import InputPaths, RunOptions, load_inputs, read_run_config

MATCH_FIELDS: tuple[str, ...] = ("supplier_id", "num_panels", "num_batteries")
PO_FIELDS: tuple[str, ...] = (
    "purchase_order",
    "payment_type",
    "solar_tier_quantity",
    "battery_tier_quantity",
    "solar_price",
    "battery_price",
    "total_price",
    "net_price",
    "incentives",
    "interest_rate",
    "loan_term_months",
)
FIELDS: tuple[str, ...] = ("result", *MATCH_FIELDS, *PO_FIELDS)
_MONEY = frozenset({"solar_price", "battery_price", "total_price", "net_price", "interest_rate"})
_INTS = frozenset(
    {"num_panels", "num_batteries", "solar_tier_quantity", "battery_tier_quantity",
     "loan_term_months"}
)  # fmt: skip


@dataclass(frozen=True)
class FieldDiff:
    """One field whose value differs from the rules engine's."""

    field: str
    expected: Any
    got: Any


@dataclass
class RegistrationGrade:
    """The diffs found for one registration (none when it is right)."""

    registration_id: str
    diffs: list[FieldDiff] = field(default_factory=list)

    @property
    def is_correct(self) -> bool:
        """Return True when no field differs."""
        return not self.diffs


@dataclass
class FieldTotal:
    """How often a field was checked and how often it was wrong."""

    checked: int = 0
    wrong: int = 0

    @property
    def accuracy(self) -> float | None:
        """Share of checks that passed; None when never checked."""
        return None if self.checked == 0 else (self.checked - self.wrong) / self.checked


@dataclass
class EvalReport:
    """Every registration's grade plus per-field totals."""

    grades: list[RegistrationGrade]
    fields: dict[str, FieldTotal]

    @property
    def registrations(self) -> int:
        """Number of graded registrations."""
        return len(self.grades)

    @property
    def correct(self) -> int:
        """Registrations with every field right."""
        return sum(g.is_correct for g in self.grades)

    @property
    def accuracy(self) -> float | None:
        """Share of registrations with every field right; None when nothing was graded."""
        return self.correct / self.registrations if self.grades else None

    @property
    def field_accuracy(self) -> float | None:
        """Share of all field checks that passed."""
        checked = sum(t.checked for t in self.fields.values())
        wrong = sum(t.wrong for t in self.fields.values())
        return None if checked == 0 else (checked - wrong) / checked

    def wrong(self) -> list[RegistrationGrade]:
        """Return the grades with at least one diff."""
        return [g for g in self.grades if not g.is_correct]

    def to_json(self) -> dict[str, Any]:
        """Return the totals (not the per-registration diffs) as JSON-friendly values."""
        return {
            "reference": "rules engine, sequential (file order, concurrency 1)",
            "registrations": self.registrations,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "field_accuracy": self.field_accuracy,
            "fields": {
                name: {"checked": t.checked, "wrong": t.wrong, "accuracy": t.accuracy}
                for name, t in self.fields.items()
            },
        }

    def diff_rows(self) -> list[dict[str, Any]]:
        """Return one JSON object per registration with something wrong."""
        return [
            {"registration_id": g.registration_id, "diffs": [asdict(d) for d in g.diffs]}
            for g in self.wrong()
        ]


def _read(name: str, value: Any) -> Any:
    if name in _MONEY:
        return read_money(value)
    if name in _INTS:
        return read_int(value)
    if name == "payment_type":
        text = read_text(value)
        return text.lower() if text else text
    return value


def _same(name: str, expected: Any, got: Any) -> bool:
    if name in _MONEY:
        return got is not None and abs(float(got) - float(expected)) <= MONEY_TOLERANCE
    return bool(expected == got)


def _incentive_map(raw: Any) -> dict[str, float | None] | Any:
    if not isinstance(raw, list):
        return raw
    items: dict[str, float | None] = {}
    for item in raw:
        if isinstance(item, Mapping):
            fields = normalize_proposal(item)
            items[str(read_text(fields.get("name")))] = read_money(fields.get("amount"))
    return dict(sorted(items.items()))


def _same_incentives(expected: Mapping[str, float | None], got: Any) -> bool:
    if not isinstance(got, Mapping) or set(got) != set(expected):
        return False
    return all(
        got[name] is not None and abs(float(got[name]) - float(amount or 0)) <= MONEY_TOLERANCE
        for name, amount in expected.items()
    )


class _Grader:
    def __init__(self) -> None:
        self.totals = {name: FieldTotal() for name in FIELDS}

    def check(self, grade: RegistrationGrade, name: str, expected: Any, got: Any) -> None:
        total = self.totals[name]
        total.checked += 1
        if name == "incentives":
            ok = _same_incentives(expected, got)
        else:
            ok = _same(name, expected, got)
        if not ok:
            total.wrong += 1
            grade.diffs.append(FieldDiff(name, expected, got))

    def grade_po(
        self, grade: RegistrationGrade, expected: Mapping[str, Any], got: Mapping[str, Any]
    ) -> None:
        fields = normalize_proposal(got)
        for name in PO_FIELDS[1:]:
            if name in ("interest_rate", "loan_term_months") and expected.get(name) is None:
                continue
            if name == "incentives":
                want = _incentive_map(expected["incentives"])
                self.check(grade, name, want, _incentive_map(fields.get("incentives", [])))
                continue
            self.check(grade, name, _read(name, expected.get(name)), _read(name, fields.get(name)))


def _supplier(value: Any) -> str | None:
    return None if is_no_match(value) else str(value).strip()


def grade_results(results: Sequence[Mapping[str, Any]], reference: RulesRun) -> EvalReport:
    """Grade run results (``{"registration_id", "match", "purchase_order"}``) field by field.

    Results whose match status is ``skipped`` are left out (the reference must leave them out
    too); a reference registration with no result, or with a ``failed`` / ``unapproved`` one
    (not a decision), counts as a wrong ``result``.
    """
    by_id = {
        str(r["registration_id"]): r
        for r in results
        if (r.get("match") or {}).get("status") not in ("skipped", "failed", "unapproved")
    }
    grader = _Grader()
    grades: list[RegistrationGrade] = []
    for outcome in reference.outcomes:
        decision = outcome.decision
        grade = RegistrationGrade(decision.registration_id)
        grades.append(grade)
        result = by_id.get(decision.registration_id)
        grader.check(grade, "result", "present", "present" if result else None)
        if result is None:
            continue
        match = normalize_proposal(result.get("match") or {})
        grader.check(
            grade, "supplier_id", decision.supplier_id, _supplier(match.get("supplier_id"))
        )
        if decision.is_match:
            for name in ("num_panels", "num_batteries"):
                want = decision.num_panels if name == "num_panels" else decision.num_batteries
                grader.check(grade, name, want, read_int(match.get(name)))
        po = result.get("purchase_order")
        expected_po = outcome.purchase_order
        grader.check(
            grade,
            "purchase_order",
            "present" if expected_po else None,
            "present" if po else None,
        )
        if expected_po is not None and isinstance(po, Mapping):
            grader.grade_po(grade, purchase_order_answer(expected_po), po)
    return EvalReport(grades, grader.totals)


def read_results(run_dir: Path) -> list[dict[str, Any]]:
    """Read ``matches.json`` and ``pos.json`` of a run directory as result rows."""
    try:
        matches = json.loads((run_dir / "matches.json").read_text(encoding="utf-8"))
        pos_path = run_dir / "pos.json"
        pos = json.loads(pos_path.read_text(encoding="utf-8")) if pos_path.exists() else []
    except (OSError, ValueError) as exc:
        raise ConfigError(f"run directory {str(run_dir)!r} has no readable results: {exc}") from exc
    orders = {str(p["registration_id"]): p for p in pos}
    return [
        {
            "registration_id": m["registration_id"],
            "match": m,
            "purchase_order": orders.get(str(m["registration_id"])),
        }
        for m in matches
    ]


def reference_for_run(run_dir: Path) -> RulesRun:
    """Compute the sequential rules answer for the inputs and options a run saved."""
    config = read_run_config(run_dir)
    paths = InputPaths.from_json(config["inputs"])
    options = RunOptions.from_json(config["options"])
    date = dt.date.fromisoformat(str(config["campaign_date"]))
    return reference_for_inputs(paths, date, max_items=options.max_items, skip=options.skip_status)


def reference_for_inputs(
    paths: InputPaths,
    campaign_date: dt.date,
    *,
    max_items: int | None = None,
    skip: frozenset[str] = frozenset(),
) -> RulesRun:
    """Run the rules engine sequentially over the first ``max_items`` registrations."""
    inputs = load_inputs(paths)
    records = inputs.records[:max_items] if max_items else inputs.records
    kept = [
        r
        for r in records
        if r.registration is None or r.registration.status is None
        or r.registration.status not in skip
    ]  # fmt: skip
    return RulesEngine(inputs.offers, inputs.incentives, campaign_date).run(kept)


def grade_run(
    source: Path | Sequence[Mapping[str, Any]], reference: RulesRun | None = None
) -> EvalReport:
    """Grade a run directory (or result rows) against ``reference``.

    With a run directory and no reference, the reference is computed from the inputs and
    options the run saved in its ledger.
    """
    if isinstance(source, Path):
        if reference is None:
            reference = reference_for_run(source)
        return grade_results(read_results(source), reference)
    if reference is None:
        raise ConfigError("grading result rows needs a reference RulesRun")
    return grade_results(source, reference)
