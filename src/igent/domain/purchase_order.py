"""Phase 2 output: a priced purchase order for a match."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from igent.domain.offer import ProductType
from igent.domain.registration import PaymentType

PriceColumn = Literal["CashPrice", "LMICashPrice", "LoanInstallment", "LMILoanInstallment"]
PriceUnit = Literal["total", "per_month"]


class PurchaseOrderLine(BaseModel):
    """One product line: what was asked, which tier priced it and at what price."""

    model_config = ConfigDict(frozen=True)

    product_type: ProductType
    product_name: str
    product_capacity: str
    quantity_requested: int
    tier_quantity: int
    price: float
    price_column: PriceColumn
    price_unit: PriceUnit


class IncentiveAmount(BaseModel):
    """An incentive granted on a purchase order."""

    model_config = ConfigDict(frozen=True)

    name: str
    amount: float


class PurchaseOrder(BaseModel):
    """A priced purchase order (PO) for one matched registration."""

    model_config = ConfigDict(frozen=True)

    registration_id: str
    supplier_id: str
    num_panels: int
    num_batteries: int
    payment_type: PaymentType
    low_medium_income: bool
    lines: tuple[PurchaseOrderLine, ...]
    solar_price: float
    battery_price: float
    total_price: float
    interest_rate: float | None = None
    loan_term_months: int | None = None
    incentives: tuple[IncentiveAmount, ...] = ()
    incentives_total: float = 0.0
    net_price: float
