"""Run ``igent serve`` and ``igent keys create`` as real processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PREFIX = "igent service listening on "


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for igent subprocesses: this checkout's sources first."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def create_key_cli(db: Path, role: str = "operator") -> str:
    """Run ``igent keys create`` and return the key it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "igent.cli", "keys", "create", "--role", role, "--db", str(db)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        check=True,
    )
    key = done.stdout.strip()
    assert key.startswith("igk_") and "\n" not in key, done.stdout
    return key


class Server:
    """An ``igent serve --port 0 [ARGS]`` process; ``url`` comes from its first stdout line."""

    def __init__(self, db: Path, *args: str, **env: str) -> None:
        self.log_path = db.parent / f"server-{time.monotonic_ns()}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "igent.cli", "serve", "--port", "0", "--db", str(db), *args],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=cli_env(IGENT_RATE_LIMIT_PER_MINUTE="1000000", **env),
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(PREFIX):
            self.stop()
            raise AssertionError(f"unexpected first line {line!r}: {self.stderr()}")
        self.first_line = line.rstrip("\n")
        self.url = line[len(PREFIX) :].strip()

    def kill(self) -> None:
        """kill -9."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        if self.process.stdout is not None and not self.process.stdout.closed:
            self.process.stdout.close()

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), or kill after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()

    def worker_pids(self) -> list[int]:
        """Return the pids of the uvicorn worker processes (``--workers N``; Linux /proc)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [
            int(child)
            for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
        ]

    def stderr(self) -> str:
        """Return what the server wrote on stderr so far."""
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
