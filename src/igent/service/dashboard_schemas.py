"""Wire shapes of the operator page's JSON endpoints (summary, table, outcomes, offers preview)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from igent.store.service_tables import KeyRole

SortKey = Literal[
    "submitted", "registration_id", "zip_code", "status", "supplier_id", "reason", "net_price_eur"
]
SupplierChangeKind = Literal["added", "removed", "changed", "unchanged"]


class KeyPublic(BaseModel):
    """The caller's API key: its id, name and role (never the key itself)."""

    key_id: str
    name: str
    role: KeyRole = Field(description="'operator' may change things; 'viewer' may only read.")


class CampaignSummary(BaseModel):
    """A campaign's decision counts, latency and model cost so far."""

    campaign_id: str
    total: int = Field(description="Decisions stored (every status).")
    matched: int
    no_match: int
    no_match_by_reason: dict[str, int] = Field(default_factory=dict)
    cancelled: int
    pending: int = Field(description="Registrations queued in unfinished batch jobs.")
    other: dict[str, int] = Field(
        default_factory=dict, description="Decisions with another status (failed, skipped, ...)."
    )
    latency_p50_s: float | None = Field(description="Median pipeline time per decision.")
    latency_p95_s: float | None
    llm_calls: int
    cost_usd: float = Field(description="Model cost of all decisions so far.")


class RegistrationRecord(BaseModel):
    """A registration's fields as last submitted, and its state."""

    registration_id: str
    state: str = Field(description="decided, cancelled, or deciding.")
    fields: dict[str, Any] = Field(description="The registration in the export format.")


class TableRow(BaseModel):
    """One registration in the operator's table."""

    registration_id: str
    zip_code: str | None
    status: str
    supplier_id: str | None
    reason: str | None
    net_price_eur: float | None


class RegistrationTable(BaseModel):
    """One page of the registrations table, with the values the filters can take."""

    rows: list[TableRow]
    total: int = Field(description="Rows passing the search and filters.")
    page: int
    pages: int
    page_size: int
    suppliers: list[str] = Field(description="Supplier ids of the campaign (filter values).")
    reasons: list[str] = Field(description="NO MATCH reasons seen (filter values).")


class OutcomesRequest(BaseModel):
    """Registration numbers whose decisions to count (e.g. those of one upload)."""

    model_config = ConfigDict(extra="forbid")

    registration_ids: list[str] = Field(max_length=100_000)


class Outcomes(BaseModel):
    """Decisions of the given registrations, counted."""

    matched: int
    no_match_by_reason: dict[str, int] = Field(default_factory=dict)
    by_status: dict[str, int] = Field(default_factory=dict)
    missing: int = Field(description="Registrations with no decision.")


class SupplierChange(BaseModel):
    """How one supplier's offer changes in a new offer version."""

    supplier_id: str
    change: SupplierChangeKind
    capacity_before: int | None
    capacity_after: int | None
    booked: int
    refused: bool = Field(description="True when the new capacity is below what is booked.")
    price_changes: list[str] = Field(default_factory=list, description="Price changes in words.")


class OffersPreview(BaseModel):
    """What replacing a campaign's offers would change; nothing is stored."""

    campaign_id: str
    offer_version: int = Field(description="The current offer version.")
    allowed: bool
    detail: str = Field(description="The outcome in words, with the numbers of a refusal.")
    suppliers: list[SupplierChange]


__all__ = [
    "CampaignSummary",
    "KeyPublic",
    "OffersPreview",
    "Outcomes",
    "OutcomesRequest",
    "RegistrationRecord",
    "RegistrationTable",
    "SortKey",
    "SupplierChange",
    "SupplierChangeKind",
    "TableRow",
]
