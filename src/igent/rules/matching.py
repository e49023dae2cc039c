"""Phase 1 rules: pick the supplier for a registration (docs/rules.md, rules 1-6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from igent.domain import (
    CandidateAssessment,
    CandidateOutcome,
    MatchDecision,
    NoMatchReason,
    OfferBook,
    Registration,
    Supplier,
    has_room,
)


@dataclass(frozen=True)
class SupplierIndex:
    """Suppliers of an offer book indexed by the ZIP codes they serve, in file order."""

    offers: OfferBook
    by_zip: Mapping[str, tuple[Supplier, ...]]
    # supplier id -> (offers priced Solar, offers priced Battery), looked up once per book.
    products: Mapping[str, tuple[bool, bool]] = field(default_factory=dict)

    @classmethod
    def from_offers(cls, offers: OfferBook) -> SupplierIndex:
        """Index ``offers`` by trimmed ZIP."""
        by_zip: dict[str, list[Supplier]] = {}
        for supplier in offers.suppliers:
            for zip_code in dict.fromkeys(z.strip() for z in supplier.service_areas):
                by_zip.setdefault(zip_code, []).append(supplier)
        products = {
            s.supplier_id: (s.product("Solar") is not None, s.product("Battery") is not None)
            for s in offers.suppliers
        }
        return cls(
            offers=offers, by_zip={z: tuple(s) for z, s in by_zip.items()}, products=products
        )

    def candidates(self, zip_code: str) -> tuple[Supplier, ...]:
        """Return the suppliers serving ``zip_code`` (rule 2), in file order."""
        found = self.by_zip.get(zip_code)
        return found if found is not None else self.by_zip.get(zip_code.strip(), ())

    def missing_product(self, supplier: Supplier, num_batteries: int) -> str | None:
        """Say which product ``supplier`` lacks for ``num_batteries``, or None (rule 3)."""
        offered = self.products.get(supplier.supplier_id)
        if offered is None:
            offered = (
                supplier.product("Solar") is not None,
                supplier.product("Battery") is not None,
            )
        has_solar, has_battery = offered
        if not has_solar:
            return f"supplier {supplier.supplier_id!r} offers no priced Solar product"
        if num_batteries > 0 and not has_battery:
            return (
                f"supplier {supplier.supplier_id!r} offers no priced Battery product "
                f"but {num_batteries} batteries are asked"
            )
        return None


def _pct(used: int, capacity: int) -> float:
    """used / Capacity as a float; with Capacity <= MAX_CAPACITY (docs/rules.md, Bounds) two
    different fractions never round to the same or to reversed floats, so ranking stays exact
    (rule 4) without the cost of Fraction."""
    return 1.0 if capacity <= 0 else used / capacity


def decide_match(
    registration: Registration,
    index: SupplierIndex,
    capacity_used: Mapping[str, int],
    *,
    record_index: int = 0,
) -> MatchDecision:
    """Choose the supplier for ``registration`` given the capacity used so far.

    The decision carries every candidate with its used/Capacity and why it lost.
    """
    base = partial(
        MatchDecision,
        registration_id=registration.registration_id,
        record_index=record_index,
        zip_code=registration.zip_code,
        num_batteries=registration.num_batteries,
    )
    num_panels = registration.num_panels
    if num_panels is None:
        return base(
            status="no_match",
            supplier_id=None,
            reason="invalid_registration",
            message=(
                f"registration #{record_index} ({registration.registration_id!r}): no usable "
                "panel count in Product_AmountOfPanels or Proposal_OptimalAmountOfPanels"
            ),
        )
    candidates = index.candidates(registration.zip_code)
    if not candidates:
        return base(
            num_panels=num_panels,
            status="no_match",
            supplier_id=None,
            reason="zip_not_served",
            message=f"no supplier serves ZIP {registration.zip_code!r}",
        )
    # One pass for the facts (used, used pct) and the outcome of each candidate; the table is
    # built once at the end, in file order (a million registrations take this path).
    used_of = [capacity_used.get(s.supplier_id, 0) for s in candidates]
    pct_of = [_pct(used, s.capacity) for s, used in zip(candidates, used_of, strict=True)]
    num_batteries = registration.num_batteries
    outcomes: list[tuple[CandidateOutcome, str] | None] = []
    eligible: list[int] = []
    any_room = False
    for position, supplier in enumerate(candidates):
        used = used_of[position]
        if not has_room(used, supplier.capacity):
            outcomes.append(
                ("no_capacity", f"no capacity left: used {used} of {supplier.capacity}")
            )
            continue
        any_room = True
        missing = index.missing_product(supplier, num_batteries)
        if missing is not None:
            outcomes.append(("product_unavailable", missing))
            continue
        outcomes.append(None)
        eligible.append(position)

    chosen: Supplier | None = None
    if eligible:
        # rule 4: lowest used pct, then most room left, then file order (min keeps the first)
        best = min(eligible, key=lambda i: (pct_of[i], used_of[i] - candidates[i].capacity))
        chosen = candidates[best]
        outcomes[best] = ("chosen", f"lowest used pct {pct_of[best]:.4f} among eligible")
        for position in eligible:
            if position != best:
                outcomes[position] = (
                    "ranked_lower",
                    _ranked_lower_reason(
                        (candidates[position], used_of[position], pct_of[position]),
                        (chosen, used_of[best], pct_of[best]),
                    ),
                )

    table = tuple(
        # positional: supplier_id, used, capacity, used_pct, outcome, reason
        CandidateAssessment(
            supplier.supplier_id, used_of[position], supplier.capacity, pct_of[position], *outcome
        )
        for position, (supplier, outcome) in enumerate(zip(candidates, outcomes, strict=True))
        if outcome is not None
    )
    if chosen is not None:
        return base(
            num_panels=num_panels,
            status="matched",
            supplier_id=chosen.supplier_id,
            message=f"matched to {chosen.supplier_id!r}",
            candidates=table,
        )
    reason: NoMatchReason = "product_unavailable" if any_room else "no_capacity"
    message = (
        f"no supplier serving ZIP {registration.zip_code!r} has capacity left"
        if reason == "no_capacity"
        else f"no supplier serving ZIP {registration.zip_code!r} with capacity offers the "
        f"products asked (solar, {registration.num_batteries} batteries)"
    )
    return base(
        num_panels=num_panels,
        status="no_match",
        supplier_id=None,
        reason=reason,
        message=message,
        candidates=table,
    )


def _ranked_lower_reason(
    candidate: tuple[Supplier, int, float], chosen: tuple[Supplier, int, float]
) -> str:
    """Why an eligible candidate lost to the chosen one; each is (supplier, used, used pct)."""
    (supplier, used, pct), (winner, winner_used, winner_pct) = candidate, chosen
    if pct != winner_pct:
        return f"used pct {pct:.4f} is higher than {winner.supplier_id!r} {winner_pct:.4f}"
    room, winner_room = supplier.capacity - used, winner.capacity - winner_used
    if room != winner_room:
        return f"same used pct but {room} left vs {winner_room} for {winner.supplier_id!r}"
    return f"tied with {winner.supplier_id!r}, which comes first in the offers file"


def eligible_supplier_ids(
    registration: Registration, index: SupplierIndex, capacity_used: Mapping[str, int]
) -> Sequence[str]:
    """Return the ids of every eligible supplier (rule 3), in file order."""
    num_batteries = registration.num_batteries
    return [
        s.supplier_id
        for s in index.candidates(registration.zip_code)
        if has_room(capacity_used.get(s.supplier_id, 0), s.capacity)
        and index.missing_product(s, num_batteries) is None
    ]
