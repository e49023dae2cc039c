"""Claims of concurrent requests share one write (service/claims.py); per-registration locks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from igent.errors import StoreError
from igent.service.claims import ClaimBatcher
from igent.store.service_tables import Claim, ClaimRequest, ServiceTables


class CountingTables(ServiceTables):
    """Service tables that record the registrations of every claim_many call."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[list[str]] = []
        self.fail = False

    def claim_many(self, requests: Sequence[ClaimRequest]) -> list[Claim]:
        self.calls.append([r.registration_id for r in requests])
        if self.fail:
            raise StoreError("service database: disk I/O error")
        return super().claim_many(requests)


@pytest.fixture
def tables(tmp_path: Path) -> Iterator[CountingTables]:
    opened = CountingTables(tmp_path / "igent.db")
    yield opened
    opened.close()


def request(registration_id: str, owner: str = "me") -> ClaimRequest:
    return ClaimRequest("C1", registration_id, {"Contact_Zip": "10115"}, "op", owner, 1e12)


async def test_claims_made_in_one_turn_are_written_together(tables: CountingTables) -> None:
    claims = ClaimBatcher(tables)

    first, second, third = await asyncio.gather(
        *(claims.claim(request(r)) for r in ("R1", "R2", "R3"))
    )
    fourth = await claims.claim(request("R4"))

    assert tables.calls == [["R1", "R2", "R3"], ["R4"]]
    assert all(c.taken for c in (first, second, third, fourth))
    assert first.sequence < second.sequence < third.sequence < fourth.sequence


async def test_a_failed_write_fails_every_claim_of_it(tables: CountingTables) -> None:
    claims = ClaimBatcher(tables)
    tables.fail = True

    results = await asyncio.gather(
        *(claims.claim(request(r)) for r in ("R1", "R2")), return_exceptions=True
    )

    assert [type(r) for r in results] == [StoreError, StoreError]
    tables.fail = False
    assert (await claims.claim(request("R1"))).taken  # nothing was claimed


async def test_a_claim_whose_request_is_gone_is_released(tables: CountingTables) -> None:
    claims = ClaimBatcher(tables)
    waiting = asyncio.ensure_future(claims.claim(request("R1")))
    await asyncio.sleep(0)  # the claim is queued
    waiting.cancel()
    await asyncio.sleep(0)  # the write runs
    await asyncio.sleep(0)

    assert waiting.cancelled() and tables.calls == [["R1"]]
    # Released: another process may take it at once (its claim did not wait to expire).
    assert (await claims.claim(request("R1", owner="other"))).taken


async def test_a_key_lock_is_dropped_once_its_holder_and_waiters_are_gone() -> None:
    from igent.service.registrations import KeyedLocks

    locks = KeyedLocks()
    entered = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold(("C1", "R1")):
            entered.set()
            await release.wait()

    async def waiter() -> None:
        async with locks.hold(("C1", "R1")):
            raise AssertionError("never entered: cancelled while waiting")

    holding = asyncio.ensure_future(holder())
    await entered.wait()
    waiting = asyncio.ensure_future(waiter())
    await asyncio.sleep(0)
    assert len(locks) == 1
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    release.set()
    await holding

    assert len(locks) == 0
