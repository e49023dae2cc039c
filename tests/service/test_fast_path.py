"""The registration fast path: well-formed POSTs skip FastAPI, the rest get FastAPI's answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from igent.service import create_app, fast_path
from igent.settings import Settings
from tests.service.conftest import create_campaign, demo_registrations

URL = "/v1/campaigns/demo/registrations"


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Registration numbers the fast path decided (it calls ``decide_one``)."""
    seen: list[str] = []
    real = fast_path.decide_one

    async def spy(context: Any, campaign_id: str, body: Any, key: Any) -> Any:
        seen.append(str(body.RegistrationNumber))
        return await real(context, campaign_id, body, key)

    monkeypatch.setattr(fast_path, "decide_one", spy)
    return seen


@pytest.fixture
async def limited(
    tmp_path: Any, keys: tuple[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(operator, viewer) clients on an app that allows 3 requests per minute per key."""
    app = create_app(Settings(data_dir=tmp_path / "data", rate_limit_per_minute=3))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        clients = [
            httpx.AsyncClient(
                transport=transport,
                base_url="http://testserver",
                headers={"Authorization": f"Bearer {key}"},
            )
            for key in keys
        ]
        try:
            yield clients[0], clients[1]
        finally:
            for client in clients:
                await client.aclose()


async def test_a_well_formed_registration_is_decided_by_the_fast_path(client, answered):
    await create_campaign(client)
    registration = demo_registrations()[0]
    response = await client.post(URL, json=registration)
    assert response.status_code == 200
    assert response.json()["registration_id"] == registration["RegistrationNumber"]
    assert answered == [registration["RegistrationNumber"]]
    metrics = (await client.get("/metrics")).text
    line = (
        'igent_http_requests_total{method="POST",route="/v1/campaigns/{campaign_id}'
        '/registrations",status="200"} 1.0'
    )
    assert line in metrics


@pytest.mark.parametrize(
    ("body", "headers", "where"),
    [
        pytest.param(b'{"RegistrationNumber": "R-1"}', {}, ["body", "Contact_Zip"], id="field"),
        pytest.param(b'{"RegistrationNumber": ', {}, ["body", 23], id="not-json"),
        pytest.param(b"[]", {}, ["body"], id="not-an-object"),
    ],
)
async def test_an_invalid_body_gets_fastapis_422(client, answered, body, headers, where):
    await create_campaign(client)
    headers = {"Content-Type": "application/json", **headers}
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == where
    assert answered == []


async def test_a_bad_campaign_id_or_content_type_falls_back_to_fastapi(client, answered):
    await create_campaign(client)
    registration = demo_registrations()[0]
    for bad in ("-bad", "demo%0A"):  # a trailing newline passes a bare "$" in Python's re
        bad_id = await client.post(f"/v1/campaigns/{bad}/registrations", json=registration)
        assert bad_id.status_code == 422
        assert bad_id.json()["errors"][0]["loc"] == ["path", "campaign_id"]
    text = await client.post(
        URL,
        content=b'{"RegistrationNumber": "R-1", "Contact_Zip": "1"}',
        headers={"Content-Type": "text/plain"},
    )
    assert text.status_code == 422
    assert answered == []


async def test_unknown_campaign_is_404_from_the_fast_path(client, answered):
    registration = demo_registrations()[0]
    response = await client.post("/v1/campaigns/nope/registrations", json=registration)
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]
    assert answered == [registration["RegistrationNumber"]]


async def test_keys_are_checked_and_counted_once_per_request(limited, answered):
    operator, viewer = limited
    await create_campaign(operator)  # 1st request of the operator key
    registrations = demo_registrations()
    invalid = await operator.post(URL, json={"RegistrationNumber": "R-1"})  # 2nd: FastAPI
    assert invalid.status_code == 422
    ok = await operator.post(URL, json=registrations[0])  # 3rd: the fast path
    assert ok.status_code == 200
    limited_out = await operator.post(URL, json=registrations[1])
    assert limited_out.status_code == 429
    assert limited_out.headers["Retry-After"]
    assert (await viewer.post(URL, json=registrations[2])).status_code == 403
    anonymous = await operator.post(URL, json=registrations[2], headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert answered == [registrations[0]["RegistrationNumber"]]  # the refused ones did not


async def test_cors_headers_apply_to_fast_path_answers(tmp_path, keys, answered):
    settings = Settings(data_dir=tmp_path / "data", cors_origins=["https://team.example"])
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {keys[0]}", "Origin": "https://team.example"},
        ) as http:
            await create_campaign(http)
            registration = demo_registrations()[0]
            response = await http.post(URL, json=registration)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://team.example"
    assert answered == [registration["RegistrationNumber"]]
