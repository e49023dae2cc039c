"""The run lock: an OS file lock beside the ledger, held for a whole run.

``fcntl.flock`` on ``<ledger>.lock`` is released by the kernel when the process exits, however it
exits (kill -9 included), so a stale lock file never blocks a resume.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from igent.errors import StoreError


class RunLock:
    """An exclusive, non-blocking lock on ``<ledger>.lock``; holds the holder's PID and run."""

    def __init__(self, ledger_path: Path, *, label: str | None = None) -> None:
        self.path = ledger_path.with_name(ledger_path.name + ".lock")
        self.label = label or str(ledger_path.parent)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise StoreError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            content = os.pread(fd, 4096, 0).decode("utf-8", "replace").splitlines()
            os.close(fd)
            pid = content[0].strip() if content else "unknown"
            label = content[1].strip() if len(content) > 1 and content[1].strip() else self.label
            raise StoreError(
                f"run {label} is in use by process {pid}; wait for it to finish "
                f"(or stop it) before running or resuming there"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{self.label}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: deleting it would race with a waiting process)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
