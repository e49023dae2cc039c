"""Phase 1 rules: pick the supplier for a registration (docs/rules.md, rules 1-6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from igent.domain import (
    CandidateAssessment,
    CandidateOutcome,
    MatchDecision,
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


def _rank_key(supplier: Supplier, used: int) -> tuple[float, int]:
    return (_pct(used, supplier.capacity), -(supplier.capacity - used))


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
    base = {
        "registration_id": registration.registration_id,
        "record_index": record_index,
        "zip_code": registration.zip_code,
        "num_batteries": registration.num_batteries,
    }
    num_panels = registration.num_panels
    if num_panels is None:
        return MatchDecision(
            **base,
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
        return MatchDecision(
            **base,
            num_panels=num_panels,
            status="no_match",
            supplier_id=None,
            reason="zip_not_served",
            message=f"no supplier serves ZIP {registration.zip_code!r}",
        )
    assessments: dict[str, tuple[CandidateOutcome, str]] = {}
    eligible: list[Supplier] = []
    any_room = False
    for supplier in candidates:
        used = capacity_used.get(supplier.supplier_id, 0)
        if not has_room(used, supplier.capacity):
            assessments[supplier.supplier_id] = (
                "no_capacity",
                f"no capacity left: used {used} of {supplier.capacity}",
            )
            continue
        any_room = True
        missing = index.missing_product(supplier, registration.num_batteries)
        if missing is not None:
            assessments[supplier.supplier_id] = ("product_unavailable", missing)
            continue
        eligible.append(supplier)

    chosen: Supplier | None = None
    if eligible:
        chosen = min(eligible, key=lambda s: _rank_key(s, capacity_used.get(s.supplier_id, 0)))
        chosen_used = capacity_used.get(chosen.supplier_id, 0)
        assessments[chosen.supplier_id] = (
            "chosen",
            f"lowest used pct {_pct(chosen_used, chosen.capacity):.4f} among eligible",
        )
        for supplier in eligible:
            if supplier is not chosen:
                assessments[supplier.supplier_id] = (
                    "ranked_lower",
                    _ranked_lower_reason(supplier, chosen, capacity_used),
                )

    table = tuple(_assessment(s, capacity_used, *assessments[s.supplier_id]) for s in candidates)
    if chosen is not None:
        return MatchDecision(
            **base,
            num_panels=num_panels,
            status="matched",
            supplier_id=chosen.supplier_id,
            message=f"matched to {chosen.supplier_id!r}",
            candidates=table,
        )
    reason = "product_unavailable" if any_room else "no_capacity"
    message = (
        f"no supplier serving ZIP {registration.zip_code!r} has capacity left"
        if reason == "no_capacity"
        else f"no supplier serving ZIP {registration.zip_code!r} with capacity offers the "
        f"products asked (solar, {registration.num_batteries} batteries)"
    )
    return MatchDecision(
        **base,
        num_panels=num_panels,
        status="no_match",
        supplier_id=None,
        reason=reason,
        message=message,
        candidates=table,
    )


def _ranked_lower_reason(
    supplier: Supplier, chosen: Supplier, capacity_used: Mapping[str, int]
) -> str:
    used = capacity_used.get(supplier.supplier_id, 0)
    chosen_used = capacity_used.get(chosen.supplier_id, 0)
    pct, chosen_pct = _pct(used, supplier.capacity), _pct(chosen_used, chosen.capacity)
    if pct != chosen_pct:
        return f"used pct {pct:.4f} is higher than {chosen.supplier_id!r} {chosen_pct:.4f}"
    room, chosen_room = supplier.capacity - used, chosen.capacity - chosen_used
    if room != chosen_room:
        return f"same used pct but {room} left vs {chosen_room} for {chosen.supplier_id!r}"
    return f"tied with {chosen.supplier_id!r}, which comes first in the offers file"


def _assessment(
    supplier: Supplier, capacity_used: Mapping[str, int], outcome: CandidateOutcome, reason: str
) -> CandidateAssessment:
    used = capacity_used.get(supplier.supplier_id, 0)
    return CandidateAssessment(
        supplier_id=supplier.supplier_id,
        used=used,
        capacity=supplier.capacity,
        used_pct=_pct(used, supplier.capacity),
        outcome=outcome,
        reason=reason,
    )


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
