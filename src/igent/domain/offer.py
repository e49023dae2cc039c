"""A campaign's supplier offers, read from the offers file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from igent.domain.bounds import (
    MAX_CAPACITY,
    MAX_INTEREST_RATE,
    MAX_LOAN_TERM_MONTHS,
    MAX_PRICE,
    MAX_TIER_QUANTITY,
)
from igent.domain.coerce import to_number, to_optional_int, to_trimmed_str

ProductType = Literal["Solar", "Battery"]
Number = Annotated[float, BeforeValidator(to_number)]
TrimmedStr = Annotated[str, BeforeValidator(to_trimmed_str)]


def _to_int(value: object) -> object:
    number = to_optional_int(value)
    if number is None:
        raise ValueError(f"expected a whole number, got {value!r}")
    return number


WholeNumber = Annotated[int, BeforeValidator(_to_int)]


class PriceTier(BaseModel):
    """Prices for one quantity; a 0 in a column means that price is not offered."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    quantity: WholeNumber = Field(alias="Quantity", ge=0, le=MAX_TIER_QUANTITY)
    cash_price: Number = Field(default=0.0, alias="CashPrice", ge=0, le=MAX_PRICE)
    lmi_cash_price: Number = Field(default=0.0, alias="LMICashPrice", ge=0, le=MAX_PRICE)
    loan_installment: Number = Field(default=0.0, alias="LoanInstallment", ge=0, le=MAX_PRICE)
    lmi_loan_installment: Number = Field(
        default=0.0, alias="LMILoanInstallment", ge=0, le=MAX_PRICE
    )


class Product(BaseModel):
    """One product a supplier offers, with its price tiers."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    product_type: ProductType = Field(alias="ProductType")
    product_name: str = Field(alias="ProductName")
    product_capacity: TrimmedStr = Field(default="", alias="ProductCapacity")
    prices: tuple[PriceTier, ...] = Field(default=(), alias="ProductPrices")


class Supplier(BaseModel):
    """A supplier in the campaign: its capacity, service area and products."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    supplier_id: TrimmedStr = Field(alias="SupplierID", min_length=1)
    capacity: WholeNumber = Field(alias="Capacity", ge=0, le=MAX_CAPACITY)
    interest_rate: Number | None = Field(
        default=None, alias="InterestRate", ge=0, le=MAX_INTEREST_RATE
    )
    loan_term_months: WholeNumber | None = Field(
        default=None, alias="LoanTermMonths", ge=0, le=MAX_LOAN_TERM_MONTHS
    )
    service_areas: tuple[TrimmedStr, ...] = Field(default=(), alias="ServiceAreas")
    offers: tuple[Product, ...] = Field(default=(), alias="Offers")

    def product(self, product_type: ProductType) -> Product | None:
        """Return the first product of this type that has at least one price tier."""
        for product in self.offers:
            if product.product_type == product_type and product.prices:
                return product
        return None


class OfferBook(BaseModel):
    """All supplier offers of one campaign, in file order."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    campaign_id: str | None = Field(default=None, alias="CampaignID")
    suppliers: tuple[Supplier, ...] = Field(alias="SupplierOffers")

    @model_validator(mode="after")
    def _supplier_ids_unique(self) -> OfferBook:
        # Capacity is counted per SupplierID, so two entries with one id would share it.
        seen: dict[str, int] = {}
        for position, supplier in enumerate(self.suppliers):
            if supplier.supplier_id in seen:
                raise ValueError(
                    f"SupplierID {supplier.supplier_id!r} is used by SupplierOffers"
                    f"[{seen[supplier.supplier_id]}] and [{position}]; give each supplier one entry"
                )
            seen[supplier.supplier_id] = position
        return self

    def supplier(self, supplier_id: str) -> Supplier | None:
        """Return the supplier with this id, or None."""
        for supplier in self.suppliers:
            if supplier.supplier_id == supplier_id:
                return supplier
        return None
