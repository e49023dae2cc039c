"""Service fixtures: an app on a temporary database, operator and viewer keys, demo offers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from igent.campaign.demo import demo_campaign_paths
from igent.service import create_app
from igent.service.auth import create_key
from igent.settings import Settings
from igent.store.service_tables import ServiceTables


def demo_offers() -> dict[str, Any]:
    """The bundled demo offers document."""
    return json.loads(demo_campaign_paths()["offers"].read_text(encoding="utf-8"))


def demo_registrations() -> list[dict[str, Any]]:
    """The bundled demo registrations."""
    return json.loads(demo_campaign_paths()["registrations"].read_text(encoding="utf-8"))


def make_keys(db: Path) -> tuple[str, str]:
    """Create an operator and a viewer key in ``db``; return (operator, viewer)."""
    tables = ServiceTables(db)
    try:
        operator, _ = create_key(tables, "operator", "test operator")
        viewer, _ = create_key(tables, "viewer", "test viewer")
    finally:
        tables.close()
    return operator, viewer


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a database in ``tmp_path``."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def keys(settings: Settings) -> tuple[str, str]:
    """(operator key, viewer key)."""
    return make_keys(settings.database_path())


@pytest.fixture
async def client(settings: Settings, keys: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the ASGI app (lifespan run), authenticated as operator."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {keys[0]}"},
        ) as http:
            yield http


async def create_campaign(
    http: httpx.AsyncClient, campaign_id: str = "demo", **extra: Any
) -> dict[str, Any]:
    """Create a campaign from the demo offers (and campaign date) and return it."""
    body = {
        "campaign_id": campaign_id,
        "offers": extra.pop("offers", demo_offers()),
        "campaign_date": "2026-06-01",
        **extra,
    }
    response = await http.post("/v1/campaigns", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
