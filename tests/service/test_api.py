"""The service API through httpx on the ASGI app: resources, idempotency, cancel, offers."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import httpx
import openpyxl

from tests.service.conftest import create_campaign, demo_offers, demo_registrations


def scarce_offers(capacity: int) -> dict:
    """The demo offers with every supplier's capacity set to ``capacity``."""
    offers = demo_offers()
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = capacity
    return offers


async def used(http: httpx.AsyncClient, campaign_id: str = "demo") -> dict[str, int]:
    """Return supplier -> used of a campaign."""
    campaign = (await http.get(f"/v1/campaigns/{campaign_id}")).json()
    return {s["supplier_id"]: s["used"] for s in campaign["suppliers"]}


async def test_campaign_create_list_get_and_duplicate_is_409(client):
    created = await create_campaign(client)
    assert created["offer_version"] == 1
    assert [s["used"] for s in created["suppliers"]] == [0, 0, 0, 0]
    listed = (await client.get("/v1/campaigns")).json()["campaigns"]
    assert [c["campaign_id"] for c in listed] == ["demo"]
    again = await client.post(
        "/v1/campaigns", json={"campaign_id": "demo", "offers": demo_offers()}
    )
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    missing = await client.get("/v1/campaigns/nope")
    assert missing.status_code == 404


async def test_bad_offers_document_is_422_naming_the_field(client):
    offers = demo_offers()
    del offers["SupplierOffers"][0]["Capacity"]
    response = await client.post("/v1/campaigns", json={"campaign_id": "bad", "offers": offers})
    assert response.status_code == 422
    assert "Capacity" in response.json()["detail"]
    assert (await client.get("/v1/campaigns/bad")).status_code == 404


async def test_registration_answers_decision_po_explanation_and_timings(client):
    await create_campaign(client)
    registration = demo_registrations()[0]
    response = await client.post("/v1/campaigns/demo/registrations", json=registration)
    assert response.status_code == 200
    body = response.json()
    assert body["registration_id"] == registration["RegistrationNumber"]
    assert body["status"] == "matched"
    assert body["purchase_order"]["supplier_id"] == body["supplier_id"]
    assert body["purchase_order"]["lines"]
    assert any(c["outcome"] == "chosen" for c in body["candidates"])
    assert body["timings"]["total_s"] >= 0
    assert body["deadline_fallback"] is False
    assert (await used(client))[body["supplier_id"]] == 1
    fetched = await client.get(f"/v1/campaigns/demo/registrations/{body['registration_id']}")
    assert fetched.json()["supplier_id"] == body["supplier_id"]


