"""Campaigns of the service: create, read, replace offers, and each one's live pipeline.

A thin door onto the core: the campaign's ledger is the Store (same code as ``igent run``),
decisions go through the same Pipeline and rules engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from igent.campaign.loader import validate_document
from igent.domain import IncentiveBook, OfferBook
from igent.errors import ConfigError, IgentError, StoreError
from igent.llm import ChatClient, load_registry, resolve_api_key, resolve_endpoint
from igent.rules import RulesEngine
from igent.service.calls import CallRecorder
from igent.service.errors import Conflict, NotFound
from igent.service.finish import DecisionFinisher
from igent.service.schemas import (
    CampaignCreate,
    CampaignPublic,
    CapacityConflict,
    SupplierCapacity,
)
from igent.sim import PROFILES
from igent.store import CapacityState, GroupCommitter, Store
from igent.store.committer import AfterCommit, CommitBatch
from igent.store.service_tables import CampaignRow, ServiceTables
from igent.store.sqlite import SqliteStore
from igent.workflows import RunOptions, build_agents, resolve_constellation
from igent.workflows.models import open_model
from igent.workflows.pipeline import Pipeline

RUN_ID = "service"
RULES = "rules"
CAPACITY_MAX_AGE_S = 0.5
ROW_MAX_AGE_S = 1.0


@dataclass
class CampaignRuntime:
    """The live objects deciding one campaign's registrations at one offer version."""

    row: CampaignRow
    engine: RulesEngine
    capacity: CapacityState
    pipeline: Pipeline
    fallback: Pipeline
    committer: GroupCommitter
    recorder: CallRecorder | None
    finisher: DecisionFinisher
    refreshed_at: float = 0.0

    def refresh_capacity(self, max_age_s: float = CAPACITY_MAX_AGE_S) -> None:
        """Re-read the durable capacity when the view is older than ``max_age_s``.

        Bookings by other processes are caught at commit anyway (a conflict redoes the
        registration); the periodic re-read also picks up their cancellations.
        """
        now = time.monotonic()
        if now - self.refreshed_at >= max_age_s:
            self.capacity.refresh()
            self.refreshed_at = now


