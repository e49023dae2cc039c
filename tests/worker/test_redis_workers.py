"""Real Redis + PostgreSQL: 4 worker processes x 8 threads, duplicates, kill -9 and restart."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from igent.store import Store
from igent.store.backend import open_store
from igent.worker import BrokerOptions, dead_letters, declare_actor, make_broker
from igent.worker.broker import pending_messages
from igent.worker.submit import campaign_spec, enqueue_campaign
from igent.workflows import InputPaths
from tests.support.factories import make_registration, make_supplier

REGISTRATIONS = 500
CAPACITY = {"S1": 120, "S2": 90, "S3": 60}  # 270 units for 500 registrations: scarce
WORKERS = 4
THREADS = 8


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _igent(*args: str) -> list[str]:
    return [sys.executable, "-m", "igent.cli", *args]


class Workers:
    """igent worker processes on one ledger and broker namespace."""

    def __init__(self, db: str, broker: str, namespace: str, logs: Path) -> None:
        self.logs = logs
        self.args = [
            "worker", "--db", db, "--broker", broker, "--namespace", namespace,
            "--threads", str(THREADS), "--heartbeat-timeout-s", "2", "--min-backoff-ms", "50",
        ]  # fmt: skip
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, count: int = 1) -> None:
        """Start ``count`` workers at once and wait until each says it is ready."""
        started = []
        for _ in range(count):
            log = (self.logs / f"worker-{len(self.processes)}.log").open("w")
            process = subprocess.Popen(
                _igent(*self.args), env=_env(), stdout=subprocess.PIPE, stderr=log, text=True
            )
            log.close()
            self.processes.append(process)
            started.append(process)
        for process in started:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("igent worker ready"), line

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _campaign_files(tmp_path: Path) -> tuple[Path, Path]:
    offers = {
        "CampaignID": "scale",
        "SupplierOffers": [make_supplier(s, c) for s, c in CAPACITY.items()],
    }
    registrations = [
        make_registration(RegistrationNumber=f"R-{n:04d}") for n in range(REGISTRATIONS)
    ]
    (tmp_path / "offers.json").write_text(json.dumps(offers))
    (tmp_path / "registrations.json").write_text(json.dumps(registrations))
    return tmp_path / "offers.json", tmp_path / "registrations.json"


def _wait(condition: object, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _decided(store: Store) -> int:
    n = sum(store.counts("scale").by_status.values())
    return n


def test_four_workers_with_duplicates_and_a_kill_9_decide_each_registration_once(
    postgres_url: str, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    from tests.support.services import empty_ledger

    empty_ledger(postgres_url)
    offers, registrations = _campaign_files(tmp_path)
    workers = Workers(postgres_url, redis_url, namespace, tmp_path)
    store = open_store(postgres_url)
    broker = make_broker(redis_url, BrokerOptions(namespace=namespace))
    try:
        workers.start(WORKERS)
        spec = campaign_spec(
            InputPaths(registrations, offers),
            "scale",
            constellation="rules",
            model=None,
            campaign_date=dt.date(2024, 6, 1),
        )
        sent = enqueue_campaign(declare_actor(broker), store, spec, registrations, copies=2)
        assert sent.sent == REGISTRATIONS  # every message delivered twice
        kill_at = random.Random(7).randrange(50, 150)  # in committed decisions, not time
        _wait(lambda: _decided(store) >= kill_at, f"{kill_at} decisions")
        victim = workers.processes[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert _decided(store) < REGISTRATIONS, "the kill came after the run; not mid-run"
        workers.start()  # the restarted worker
        _wait(lambda: _decided(store) >= REGISTRATIONS, "every registration decided")
        # The killed worker's unacknowledged messages are requeued after the heartbeat
        # timeout and then acknowledged as already decided: nothing stays pending.
        _wait(lambda: pending_messages(broker) == 0, "no pending message")
        counts = store.counts("scale")
        assert sum(counts.by_status.values()) == REGISTRATIONS  # one decision each
        assert set(counts.by_status) <= {"matched", "no_match"}
        assert counts.by_status["matched"] == sum(CAPACITY.values())  # scarce: all used
        used = {s.supplier_id: s.used for s in store.suppliers("scale")}
        assert used == counts.booked_by_supplier == CAPACITY  # bookings == decisions <= capacity
        assert dead_letters(broker) == []
    finally:
        workers.stop_all()
        broker.close()
        store.close()
