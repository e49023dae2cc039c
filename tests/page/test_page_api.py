"""The page's own JSON endpoints and its HTML shell, through httpx on the ASGI app (no browser)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from igent.service import create_app
from igent.service.dashboard import percentile
from igent.settings import Settings
from tests.service.conftest import create_campaign, demo_offers, demo_registrations, make_keys


@pytest.fixture
async def app_keys(tmp_path: Path) -> AsyncIterator[tuple[Any, str, str]]:
    """The app (lifespan run) and its operator and viewer keys."""
    settings = Settings(data_dir=tmp_path / "data", rate_limit_per_minute=1_000_000)
    operator, viewer = make_keys(settings.database_path())
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app, operator, viewer


def http_for(app: Any, key: str | None) -> httpx.AsyncClient:
    """An httpx client on the app with ``key`` (none when None)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


async def scarce_campaign(http: httpx.AsyncClient, capacity: int = 3) -> None:
    """A campaign whose suppliers hold ``capacity`` each, with the 50 demo registrations."""
    offers = demo_offers()
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = capacity
    await create_campaign(http, offers=offers)
    for registration in demo_registrations():
        assert (await http.post("/v1/campaigns/demo/registrations", json=registration)).is_success


async def test_page_is_served_with_a_strict_policy_and_only_local_assets(app_keys):
    app, _, _ = app_keys
    async with http_for(app, None) as http:
        page = await http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        assets = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        assert "/static/page/page.js" in assets and "/static/page/page.css" in assets
        assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
        for asset in ("/static/page/page.js", "/static/page/page.css"):
            text = (await http.get(asset)).text
            assert re.findall(r"https?://", text) == [], asset


def test_templates_and_static_files_are_package_data():
    files = resources.files("igent.service")
    assert (files / "templates" / "page.html").is_file()
    assert (files / "static" / "page" / "page.js").is_file()


async def test_keys_me_names_the_role_and_needs_a_key(app_keys):
    app, operator, viewer = app_keys
    async with http_for(app, viewer) as http:
        me = (await http.get("/v1/keys/me")).json()
    assert me["role"] == "viewer" and viewer not in str(me)
    async with http_for(app, operator) as http:
        assert (await http.get("/v1/keys/me")).json()["role"] == "operator"
    async with http_for(app, None) as http:
        assert (await http.get("/v1/keys/me")).status_code == 401


async def test_summary_counts_matched_no_match_by_reason_cancelled_and_latency(app_keys):
    app, operator, _ = app_keys
    async with http_for(app, operator) as http:
        await scarce_campaign(http)
        await http.post("/v1/campaigns/demo/registrations/R-000001:cancel", json={})
        summary = (await http.get("/v1/campaigns/demo/summary")).json()
    assert summary["total"] == 50
    assert summary["matched"] == 11 and summary["cancelled"] == 1
    assert summary["no_match"] == 38 == summary["no_match_by_reason"]["no_capacity"]
    assert summary["pending"] == 0 and summary["llm_calls"] == 0 and summary["cost_usd"] == 0
    assert 0 < summary["latency_p50_s"] <= summary["latency_p95_s"]


async def test_a_cancelled_no_match_counts_as_cancelled_in_summary_table_and_outcomes(app_keys):
    app, operator, _ = app_keys
    async with http_for(app, operator) as http:
        await scarce_campaign(http)
        table = "/v1/campaigns/demo/registrations:table"
        refused = (await http.get(table, params={"status": "no_match", "page_size": 1})).json()
        registration_id = refused["rows"][0]["registration_id"]
        cancel = f"/v1/campaigns/demo/registrations/{registration_id}:cancel"
        assert (await http.post(cancel, json={})).json()["status"] == "cancelled"
        summary = (await http.get("/v1/campaigns/demo/summary")).json()
        cancelled = (await http.get(table, params={"status": "cancelled"})).json()
        outcomes = await http.post(
            "/v1/campaigns/demo/registrations:outcomes",
            json={"registration_ids": [registration_id]},
        )
    assert (summary["matched"], summary["no_match"], summary["cancelled"]) == (12, 37, 1)
    assert summary["no_match_by_reason"] == {"no_capacity": 37}
    assert [r["registration_id"] for r in cancelled["rows"]] == [registration_id]
    assert cancelled["rows"][0]["supplier_id"] is None
    assert outcomes.json()["by_status"] == {"cancelled": 1}, outcomes.text


async def test_summary_counts_the_audit_calls_of_an_audit_campaign(app_keys):
    app, operator, _ = app_keys
    async with http_for(app, operator) as http:
        await create_campaign(http, constellation="p1r_audit", model="mock")
        for registration in demo_registrations()[:3]:
            response = await http.post("/v1/campaigns/demo/registrations", json=registration)
            assert response.json()["audit"] is not None, response.text
        summary = (await http.get("/v1/campaigns/demo/summary")).json()
    assert summary["total"] == 3
    assert summary["llm_calls"] == 3  # the decisions are the rules'; each audit is one call


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0


