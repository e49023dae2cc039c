"""``igent worker`` (decide queued registrations) and ``igent enqueue`` (queue a campaign)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from igent.cli.options import (
    CampaignDateOpt,
    DataDirOpt,
    IncentivesOpt,
    ModelOpt,
    OffersOpt,
    RegistrationsOpt,
    ScenarioOpt,
)
from igent.errors import ConfigError

Opt = typer.Option

DbOpt = Annotated[
    str | None,
    Opt(help="Ledger: postgresql://USER@HOST:PORT/DB or a SQLite path. [env IGENT_DATABASE_URL]"),
]
BrokerOpt = Annotated[
    str | None,
    Opt(help="Broker: redis://HOST:6379/0 or amqp://USER:PASS@HOST:5672/. [env IGENT_BROKER_URL]"),
]
NamespaceOpt = Annotated[
    str,
    Opt(
        envvar="IGENT_BROKER_NAMESPACE",
        help="Redis key prefix: deployments sharing one Redis use different ones.",
    ),
]


def required_url(value: str | None, env: str, option: str) -> str:
    """Return the option's value, else the environment's; ConfigError when neither is set."""
    url = value or os.environ.get(env)
    if not url:
        raise ConfigError(f"{option} is required: pass {option} URL or set {env}")
    return url


def worker_command(
    db: DbOpt = None,
    broker: BrokerOpt = None,
    threads: Annotated[int, Opt(min=1, help="Registrations decided at once (threads).")] = 8,
    sim_url: Annotated[
        str | None, Opt(help="Base URL of a running simulator (for --model sim:PROFILE).")
    ] = None,
    endpoints: Annotated[
        Path | None, Opt(envvar="IGENT_ENDPOINTS_FILE", help="Your endpoints registry YAML.")
    ] = None,
    limits_redis: Annotated[
        str | None,
        Opt(help="Redis for the shared per-endpoint limits (default: the broker, if Redis)."),
    ] = None,
    max_retries: Annotated[int, Opt(min=0, help="Retries of a failing message.")] = 5,
    min_backoff_ms: Annotated[int, Opt(min=1, help="First retry delay (doubles each time).")] = 500,
    heartbeat_timeout_s: Annotated[
        float, Opt(help="Redis: a silent worker is dead after this; its messages are requeued.")
    ] = 60.0,
    namespace: NamespaceOpt = "igent",
) -> None:
    """Decide queued registrations until SIGTERM/Ctrl-C; the first stdout line says it is ready.

    Each message is acknowledged after its decision is committed to the ledger; a worker killed
    (even with kill -9) leaves its unacknowledged messages to be redelivered to other workers.
    """

    from igent.store.backend import open_store
    from igent.store.postgres import redact_url
    from igent.worker import (
        QUEUE,
        BrokerOptions,
        RetryPolicy,
        WorkerRuntime,
        WorkerSettings,
        declare_actor,
        make_broker,
        make_worker,
    )

    db_url = required_url(db, "IGENT_DATABASE_URL", "--db")
    broker_url = required_url(broker, "IGENT_BROKER_URL", "--broker")
    if limits_redis is None and broker_url.startswith("redis"):
        limits_redis = broker_url
    dramatiq_broker = make_broker(
        broker_url,
        BrokerOptions(
            heartbeat_timeout_s=heartbeat_timeout_s,
            maintenance_chance=100_000,
            namespace=namespace,
        ),
    )
    settings = WorkerSettings(
        endpoints_file=endpoints, sim_base_url=sim_url, redis_url=limits_redis
    )
    runtime = WorkerRuntime(open_store(db_url, max_connections=threads + 2), settings)
    policy = RetryPolicy(max_retries=max_retries, min_backoff_ms=min_backoff_ms)
    declare_actor(dramatiq_broker, lambda: runtime, policy)
    dramatiq_broker.emit_after("process_boot")
    worker = make_worker(dramatiq_broker, threads)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker.start()
    print(
        f"igent worker ready: pid {os.getpid()}, {threads} threads, queue {QUEUE}, "
        f"ledger {redact_url(str(db_url))}",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        print("igent worker stopping: finishing messages in progress", file=sys.stderr)
        worker.stop()
        runtime.close()
        dramatiq_broker.close()


def enqueue_command(
    constellation: Annotated[
        str, typer.Argument(help="Constellation name or YAML path.")
    ] = "rules",
    db: DbOpt = None,
    broker: BrokerOpt = None,
    campaign: Annotated[
        str | None, Opt(help="Ledger campaign id (default: the offers file stem).")
    ] = None,
    data_dir: DataDirOpt = None,
    scenario: ScenarioOpt = None,
    registrations: RegistrationsOpt = None,
    offers: OffersOpt = None,
    incentives: IncentivesOpt = None,
    model: ModelOpt = None,
    campaign_date: CampaignDateOpt = None,
    skip_status: Annotated[
        str | None, Opt(help="Comma-separated RegistrationStatus values to leave out.")
    ] = None,
    deadline_s: Annotated[float, Opt(help="Per-registration deadline, retries included.")] = 300.0,
    wait: Annotated[bool, Opt(help="Wait until every registration is decided.")] = False,
    timeout_s: Annotated[float, Opt(help="With --wait: give up after this long.")] = 3600.0,
    copies: Annotated[int, Opt(min=1, help="Send each message N times (redelivery drills).")] = 1,
    namespace: NamespaceOpt = "igent",
) -> None:
    """Queue a campaign's registrations for the workers (igent worker) instead of deciding here.

    The offers, incentives, date, constellation and model are stored in the ledger for the
    workers; registrations already decided in the ledger are not queued again.
    """
    enqueue_campaign_files(
        constellation,
        db=db,
        broker=broker,
        campaign=campaign,
        inputs=(data_dir, scenario, registrations, offers, incentives),
        model=model,
        campaign_date=campaign_date,
        skip_status=skip_status,
        deadline_s=deadline_s,
        wait=wait,
        timeout_s=timeout_s,
        copies=copies,
        namespace=namespace,
    )


def enqueue_campaign_files(
    constellation: str,
    *,
    db: str | None,
    broker: str | None,
    campaign: str | None,
    inputs: tuple[Path | None, str | None, Path | None, Path | None, Path | None],
    model: str | None,
    campaign_date: str | None,
    skip_status: str | None,
    deadline_s: float = 300.0,
    wait: bool = True,
    timeout_s: float = 3600.0,
    copies: int = 1,
    namespace: str | None = None,
) -> None:
    """Queue a campaign for the workers and, with ``wait``, report once all are decided.

    Used by ``igent enqueue`` and by ``igent run`` / ``python -m igent.workflows --workers``.
    """
    import datetime as dt

    from igent.store.backend import open_store
    from igent.worker import BrokerOptions, declare_actor, make_broker
    from igent.worker.submit import campaign_spec, enqueue_campaign, wait_for_decisions
    from igent.workflows import parse_campaign_date, select_inputs

    db_url = required_url(db, "IGENT_DATABASE_URL", "--db")
    broker_url = required_url(broker, "IGENT_BROKER_URL", "--broker")
    paths, described, _ = select_inputs(*inputs)
    campaign_id = campaign or paths.offers.stem
    statuses = {s.strip().casefold() for s in (skip_status or "").split(",") if s.strip()}
    spec = campaign_spec(
        paths,
        campaign_id,
        constellation=constellation,
        model=model or os.environ.get("IGENT_MODEL"),
        campaign_date=parse_campaign_date(campaign_date) or dt.date.today(),
        skip_status=statuses,
        deadline_s=deadline_s,
    )
    namespace = namespace or os.environ.get("IGENT_BROKER_NAMESPACE") or "igent"
    dramatiq_broker = make_broker(broker_url, BrokerOptions(namespace=namespace))
    actor = declare_actor(dramatiq_broker)
    store = open_store(db_url)
    try:
        sent = enqueue_campaign(actor, store, spec, paths.registrations, copies=copies)
        print(
            f"queued {sent.sent} registrations of campaign {campaign_id!r} ({described}); "
            f"{sent.already_decided} already decided",
            flush=True,
        )
        if wait:
            done = wait_for_decisions(store, campaign_id, sent.keys, timeout_s=timeout_s)
            counts = store.counts(campaign_id)
            parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.by_status.items()))
            print(f"decided {done} of {len(sent.keys)}: {parts}", flush=True)
    finally:
        store.close()
        dramatiq_broker.close()
