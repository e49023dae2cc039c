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
