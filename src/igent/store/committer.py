"""Group commit: finished decisions go to the ledger in batches, one transaction per batch.

A batch is committed when it holds ``batch_size`` decisions or its oldest decision has
waited ``max_delay_s``, whichever comes first. The commit runs on a worker thread, so the
event loop keeps serving model calls meanwhile; one batch is in flight at a time and the next
fills up behind it. A registration counts as finished only once its batch is committed:
after kill -9, a resume redoes the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from igent.errors import StoreError
from igent.store.base import CommitResult, Decision, Store
from igent.store.capacity_state import CapacityState

AfterCommit = Callable[[Sequence[Decision]], None]
CommitBatch = Callable[[Sequence[Decision]], CommitResult]


@dataclass
class CommitStats:
    """How the ledger was written during a run."""

    transactions: int = 0
    decisions: int = 0
    commit_s: float = 0.0
    largest_batch: int = 0
    conflicts: int = 0


@dataclass
class _Pending:
    decision: Decision
    hold_key: str | None
    future: asyncio.Future[bool] | None = field(default=None)


class GroupCommitter:
    """Collect decisions and commit them to ``store`` in batches.

    ``after_commit`` runs on the commit thread right after each transaction (appending the
    JSONL outputs); ``on_settled`` runs on the event loop once the batch is settled.
    ``commit`` writes a batch in place of ``store.commit(campaign_id, run_id, batch)`` (the
    service: its own rows in the same transaction).
    """

    def __init__(
        self,
        store: Store,
        campaign_id: str,
        run_id: str,
        capacity: CapacityState | None = None,
        *,
        batch_size: int = 256,
        max_delay_s: float = 0.05,
        after_commit: AfterCommit | None = None,
        on_settled: AfterCommit | None = None,
        offload: bool = True,
        commit: CommitBatch | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.store = store
        self.campaign_id = campaign_id
        self.run_id = run_id
        self.capacity = capacity
        self.batch_size = max(1, batch_size)
        self.max_delay_s = max_delay_s
        self.after_commit = after_commit
        self.on_settled = on_settled
        self.offload = offload
        self._commit_batch = commit
        self.stats = CommitStats()
        self._clock = clock
        self._pending: list[_Pending] = []
        self._lock = asyncio.Lock()
        self._inflight: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Future[None]] = set()
        self._waiting_on: set[asyncio.Future[Any]] = set()
        self._error: BaseException | None = None

    async def submit(
        self, decision: Decision, *, hold_key: str | None = None, wait: bool = False
    ) -> bool:
        """Queue ``decision``; with ``wait``, return once committed (False on a conflict).

        ``hold_key`` names the in-memory capacity hold to settle when the batch commits.
        Without ``wait`` the call returns at once (unless the batch is full and the previous
        one is still being written: back-pressure).
        """
        self._raise_if_failed()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] | None = loop.create_future() if wait else None
        self._pending.append(_Pending(decision, hold_key, future))
        if len(self._pending) >= self.batch_size:
            await self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_delay_s, self._on_timer)
        if future is None:
            return True
        return await future

    def submit_after(
        self,
        task: asyncio.Future[Any],
        make_decision: Callable[[asyncio.Future[Any]], Decision],
        *,
        hold_key: str | None = None,
    ) -> None:
        """Queue the decision ``make_decision(task)`` once ``task`` (an audit) is done.

        The registration is finished only when the decision, audit included, is committed,
        so a run killed before that redoes the registration and its audit on resume.
        """
        self._raise_if_failed()
        self._waiting_on.add(task)

        def done(finished: asyncio.Future[Any]) -> None:
            self._waiting_on.discard(finished)
            if self._error is not None or finished.cancelled():
                return
            self._pending.append(_Pending(make_decision(finished), hold_key))
            if len(self._pending) >= self.batch_size:
                self._on_timer()
            elif self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self.max_delay_s, self._on_timer)

        task.add_done_callback(done)

    @property
    def waiting(self) -> int:
        """Decisions waiting for their audit before they can be queued."""
        return len(self._waiting_on)

    def _on_timer(self) -> None:
        self._timer = None
        if self._pending:
            task = asyncio.ensure_future(self._flush())
            self._background.add(task)
            task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[None]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # kept in self._error; retrieved here so asyncio does not log it

    async def _flush(self) -> None:
        async with self._lock:
            if self._inflight is not None:
                # shielded: a cancelled caller must not cancel a commit already under way
                await asyncio.shield(self._inflight)
                self._inflight = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            batch, self._pending = self._pending, []
            if batch:
                self._inflight = asyncio.ensure_future(self._commit(batch))

    async def flush(self) -> None:
        """Commit everything queued so far and wait for it."""
        await self._flush()
        async with self._lock:
            if self._inflight is not None:
                await asyncio.shield(self._inflight)
                self._inflight = None
        self._raise_if_failed()

    async def close(self, *, abandon_waiting: bool = False) -> None:
        """Commit what is queued, wait for every batch, and raise a commit failure if any.

        Decisions still waiting for their audit are committed once it is done, or with
        ``abandon_waiting`` (an interrupted run) cancelled: a resume redoes them.
        """
        while self._waiting_on:
            waiting = list(self._waiting_on)
            if abandon_waiting:
                for task in waiting:
                    task.cancel()
            await asyncio.wait(waiting)
            await asyncio.sleep(0)  # let the done callbacks queue their decisions
        await self.flush()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.flush()

    def _write(self, batch: Sequence[_Pending]) -> CommitResult:
        decisions = [p.decision for p in batch]
        started = self._clock()
        if self._commit_batch is None:
            result = self.store.commit(self.campaign_id, self.run_id, decisions)
        else:
            result = self._commit_batch(decisions)
        if self.after_commit is not None and result.committed:
            conflicted = {d.registration_id for d in result.conflicts}
            self.after_commit([d for d in decisions if d.registration_id not in conflicted])
        self.stats.commit_s += self._clock() - started
        return result

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            if self.offload:
                result = await asyncio.to_thread(self._write, batch)
            else:
                result = self._write(batch)
        except BaseException as exc:
            self._error = exc
            for pending in batch:
                if pending.future is not None and not pending.future.done():
                    pending.future.set_exception(exc)
            raise
        self.stats.transactions += 1
        self.stats.decisions += len(result.committed)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        self.stats.conflicts += len(result.conflicts)
        conflicted = {d.registration_id for d in result.conflicts}
        unexpected = [
            p for p in batch if p.future is None and p.decision.registration_id in conflicted
        ]
        settled = []
        for pending in batch:
            ok = pending.decision.registration_id not in conflicted
            if self.capacity is not None and pending.hold_key is not None:
                booked = (
                    pending.decision.supplier_id if ok and pending.decision.is_booking else None
                )
                self.capacity.settle(pending.hold_key, booked)
            if ok:
                settled.append(pending.decision)
            if pending.future is not None and not pending.future.done():
                pending.future.set_result(ok)
        if conflicted and self.capacity is not None:
            self.capacity.refresh()
        if self.on_settled is not None and settled:
            self.on_settled(settled)
        if unexpected:
            # Nobody waits to redo these: a caller that holds the ledger alone (the CLI run,
            # under its lock) never sees a conflict unless something else wrote the ledger.
            lost = unexpected[0].decision
            self._error = StoreError(
                f"registration {lost.registration_id!r}: supplier {lost.supplier_id!r} was "
                f"filled by another writer of campaign {self.campaign_id!r} while this run held "
                "the ledger; the decision was not booked. Check that nothing else writes the "
                "ledger, then --resume"
            )
            raise self._error

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
