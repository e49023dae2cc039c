"""decide(): the one core step shared by the CLI runner and the service."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from igent.campaign import demo_campaign_paths
from igent.campaign.loader import load_incentives, load_offers, load_registrations
from igent.rules import RulesEngine
from igent.store import CapacityState, Decision, GroupCommitter, SqliteStore
from igent.workflows import RunOptions, decide, resolve_constellation
from igent.workflows.pipeline import AgentSet, Pipeline


async def test_a_booking_refused_by_another_writer_is_redone_on_fresh_capacity(
    tmp_path: Path,
) -> None:
    paths = demo_campaign_paths()
    offers = load_offers(paths["offers"])
    record = next(r for r in load_registrations(paths["registrations"]) if r.registration)
    store = SqliteStore(tmp_path / "ledger.sqlite")
    store.ensure_campaign("demo")
    store.set_suppliers("demo", [(s.supplier_id, 1) for s in offers.suppliers])
    capacity = CapacityState(store, "demo")
    engine = RulesEngine(offers, load_incentives(paths.get("incentives")), dt.date(2026, 6, 1))
    pipeline = Pipeline(resolve_constellation("rules"), engine, capacity, AgentSet(), RunOptions())
    first_choice = engine.match(record, {}).supplier_id
    assert first_choice is not None
    original_commit = store.commit
    calls: list[int] = []

    def racing_commit(campaign_id: str, run_id: str, decisions: Any, audits: Any = ()) -> Any:
        if not calls:  # another process books the last unit first
            payload = {"match": {"registration_id": "OTHER"}, "purchase_order": None}
            original_commit(
                campaign_id, "other", [Decision("OTHER", 0, "matched", first_choice, payload)]
            )
        calls.append(len(decisions))
        return original_commit(campaign_id, run_id, decisions, audits)

    store.commit = racing_commit  # type: ignore[method-assign]
    committer = GroupCommitter(store, "demo", "run1", capacity, max_delay_s=0)

    decision = await decide(pipeline, committer, record)
    await committer.close()

    assert calls == [1, 1]  # refused once, redone once
    assert decision.supplier_id != first_choice
    stored = store.decision("demo", record.registration_id)
    assert stored is not None and stored.supplier_id == decision.supplier_id
    for supplier in store.suppliers("demo"):
        assert supplier.used <= supplier.capacity
    assert capacity.holds == 0
    store.close()
