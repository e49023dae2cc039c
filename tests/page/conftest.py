"""Browser fixtures: a real ``igent serve`` process and Debian's Chromium driven by playwright.

Chromium is never downloaded: the tests use the system's ``/usr/bin/chromium`` (``apt-get
install chromium``; scripts/test.sh installs it when missing). Without it the tests skip with
that how-to, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.service.conftest import demo_offers, demo_registrations, make_keys
from tests.service.server import Server

CHROMIUM = Path(os.environ.get("IGENT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO = (
    "browser tests need Debian's Chromium at {path} and the playwright package: "
    "'sudo apt-get install chromium' and 'pip install playwright' (never 'playwright install')"
)


def _require_browser() -> Any:
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed"
    if problem is None and not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing"
    if problem is not None:
        message = f"{problem}: " + HOW_TO.format(path=CHROMIUM)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


@dataclass
class Service:
    """A running ``igent serve`` with an operator and a viewer key."""

    server: Server
    operator: str
    viewer: str
    work: Path

    @property
    def url(self) -> str:
        return self.server.url

    def http(self, key: str | None = None) -> httpx.Client:
        """An httpx client on the server, as operator unless ``key`` is given."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key or self.operator}"},
            timeout=60,
        )

    def campaign(
        self,
        campaign_id: str,
        *,
        capacity: int | None = None,
        registrations: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> dict[str, Any]:
        """Create a campaign from the demo offers (every capacity set to ``capacity`` when
        given), decide ``registrations`` through a batch job, and return the campaign."""
        offers = demo_offers()
        if capacity is not None:
            for supplier in offers["SupplierOffers"]:
                supplier["Capacity"] = capacity
        with self.http() as http:
            created = http.post(
                "/v1/campaigns",
                json={
                    "campaign_id": campaign_id,
                    "name": f"Demo {campaign_id}",
                    "offers": offers,
                    "campaign_date": "2026-06-01",
                    **settings,
                },
            )
            assert created.status_code == 201, created.text
            if registrations:
                job = http.post(
                    f"/v1/campaigns/{campaign_id}/registrations:batch", json=registrations
                )
                assert job.status_code == 202, job.text
                wait_for(lambda: http.get(job.json()["url"]).json()["status"] == "done")
            result: dict[str, Any] = http.get(f"/v1/campaigns/{campaign_id}").json()
        return result


def wait_for(condition: Any, timeout_s: float = 60.0) -> None:
    """Poll ``condition`` until it is true (a bounded wait for a background job)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One ``igent serve --port 0`` process for the module's tests."""
    _require_browser()
    work = tmp_path_factory.mktemp("page-service")
    db = work / "igent.db"
    operator, viewer = make_keys(db)
    with Server(db) as server:
        yield Service(server, operator, viewer, work)


@pytest.fixture(scope="module")
def browser(service: Service) -> Iterator[Any]:
    """Headless Debian Chromium."""
    sync_playwright = _require_browser()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@dataclass
class Requests:
    """Every URL the page requested."""

    urls: list[str] = field(default_factory=list)

    def foreign(self, origin: str) -> list[str]:
        """Return the URLs not served by ``origin`` (blob: and data: URLs are local)."""
        allowed = urlsplit(origin).netloc
        found = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme == "data":
                continue
            if parts.scheme == "blob":
                parts = urlsplit(url[len("blob:") :])
            if parts.netloc != allowed:
                found.append(url)
        return found


@pytest.fixture
def requests_seen() -> Requests:
    """The URLs the test's page requested."""
    return Requests()


@pytest.fixture
def page(browser: Any, service: Service, requests_seen: Requests, tmp_path: Path) -> Iterator[Any]:
    """A fresh browser tab at 1280x800 that records its requests; a failure leaves a PNG."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.on("request", lambda request: requests_seen.urls.append(request.url))
    tab.on("pageerror", lambda error: requests_seen.urls.append(f"pageerror: {error}"))
    yield tab
    tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    context.close()
    # No test may make the page talk to any host but the igent server.
    assert requests_seen.foreign(service.url) == []


def sign_in(page: Any, service: Service, key: str | None = None, hash_: str = "") -> None:
    """Open the page and sign in with ``key`` (the operator's by default)."""
    page.goto(f"{service.url}/{hash_}")
    page.get_by_label("API key").fill(key or service.operator)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#who").wait_for(state="visible")


def demo_file(tmp_path: Path, extra: list[Any] | None = None) -> Path:
    """Write the demo registrations (plus ``extra`` records) as a JSON list file."""
    path = tmp_path / "registrations.json"
    path.write_text(json.dumps([*demo_registrations(), *(extra or [])]), encoding="utf-8")
    return path


__all__ = ["Requests", "Service", "demo_file", "sign_in", "wait_for"]
