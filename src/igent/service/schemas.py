"""HTTP request and response bodies (the wire shapes; domain models stay in igent.domain)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CAMPAIGN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Scalar = str | int | float | bool | None
DecisionStatus = Literal["matched", "no_match", "skipped", "failed", "unapproved", "cancelled"]


class ErrorResponse(BaseModel):
    """An error: what failed and how to fix it."""

    detail: str = Field(description="What failed, the value, and the fix.")


class FieldError(BaseModel):
    """One invalid field of a request (pydantic's location)."""

    loc: list[str | int] = Field(description="Where the field is, e.g. ['body', 'Contact_Zip'].")
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """A request that does not match its schema; nothing was changed."""

    detail: str = Field(description="The invalid fields in one line.")
    errors: list[FieldError] = Field(default_factory=list)


class CapacityConflict(BaseModel):
    """A supplier whose new capacity would be below what is already booked."""

    supplier_id: str
    booked: int
    capacity: int


class ConflictResponse(BaseModel):
    """A request that conflicts with the current state (409)."""

    detail: str
    fields: list[str] = Field(
        default_factory=list, description="Fields that differ from the stored registration."
    )
    suppliers: list[CapacityConflict] = Field(
        default_factory=list, description="Suppliers whose capacity would drop below bookings."
    )


class HealthResponse(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


class CampaignCreate(BaseModel):
    """A new campaign: its offers and how registrations are decided."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: str = Field(pattern=CAMPAIGN_ID_PATTERN, description="Unique id, used in URLs.")
    name: str | None = Field(default=None, max_length=200, description="Display name.")
    offers: dict[str, Any] = Field(description="Offers document in the offers file format.")
    incentives: dict[str, Any] | list[Any] | None = Field(
        default=None, description="Incentives document (optional), as in the incentives file."
    )
    constellation: str = Field(default="rules", description="Constellation name, e.g. p1m1v0_p2r.")
    model: str | None = Field(
        default=None, description="Model for LLM constellations: endpoint[:model], mock, sim:P."
    )
    campaign_date: dt.date | None = Field(
        default=None, description="Date prices and incentives apply on (default: today)."
    )
    concurrency: int = Field(default=8, ge=1, le=256, description="Parallel batch decisions.")


class OffersReplace(BaseModel):
    """A new offer version for a campaign."""

    model_config = ConfigDict(extra="forbid")

    offers: dict[str, Any] = Field(description="Offers document in the offers file format.")


class SupplierCapacity(BaseModel):
    """One supplier's bookings and capacity."""

    supplier_id: str
    used: int
    capacity: int
    remaining: int


class CampaignPublic(BaseModel):
    """A campaign with its current capacity."""

    campaign_id: str
    name: str
    constellation: str
    model: str | None
    campaign_date: dt.date
    concurrency: int
    offer_version: int
    created_at: str
    suppliers: list[SupplierCapacity]


class CampaignList(BaseModel):
    """Every campaign."""

    campaigns: list[CampaignPublic]


class RegistrationIn(BaseModel):
    """One registration in the campaign export format; unknown export keys are kept."""

    model_config = ConfigDict(extra="allow")

    RegistrationNumber: str | int = Field(description="The registration's id (idempotency key).")
    Contact_Zip: str | int = Field(description="ZIP code.")

    def raw(self) -> dict[str, Any]:
        """Return the registration as the export's flat JSON object."""
        return self.model_dump(mode="json")


class Candidate(BaseModel):
    """How one supplier serving the ZIP fared."""

    supplier_id: str
    used: int
    capacity: int
    used_pct: float
    outcome: str
    reason: str


class ModelCall(BaseModel):
    """One model call made while deciding."""

    model_config = ConfigDict(extra="allow")

    role: str | None = None
    model: str | None = None
    duration_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None


class Cancellation(BaseModel):
    """Who cancelled, when and why."""

    cancelled_by: str
    reason: str
    cancelled_at: str


class DecisionPublic(BaseModel):
    """A registration's decision, purchase order, explanation and timings."""

    campaign_id: str
    registration_id: str
    status: DecisionStatus
    supplier_id: str | None
    reason: str | None = Field(default=None, description="NO MATCH reason, e.g. no_capacity.")
    message: str = ""
    source: str | None = Field(default=None, description="Who answered: llm, rules, ...")
    candidates: list[Candidate] = Field(
        default_factory=list, description="Per-candidate explanation."
    )
    purchase_order: dict[str, Any] | None = None
    timings: dict[str, Scalar] = Field(default_factory=dict)
    model_calls: list[ModelCall] = Field(default_factory=list)
    audit: dict[str, Any] | None = Field(default=None, description="The critic's audit verdict.")
    deadline_fallback: bool = Field(
        default=False, description="True when the deadline forced the rules' answer."
    )
    cancellations: list[Cancellation] = Field(default_factory=list)
    offer_version: int | None = None


class RegistrationPage(BaseModel):
    """One page of registrations; pass ``next_cursor`` as ``cursor`` for the next."""

    items: list[DecisionPublic]
    next_cursor: str | None


class CancelRequest(BaseModel):
    """Why a registration is cancelled."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class JobPublic(BaseModel):
    """A batch job and its progress."""

    job_id: str
    campaign_id: str
    status: Literal["queued", "running", "done", "failed"]
    total: int
    done: int
    errors: int
    error: str | None
    created_at: str
    updated_at: str
    url: str
    item_errors: list[dict[str, Any]] = Field(default_factory=list)


__all__ = [
    "CAMPAIGN_ID_PATTERN",
    "CampaignCreate",
    "CampaignList",
    "CampaignPublic",
    "Cancellation",
    "CancelRequest",
    "Candidate",
    "CapacityConflict",
    "ConflictResponse",
    "DecisionPublic",
    "ErrorResponse",
    "FieldError",
    "HealthResponse",
    "JobPublic",
    "ModelCall",
    "OffersReplace",
    "RegistrationIn",
    "RegistrationPage",
    "SupplierCapacity",
    "ValidationErrorResponse",
]