class CampaignDesk:
    """Campaign operations over the ledger Store and the service tables."""

    def __init__(
        self,
        store: Store,
        tables: ServiceTables,
        *,
        client: ChatClient | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        open_client: Callable[[str], contextlib.AbstractContextManager[ChatClient]] | None = None,
    ) -> None:
        self.store = store
        self.tables = tables
        self.client = client
        self._today = today
        self._open_client = open_client or _open_model_client
        self._runtimes: dict[str, CampaignRuntime] = {}
        self._rows: dict[str, tuple[CampaignRow, float]] = {}
        self._clients: dict[str, ChatClient] = {}
        self._exit = contextlib.ExitStack()
        self._build_lock = asyncio.Lock()

    def close(self) -> None:
        """Close model clients opened for campaigns, then the store."""
        self._exit.close()
        self.store.close()

    async def aclose(self) -> None:
        """Close the model clients this desk opened."""
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    # Campaigns
    def create(self, request: CampaignCreate, created_by: str) -> CampaignPublic:
        """Validate and store a new campaign with offer version 1."""
        offers = parse_offers_document(request.offers, "offers")
        incentives = parse_incentives_document(request.incentives)
        constellation = resolve_constellation(request.constellation)
        if constellation.uses_llm and self.client is None and not request.model:
            raise ConfigError(
                f"constellation {constellation.name!r} needs a model: set 'model' (e.g. 'mock' "
                "or 'sim:gpt-4o') or use constellation 'rules'"
            )
        if constellation.uses_llm and self.client is None and request.model:
            check_model(request.model)
        if self.tables.campaign(request.campaign_id) is not None:
            raise Conflict(f"campaign {request.campaign_id!r} already exists")
        row = CampaignRow(
            campaign_id=request.campaign_id,
            name=request.name or request.campaign_id,
            constellation=constellation.name,
            model=request.model,
            campaign_date=(request.campaign_date or self._today()).isoformat(),
            concurrency=request.concurrency,
            incentives={"incentives": [i.model_dump(mode="json") for i in incentives.incentives]},
            offer_version=1,
            created_at=_now(),
        )
        self.store.ensure_campaign(row.campaign_id)
        self.store.set_suppliers(row.campaign_id, _capacities(offers))
        try:
            self.tables.add_campaign(row, json.dumps(request.offers), created_by)
        except StoreError as exc:
            raise Conflict(str(exc)) from exc
        self.tables.add_event(row.campaign_id, "campaign_created", {"offer_version": 1})
        return self.public(row)

    def row(self, campaign_id: str, max_age_s: float = 0.0) -> CampaignRow:
        """Return a campaign's settings (cached up to ``max_age_s``); NotFound if none."""
        cached = self._rows.get(campaign_id)
        now = time.monotonic()
        if cached is not None and now - cached[1] < max_age_s:
            return cached[0]
        row = self.tables.campaign(campaign_id)
        if row is None:
            raise NotFound(f"campaign {campaign_id!r} does not exist; list them at /v1/campaigns")
        self._rows[campaign_id] = (row, now)
        return row

    def public(self, row: CampaignRow) -> CampaignPublic:
        """Return the wire form of a campaign, with its capacity now."""
        return CampaignPublic(
            campaign_id=row.campaign_id,
            name=row.name,
            constellation=row.constellation,
            model=row.model,
            campaign_date=dt.date.fromisoformat(row.campaign_date),
            concurrency=row.concurrency,
            offer_version=row.offer_version,
            created_at=row.created_at,
            suppliers=self.capacity(row.campaign_id),
        )

    def capacity(self, campaign_id: str) -> list[SupplierCapacity]:
        """Return each supplier's bookings and capacity."""
        return [
            SupplierCapacity(
                supplier_id=s.supplier_id, used=s.used, capacity=s.capacity, remaining=s.free
            )
            for s in self.store.suppliers(campaign_id)
        ]

    def model_problems(self) -> dict[str, str]:
        """Return model spec -> why it cannot be used, for the campaigns that call a model."""
        if self.client is not None:
            return {}
        problems = {}
        for row in self.tables.campaigns():
            if row.model and row.model not in problems:
                try:
                    check_model(row.model)
                except IgentError as exc:
                    problems[row.model] = str(exc)
        return problems

    def all_capacity(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Return campaign -> supplier -> (used, capacity), for the metrics."""
        return {
            row.campaign_id: {
                s.supplier_id: (s.used, s.capacity) for s in self.store.suppliers(row.campaign_id)
            }
            for row in self.tables.campaigns()
        }

    def replace_offers(
        self, campaign_id: str, offers_document: Mapping[str, Any], created_by: str
    ) -> CampaignPublic:
        """Store a new offer version; capacity below what is booked is a Conflict."""
        self.row(campaign_id)
        offers = parse_offers_document(offers_document, "offers")
        booked = {s.supplier_id: s.used for s in self.store.suppliers(campaign_id)}
        too_low = [
            CapacityConflict(supplier_id=s, booked=booked[s], capacity=c)
            for s, c in _capacities(offers)
            if booked.get(s, 0) > c
        ]
        if too_low:
            raise Conflict(_capacity_message(campaign_id, too_low), suppliers=too_low)
        try:
            self.store.set_suppliers(campaign_id, _capacities(offers))
        except StoreError as exc:  # another request booked in between
            raise Conflict(str(exc)) from exc
        version = self.tables.add_offer_version(
            campaign_id, json.dumps(dict(offers_document)), created_by
        )
        self._runtimes.pop(campaign_id, None)
        self._rows.pop(campaign_id, None)
        self.tables.add_event(
            campaign_id,
            "capacity_changed",
            {
                "offer_version": version,
                "suppliers": [s.model_dump() for s in self.capacity(campaign_id)],
            },
        )
        return self.public(self.row(campaign_id))

    # Live pipelines
    async def runtime(self, campaign_id: str, row: CampaignRow | None = None) -> CampaignRuntime:
        """Return the campaign's pipeline at its current offer version (rebuilt on change)."""
        row = row or self.row(campaign_id)
        current = self._runtimes.get(campaign_id)
        if current is not None and current.row.offer_version == row.offer_version:
            return current
        async with self._build_lock:
            current = self._runtimes.get(campaign_id)
            if current is None or current.row.offer_version != row.offer_version:
                current = await self._build(row)
                self._runtimes[campaign_id] = current
        return current

    def cached_runtime(self, campaign_id: str) -> CampaignRuntime | None:
        """Return the campaign's pipeline if one was built in this process."""
        return self._runtimes.get(campaign_id)

    async def _build(self, row: CampaignRow) -> CampaignRuntime:
        offers = parse_offers_document(
            json.loads(self.tables.offers(row.campaign_id, row.offer_version)), "offers"
        )
        incentives = parse_incentives_document(row.incentives)
        engine = RulesEngine(offers, incentives, dt.date.fromisoformat(row.campaign_date))
        constellation = resolve_constellation(row.constellation)
        options = RunOptions(concurrency=row.concurrency, transcripts=False)
        capacity = CapacityState(self.store, row.campaign_id)
        recorder = None
        if constellation.uses_llm:
            recorder = CallRecorder(self._client_for(row))
        agents = build_agents(constellation, recorder, options)
        pipeline = Pipeline(constellation, engine, capacity, agents, options)
        rules = resolve_constellation(RULES)
        fallback = Pipeline(rules, engine, capacity, build_agents(rules, None, options), options)
        fallback.commit_lock = pipeline.commit_lock
        # Concurrent requests share a transaction: decisions queue while the previous batch
        # is written, and every request waits for its own commit before it is answered.
        # The service rows of each batch (decision done, calls, event) are written with its
        # ledger transaction (SQLite: inside it; PostgreSQL: right after it), before any
        # answer is sent.
        finisher = DecisionFinisher(self.tables, row.campaign_id, recorder)
        after_commit: AfterCommit | None = finisher.after_commit
        commit: CommitBatch | None = None
        sqlite = isinstance(self.store, SqliteStore)
        if isinstance(self.store, SqliteStore) and self.tables.joins(self.store):
            commit = partial(self.store.commit, row.campaign_id, RUN_ID, then=finisher.after_commit)
            after_commit = None
        committer = GroupCommitter(
            self.store,
            row.campaign_id,
            RUN_ID,
            capacity,
            batch_size=64,
            max_delay_s=0.0,
            after_commit=after_commit,
            commit=commit,
            # SQLite commits on the event loop: the claims there share the ledger's one
            # connection and lock, so a commit thread made the loop wait for it anyway, and
            # the two threads passed the GIL back and forth on every SQLite call (about a
            # sixth of the server's CPU). PostgreSQL's commits wait on the network: a thread.
            offload=not sqlite,
        )
        return CampaignRuntime(
            row, engine, capacity, pipeline, fallback, committer, recorder, finisher
        )

    def forget(self, campaign_id: str) -> None:
        """Drop a campaign's pipeline (rebuilt at the next request, e.g. after a store error)."""
        self._runtimes.pop(campaign_id, None)

    def _client_for(self, row: CampaignRow) -> ChatClient:
        if self.client is not None:
            return self.client
        spec = row.model or "mock"
        if spec not in self._clients:
            self._clients[spec] = self._exit.enter_context(self._open_client(spec))
        return self._clients[spec]


def check_model(spec: str, env: Mapping[str, str] | None = None) -> None:
    """Raise ConfigError when ``spec`` names no usable model (unknown, or its key unset)."""
    if spec == "mock":
        return
    if spec == "sim" or spec.startswith("sim:"):
        profile = spec.partition(":")[2] or "gpt-4o"
        if profile not in PROFILES:
            raise ConfigError(
                f"model {spec!r}: simulator profile {profile!r} is not known; expected one of "
                f"{', '.join(sorted(PROFILES))}"
            )
        return
    endpoint = resolve_endpoint(spec, load_registry(None))
    resolve_api_key(endpoint, os.environ if env is None else env)


def _open_model_client(spec: str) -> contextlib.AbstractContextManager[ChatClient]:
    return open_model(spec)


def parse_offers_document(document: Mapping[str, Any], where: str) -> OfferBook:
    """Validate an offers document; a DataError names the field."""
    return validate_document(OfferBook, dict(document), where)


def parse_incentives_document(document: Mapping[str, Any] | list[Any] | None) -> IncentiveBook:
    """Validate an incentives document (None: no incentives)."""
    if document is None:
        return IncentiveBook()
    data = {"incentives": document} if isinstance(document, list) else dict(document)
    return validate_document(IncentiveBook, data, "incentives")


def _capacities(offers: OfferBook) -> list[tuple[str, int]]:
    return [(s.supplier_id, s.capacity) for s in offers.suppliers]


def _capacity_message(campaign_id: str, too_low: list[CapacityConflict]) -> str:
    parts = ", ".join(
        f"{c.supplier_id!r} has {c.booked} booked but the new capacity is {c.capacity}"
        for c in too_low
    )
    return (
        f"campaign {campaign_id!r}: capacity cannot drop below what is booked: {parts}; "
        "cancel registrations first or keep the capacity at least at the bookings"
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


__all__ = [
    "RUN_ID",
    "CampaignDesk",
    "CampaignRuntime",
    "parse_incentives_document",
    "parse_offers_document",
]
