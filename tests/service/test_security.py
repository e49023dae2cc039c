"""Keys, roles, limits, CORS, docs and the OpenAPI document of the service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from igent.service import create_app
from igent.service.limits import RateLimiter
from igent.settings import Settings
from tests.service.conftest import create_campaign, demo_offers, demo_registrations, make_keys


@asynccontextmanager
async def open_client(settings: Settings, key: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on a fresh app for ``settings``, sending ``key`` when given."""
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
        ) as http:
            yield http


async def test_v1_needs_a_key_401_and_viewer_writing_is_403(settings, keys):
    operator, viewer = keys
    async with open_client(settings, None) as anonymous:
        response = await anonymous.get("/v1/campaigns")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        wrong = await anonymous.get("/v1/campaigns", headers={"Authorization": "Bearer igk_nope"})
        assert wrong.status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200
    async with open_client(settings, viewer) as reader:
        assert (await reader.get("/v1/campaigns")).status_code == 200
        refused = await reader.post("/v1/campaigns", json={"campaign_id": "x", "offers": {}})
        assert refused.status_code == 403
        assert "viewer" in refused.json()["detail"]


async def test_body_over_the_limit_is_413_by_header_and_while_streaming(tmp_path, keys):
    settings = Settings(data_dir=tmp_path / "data", max_body_bytes=2000)
    make = make_keys(settings.database_path())
    async with open_client(settings, make[0]) as http:
        await create_campaign_small(http)
        big = {**demo_registrations()[0], "Notes": "x" * 5000}
        response = await http.post("/v1/campaigns/small/registrations", json=big)
        assert response.status_code == 413
        assert "2000 bytes" in response.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 500

        streamed = await http.post("/v1/campaigns/small/registrations", content=chunks())
        assert streamed.status_code == 413


async def create_campaign_small(http: httpx.AsyncClient) -> None:
    offers = {
        "CampaignID": "small",
        "SupplierOffers": [
            {
                "SupplierID": "S1",
                "Capacity": 1,
                "ServiceAreas": ["55149"],
                "Offers": [
                    {
                        "ProductType": "Solar",
                        "ProductName": "P",
                        "ProductCapacity": "400W",
                        "ProductPrices": [{"Quantity": 10, "CashPrice": 1000}],
                    }
                ],
            }
        ],
    }
    response = await http.post("/v1/campaigns", json={"campaign_id": "small", "offers": offers})
    assert response.status_code == 201, response.text


async def test_rate_limit_is_429_with_retry_after(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=3)
    operator, _ = make_keys(settings.database_path())
    async with open_client(settings, operator) as http:
        statuses = [(await http.get("/v1/campaigns")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await http.get("/v1/campaigns")
        assert int(limited.headers["retry-after"]) >= 1
        assert "rate limit of 3" in limited.json()["detail"]


def test_rate_limiter_refills_with_time():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.check("k") is None for _ in range(60))
    assert limiter.check("k") == 1
    now[0] += 1.0
    assert limiter.check("k") is None
    assert limiter.check("other") is None


def test_wildcard_cors_is_refused():
    with pytest.raises(ValidationError, match="'\\*' is not allowed"):
        Settings(cors_origins=["*"])


async def test_cors_allows_only_configured_origins(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", cors_origins=["https://team.example"])
    async with open_client(settings, None) as http:
        allowed = await http.get("/healthz", headers={"Origin": "https://team.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://team.example"
        other = await http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_key_never_leaks_into_responses_logs_or_database(
    settings, keys, caplog: pytest.LogCaptureFixture
):
    operator, viewer = keys
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with open_client(settings, operator) as http:
        await create_campaign(http)
        for registration in demo_registrations()[:3]:
            r = await http.post("/v1/campaigns/demo/registrations", json=registration)
            seen.append(r.text + str(r.headers))
        for path in ("/v1/campaigns/demo", "/v1/campaigns/nope", "/metrics", "/openapi.json"):
            r = await http.get(path)
            seen.append(r.text + str(r.headers))
        bad = await http.post("/v1/campaigns/demo/registrations", json={"x": operator})
        seen.append(bad.text)
        events = await http.get("/v1/campaigns/demo/events", params={"follow": "false"})
        seen.append(events.text)
    async with open_client(settings, viewer) as http:
        r = await http.post("/v1/campaigns", json={"campaign_id": "y", "offers": {}})
        seen.append(r.text + str(r.headers))
    async with open_client(settings, operator + "x") as http:
        r = await http.get("/v1/campaigns")
        seen.append(r.text + str(r.headers))
    for key in (operator, viewer):
        assert not any(key in text for text in seen[:-1])
        assert key not in caplog.text
        for path in Path(settings.database_path()).parent.iterdir():
            assert key.encode() not in path.read_bytes()
    assert operator not in seen[-1]


async def test_docs_are_served_from_local_files_and_openapi_is_complete(client):
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text and "http://" not in page.text
    script = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert (await client.get("/static/../service/app.py")).status_code == 404
    spec = (await client.get("/openapi.json")).json()
    operations = [
        (path, method, op)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if path.startswith("/v1")
    ]
    assert len(operations) >= 12
    for path, method, op in operations:
        for code in ("200" if method == "get" else None, "401", "413", "422", "429", "500"):
            if code:
                assert (
                    code in op["responses"] or "202" in op["responses"] or "201" in op["responses"]
                ), (path, method, code)
        if method in ("post", "put"):
            assert "403" in op["responses"], (path, method)
    schemas = spec["components"]["schemas"]
    assert {"DecisionPublic", "CampaignPublic", "JobPublic", "ConflictResponse"} <= set(schemas)


async def test_readyz_and_metrics(client):
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ok" and ready["checks"]["database"] == "ok"
    await create_campaign(client)
    await client.post("/v1/campaigns/demo/registrations", json=demo_registrations()[0])
    text = (await client.get("/metrics")).text
    assert "igent_decision_seconds_count 1.0" in text
    assert 'route="/v1/campaigns/{campaign_id}/registrations",status="200"' in text
    assert 'igent_capacity{campaign="demo",supplier="iSolar"} 29.0' in text
    assert "igent_llm_calls_total" in text


async def test_campaign_with_an_unusable_model_is_422_and_readyz_names_a_missing_key(
    client, monkeypatch: pytest.MonkeyPatch
):
    body = {"campaign_id": "llm", "offers": demo_offers(), "constellation": "p1m1v0_p2r"}
    unknown = await client.post("/v1/campaigns", json={**body, "model": "nowhere:x"})
    assert unknown.status_code == 422 and "nowhere" in unknown.json()["detail"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-canary-0123456789")
    created = await client.post("/v1/campaigns", json={**body, "model": "openai:gpt-4o-mini"})
    assert created.status_code == 201, created.text
    monkeypatch.delenv("OPENAI_API_KEY")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert "OPENAI_API_KEY" in ready.json()["checks"]["model"]
    assert "sk-test-canary" not in ready.text
