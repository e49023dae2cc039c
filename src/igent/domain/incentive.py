"""Incentives (subsidies) in igent's own format; see docs/rules.md, "Incentives file"."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from igent.domain.bounds import MAX_PRICE
from igent.domain.coerce import to_trimmed_str

IncentiveKind = Literal["percent_of_total", "fixed_amount", "per_watt"]
TrimmedStr = Annotated[str, BeforeValidator(to_trimmed_str)]


class Incentive(BaseModel):
    """One subsidy: who gets it, when, and how much."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Shown on the purchase order.")
    communities: Literal["ALL"] | tuple[TrimmedStr, ...] = Field(
        description='ZIP codes where it applies, or "ALL".'
    )
    lmi_only: bool = Field(default=False, description="Only for low-and-moderate-income.")
    valid_from: dt.date | None = Field(default=None, description="First valid day, inclusive.")
    valid_to: dt.date | None = Field(default=None, description="Last valid day, inclusive.")
    kind: IncentiveKind = Field(
        description="percent_of_total: rate % of total_price; fixed_amount: rate; "
        "per_watt: rate x installed solar watts."
    )
    rate: float = Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)
    cap: float | None = Field(
        default=None, ge=0, le=MAX_PRICE, allow_inf_nan=False, description="Largest amount granted."
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Incentive:
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError(
                f"valid_from {self.valid_from} is after valid_to {self.valid_to}; swap them"
            )
        return self

    def is_valid_on(self, day: dt.date) -> bool:
        """Return True when ``day`` lies within the validity window."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def applies_to(self, zip_code: str, low_medium_income: bool, day: dt.date) -> bool:
        """Return True when a registration with this ZIP and income class gets it on ``day``."""
        in_community = self.communities == "ALL" or zip_code.strip() in self.communities
        return in_community and (low_medium_income or not self.lmi_only) and self.is_valid_on(day)


class IncentiveBook(BaseModel):
    """The incentives file: a list of incentives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incentives: tuple[Incentive, ...] = ()

    @model_validator(mode="after")
    def _names_unique(self) -> IncentiveBook:
        # A purchase order lists incentives by name, so a repeated name could not be checked.
        seen: dict[str, int] = {}
        for position, incentive in enumerate(self.incentives):
            first = seen.get(incentive.name)
            if first is not None:
                raise ValueError(
                    f"incentive name {incentive.name!r} is used by incentives[{first}] "
                    f"and [{position}]; give each incentive its own name"
                )
            seen[incentive.name] = position
        return self
