"""Live capacity for a run: kept in memory (fast) or re-read from the ledger at each use."""

from __future__ import annotations

import threading

from igent.store.ledger import Ledger, Reservation


class CapacityState:
    """Supplier usage backed by a :class:`Ledger`.

    With ``cache=True`` the counts live in memory and the ledger is read once; with
    ``cache=False`` (the plan's "before") every snapshot re-reads the ledger from disk.
    Every commit goes through the ledger, so capacity is never oversold either way.
    """

    def __init__(self, ledger: Ledger, *, cache: bool = True) -> None:
        self.ledger = ledger
        self.cache = cache
        self.version = 0
        self._lock = threading.Lock()
        self._used = ledger.used()

    def snapshot(self) -> tuple[dict[str, int], int]:
        """Return (supplier_id -> used, version); the version changes on every reservation."""
        if not self.cache:
            used = self.ledger.used()
            with self._lock:
                self._used = used
        with self._lock:
            return dict(self._used), self.version

    def reserve(self, registration_id: str, supplier_id: str) -> Reservation:
        """Reserve one unit through the ledger and update the cached counts."""
        outcome = self.ledger.reserve(registration_id, supplier_id)
        with self._lock:
            if outcome.accepted and not outcome.already_held:
                self._used[supplier_id] = outcome.used
                self.version += 1
            elif not outcome.accepted and self._used.get(supplier_id) != outcome.used:
                # Another writer used the ledger: trust its count from now on.
                self._used[supplier_id] = outcome.used
                self.version += 1
        return outcome

    def release(self, registration_id: str) -> None:
        """Drop the hold of ``registration_id`` (it books nothing after all)."""
        self.ledger.release(registration_id)
        used = self.ledger.used()
        with self._lock:
            if used != self._used:
                self._used = used
                self.version += 1
