"""Phase 2 rules: price a match into a purchase order (docs/rules.md, rules 7-9)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from igent.domain import (
    IncentiveBook,
    PaymentType,
    PriceColumn,
    PriceTier,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Registration,
    Supplier,
)
from igent.rules.incentives import grant_incentives, solar_watts


def choose_tier(tiers: Sequence[PriceTier], quantity: int) -> PriceTier:
    """Return the tier whose Quantity is closest to ``quantity``; ties go to the larger one."""
    if not tiers:
        raise ValueError("a product without price tiers cannot be priced")
    return min(tiers, key=lambda t: (abs(t.quantity - quantity), -t.quantity))


def price_column(payment_type: PaymentType, tier: PriceTier, lmi: bool) -> PriceColumn:
    """Return the price column that applies (rule 8): LMI replaces regular when > 0."""
    if payment_type == "Loan":
        return "LMILoanInstallment" if lmi and tier.lmi_loan_installment > 0 else "LoanInstallment"
    return "LMICashPrice" if lmi and tier.lmi_cash_price > 0 else "CashPrice"


_COLUMN_FIELD: dict[PriceColumn, str] = {
    "CashPrice": "cash_price",
    "LMICashPrice": "lmi_cash_price",
    "LoanInstallment": "loan_installment",
    "LMILoanInstallment": "lmi_loan_installment",
}


def price_line(
    product: Product, quantity: int, payment_type: PaymentType, lmi: bool
) -> PurchaseOrderLine:
    """Price ``quantity`` of ``product`` from its closest tier."""
    tier = choose_tier(product.prices, quantity)
    column = price_column(payment_type, tier, lmi)
    return PurchaseOrderLine(
        product_type=product.product_type,
        product_name=product.product_name,
        product_capacity=product.product_capacity,
        quantity_requested=quantity,
        tier_quantity=tier.quantity,
        price=float(getattr(tier, _COLUMN_FIELD[column])),
        price_column=column,
        price_unit="per_month" if payment_type == "Loan" else "total",
    )


def cash_price(product: Product, quantity: int, lmi: bool) -> float:
    """Return the Cash price of the tier rule 7 picks for ``quantity`` (LMI column when set)."""
    tier = choose_tier(product.prices, quantity)
    return float(getattr(tier, _COLUMN_FIELD[price_column("Cash", tier, lmi)]))


def to_cents(amount: float) -> float:
    """Round a money amount to cents."""
    return round(amount + 0.0, 2)


def build_purchase_order(
    registration: Registration,
    supplier: Supplier,
    incentives: IncentiveBook,
    campaign_date: dt.date,
) -> PurchaseOrder:
    """Price a matched registration into a purchase order with its incentives."""
    num_panels = registration.num_panels
    if num_panels is None:
        raise ValueError(f"registration {registration.registration_id!r} has no panel count")
    solar = supplier.product("Solar")
    if solar is None:
        raise ValueError(f"supplier {supplier.supplier_id!r} offers no priced Solar product")
    payment_type = registration.effective_payment_type
    lmi = registration.low_medium_income
    lines = [price_line(solar, num_panels, payment_type, lmi)]
    num_batteries = registration.num_batteries
    battery = None
    if num_batteries > 0:
        battery = supplier.product("Battery")
        if battery is None:
            raise ValueError(f"supplier {supplier.supplier_id!r} offers no priced Battery product")
        lines.append(price_line(battery, num_batteries, payment_type, lmi))
    solar_price = to_cents(lines[0].price)
    battery_price = to_cents(lines[1].price) if len(lines) > 1 else 0.0
    total_price = to_cents(solar_price + battery_price)
    is_loan = payment_type == "Loan"
    # An incentive never reduces a monthly installment: for a loan it is computed on the same
    # tiers' Cash price and reported as its own total beside the unchanged installment.
    incentive_base = total_price
    if is_loan:
        incentive_base = to_cents(cash_price(solar, num_panels, lmi))
        if battery is not None:
            incentive_base = to_cents(incentive_base + cash_price(battery, num_batteries, lmi))
    granted = grant_incentives(
        incentives,
        zip_code=registration.zip_code,
        low_medium_income=lmi,
        campaign_date=campaign_date,
        total_price=incentive_base,
        installed_watts=solar_watts(solar, num_panels),
    )
    granted_sum = sum(g.amount for g in granted)
    net_price = total_price if is_loan else to_cents(max(0.0, total_price - granted_sum))
    return PurchaseOrder(
        registration_id=registration.registration_id,
        supplier_id=supplier.supplier_id,
        num_panels=num_panels,
        num_batteries=num_batteries,
        payment_type=payment_type,
        low_medium_income=lmi,
        lines=tuple(lines),
        solar_price=solar_price,
        battery_price=battery_price,
        total_price=total_price,
        interest_rate=supplier.interest_rate if is_loan else None,
        loan_term_months=supplier.loan_term_months if is_loan else None,
        incentives=tuple(granted),
        incentives_total=to_cents(granted_sum),
        net_price=net_price,
    )
