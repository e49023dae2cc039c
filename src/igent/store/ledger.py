"""A run directory's view of its ledger, for the ``igent capacity`` commands."""

from __future__ import annotations

from pathlib import Path

from igent.errors import StoreError
from igent.store.sqlite import SqliteStore


class Ledger:
    """Open ``path`` and act on its one campaign (``campaign_id`` picks one of several)."""

    def __init__(self, path: Path, campaign_id: str | None = None) -> None:
        self.store = SqliteStore(path)
        campaigns = self.store.campaigns()
        if campaign_id is None and len(campaigns) > 1:
            self.store.close()
            raise StoreError(
                f"ledger {str(path)!r} holds campaigns {campaigns}; name one with --campaign"
            )
        self.campaign_id = campaign_id or (campaigns[0] if campaigns else "")

    def capacity(self) -> dict[str, tuple[int, int]]:
        """Read supplier_id -> (used, capacity)."""
        return {s.supplier_id: (s.used, s.capacity) for s in self.store.suppliers(self.campaign_id)}

    def reset(self) -> int:
        """Drop every decision of the campaign; return how many bookings went."""
        return self.store.reset(self.campaign_id)

    def close(self) -> None:
        """Close the database."""
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
