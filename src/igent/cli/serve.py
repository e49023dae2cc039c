"""``igent serve``: run the campaign service under uvicorn."""

from __future__ import annotations

import gc
import os
import socket
import sys
import threading
import time
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
            help="Server processes sharing the port (SO_REUSEPORT: the kernel spreads the "
            "connections evenly) and the database (SQLite or PostgreSQL); rate limits are "
            "counted per process.",
        ),
    ] = 1,
) -> None:
    """Start the campaign service; the first stdout line is 'igent service listening on URL'."""
    import uvicorn

    settings = settings_with(data_dir, db, host=host, port=port, broker_url=broker)
    if workers == 1:
        from igent.service import create_app

        app: Any = create_app(settings)
        tune_gc()
    else:
        _prepare_workers(settings)
        app = WORKER_APP
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Linux only: the first line waits for the workers' listeners, counted in /proc/net/tcp.
    reuse_port = workers > 1 and sys.platform == "linux"
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}; choose another "
            "--port (0 picks a free one)"
        ) from exc
    if not reuse_port:
        sock.listen(BACKLOG)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{settings.host}]" if family == socket.AF_INET6 else settings.host
    line = f"igent service listening on http://{shown_host}:{bound_port}"
    if reuse_port:  # no socket listens before the workers do: announce once they all do
        args = (line, bound_port, workers)
        threading.Thread(target=_announce_when_listening, args=args, daemon=True).start()
    else:
        print(line, flush=True)
    config = uvicorn.Config(
        app,
        http=_http_protocol(),
        log_level=log_level,
        lifespan="on",
        access_log=False,
        workers=workers,
        factory=workers > 1,
    )
    if workers > 1:
        from uvicorn.supervisors import Multiprocess

        # With SO_REUSEPORT each worker listens on a socket of its own and the kernel spreads
        # new connections evenly over them; from one shared socket, whichever process
        # accepted first took most of the keep-alive connections. This socket only holds
        # the port (it never listens, so the kernel never queues a connection on it).
        listeners: list[Any] = (
            [ReusePortListener(family, settings.host, bound_port)] if reuse_port else [sock]
        )
        try:
            Multiprocess(config, sockets=listeners).run()
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
BACKLOG = 2048
GC_THRESHOLDS = (20_000, 50, 100)


class ReusePortListener:
    """A worker's listening socket, opened in the worker: it pickles to an address only.

    uvicorn hands the parent's sockets to every worker it spawns (and respawns); this
    stand-in becomes, when a worker unpickles it, a socket of that worker's own bound to the
    shared port with SO_REUSEPORT.
    """

    def __init__(self, family: int, host: str, port: int) -> None:
        self.family, self.host, self.port = family, host, port

    def __reduce__(self) -> tuple[Any, tuple[int, str, int]]:
        return (listen_reuse_port, (self.family, self.host, self.port))


def listen_reuse_port(family: int, host: str, port: int) -> socket.socket:
    """Return a socket listening on ``host:port`` with SO_REUSEPORT (in a worker)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def _announce_when_listening(line: str, port: int, workers: int) -> None:
    """Print ``line`` once ``workers`` sockets listen on ``port`` (clients may connect)."""
    while listening_sockets(port) < workers:
        time.sleep(0.02)
    print(line, flush=True)


def listening_sockets(port: int) -> int:
    """Count the TCP sockets listening on ``port`` (Linux: /proc/net/tcp and tcp6)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                count += 1
    return count


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

    app = create_app(Settings())
    tune_gc()
    return app


def tune_gc() -> None:
    """Freeze what start-up built and run the young-generation collector less often.

    A registration allocates a few thousand objects, nearly all freed by reference counting;
    at CPython's default threshold (700 allocations) the cyclic collector ran about every
    other request and cost some 10% of the server's CPU (benchmarks/service_asgi.py). Frozen,
    the app's long-lived objects are never scanned again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _http_protocol() -> Any:
    """uvicorn's httptools protocol with one write per answer, or uvicorn's own choice.

    The coalescing protocol subclasses a uvicorn internal; should a uvicorn release move it,
    the service still starts, with two writes per answer.
    """
    try:
        from igent.cli.serve_http import CoalescingHttpToolsProtocol
    except ImportError:  # pragma: no cover - a uvicorn without httptools_impl
        return "auto"
    return CoalescingHttpToolsProtocol
