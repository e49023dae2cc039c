"""A customer's registration, read from a campaign export (flat JSON object)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from igent.domain.bounds import (
    MAX_BATTERIES,
    MAX_NESTING,
    MAX_PANELS,
    is_plain_json,
    is_utf8_text,
    nesting_depth,
)
from igent.domain.coerce import to_flag, to_optional_int, to_trimmed_str

PaymentType = Literal["Cash", "Loan"]

OptionalInt = Annotated[int | None, BeforeValidator(to_optional_int)]
Flag = Annotated[bool, BeforeValidator(to_flag)]
TrimmedStr = Annotated[str, BeforeValidator(to_trimmed_str)]


def _to_payment_type(value: object) -> object:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        for option in ("Cash", "Loan"):
            if value.strip().lower() == option.lower():
                return option
    return value


class Registration(BaseModel):
    """One customer's request; unknown export keys are kept in ``model_extra``."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    registration_id: TrimmedStr = Field(alias="RegistrationNumber", min_length=1)
    zip_code: TrimmedStr = Field(alias="Contact_Zip", min_length=1)
    campaign_name: str | None = Field(default=None, alias="CampaignName")
    status: str | None = Field(default=None, alias="RegistrationStatus")
    knows_amount_of_panels: Flag = Field(default=False, alias="Product_KnowsAmountOfPanels")
    amount_of_panels: OptionalInt = Field(
        default=None, alias="Product_AmountOfPanels", le=MAX_PANELS
    )
    optimal_amount_of_panels: OptionalInt = Field(
        default=None, alias="Proposal_OptimalAmountOfPanels", le=MAX_PANELS
    )
    optimal_amount_of_batteries: OptionalInt = Field(
        default=None, alias="Proposal_OptimalAmountOfBatteries", le=MAX_BATTERIES
    )
    low_medium_income: Flag = Field(default=False, alias="Contact_LowMediumIncome")
    payment_type: Annotated[PaymentType | None, BeforeValidator(_to_payment_type)] = Field(
        default=None, alias="PaymentType"
    )

    @field_validator("optimal_amount_of_batteries")
    @classmethod
    def _batteries_not_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError(f"expected 0 or more batteries, got {value!r}")
        return value

    @property
    def num_batteries(self) -> int:
        """Batteries asked for; a missing or empty value means none."""
        return self.optimal_amount_of_batteries or 0

    @property
    def num_panels(self) -> int | None:
        """Panels asked for (rule 1), or None when neither count is usable."""
        if (
            self.knows_amount_of_panels
            and self.amount_of_panels is not None
            and self.amount_of_panels > 0
        ):
            return self.amount_of_panels
        if self.optimal_amount_of_panels is not None and self.optimal_amount_of_panels > 0:
            return self.optimal_amount_of_panels
        return None

    @property
    def effective_payment_type(self) -> PaymentType:
        """The payment type to price with: the registration's own, else Cash."""
        return self.payment_type or "Cash"


@dataclass(frozen=True)
class RegistrationRecord:
    """One entry of a registrations file: the parsed registration, or why it is invalid."""

    record_index: int
    raw: Mapping[str, Any]
    registration: Registration | None
    error: str | None = None

    @cached_property  # read ~10 times per registration on the way to the ledger
    def registration_id(self) -> str:
        """The registration's id, or a placeholder naming the record index."""
        if self.registration is not None:
            return self.registration.registration_id
        raw_id = self.raw.get("RegistrationNumber") if isinstance(self.raw, Mapping) else None
        text = str(raw_id).strip() if raw_id is not None else ""
        return text or f"#{self.record_index}"


_PLAIN = frozenset({int, bool, type(None)})


def _flat_value_problem(raw: Mapping[str, Any]) -> str | None:
    """Name the first value that could not be written out as JSON in UTF-8, or return None.

    NaN/infinity, nesting deeper than MAX_NESTING and lone surrogates ("\\ud800") are refused.
    """
    # Runs once per record (a million times for a national campaign): exact type checks first.
    for key, value in raw.items():
        if not (type(key) is str and (key.isascii() or is_utf8_text(key))):
            return f"key {key!r} is not valid text"
        kind = type(value)
        if kind is str:
            if not (value.isascii() or is_utf8_text(value)):
                return f"field {key!r}: not valid text (got {value!r})"
        elif kind in _PLAIN:
            continue
        elif kind is float:
            if not math.isfinite(value):
                return f"field {key!r}: expected a finite number, got {value!r}"
        elif nesting_depth(value) >= MAX_NESTING or not is_plain_json(value):
            return (
                f"field {key!r}: nested more than {MAX_NESTING} levels deep, not finite "
                "or not valid text"
            )
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def _problem(err: ErrorDetails, raw: Mapping[str, Any]) -> str:
    field = ".".join(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return f"field {field!r} is missing"
    shown = _shown(raw.get(field, err["input"]))
    if err["type"] == "less_than_equal":
        bound = (err.get("ctx") or {}).get("le")
        return f"field {field!r}: expected at most {bound} (docs/rules.md, Bounds), got {shown}"
    return f"field {field!r}: {err['msg']} (got {shown})"


def parse_registration_record(raw: Any, record_index: int) -> RegistrationRecord:
    """Parse one raw registration; a validation failure is kept as the record's error."""
    if not isinstance(raw, Mapping):
        return RegistrationRecord(
            record_index=record_index,
            raw={},
            registration=None,
            error=f"registration #{record_index}: expected a JSON object, got {type(raw).__name__}",
        )
    problem = _flat_value_problem(raw)
    if problem is None:
        try:
            return RegistrationRecord(record_index, raw, Registration.model_validate(raw))
        except ValidationError as exc:
            problem = "; ".join(_problem(err, raw) for err in exc.errors())
    else:
        # Keep only plain values, so the record can always be written out as valid JSON.
        raw = {
            key: value
            for key, value in raw.items()
            if is_plain_json(key) and not isinstance(value, Mapping | list) and is_plain_json(value)
        }
    return RegistrationRecord(
        record_index=record_index,
        raw=raw,
        registration=None,
        error=f"registration #{record_index} ({_shown(raw.get('RegistrationNumber'))}): {problem}",
    )
