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
    ProductType,
    PurchaseOrder,
    PurchaseOrderLine,
    Registration,
    Supplier,
)
from igent.rules.incentives import IncentivePlan, product_watts


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


_LineKey = tuple[ProductType, int, PaymentType, bool]


class PriceList:
    """One supplier's products, panel watts and priced lines, looked up once per offers book.

    A campaign prices thousands of registrations with a handful of suppliers, each asking one
    of a few dozen quantities, so a priced line is computed once and then reused.
    """

    def __init__(self, supplier: Supplier) -> None:
        self.supplier = supplier
        self.solar = supplier.product("Solar")
        self.battery = supplier.product("Battery")
        self.panel_watts = product_watts(self.solar) if self.solar is not None else 0.0
        self._lines: dict[_LineKey, PurchaseOrderLine] = {}
        self._cash: dict[tuple[ProductType, int, bool], float] = {}

    def product(self, product_type: ProductType) -> Product | None:
        """Return the supplier's priced product of this type (see Supplier.product)."""
        return self.solar if product_type == "Solar" else self.battery

    def line(
        self, product_type: ProductType, quantity: int, payment_type: PaymentType, lmi: bool
    ) -> PurchaseOrderLine:
        """Return the priced line for ``quantity`` of the supplier's product (rules 7-8)."""
        key = (product_type, quantity, payment_type, lmi)
        found = self._lines.get(key)
        if found is None:
            product = self.product(product_type)
            if product is None:
                raise ValueError(
                    f"supplier {self.supplier.supplier_id!r} offers no priced "
                    f"{product_type} product"
                )
            found = self._lines[key] = price_line(product, quantity, payment_type, lmi)
        return found

    def cash_price(self, product_type: ProductType, quantity: int, lmi: bool) -> float:
        """Return the Cash price of the tier rule 7 picks (incentives on loans, rule 9)."""
        key = (product_type, quantity, lmi)
        found = self._cash.get(key)
        if found is None:
            product = self.product(product_type)
            found = self._cash[key] = cash_price(product, quantity, lmi) if product else 0.0
        return found


def build_purchase_order(
    registration: Registration,
    supplier: Supplier,
    incentives: IncentiveBook,
    campaign_date: dt.date,
    *,
    price_list: PriceList | None = None,
    incentive_plan: IncentivePlan | None = None,
) -> PurchaseOrder:
    """Price a matched registration into a purchase order with its incentives.

    ``price_list`` (``supplier``'s lookups) and ``incentive_plan`` (``incentives`` on
    ``campaign_date``) are built once per offers book by the engine and reused.
    """
    num_panels = registration.num_panels
    if num_panels is None:
        raise ValueError(f"registration {registration.registration_id!r} has no panel count")
    prices = price_list if price_list is not None else PriceList(supplier)
    if prices.solar is None:
        raise ValueError(f"supplier {supplier.supplier_id!r} offers no priced Solar product")
    payment_type = registration.effective_payment_type
    lmi = registration.low_medium_income
    lines = [prices.line("Solar", num_panels, payment_type, lmi)]
    num_batteries = registration.num_batteries
    if num_batteries > 0:
        lines.append(prices.line("Battery", num_batteries, payment_type, lmi))
    solar_price = to_cents(lines[0].price)
    battery_price = to_cents(lines[1].price) if len(lines) > 1 else 0.0
    total_price = to_cents(solar_price + battery_price)
    is_loan = payment_type == "Loan"
    # An incentive never reduces a monthly installment: for a loan it is computed on the same
    # tiers' Cash price and reported as its own total beside the unchanged installment.
    incentive_base = total_price
    if is_loan:
        incentive_base = to_cents(prices.cash_price("Solar", num_panels, lmi))
        if num_batteries > 0:
            battery_cash = prices.cash_price("Battery", num_batteries, lmi)
            incentive_base = to_cents(incentive_base + battery_cash)
    plan = (
        incentive_plan if incentive_plan is not None else IncentivePlan(incentives, campaign_date)
    )
    granted = plan.grant(
        zip_code=registration.zip_code,
        low_medium_income=lmi,
        total_price=incentive_base,
        installed_watts=prices.panel_watts * num_panels,
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
