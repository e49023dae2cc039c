"""LLM constellations in the service: model calls in the answer, and the request deadline."""

from __future__ import annotations

import asyncio

import httpx

from igent.llm import ChatRequest, ChatResponse
from igent.service import create_app
from igent.settings import Settings
from tests.service.conftest import create_campaign, demo_registrations, make_keys


class StuckClient:
    """A model that never answers (until closed)."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self._never = asyncio.Event()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        await self._never.wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        return None


async def test_llm_constellation_answers_with_its_model_calls(client):
    await create_campaign(client, constellation="p1m1v0_p2r", model="mock")
    registration = demo_registrations()[0]
    response = await client.post("/v1/campaigns/demo/registrations", json=registration)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timings"]["llm_calls"] >= 1
    assert len(body["model_calls"]) == body["timings"]["llm_calls"]
    call = body["model_calls"][0]
    assert call["model"] == "mock" and call["messages"] and call["reply"]
    fetched = await client.get(f"/v1/campaigns/demo/registrations/{body['registration_id']}")
    assert fetched.json()["model_calls"] == body["model_calls"]
    metrics = (await client.get("/metrics")).text
    assert "igent_llm_calls_total 0.0" not in metrics


async def test_deadline_falls_back_to_the_rules_answer_and_says_so(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", request_deadline_s=1.5)
    operator, _ = make_keys(settings.database_path())
    model = StuckClient()
    app = create_app(settings, client=model)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {operator}"},
        ) as http:
            await create_campaign(http, constellation="p1m1v0_p2r")
            registration = demo_registrations()[0]
            response = await http.post("/v1/campaigns/demo/registrations", json=registration)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["deadline_fallback"] is True
            assert body["status"] == "matched" and body["source"] == "rules"
            assert model.requests, "the model was asked first"
            campaign = (await http.get("/v1/campaigns/demo")).json()
            assert sum(s["used"] for s in campaign["suppliers"]) == 1
            again = await http.get(f"/v1/campaigns/demo/registrations/{body['registration_id']}")
            assert again.json()["deadline_fallback"] is True


async def test_audit_verdict_is_stored_and_shown_with_the_registration(client):
    await create_campaign(client, constellation="p1r_audit", model="mock")
    registration = demo_registrations()[3]
    response = await client.post("/v1/campaigns/demo/registrations", json=registration)
    assert response.status_code == 200, response.text
    assert response.json()["audit"]["registration_id"] == registration["RegistrationNumber"]
    fetched = await client.get(
        f"/v1/campaigns/demo/registrations/{registration['RegistrationNumber']}"
    )
    audit = fetched.json()["audit"]
    assert audit is not None and "approved" in audit
    assert audit == response.json()["audit"]
