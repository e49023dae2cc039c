"""Server-sent events of a campaign, read from the event log (resumable by Last-Event-ID)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from igent.store.service_tables import EventRow, ServiceTables

POLL_S = 0.2
HEARTBEAT_S = 15.0


def format_event(event: EventRow) -> str:
    """Return one SSE message."""
    data = json.dumps(
        {"event_id": event.event_id, "created_at": event.created_at, **event.data}, default=str
    )
    return f"id: {event.event_id}\nevent: {event.kind}\ndata: {data}\n\n"


async def event_stream(
    tables: ServiceTables,
    campaign_id: str,
    after_id: int,
    *,
    follow: bool,
    is_disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """Yield the events after ``after_id``; with ``follow`` keep waiting for new ones."""
    last = after_id
    idle_s = 0.0
    while True:
        events = await asyncio.to_thread(tables.events_after, campaign_id, last)
        for event in events:
            last = event.event_id
            yield format_event(event)
        if events:
            idle_s = 0.0
            continue
        if not follow or await is_disconnected():
            return
        if idle_s >= HEARTBEAT_S:
            idle_s = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)
        idle_s += POLL_S


def parse_last_event_id(header: str | None, after: int | None) -> int:
    """Return where to resume: the ``Last-Event-ID`` header, else ``?after=``, else 0."""
    if header and header.strip().isdigit():
        return int(header.strip())
    return after or 0


__all__ = ["event_stream", "format_event", "parse_last_event_id"]
