"""``python -m igent.workflows ... --workers``: workers decide; the command waits and reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from igent.store.backend import open_store
from tests.support.factories import make_registration, make_supplier
from tests.support.services import empty_ledger


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_workflows_with_workers_enqueues_waits_and_reports(
    postgres_url: str, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    empty_ledger(postgres_url)
    offers = {"CampaignID": "wf", "SupplierOffers": [make_supplier("S1", 6)]}
    registrations = [make_registration(RegistrationNumber=f"R-{n:03d}") for n in range(10)]
    (tmp_path / "offers.json").write_text(json.dumps(offers))
    (tmp_path / "registrations.json").write_text(json.dumps(registrations))
    worker = subprocess.Popen(
        [sys.executable, "-m", "igent.cli", "worker", "--db", postgres_url,
         "--broker", redis_url, "--namespace", namespace, "--threads", "4"],
        env=_env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().startswith("igent worker ready")
        env = {
            **_env(),
            "IGENT_DATABASE_URL": postgres_url,
            "IGENT_BROKER_URL": redis_url,
            "IGENT_BROKER_NAMESPACE": namespace,
        }
        done = subprocess.run(
            [sys.executable, "-m", "igent.workflows", "rules", "--workers",
             "--offers", str(tmp_path / "offers.json"),
             "--registrations", str(tmp_path / "registrations.json"),
             "--campaign-date", "2024-06-01"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        if worker.stdout is not None:
            worker.stdout.close()
    assert done.returncode == 0, done.stderr
    assert "queued 10 registrations of campaign 'offers'" in done.stdout
    assert "decided 10 of 10: 6 matched, 4 no_match" in done.stdout
    store = open_store(postgres_url)
    try:
        assert {s.supplier_id: s.used for s in store.suppliers("offers")} == {"S1": 6}
    finally:
        store.close()
