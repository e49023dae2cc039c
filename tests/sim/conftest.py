"""Fixtures for the simulator tests: a tiny campaign, task messages, and a running server."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from igent.agents.protocol import Task, render_task
from igent.domain import IncentiveBook, OfferBook, parse_registration_record
from igent.rules import RulesEngine
from igent.sim import SimConfig, SimServer

CAMPAIGN_DATE = dt.date(2026, 3, 1)


def _solar(prices: list[tuple[int, float]]) -> dict[str, Any]:
    return {
        "ProductType": "Solar",
        "ProductName": "Panel 400",
        "ProductCapacity": "400",
        "ProductPrices": [
            {"Quantity": q, "CashPrice": p, "LoanInstallment": round(p / 100, 2)} for q, p in prices
        ],
    }


BATTERY = {
    "ProductType": "Battery",
    "ProductName": "Battery 10",
    "ProductCapacity": "10",
    "ProductPrices": [{"Quantity": 1, "CashPrice": 5000}, {"Quantity": 2, "CashPrice": 9500}],
}
SUPPLIERS = [
    {
        "SupplierID": "S1",
        "Capacity": 10,
        "ServiceAreas": ["55101"],
        "Offers": [_solar([(8, 8000.0), (12, 11000.0), (20, 17000.0)]), BATTERY],
    },
    {
        "SupplierID": "S2",
        "Capacity": 10,
        "ServiceAreas": ["55101"],
        "Offers": [_solar([(8, 8200.0), (12, 11500.0)]), BATTERY],
    },
]
INCENTIVES = [
    {"name": "City rebate", "communities": ["55101"], "kind": "fixed_amount", "rate": 500.0}
]
REGISTRATION = {
    "RegistrationNumber": "R-0001",
    "Contact_Zip": "55101",
    "Proposal_OptimalAmountOfPanels": 12,
    "Proposal_OptimalAmountOfBatteries": 1,
    "PaymentType": "Cash",
}
CAPACITY = [
    {"supplier_id": "S1", "used": 2, "capacity": 10, "used_pct": 0.2},
    {"supplier_id": "S2", "used": 5, "capacity": 10, "used_pct": 0.5},
]


@pytest.fixture
def engine() -> RulesEngine:
    return RulesEngine(
        OfferBook.model_validate({"SupplierOffers": SUPPLIERS}),
        IncentiveBook.model_validate({"incentives": INCENTIVES}),
        CAMPAIGN_DATE,
    )


@pytest.fixture
def expected_match(engine: RulesEngine) -> dict[str, Any]:
    from igent.agents.protocol import match_answer

    record = parse_registration_record(REGISTRATION, 0)
    return match_answer(engine.match(record, {"S1": 2, "S2": 5}))


@pytest.fixture
def expected_order(engine: RulesEngine) -> dict[str, Any]:
    from igent.agents.protocol import purchase_order_answer

    record = parse_registration_record(REGISTRATION, 0)
    assert record.registration is not None
    return purchase_order_answer(engine.price(record.registration, "S1"))


def make_task(kind: str, proposal: Any = None) -> str:
    """Render a task message of ``kind`` for the tiny campaign."""
    priced = kind in ("price", "review_price")
    return render_task(
        Task(
            kind=kind,  # type: ignore[arg-type]
            registration=REGISTRATION,
            suppliers=SUPPLIERS,
            capacity=CAPACITY,
            campaign_date=CAMPAIGN_DATE if priced else None,
            incentives=INCENTIVES if priced else (),
            match={"supplier_id": "S1"} if priced else None,
            proposal=proposal,
        )
    )


@pytest.fixture
def task_message() -> Callable[..., list[dict[str, str]]]:
    def build(kind: str, proposal: Any = None) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": f"You are the {kind} agent."},
            {"role": "user", "content": make_task(kind, proposal)},
        ]

    return build


def extract_json(text: str) -> Any:
    """Return the first JSON object in a prose reply."""
    start = text.index("{")
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(SimConfig(profile="instant")) as server:
        yield server


@pytest.fixture
def start_sim() -> Iterator[Callable[[SimConfig], SimServer]]:
    servers: list[SimServer] = []

    def start(config: SimConfig) -> SimServer:
        server = SimServer(config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def json_in() -> Callable[[str], Any]:
    return extract_json