async def test_table_searches_filters_sorts_and_pages(app_keys):
    app, operator, _ = app_keys
    async with http_for(app, operator) as http:
        await scarce_campaign(http)

        async def table(**params: Any) -> dict[str, Any]:
            response = await http.get("/v1/campaigns/demo/registrations:table", params=params)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        first = await table(page_size=20)
        assert (first["total"], first["pages"], len(first["rows"])) == (50, 3, 20)
        assert first["rows"][0]["registration_id"] == "R-000001"
        last = await table(page_size=20, page=99)
        assert last["page"] == 3 and len(last["rows"]) == 10
        assert first["suppliers"] == [s["SupplierID"] for s in demo_offers()["SupplierOffers"]]
        assert first["reasons"] == ["no_capacity"]
        assert (await table(q="r-000007"))["total"] == 1
        zip_code = demo_registrations()[0]["Contact_Zip"]
        expected = sum(r["Contact_Zip"] == zip_code for r in demo_registrations())
        assert (await table(q=zip_code))["total"] == expected
        assert (await table(status="matched"))["total"] == 12
        assert (await table(reason="no_capacity"))["total"] == 38
        sunpeak = await table(supplier_id="SunPeak")
        assert sunpeak["total"] == 3 and {r["supplier_id"] for r in sunpeak["rows"]} == {"SunPeak"}
        prices = [
            r["net_price_eur"]
            for r in (await table(status="matched", sort="net_price_eur", order="desc"))["rows"]
        ]
        assert prices == sorted(prices, reverse=True) and len(prices) == 12
        ids = [r["registration_id"] for r in (await table(order="desc", page_size=3))["rows"]]
        assert ids == ["R-000050", "R-000049", "R-000048"]
        bad = await http.get("/v1/campaigns/demo/registrations:table", params={"sort": "nope"})
        assert bad.status_code == 422 and "sort" in bad.json()["detail"]
        missing = await http.get("/v1/campaigns/nope/registrations:table")
        assert missing.status_code == 404 and "'nope'" in missing.json()["detail"]


async def test_record_returns_the_submitted_fields(app_keys):
    app, operator, _ = app_keys
    async with http_for(app, operator) as http:
        await create_campaign(http)
        registration = demo_registrations()[0]
        await http.post("/v1/campaigns/demo/registrations", json=registration)
        record = (await http.get("/v1/campaigns/demo/registrations/R-000001/record")).json()
        assert record["fields"] == registration and record["state"] == "decided"
        missing = await http.get("/v1/campaigns/demo/registrations/R-404/record")
        assert missing.status_code == 404 and "'R-404'" in missing.json()["detail"]


async def test_outcomes_count_the_given_registrations(app_keys):
    app, operator, viewer = app_keys
    ids = ["R-000001", "R-000050", "R-000050", "R-unknown"]
    async with http_for(app, viewer) as http:
        refused = await http.post(
            "/v1/campaigns/demo/registrations:outcomes", json={"registration_ids": ids}
        )
        assert refused.status_code == 403
    async with http_for(app, operator) as http:
        await scarce_campaign(http)
        response = await http.post(
            "/v1/campaigns/demo/registrations:outcomes", json={"registration_ids": ids}
        )
    assert response.json() == {
        "matched": 1,
        "no_match_by_reason": {"no_capacity": 1},
        "by_status": {"matched": 1, "no_match": 1},
        "missing": 1,
    }


async def test_offers_preview_shows_changes_stores_nothing_and_refuses_below_bookings(app_keys):
    app, operator, viewer = app_keys
    async with http_for(app, operator) as http:
        await scarce_campaign(http, capacity=5)
        offers = demo_offers()
        for supplier in offers["SupplierOffers"]:
            supplier["Capacity"] = 5
        first, second = offers["SupplierOffers"][0], offers["SupplierOffers"][1]
        first["Capacity"] = 9
        first["Offers"][0]["ProductPrices"][0]["CashPrice"] = 1000
        preview = (
            await http.post("/v1/campaigns/demo/offers:preview", json={"offers": offers})
        ).json()
        assert preview["allowed"] and preview["offer_version"] == 1
        rows = {s["supplier_id"]: s for s in preview["suppliers"]}
        changed = rows[first["SupplierID"]]
        assert (changed["change"], changed["capacity_before"], changed["capacity_after"]) == (
            "changed",
            5,
            9,
        )
        assert any("CashPrice" in line and "-> 1000" in line for line in changed["price_changes"])
        assert rows[second["SupplierID"]]["change"] == "unchanged"
        campaign = (await http.get("/v1/campaigns/demo")).json()
        assert campaign["offer_version"] == 1
        assert campaign["suppliers"][0]["capacity"] == 5

        second["Capacity"] = 2
        refused = (
            await http.post("/v1/campaigns/demo/offers:preview", json={"offers": offers})
        ).json()
        assert not refused["allowed"]
        assert (
            f"'{second['SupplierID']}' has 5 booked but the new capacity is 2"
            in (refused["detail"])
        )
        # The real replacement refuses with the same numbers.
        put = await http.put("/v1/campaigns/demo/offers", json={"offers": offers})
        assert put.status_code == 409 and "has 5 booked but the new capacity is 2" in put.text
        broken = await http.post(
            "/v1/campaigns/demo/offers:preview", json={"offers": {"SupplierOffers": [{}]}}
        )
        assert broken.status_code == 422 and "SupplierID" in broken.json()["detail"]
    async with http_for(app, viewer) as http:
        forbidden = await http.post("/v1/campaigns/demo/offers:preview", json={"offers": offers})
        assert forbidden.status_code == 403


async def test_a_body_that_is_not_utf8_json_is_a_422_in_words(app_keys):
    app, operator, _ = app_keys
    async with http_for(app, operator) as http:
        for path in ("/v1/campaigns", "/v1/campaigns/demo/offers:preview"):
            response = await http.post(
                path, content=b"\x80[\xff", headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 422, (path, response.text)
            assert "not readable as JSON" in response.json()["detail"]