async def test_same_registration_twice_and_concurrently_books_once(client):
    await create_campaign(client)
    registration = demo_registrations()[1]
    answers = await asyncio.gather(
        *(client.post("/v1/campaigns/demo/registrations", json=registration) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {200}
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    again = await client.post("/v1/campaigns/demo/registrations", json=registration)
    assert again.json() == answers[0].json()
    assert sum((await used(client)).values()) == 1
    assert len(client._transport.app.state.context.registrations._locks) == 0  # type: ignore[attr-defined]


async def test_concurrent_decisions_are_finished_in_batches_with_one_event_each(client):
    await create_campaign(client, offers=scarce_offers(100))
    registrations = [
        {**r, "RegistrationNumber": f"B-{i:03d}"} for i, r in enumerate(demo_registrations() * 3)
    ][:24]
    answers = await asyncio.gather(
        *(client.post("/v1/campaigns/demo/registrations", json=r) for r in registrations)
    )
    assert {a.status_code for a in answers} == {200}
    context = client._transport.app.state.context  # type: ignore[attr-defined]
    runtime = context.desk.cached_runtime("demo")
    # Concurrent requests shared group commits, and each batch's service rows one transaction.
    assert runtime.committer.stats.transactions < len(registrations)
    assert not runtime.finisher._expected  # nothing left waiting
    events = (await client.get("/v1/campaigns/demo/events", params={"follow": "false"})).text
    decided = [
        json.loads(line[6:])["registration_id"]
        for line in events.splitlines()
        if line.startswith("data: ") and '"status"' in line
    ]
    assert sorted(decided) == sorted(r["RegistrationNumber"] for r in registrations)
    for registration, answer in zip(registrations, answers, strict=True):
        submission = context.tables.submission("demo", registration["RegistrationNumber"])
        assert submission.state == "decided"
        assert submission.info["ledger_key"] == answer.json()["registration_id"]
        assert submission.info["offer_version"] == answer.json()["offer_version"] == 1


async def test_a_failed_finishing_write_never_fails_decisions_already_committed(client):
    from igent.errors import StoreError

    await create_campaign(client)
    context = client._transport.app.state.context  # type: ignore[attr-defined]
    finish = context.tables.finish_decisions
    failures = [0]

    def busy_once(campaign_id, finished):
        if not failures[0]:
            failures[0] += 1
            raise StoreError("service database: database is locked")
        return finish(campaign_id, finished)

    context.tables.finish_decisions = busy_once
    registrations = demo_registrations()[:4]
    answers = await asyncio.gather(
        *(client.post("/v1/campaigns/demo/registrations", json=r) for r in registrations)
    )

    assert failures == [1]
    assert [a.status_code for a in answers] == [200] * 4  # their bookings are committed
    for registration in registrations:
        submission = context.tables.submission("demo", registration["RegistrationNumber"])
        assert submission.state == "decided"
    booked = sum(a.json()["status"] == "matched" for a in answers)
    assert sum((await used(client)).values()) == booked


async def test_a_finishing_write_failing_halfway_keeps_the_batch_and_finishes_it_later(client):
    # The service rows of a batch are written inside its ledger transaction (SQLite): a
    # failure after some of them are written undoes those alone, never the bookings.
    await create_campaign(client)
    context = client._transport.app.state.context  # type: ignore[attr-defined]
    db = context.tables._db
    failures = [0]

    def fail_once() -> int:
        failures[0] += 1
        return int(failures[0] == 1)

    db.create_function("fail_once", 0, fail_once)
    db.execute(
        "CREATE TEMP TRIGGER events_fail_once BEFORE INSERT ON events WHEN fail_once() "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    registrations = demo_registrations()[:4]
    answers = await asyncio.gather(
        *(client.post("/v1/campaigns/demo/registrations", json=r) for r in registrations)
    )

    assert failures[0] > 1  # the batch's write failed, later ones went through
    assert [a.status_code for a in answers] == [200] * 4  # their bookings are committed
    booked = sum(a.json()["status"] == "matched" for a in answers)
    assert sum((await used(client)).values()) == booked
    decided = [
        e.data["registration_id"]
        for e in context.tables.events_after("demo", 0)
        if e.kind == "decision"
    ]
    assert sorted(decided) == sorted(r["RegistrationNumber"] for r in registrations)  # once each
    for registration in registrations:
        submission = context.tables.submission("demo", registration["RegistrationNumber"])
        assert submission.state == "decided"


async def test_same_number_other_content_is_409_naming_fields(client):
    await create_campaign(client)
    registration = demo_registrations()[2]
    await client.post("/v1/campaigns/demo/registrations", json=registration)
    changed = {**registration, "Contact_Zip": "00000", "PaymentType": "Cash"}
    response = await client.post("/v1/campaigns/demo/registrations", json=changed)
    assert response.status_code == 409
    assert response.json()["fields"] == ["Contact_Zip", "PaymentType"]


async def test_malformed_registration_is_422_naming_the_field_and_books_nothing(client):
    await create_campaign(client)
    registration = {k: v for k, v in demo_registrations()[0].items() if k != "Contact_Zip"}
    response = await client.post("/v1/campaigns/demo/registrations", json=registration)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "Contact_Zip"]
    assert "Contact_Zip" in response.json()["detail"]
    assert sum((await used(client)).values()) == 0
    empty = {**demo_registrations()[0], "RegistrationNumber": "  "}
    response = await client.post("/v1/campaigns/demo/registrations", json=empty)
    assert response.status_code == 422 and "RegistrationNumber" in response.json()["detail"]
    page = (await client.get("/v1/campaigns/demo/registrations")).json()
    assert page["items"] == []


async def test_registration_the_rules_call_invalid_is_no_match_invalid_registration(client):
    await create_campaign(client)
    registration = {**demo_registrations()[0], "Proposal_OptimalAmountOfBatteries": -2}
    response = await client.post("/v1/campaigns/demo/registrations", json=registration)
    assert response.status_code == 200
    assert response.json()["status"] == "no_match"
    assert response.json()["reason"] == "invalid_registration"


async def test_cancel_frees_capacity_records_who_and_why_and_allows_resubmission(client):
    await create_campaign(client, offers=scarce_offers(1))
    registrations = demo_registrations()
    first = (await client.post("/v1/campaigns/demo/registrations", json=registrations[0])).json()
    supplier = first["supplier_id"]
    assert (await used(client))[supplier] == 1
    url = f"/v1/campaigns/demo/registrations/{first['registration_id']}:cancel"
    cancelled = await client.post(url, json={"reason": "customer withdrew"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancellations"][0]["reason"] == "customer withdrew"
    assert cancelled.json()["cancellations"][0]["cancelled_by"]
    assert (await used(client))[supplier] == 0
    twice = await client.post(url, json={"reason": "again"})
    assert twice.status_code == 200
    assert len(twice.json()["cancellations"]) == 1
    assert (await used(client))[supplier] == 0
    changed = {**registrations[0], "PaymentType": "Cash"}
    again = await client.post("/v1/campaigns/demo/registrations", json=changed)
    assert again.status_code == 200
    assert again.json()["status"] == "matched"
    assert sum((await used(client)).values()) == 1


async def test_replace_offers_keeps_bookings_and_refuses_capacity_below_booked(client):
    await create_campaign(client)
    for registration in demo_registrations()[:6]:
        await client.post("/v1/campaigns/demo/registrations", json=registration)
    booked = await used(client)
    busiest = max(booked, key=lambda s: booked[s])
    offers = demo_offers()
    for supplier in offers["SupplierOffers"]:
        if supplier["SupplierID"] == busiest:
            supplier["Capacity"] = booked[busiest] - 1
    refused = await client.put("/v1/campaigns/demo/offers", json={"offers": offers})
    assert refused.status_code == 409
    assert refused.json()["suppliers"] == [
        {"supplier_id": busiest, "booked": booked[busiest], "capacity": booked[busiest] - 1}
    ]
    for supplier in offers["SupplierOffers"]:
        supplier["Capacity"] = booked.get(supplier["SupplierID"], 0) + 2
    accepted = await client.put("/v1/campaigns/demo/offers", json={"offers": offers})
    assert accepted.status_code == 200
    assert accepted.json()["offer_version"] == 2
    assert await used(client) == booked
    caps = {s["supplier_id"]: s["capacity"] for s in accepted.json()["suppliers"]}
    assert caps == {s: booked.get(s, 0) + 2 for s in caps}
    later = await client.post("/v1/campaigns/demo/registrations", json=demo_registrations()[7])
    assert later.json()["offer_version"] == 2
    events = (await client.get("/v1/campaigns/demo/events", params={"follow": "false"})).text
    assert "event: capacity_changed" in events and '"offer_version": 2' in events


async def test_list_filters_and_cursor_pagination(client):
    await create_campaign(client)
    registrations = demo_registrations()[:12]
    for registration in registrations:
        await client.post("/v1/campaigns/demo/registrations", json=registration)
    seen, cursor = [], None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/campaigns/demo/registrations", params=params)).json()
        seen += [item["registration_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [r["RegistrationNumber"] for r in registrations]
    matched = (
        await client.get("/v1/campaigns/demo/registrations", params={"status": "matched"})
    ).json()["items"]
    assert matched and all(item["status"] == "matched" for item in matched)
    supplier = matched[0]["supplier_id"]
    by_supplier = (
        await client.get("/v1/campaigns/demo/registrations", params={"supplier_id": supplier})
    ).json()["items"]
    assert {item["supplier_id"] for item in by_supplier} == {supplier}
    zip_code = registrations[0]["Contact_Zip"]
    by_zip = (
        await client.get("/v1/campaigns/demo/registrations", params={"zip_code": zip_code})
    ).json()["items"]
    expected = [r["RegistrationNumber"] for r in registrations if r["Contact_Zip"] == zip_code]
    assert [item["registration_id"] for item in by_zip] == expected
    bad = await client.get("/v1/campaigns/demo/registrations", params={"cursor": "!!"})
    assert bad.status_code == 422


async def test_batch_json_and_ndjson_jobs_finish_with_progress(client):
    await create_campaign(client)
    registrations = demo_registrations()
    response = await client.post("/v1/campaigns/demo/registrations:batch", json=registrations[:20])
    assert response.status_code == 202
    job_url = response.headers["location"]
    assert response.json()["url"] == job_url
    ndjson = "".join(json.dumps(r) + "\n" for r in registrations[20:30]) + '{"nope": 1}\n'
    second = await client.post(
        "/v1/campaigns/demo/registrations:batch",
        content=ndjson,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert second.status_code == 202
    for task in list(client._transport.app.state.context.jobs._tasks.values()):  # type: ignore[attr-defined]
        await task
    job = (await client.get(job_url)).json()
    assert (job["status"], job["done"], job["total"], job["errors"]) == ("done", 20, 20, 0)
    other = (await client.get(second.json()["url"])).json()
    assert (other["done"], other["errors"]) == (11, 1)
    assert "RegistrationNumber" in other["item_errors"][0]["error"]
    page = (await client.get("/v1/campaigns/demo/registrations", params={"limit": 500})).json()
    assert len(page["items"]) == 30
    events = (await client.get("/v1/campaigns/demo/events", params={"follow": "false"})).text
    assert "event: job_progress" in events


async def test_events_resume_after_last_event_id(client):
    await create_campaign(client)
    for registration in demo_registrations()[:3]:
        await client.post("/v1/campaigns/demo/registrations", json=registration)
    first = (await client.get("/v1/campaigns/demo/events", params={"follow": "false"})).text
    ids = [int(line[4:]) for line in first.splitlines() if line.startswith("id: ")]
    assert len(ids) == 4  # campaign_created + 3 decisions
    resumed = await client.get(
        "/v1/campaigns/demo/events",
        params={"follow": "false"},
        headers={"Last-Event-ID": str(ids[1])},
    )
    assert resumed.headers["content-type"].startswith("text/event-stream")
    again = [int(line[4:]) for line in resumed.text.splitlines() if line.startswith("id: ")]
    assert again == ids[2:]
    assert "event: decision" in resumed.text


async def test_exports_pos_csv_xlsx_and_decision_log(client):
    await create_campaign(client)
    for registration in demo_registrations()[:10]:
        await client.post("/v1/campaigns/demo/registrations", json=registration)
    page = (await client.get("/v1/campaigns/demo/registrations", params={"limit": 50})).json()
    matched = [i for i in page["items"] if i["status"] == "matched"]
    lines = sum(len(i["purchase_order"]["lines"]) for i in matched)
    text = (await client.get("/v1/campaigns/demo/exports/purchase-orders.csv")).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == lines
    assert float(rows[0]["total_price"]) > 0
    supplier = rows[0]["supplier_id"]
    only = (
        await client.get(
            "/v1/campaigns/demo/exports/purchase-orders.csv", params={"supplier_id": supplier}
        )
    ).text
    assert {r["supplier_id"] for r in csv.DictReader(io.StringIO(only))} == {supplier}
    xlsx = await client.get("/v1/campaigns/demo/exports/purchase-orders.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert set(book.sheetnames) == {r["supplier_id"] for r in rows}
    sheet = book[supplier]
    header = [c.value for c in sheet[1]]
    first = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert isinstance(first["total_price"], float | int)
    assert sum(book[name].max_row - 1 for name in book.sheetnames) == lines
    log = (await client.get("/v1/campaigns/demo/exports/decisions.jsonl")).text.splitlines()
    assert len(log) == 10
    assert json.loads(log[0])["decision"]["match"]["registration_id"]


async def test_unfinished_batch_job_resumes_at_the_next_start(settings, keys):
    from igent.service import create_app
    from igent.store.service_tables import ServiceTables

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {keys[0]}"},
        ) as http:
            await create_campaign(http)
    # A job stored but never run (the process died right after answering 202).
    tables = ServiceTables(settings.database_path())
    job = tables.add_job("stopped-job", "demo", demo_registrations()[:7], "k")
    tables.close()
    assert job.status == "queued"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        jobs = app.state.context.jobs
        assert "stopped-job" in jobs._tasks
        await jobs._tasks["stopped-job"]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {keys[0]}"},
        ) as http:
            resumed = (await http.get("/v1/campaigns/demo/jobs/stopped-job")).json()
            assert (resumed["status"], resumed["done"], resumed["errors"]) == ("done", 7, 0)
            page = (await http.get("/v1/campaigns/demo/registrations")).json()
            assert len(page["items"]) == 7
