"""Live capacity for a run: the ledger's durable use plus this process's in-memory holds.

A reservation is a HOLD in memory: it never oversells within the process, and nothing durable
is written until the finished decision is committed (booking and decision in one ledger
transaction). A process killed mid-run therefore leaves no half-done booking behind.
"""

from __future__ import annotations

import threading

from igent.store.base import Reservation, Store


class CapacityState:
    """Supplier usage of one campaign: durable use from the store plus in-process holds.

    With ``cache=True`` the durable counts are read once and kept up to date by
    :meth:`settle`; with ``cache=False`` (the plan's "before") every snapshot re-reads them.
    """

    def __init__(self, store: Store, campaign_id: str, *, cache: bool = True) -> None:
        self.store = store
        self.campaign_id = campaign_id
        self.cache = cache
        self.version = 0
        self._lock = threading.Lock()
        self._capacity: dict[str, int] = {}
        self._durable: dict[str, int] = {}
        self._holds: dict[str, str] = {}
        self._held: dict[str, int] = {}
        # durable + held per supplier, kept current so a snapshot is one dict copy
        self._view: dict[str, int] = {}
        self._reload()

    def _reload(self) -> None:
        rows = self.store.suppliers(self.campaign_id)
        with self._lock:
            durable = {s.supplier_id: s.used for s in rows}
            if durable != self._durable:
                self.version += 1
            self._capacity = {s.supplier_id: s.capacity for s in rows}
            self._durable = durable
            self._view = {s: durable.get(s, 0) + self._held.get(s, 0) for s in self._capacity}

    def _used(self, supplier_id: str) -> int:
        return self._view.get(supplier_id, 0)

    def _move(self, supplier_id: str, held: int = 0, durable: int = 0) -> None:
        self._held[supplier_id] = self._held.get(supplier_id, 0) + held
        self._durable[supplier_id] = self._durable.get(supplier_id, 0) + durable
        if supplier_id in self._view:
            self._view[supplier_id] += held + durable

    def snapshot(self) -> tuple[dict[str, int], int]:
        """Return (supplier_id -> used including holds, version); holds move the version."""
        if not self.cache:
            self._reload()
        with self._lock:
            return dict(self._view), self.version

    def reserve(self, registration_id: str, supplier_id: str) -> Reservation:
        """Hold one unit of ``supplier_id`` for ``registration_id``; never oversells.

        Idempotent for the same supplier; a registration holding another supplier is refused
        (``already_held``). An unknown supplier is refused with capacity 0.
        """
        with self._lock:
            capacity = self._capacity.get(supplier_id, 0)
            used = self._used(supplier_id)
            held = self._holds.get(registration_id)
            if held is not None:
                return Reservation(held == supplier_id, used, capacity, already_held=True)
            if used >= capacity:
                return Reservation(False, used, capacity)
            self._holds[registration_id] = supplier_id
            self._move(supplier_id, held=1)
            self.version += 1
            return Reservation(True, used + 1, capacity)

    def release(self, registration_id: str) -> None:
        """Drop the hold of ``registration_id``, if any (it decided not to book)."""
        with self._lock:
            if self._drop(registration_id) is not None:
                self.version += 1

    def held_by(self, registration_id: str) -> str | None:
        """Return the supplier ``registration_id`` holds, if any."""
        with self._lock:
            return self._holds.get(registration_id)

    def settle(self, registration_id: str, booked_supplier_id: str | None) -> None:
        """After a commit: the hold becomes durable use (booked) or goes (not booked)."""
        with self._lock:
            held = self._drop(registration_id)
            if booked_supplier_id is not None:
                self._move(booked_supplier_id, durable=1)
                if held != booked_supplier_id:
                    self.version += 1
            elif held is not None:
                self.version += 1

    def refresh(self) -> None:
        """Re-read the durable counts (after another process or a conflict moved them)."""
        self._reload()

    @property
    def holds(self) -> int:
        """How many units are held and not yet committed."""
        with self._lock:
            return len(self._holds)

    def _drop(self, registration_id: str) -> str | None:
        held = self._holds.pop(registration_id, None)
        if held is not None:
            self._move(held, held=-1)
        return held
