"""The operator page in a real Chromium against a real ``igent serve``: every issue-11 item."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.page.conftest import Requests, Service, demo_file, sign_in, wait_for
from tests.service.conftest import demo_offers, demo_registrations

pytestmark = pytest.mark.slow


# Contrast of every visible text element against its first opaque background (WCAG 2 formula).
CONTRAST_JS = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0.9) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.offsetParent || el.closest("button:disabled")) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className}: ${ratio.toFixed(2)}`);
  }
  return low;
}"""


def bars(page: Any) -> dict[str, tuple[int, int]]:
    """Read the capacity bars: supplier -> (used, capacity) as the page shows them."""
    found = {}
    for item in page.locator("#capacity li").all():
        supplier = item.get_attribute("data-supplier")
        found[supplier] = (
            int(item.locator(".used").inner_text()),
            int(item.locator(".cap").inner_text()),
        )
    return found


def api_bars(service: Service, campaign_id: str) -> dict[str, tuple[int, int]]:
    """The same numbers from the capacity API."""
    with service.http() as http:
        campaign = http.get(f"/v1/campaigns/{campaign_id}").json()
    return {s["supplier_id"]: (s["used"], s["capacity"]) for s in campaign["suppliers"]}


def test_sign_in_rejects_a_wrong_key_in_words_then_lists_campaigns(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("signin")
    page.goto(service.url + "/")
    page.get_by_label("API key").fill("igk_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "API key was not accepted" in alert.inner_text()
    assert page.evaluate("sessionStorage.getItem('igent.apiKey')") is None

    page.get_by_label("API key").fill(service.operator)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Demo signin").wait_for()
    assert "operator" in page.locator("#who-text").inner_text()
    # The key is kept for this tab only: sessionStorage, no cookie.
    assert page.evaluate("sessionStorage.getItem('igent.apiKey')") == service.operator
    assert page.context.cookies() == []
    page.screenshot(path=str(tmp_path / "campaigns.png"))


def test_upload_demo_registrations_runs_the_progress_bar_to_the_end_with_a_summary(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("upload")
    bad = {"RegistrationNumber": "R-BAD-1", "CampaignName": "Demo Solar 2026"}  # no Contact_Zip
    sign_in(page, service, hash_="#/c/upload")
    page.get_by_label("Registrations file (JSON list or NDJSON)").set_input_files(
        str(demo_file(tmp_path, [bad]))
    )
    page.get_by_role("button", name="Upload").click()
    page.get_by_text("51 of 51 processed (done)").wait_for()
    progress = page.locator("#upload-progress")
    assert progress.evaluate("p => [p.value, p.max]") == [51, 51]
    summary = page.locator("#upload-summary")
    assert summary.locator("[data-count=matched] strong").inner_text() == "50"
    assert summary.locator("[data-count=errors] strong").inner_text() == "1"
    # The error names the record and the field.
    error_row = summary.locator("table tbody tr").first
    assert error_row.locator("td").nth(0).inner_text() == "51"
    assert error_row.locator("td").nth(1).inner_text() == "R-BAD-1"
    assert "Contact_Zip" in error_row.locator("td").nth(2).inner_text()
    page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
    with service.http() as http:
        listed = http.get("/v1/campaigns/upload/registrations", params={"limit": 500}).json()
    assert len(listed["items"]) == 50


def test_errors_are_explained_in_words_unknown_campaign_and_broken_upload(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("broken")
    sign_in(page, service, hash_="#/c/no-such-campaign")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "campaign 'no-such-campaign' does not exist" in alert.inner_text()
    page.screenshot(path=str(tmp_path / "unknown-campaign.png"))
    page.get_by_role("button", name="Dismiss").click()
    page.goto(service.url + "/#/c/broken")
    page.locator("#capacity li").first.wait_for()
    path = tmp_path / "broken.ndjson"
    path.write_text('{"RegistrationNumber": "R-1", "Contact_Zip": "55149"}\n{oops\n')
    page.get_by_label("Registrations file (JSON list or NDJSON)").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    text = alert.inner_text()
    assert "broken.ndjson" in text and "line 2 is not valid JSON" in text
    assert "Traceback" not in page.content()
    page.screenshot(path=str(tmp_path / "upload-error.png"))


def test_capacity_bars_match_the_capacity_api_and_follow_new_decisions_live(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("bars", registrations=demo_registrations()[:30])
    sign_in(page, service, hash_="#/c/bars")
    page.locator("#capacity li").first.wait_for()
    assert bars(page) == api_bars(service, "bars")
    page.locator("#live.on").wait_for()
    # A decision made elsewhere arrives through the events stream; no reload.
    with service.http() as http:
        answer = http.post("/v1/campaigns/bars/registrations", json=demo_registrations()[30])
        assert answer.status_code == 200, answer.text
    supplier = answer.json()["supplier_id"]
    registration_id = answer.json()["registration_id"]
    page.locator("#feed li", has_text=registration_id).wait_for()
    wait_for(lambda: bars(page) == api_bars(service, "bars"), timeout_s=20)
    assert bars(page)[supplier][0] == api_bars(service, "bars")[supplier][0]
    assert page.locator("#counts [data-count=matched] dd").inner_text() == "31"
    page.screenshot(path=str(tmp_path / "dashboard.png"))


def test_no_match_registration_shows_its_reason_and_candidates(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("scarce", capacity=3, registrations=demo_registrations())
    sign_in(page, service, hash_="#/c/scarce")
    page.get_by_label("Status").select_option("no_match")
    page.get_by_text("Page 1 of 2 · 38 registrations").wait_for()  # 4 suppliers x 3 matched
    assert page.locator("#reasons [data-reason=no_capacity]").count() == 1
    link = page.locator("#reg-body a").first
    registration_id = link.inner_text()
    link.click()
    page.locator("#registration-title").wait_for()
    decision = page.get_by_role("region", name="Decision", exact=True)
    assert "no_capacity" in decision.inner_text()
    with service.http() as http:
        api = http.get(f"/v1/campaigns/scarce/registrations/{registration_id}").json()
    assert api["status"] == "no_match" and api["reason"] == "no_capacity"
    candidates = decision.locator("table tbody tr")
    assert candidates.count() == len(api["candidates"]) > 0
    page.screenshot(path=str(tmp_path / "no-match.png"), full_page=True)


def test_cancelling_a_matched_registration_lowers_its_suppliers_bar_at_once(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("cancel", registrations=demo_registrations()[:20])
    with service.http() as http:
        matched = http.get(
            "/v1/campaigns/cancel/registrations", params={"status": "matched", "limit": 1}
        ).json()["items"][0]
    supplier, registration_id = matched["supplier_id"], matched["registration_id"]
    sign_in(page, service, hash_=f"#/c/cancel/r/{registration_id}")
    page.locator("#capacity li").first.wait_for()
    used_before = bars(page)[supplier][0]
    page.get_by_role("button", name="Cancel registration").click()
    dialog = page.get_by_role("dialog")
    assert registration_id in dialog.inner_text()
    dialog.get_by_label("Reason (optional)").fill("customer withdrew")
    dialog.get_by_role("button", name="Yes, cancel it").click()
    page.locator("#registration-status", has_text="cancelled").wait_for()
    assert bars(page)[supplier][0] == used_before - 1 == api_bars(service, "cancel")[supplier][0]
    notice = page.locator("#notice").inner_text()
    assert f"{supplier} now has {used_before - 1} of" in notice
    assert page.get_by_role("button", name="Cancel registration").count() == 0
    page.screenshot(path=str(tmp_path / "cancelled.png"), full_page=True)


def test_keeping_a_registration_in_the_dialog_changes_nothing(page: Any, service: Service):
    service.campaign("keep", registrations=demo_registrations()[:3])
    sign_in(page, service, hash_="#/c/keep/r/R-000001")
    page.get_by_role("button", name="Cancel registration").click()
    page.get_by_role("dialog").get_by_role("button", name="Keep it").click()
    with service.http() as http:
        assert http.get("/v1/campaigns/keep/registrations/R-000001").json()["status"] == "matched"


def test_viewer_sees_no_cancel_button_and_a_forged_cancel_is_refused(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("viewer", registrations=demo_registrations()[:5])
    sign_in(page, service, service.viewer, hash_="#/c/viewer/r/R-000001")
    page.locator("#registration-title").wait_for()
    assert "viewer" in page.locator("#who-text").inner_text()
    assert page.get_by_role("button", name="Cancel registration").count() == 0
    assert page.get_by_role("button", name="Upload").count() == 0
    assert page.get_by_role("button", name="Preview changes").count() == 0
    page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
    status = page.evaluate(
        """async () => {
            const key = sessionStorage.getItem('igent.apiKey');
            const r = await fetch('/v1/campaigns/viewer/registrations/R-000001:cancel', {
                method: 'POST', headers: {Authorization: 'Bearer ' + key}});
            return r.status;
        }"""
    )
    assert status == 403
    with service.http() as http:
        assert http.get("/v1/campaigns/viewer/registrations/R-000001").json()["status"] == "matched"


def test_export_csv_has_one_row_per_po_line_of_the_matched_registrations(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("export", capacity=5, registrations=demo_registrations())
    sign_in(page, service, hash_="#/c/export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Purchase orders (CSV)").click()
    download = download_info.value
    path = tmp_path / "pos.csv"
    download.save_as(str(path))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    with service.http() as http:
        matched = http.get(
            "/v1/campaigns/export/registrations", params={"status": "matched", "limit": 500}
        ).json()["items"]
    expected = {
        (m["registration_id"], m["supplier_id"], len(m["purchase_order"]["lines"])) for m in matched
    }
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["registration_id"], row["supplier_id"])
        seen[key] = seen.get(key, 0) + 1
    assert {(r, s, n) for (r, s), n in seen.items()} == expected
    assert len(expected) == 20  # 4 suppliers x capacity 5
    page.screenshot(path=str(tmp_path / "export.png"))
    with page.expect_download() as jsonl_info:
        page.get_by_role("button", name="Decision log (JSONL)").click()
    log = Path(jsonl_info.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(log) == 50 and all(json.loads(line) for line in log)
    with page.expect_download() as xlsx_info:
        page.get_by_role("button", name="Purchase orders (XLSX)").click()
    assert Path(xlsx_info.value.path()).read_bytes()[:2] == b"PK"


def test_table_searches_filters_sorts_and_pages(page: Any, service: Service, tmp_path: Path):
    service.campaign("table", capacity=6, registrations=demo_registrations())
    sign_in(page, service, hash_="#/c/table")
    page.get_by_text("Page 1 of 2 · 50 registrations").wait_for()
    page.get_by_role("button", name="Next ›").click()
    page.get_by_text("Page 2 of 2 · 50 registrations").wait_for()
    assert page.locator("#reg-body tr").count() == 25

    zip_code = demo_registrations()[0]["Contact_Zip"]
    expected_zip = sum(1 for r in demo_registrations() if r["Contact_Zip"] == zip_code)
    page.get_by_label("Registration number or ZIP").fill(zip_code)
    page.get_by_label("Registration number or ZIP").press("Enter")
    page.get_by_text(f"Page 1 of 1 · {expected_zip} registrations").wait_for()

    page.get_by_label("Registration number or ZIP").fill("R-000007")
    page.get_by_label("Registration number or ZIP").press("Enter")
    page.get_by_text("Page 1 of 1 · 1 registrations").wait_for()

    page.get_by_label("Registration number or ZIP").fill("")
    page.get_by_label("Supplier").select_option("SunPeak")
    page.get_by_text("Page 1 of 1 · 6 registrations").wait_for()
    page.get_by_label("Supplier").select_option("")
    page.get_by_label("Status").select_option("matched")
    page.get_by_text("Page 1 of 1 · 24 registrations").wait_for()
    page.get_by_role("button", name="Net price").click()
    page.get_by_role("button", name="Net price").click()
    page.locator("th[aria-sort=descending]", has_text="Net price").wait_for()
    prices = [float(t.replace(",", "")) for t in page.locator("#reg-body td.num").all_inner_texts()]
    assert prices == sorted(prices, reverse=True) and len(prices) == 24
    page.get_by_label("Status").select_option("")
    page.get_by_label("NO MATCH reason").select_option("no_capacity")
    page.get_by_text("Page 1 of 2 · 26 registrations").wait_for()
    page.screenshot(path=str(tmp_path / "table.png"), full_page=True)


def test_replace_offers_previews_changes_then_stores_them_and_refuses_below_bookings(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign("offers", registrations=demo_registrations()[:20])
    booked = api_bars(service, "offers")
    sign_in(page, service, hash_="#/c/offers")
    offers = demo_offers()
    first = offers["SupplierOffers"][0]
    first["Capacity"] = 40
    first["Offers"][0]["ProductPrices"][0]["CashPrice"] += 100
    path = tmp_path / "offers-v2.json"
    path.write_text(json.dumps(offers))
    page.get_by_label("Offers file (JSON, the offers format)").set_input_files(str(path))
    page.get_by_role("button", name="Preview changes").click()
    preview = page.locator("#offers-preview")
    preview.locator("table").wait_for()
    row = preview.locator("tr", has_text=first["SupplierID"])
    assert "25 → 40" in row.inner_text() and "CashPrice" in row.inner_text()
    # Nothing is stored by a preview.
    assert api_bars(service, "offers") == booked
    page.screenshot(path=str(tmp_path / "offers-preview.png"), full_page=True)
    page.get_by_role("button", name="Replace offers").click()
    page.locator("#offers-detail", has_text="offer version 2").wait_for()
    assert api_bars(service, "offers")[first["SupplierID"]][1] == 40
    wait_for(lambda: bars(page)[first["SupplierID"]][1] == 40, timeout_s=20)

    # A capacity below the bookings is refused, with the numbers, before anything is sent.
    second = offers["SupplierOffers"][1]
    used = booked[second["SupplierID"]][0]
    second["Capacity"] = used - 1
    path.write_text(json.dumps(offers))
    page.get_by_label("Offers file (JSON, the offers format)").set_input_files(str(path))
    page.get_by_role("button", name="Preview changes").click()
    detail = page.locator("#offers-detail", has_text="refused")
    detail.wait_for()
    numbers = f"{second['SupplierID']}' has {used} booked but the new capacity is {used - 1}"
    assert numbers in detail.inner_text()
    assert page.get_by_role("button", name="Replace offers").is_disabled()
    page.screenshot(path=str(tmp_path / "offers-refused.png"), full_page=True)


def test_page_requests_nothing_but_the_igent_server(
    page: Any, service: Service, requests_seen: Requests, tmp_path: Path
):
    service.campaign("local", capacity=4, registrations=demo_registrations()[:12])
    sign_in(page, service)
    page.get_by_role("link", name="Demo local").click()
    page.locator("#capacity li").first.wait_for()
    page.locator("#reg-body a").first.click()
    page.locator("#registration-title").wait_for()
    page.get_by_role("link", name="‹ Back to the campaign").click()
    with page.expect_download():
        page.get_by_role("button", name="Purchase orders (CSV)").click()
    page.screenshot(path=str(tmp_path / "local.png"))
    assert any("/static/page/page.js" in url for url in requests_seen.urls)
    assert any("/events" in url for url in requests_seen.urls)
    assert requests_seen.foreign(service.url) == []


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_dashboard_fits_laptop_and_large_screens_and_works_by_keyboard(
    page: Any, service: Service, tmp_path: Path, size: tuple[int, int]
):
    service.campaign(f"screen{size[0]}", capacity=8, registrations=demo_registrations())
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(service.url + f"/#/c/screen{size[0]}")
    # Keyboard only: the key field has focus; type, Enter.
    page.keyboard.type(service.operator)
    page.keyboard.press("Enter")
    page.locator("#capacity li").first.wait_for()
    page.locator("#reg-body a").first.wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size[0]  # no horizontal scrolling
    # Every form control has a label.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
            .map(e => e.id || e.name)"""
    )
    assert unlabelled == []
    low = page.evaluate(CONTRAST_JS)
    assert low == [], low  # WCAG AA: text contrast at least 4.5:1
    page.locator("#reg-body a").first.focus()
    page.keyboard.press("Enter")
    page.locator("#registration-title").wait_for()
    assert page.evaluate("document.activeElement.id") == "registration-title"
    page.screenshot(path=str(tmp_path / f"dashboard-{size[0]}.png"))


def test_registration_shows_model_calls_with_prompt_reply_tokens_and_the_audit(
    page: Any, service: Service, tmp_path: Path
):
    service.campaign(
        "llm",
        registrations=demo_registrations()[:2],
        constellation="p1r_audit",
        model="mock",
    )
    with service.http() as http:
        api = http.get("/v1/campaigns/llm/registrations/R-000001").json()
    assert api["model_calls"] and api["audit"] is not None
    sign_in(page, service, hash_="#/c/llm/r/R-000001")
    calls = page.get_by_role("region", name=re.compile(r"^Model calls"))
    calls.wait_for()
    assert f"Model calls ({len(api['model_calls'])})" in calls.inner_text()
    first = api["model_calls"][0]
    summary = calls.locator("summary").first
    assert f"{first['prompt_tokens']} + {first['completion_tokens']} tokens" in summary.inner_text()
    summary.click()
    assert calls.locator("details").first.locator("pre").count() >= 2  # prompt(s) and reply
    audit = page.get_by_role("region", name="Audit verdict")
    verdict = "approved" if api["audit"]["approved"] else "not approved"
    assert audit.locator("#audit-verdict").inner_text() == f"Verdict: {verdict}"
    assert audit.locator("pre").count() == 1
    page.screenshot(path=str(tmp_path / "model-calls.png"), full_page=True)
    assert service.operator not in page.locator("#registration-detail").inner_text()
