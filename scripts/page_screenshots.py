"""Refresh the operator page screenshots in docs/screenshots (used by README "Operator page").

Run from the repository root: ``python scripts/page_screenshots.py``. Needs Debian's
``/usr/bin/chromium`` and the playwright package (dev extra); starts its own ``igent serve``
on a temporary database, so nothing of yours is touched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from igent.campaign.demo import demo_campaign_paths
from igent.service.auth import create_key
from igent.store.service_tables import ServiceTables

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]


def main() -> None:
    """Start a server with a demo campaign and save three screenshots."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        db = Path(work) / "igent.db"
        tables = ServiceTables(db)
        key, _ = create_key(tables, "operator", "campaign team")
        tables.close()
        server = subprocess.Popen(
            [sys.executable, "-m", "igent.cli", "serve", "--port", "0", "--db", str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip().rsplit(" ", 1)[-1]
            paths = demo_campaign_paths()
            offers = json.loads(paths["offers"].read_text(encoding="utf-8"))
            for supplier in offers["SupplierOffers"]:
                supplier["Capacity"] = 12
            registrations = json.loads(paths["registrations"].read_text(encoding="utf-8"))
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
                body = {
                    "campaign_id": "demo",
                    "name": "Demo Solar 2026",
                    "offers": offers,
                    "campaign_date": "2026-06-01",
                }
                http.post("/v1/campaigns", json=body).raise_for_status()
                for registration in registrations[:40]:
                    http.post("/v1/campaigns/demo/registrations", json=registration)
            upload = Path(work) / "registrations.ndjson"
            upload.write_text("\n".join(json.dumps(r) for r in registrations[40:]) + "\n")
            shoot(url, key, upload)
        finally:
            server.terminate()
            server.wait(timeout=30)


def shoot(url: str, key: str, upload: Path) -> None:
    """Sign in, then save the dashboard, the NO MATCH registrations and one registration."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/#/c/demo")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Registrations file (JSON list or NDJSON)").set_input_files(str(upload))
        page.get_by_role("button", name="Upload").click()
        page.get_by_text("10 of 10 processed (done)").wait_for()
        time.sleep(1.0)  # let the live refresh settle before the picture
        page.screenshot(path=str(OUT / "dashboard.png"))
        page.get_by_label("Status").select_option("no_match")
        page.locator("#page-info", has_text="Page 1 of 1").wait_for()
        page.evaluate("document.getElementById('table-title').scrollIntoView()")
        page.screenshot(path=str(OUT / "registrations.png"))
        page.goto(f"{url}/#/c/demo/r/R-000045")
        page.locator("#registration-title").wait_for()
        page.screenshot(path=str(OUT / "registration.png"))
        browser.close()


if __name__ == "__main__":
    main()
