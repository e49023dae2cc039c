"""Suite-wide guards: a scrubbed environment and no real model endpoint."""

from __future__ import annotations

import os
import socket

import pytest

# PostgreSQL/Redis fixtures (postgres_url, redis_url): skip on a laptop, fail under CI=true.
pytest_plugins = ["tests.support.services"]

_SCRUBBED_PREFIXES = ("OPENAI_", "AZURE_", "IGENT_", "ZHIPUAI_", "DEEPSEEK_", "ANTHROPIC_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Remove provider keys and IGENT_* settings; keep runs out of the working tree."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IGENT_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))
    yield


_real_connect = socket.socket.connect


def _loopback_only_connect(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1")):
        return _real_connect(self, address)  # type: ignore[arg-type]
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)  # type: ignore[arg-type]
    raise RuntimeError(f"tests may only connect to 127.0.0.1, not {address!r}")


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Fail any connection off this machine unless the test is marked ``live``."""
    if "live" not in request.keywords:
        monkeypatch.setattr(socket.socket, "connect", _loopback_only_connect)
    yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``live`` unless IGENT_LIVE_TESTS=1 (they call real endpoints)."""
    if os.environ.get("IGENT_LIVE_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="live test: set IGENT_LIVE_TESTS=1 to call a real endpoint")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)
