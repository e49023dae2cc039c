"""The rules-only path prices each order shape once and matches the rules engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from igent.campaign.loader import load_incentives, load_offers, load_registrations
from igent.rules import RulesEngine
from igent.workflows import InputPaths
from tests.workflows.conftest import CAMPAIGN_DATE
from tests.workflows.support import read_outputs, rules_reference, run_constellation


def test_rules_run_prices_each_order_shape_once_and_agrees_with_the_engine(
    campaign50: InputPaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = rules_reference(campaign50)
    calls: list[str] = []
    price = RulesEngine.price

    def counting_price(self: RulesEngine, registration: object, supplier_id: str) -> object:
        calls.append(supplier_id)
        return price(self, registration, supplier_id)  # type: ignore[arg-type]

    monkeypatch.setattr(RulesEngine, "price", counting_price)

    run_constellation("rules", campaign50, tmp_path)

    matches, orders = read_outputs(tmp_path)
    booked = [m for m in matches if m["status"] == "matched"]
    assert booked and len(booked) == len(orders)
    # a repeated shape (panels, batteries, payment, income class, incentives) is priced once
    engine = RulesEngine(
        load_offers(campaign50.offers), load_incentives(campaign50.incentives), CAMPAIGN_DATE
    )
    registrations = {
        r.registration_id: r.registration for r in load_registrations(campaign50.registrations)
    }
    shapes = {
        engine.price_key(registrations[m["registration_id"]], m["supplier_id"]) for m in booked
    }
    assert len(calls) == len(shapes) <= len(booked)
    expected = {o.decision.registration_id: o.decision.supplier_id for o in reference.outcomes}
    assert {m["registration_id"]: m["supplier_id"] for m in matches} == expected
