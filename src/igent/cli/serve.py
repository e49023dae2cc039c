"""``igent serve``: run the campaign service under uvicorn."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from igent.errors import ConfigError

Opt = typer.Option


def settings_with(data_dir: Path | None, db: str | None, **fields: Any) -> Any:
    """Return Settings from IGENT_* with the given command-line values applied."""
    from pydantic import ValidationError

    from igent.settings import Settings

    try:
        settings = Settings()
        updates = {k: v for k, v in fields.items() if v is not None}
        if data_dir is not None:
            updates["data_dir"] = data_dir
        if db is not None:
            updates["database_url"] = db
        settings = settings.model_copy(update=updates)
        settings.database_target()  # an unsupported URL fails here, before anything starts
    except (ValidationError, ValueError) as exc:
        raise ConfigError(str(exc).splitlines()[0] if "\n" not in str(exc) else str(exc)) from exc
    return settings


def serve_command(
    host: Annotated[
        str | None, Opt(help="Address to bind (default 127.0.0.1; IGENT_HOST).")
    ] = None,
    port: Annotated[
        int | None, Opt(help="Port; 0 picks a free one (default 8000; IGENT_PORT).")
    ] = None,
    data_dir: Annotated[
        Path | None, Opt(help="Data directory; the database defaults to D/igent.db.")
    ] = None,
    db: Annotated[
        str | None,
        Opt(
            help="Database: postgresql://..., a SQLite path or sqlite:///PATH (IGENT_DATABASE_URL)."
        ),
    ] = None,
    log_level: Annotated[str, Opt(help="uvicorn log level.")] = "warning",
    broker: Annotated[
        str | None,
        Opt(
            help="Send batch uploads to igent worker processes through this broker: "
            "redis://HOST:6379/0 or amqp://... (IGENT_BROKER_URL; run the service on "
            "--db postgresql://... shared with the workers)."
        ),
    ] = None,
    workers: Annotated[
        int,
        Opt(
            min=1,
            help="Server processes sharing the socket and the database (SQLite or PostgreSQL); "
            "rate limits are counted per process.",
        ),
    ] = 1,
) -> None:
    """Start the campaign service; the first stdout line is 'igent service listening on URL'."""
    import uvicorn

    settings = settings_with(data_dir, db, host=host, port=port, broker_url=broker)
    if workers == 1:
        from igent.service import create_app

        app: Any = create_app(settings)
    else:
        _prepare_workers(settings)
        app = WORKER_APP
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; choose another "
            "--port (0 picks a free one)"
        ) from exc
    sock.listen(2048)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{settings.host}]" if family == socket.AF_INET6 else settings.host
    print(f"igent service listening on http://{shown_host}:{bound_port}", flush=True)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        access_log=False,
        workers=workers,
        factory=workers > 1,
    )
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        try:
            Multiprocess(config, sockets=[sock]).run()
        finally:
            sock.close()
        return
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if not server.started:
        sys.exit(1)


WORKER_APP = "igent.cli.serve:worker_app"


def _prepare_workers(settings: Any) -> None:
    """Migrate the database once, then hand the database to the worker processes."""
    from igent.store.postgres_service import open_service_database

    store, tables = open_service_database(settings.database_target())
    tables.close()
    store.close()
    # Each worker builds its app from IGENT_* alone (uvicorn starts them with spawn).
    os.environ["IGENT_DATABASE_URL"] = str(settings.database_target())
    if settings.broker_url:
        os.environ["IGENT_BROKER_URL"] = settings.broker_url


def worker_app() -> Any:
    """Build one worker's app from the environment (``igent serve --workers N``)."""
    from igent.service import create_app
    from igent.settings import Settings

    return create_app(Settings())
