"""Claims of concurrent requests written together: one transaction per event-loop turn.

Every POST claims its registration before deciding it (``ServiceTables.claim``), and on
SQLite each claim was a write transaction of its own, whose commit (file locks, WAL frames)
cost several times the insert. Requests that reach their claim in the same turn of the event
loop now share one transaction, written at the start of the next turn.
"""

from __future__ import annotations

import asyncio
import logging

from igent.store.service_tables import Claim, ClaimRequest, ServiceTables

log = logging.getLogger("igent.service")


class ClaimBatcher:
    """Claim registrations for requests on one event loop, a turn's worth at a time."""

    def __init__(self, tables: ServiceTables) -> None:
        self.tables = tables
        self._pending: list[tuple[ClaimRequest, asyncio.Future[Claim]]] = []

    async def claim(self, request: ClaimRequest) -> Claim:
        """Claim ``request``'s registration together with the others of this turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Claim] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._write)
        self._pending.append((request, future))
        return await future

    def _write(self) -> None:
        batch, self._pending = self._pending, []
        try:
            claims = self.tables.claim_many([request for request, _ in batch])
        except Exception as exc:  # every waiting request gets the error
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (request, future), claim in zip(batch, claims, strict=True):
            if not future.cancelled():
                future.set_result(claim)
            elif claim.taken:
                # Its request is gone (cancelled while waiting): nobody decides it now.
                self._release(request)

    def _release(self, request: ClaimRequest) -> None:
        try:
            self.tables.release_claim(request.campaign_id, request.registration_id)
        except Exception:  # the claim expires on its own (claim_until)
            log.warning("releasing the claim of %r failed", request.registration_id)


__all__ = ["ClaimBatcher"]
