"""The rules engine: match and price registrations deterministically, with explanations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from igent.domain import (
    IncentiveBook,
    MatchDecision,
    OfferBook,
    PurchaseOrder,
    Registration,
    RegistrationRecord,
    Supplier,
)
from igent.rules.incentives import IncentivePlan
from igent.rules.matching import SupplierIndex, decide_match
from igent.rules.pricing import PriceList, build_purchase_order

PRICE_CACHE_LIMIT = 20_000
"""Distinct order shapes kept by one engine (~2 KB each: at most ~40 MB)."""

_PriceKey = tuple[str, int | None, int, str, bool, tuple[int, ...]]


@dataclass(frozen=True)
class RuleOutcome:
    """The rules' answer for one registration: the match decision and, if matched, its PO."""

    decision: MatchDecision
    purchase_order: PurchaseOrder | None


@dataclass
class RulesRun:
    """Outcomes of a sequential rules run and the capacity used at its end."""

    outcomes: list[RuleOutcome] = field(default_factory=list)
    capacity_used: dict[str, int] = field(default_factory=dict)


class RulesEngine:
    """Answer match and pricing questions for one campaign's offers and incentives."""

    def __init__(
        self, offers: OfferBook, incentives: IncentiveBook, campaign_date: dt.date
    ) -> None:
        self.offers = offers
        self.incentives = incentives
        self.campaign_date = campaign_date
        self.index = SupplierIndex.from_offers(offers)
        self._suppliers = {s.supplier_id: s for s in offers.suppliers}
        self._price_lists = {s.supplier_id: PriceList(s) for s in offers.suppliers}
        self._incentive_plan = IncentivePlan(incentives, campaign_date)
        self._orders: dict[_PriceKey, PurchaseOrder] = {}

    def supplier(self, supplier_id: str) -> Supplier | None:
        """Return the supplier with this id, or None."""
        return self._suppliers.get(supplier_id)

    def suppliers_for_zip(self, zip_code: str) -> tuple[Supplier, ...]:
        """Return the suppliers serving ``zip_code``, in file order."""
        return self.index.candidates(zip_code)

    def match(self, record: RegistrationRecord, capacity_used: Mapping[str, int]) -> MatchDecision:
        """Decide the match for one record (invalid records become NO MATCH)."""
        if record.registration is None:
            return MatchDecision(
                registration_id=record.registration_id,
                record_index=record.record_index,
                status="no_match",
                supplier_id=None,
                reason="invalid_registration",
                message=record.error or "invalid registration",
            )
        return decide_match(
            record.registration, self.index, capacity_used, record_index=record.record_index
        )

    def price_key(self, registration: Registration, supplier_id: str) -> _PriceKey:
        """Return what ``supplier_id``'s purchase order for ``registration`` depends on.

        Two registrations with the same key get the same order but for the registration id:
        panels, batteries, payment type, income class and which ZIP-limited incentives apply.
        """
        return (
            supplier_id,
            registration.num_panels,
            registration.num_batteries,
            registration.effective_payment_type,
            registration.low_medium_income,
            self._incentive_plan.zip_key(registration.zip_code),
        )

    def price(self, registration: Registration, supplier_id: str) -> PurchaseOrder:
        """Price ``registration`` with ``supplier_id``'s offers.

        Orders are cached by :meth:`price_key`: a repeated shape costs a lookup and a copy
        with the registration's id.
        """
        key = self.price_key(registration, supplier_id)
        order = self._orders.get(key)
        if order is not None:
            if order.registration_id == registration.registration_id:
                return order
            return order.model_copy(update={"registration_id": registration.registration_id})
        supplier = self._suppliers.get(supplier_id)
        if supplier is None:
            raise ValueError(f"unknown supplier {supplier_id!r}")
        order = build_purchase_order(
            registration,
            supplier,
            self.incentives,
            self.campaign_date,
            price_list=self._price_lists[supplier_id],
            incentive_plan=self._incentive_plan,
        )
        if len(self._orders) < PRICE_CACHE_LIMIT:
            self._orders[key] = order
        return order

    def answer(self, record: RegistrationRecord, capacity_used: Mapping[str, int]) -> RuleOutcome:
        """Match and price one record against ``capacity_used`` (not updated)."""
        decision = self.match(record, capacity_used)
        if decision.supplier_id is None or record.registration is None:
            return RuleOutcome(decision, None)
        return RuleOutcome(decision, self.price(record.registration, decision.supplier_id))

    def run(
        self,
        records: Iterable[RegistrationRecord],
        capacity_used: Mapping[str, int] | None = None,
    ) -> RulesRun:
        """Answer every record in order, reserving one unit per match (rule 6)."""
        result = RulesRun(capacity_used=dict(capacity_used or {}))
        for record in records:
            outcome = self.answer(record, result.capacity_used)
            supplier_id = outcome.decision.supplier_id
            if supplier_id is not None:
                result.capacity_used[supplier_id] = result.capacity_used.get(supplier_id, 0) + 1
            result.outcomes.append(outcome)
        return result
