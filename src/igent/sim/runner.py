"""Run the simulator: in a background thread, in the foreground, or as a subprocess."""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from types import TracebackType

import uvicorn

from igent.sim.config import SimConfig
from igent.sim.server import create_sim_app

# Slow replies (a hang, a gpt-5 TTFT at full scale) must not hold up shutdown for long.
_GRACEFUL_SHUTDOWN_S = 1


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP (not 0) makes asyncio set TCP_NODELAY on accepted connections; without it
    # every keep-alive request waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}/v1"


def _uvicorn_config(config: SimConfig, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_sim_app(config),
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
        lifespan="off",
    )


class _ReadyServer(uvicorn.Server):
    """A uvicorn server that reports once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()


class SimServer:
    """The simulator on 127.0.0.1 in a background thread; use it as a context manager."""

    def __init__(self, config: SimConfig | None = None, *, log_level: str = "warning") -> None:
        self.config = config or SimConfig()
        self._socket = _bind("127.0.0.1", 0)
        self.base_url = _base_url(self._socket)
        self._ready = threading.Event()
        self._server = _ReadyServer(_uvicorn_config(self.config, log_level), self._ready.set)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> SimServer:
        """Start serving and wait until connections are accepted."""
        self._thread.start()
        while not self._ready.wait(0.05):
            if not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError("the simulator server stopped during startup")
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join()
        self._socket.close()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    config: SimConfig | None = None,
    on_ready: Callable[[str], None] | None = None,
    *,
    log_level: str = "warning",
) -> None:
    """Serve the simulator until interrupted; ``on_ready`` gets the base URL once it listens.

    Must run in the main thread (it handles Ctrl-C and SIGTERM); use SimServer elsewhere.
    """
    sock = _bind(host, port)
    base_url = _base_url(sock)
    server = _ReadyServer(
        _uvicorn_config(config or SimConfig(), log_level),
        (lambda: on_ready(base_url)) if on_ready else (lambda: None),
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown; that is a normal stop
    finally:
        sock.close()


def start_sim_process(
    config: SimConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout_s: float = 30.0,
) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m igent.sim`` and return the process and its base URL.

    The caller owns the process: ``terminate()`` and ``wait()`` it when done.
    """
    config = config or SimConfig()
    command = [
        sys.executable,
        "-m",
        "igent.sim",
        "--host",
        host,
        "--port",
        str(port),
        "--config-json",
        config.model_dump_json(),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(startup_timeout_s)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("http"):
        process.kill()
        process.wait()
        process.stdout.close()
        raise RuntimeError(
            f"the simulator process did not report its URL within {startup_timeout_s} s "
            f"(exit code {process.returncode}, first line {line[:200]!r})"
        )
    return process, line
