"""What a worker needs to decide a campaign's registrations, published in the ledger's meta.

The process that enqueues registrations (``python -m igent.workflows ... --broker``, or the
service) stores the campaign's offers, incentives, date, constellation and model once under
``worker:spec``; each message names the spec's hash, so a worker rebuilds its pipeline when the
campaign changes and never decides against offers other than the enqueuer's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from igent.campaign.loader import validate_document
from igent.domain import OfferBook
from igent.errors import ConfigError
from igent.store import Store

SPEC_KEY = "worker:spec"


class CampaignSpec(BaseModel):
    """A campaign as workers decide it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    campaign_id: str = Field(description="Ledger campaign id.")
    offers: dict[str, Any] = Field(description="The offers document (SupplierOffers ...).")
    incentives: dict[str, Any] = Field(default_factory=dict, description="Incentives document.")
    campaign_date: dt.date = Field(description="Date the rules judge registrations at.")
    constellation: str = Field(default="rules", description="Constellation name or YAML path.")
    model: str | None = Field(default=None, description="Model spec (mock, sim:PROFILE, ...).")
    skip_status: tuple[str, ...] = Field(default=(), description="Registration statuses skipped.")
    deadline_s: float = Field(default=300.0, gt=0, description="Per-registration deadline.")

    def digest(self) -> str:
        """A short hash of the spec: messages name the spec they were enqueued against."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def publish_spec(store: Store, spec: CampaignSpec) -> str:
    """Store ``spec`` for the workers (and the campaign's capacity); return its digest."""
    offers = validate_document(OfferBook, spec.offers, "offers")
    store.ensure_campaign(spec.campaign_id)
    store.set_suppliers(spec.campaign_id, [(s.supplier_id, s.capacity) for s in offers.suppliers])
    digest = spec.digest()
    store.set_meta(spec.campaign_id, SPEC_KEY, {"digest": digest, **spec.model_dump(mode="json")})
    return digest


def read_spec(store: Store, campaign_id: str) -> tuple[CampaignSpec, str]:
    """Return the campaign's published spec and its digest; ConfigError when there is none."""
    stored = store.get_meta(campaign_id, SPEC_KEY)
    if not isinstance(stored, dict):
        raise ConfigError(
            f"campaign {campaign_id!r} has no worker spec in the ledger; enqueue its "
            "registrations with python -m igent.workflows ... --broker URL --db URL first"
        )
    data = dict(stored)
    digest = str(data.pop("digest", ""))
    return CampaignSpec.model_validate(data), digest


__all__ = ["SPEC_KEY", "CampaignSpec", "publish_spec", "read_spec"]
