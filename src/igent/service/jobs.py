"""Background batch jobs: registrations uploaded at once, decided at the campaign's
concurrency, with progress in the job row and as events; resumed after a restart.

With a broker configured (``igent serve --broker``) the job's registrations go to the
workers instead (:mod:`igent.service.queued_jobs`); see :func:`job_runner`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from igent.errors import DataError, IgentError
from igent.service.registrations import RegistrationDesk
from igent.service.schemas import RegistrationIn
from igent.settings import Settings
from igent.store.service_tables import JobRow, ServiceTables

PROGRESS_EVENTS = 20


def parse_batch(body: bytes, content_type: str) -> list[Any]:
    """Read a JSON list (or {"registrations": [...]}) or NDJSON body; DataError names the line."""
    text = body.decode("utf-8", errors="replace")
    if "ndjson" in content_type or "jsonlines" in content_type:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"registrations:batch: line {number} is not valid JSON: {exc.msg}"
                ) from exc
        return items
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"registrations:batch: not valid JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg}; send a JSON list or NDJSON (Content-Type: application/x-ndjson)"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("registrations"), list):
        data = data["registrations"]
    if not isinstance(data, list):
        raise DataError(
            f"registrations:batch: expected a JSON list of registrations, got {type(data).__name__}"
        )
    return data


class JobRunner:
    """Create batch jobs and run them in the background, one task per job."""

    def __init__(self, registrations: RegistrationDesk, tables: ServiceTables) -> None:
        self.registrations = registrations
        self.tables = tables
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def create(self, campaign_id: str, items: list[Any], created_by: str) -> JobRow:
        """Store a job (durable before the 202) and start it."""
        self.registrations.campaigns.row(campaign_id)
        if not items:
            raise DataError("registrations:batch: the upload holds no registrations")
        job = self.tables.add_job(uuid.uuid4().hex[:16], campaign_id, items, created_by)
        self.start(job)
        return job

    def start(self, job: JobRow) -> None:
        """Run ``job`` in the background unless it already runs here."""
        if job.job_id not in self._tasks:
            task = asyncio.ensure_future(self._run(job))
            self._tasks[job.job_id] = task
            task.add_done_callback(lambda _: self._tasks.pop(job.job_id, None))

    def resume(self) -> int:
        """Start every unfinished job (after a restart); return how many."""
        jobs = self.tables.unfinished_jobs()
        for job in jobs:
            self.start(job)
        return len(jobs)

    def refresh(self, job_id: str) -> bool:
        """Bring a job's progress up to date; True once it is finished.

        In-process jobs record progress as they go: nothing to do here.
        """
        job = self.tables.job(job_id)
        return job is None or job.status in ("done", "failed")

    async def stop(self) -> None:
        """Cancel running jobs (they resume at the next start)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, job: JobRow) -> None:
        campaign = self.registrations.campaigns.row(job.campaign_id)
        self.tables.set_job_status(job.job_id, "running")
        pending = iter(self.tables.pending_items(job.job_id))
        step = max(1, job.total // PROGRESS_EVENTS)

        async def worker(items: Iterator[tuple[int, Any]]) -> None:
            for index, item in items:
                registration_id, error = await self._process(job, item)
                self.tables.finish_item(job.job_id, index, registration_id, error)
                if (index + 1) % step == 0:
                    self._progress(job.job_id)

        try:
            await asyncio.gather(*(worker(pending) for _ in range(campaign.concurrency)))
        except Exception as exc:  # a store failure stops the job; it is reported, not lost
            self.tables.set_job_status(job.job_id, "failed", str(exc))
            self._progress(job.job_id)
            return
        self.tables.set_job_status(job.job_id, "done")
        self._progress(job.job_id)

    async def _process(self, job: JobRow, item: Any) -> tuple[str | None, str | None]:
        registration, invalid = validate_item(item)
        if registration is None:
            return None, invalid
        try:
            decided = await self.registrations.submit(
                job.campaign_id, registration.raw(), job.created_by
            )
        except IgentError as exc:
            return str(registration.RegistrationNumber), str(exc)
        return decided.registration_id, None

    def _progress(self, job_id: str) -> None:
        job = self.tables.job(job_id)
        if job is not None:
            self.tables.add_event(
                job.campaign_id,
                "job_progress",
                {
                    "job_id": job.job_id,
                    "status": job.status,
                    "done": job.done,
                    "total": job.total,
                    "errors": job.errors,
                },
            )


def validate_item(item: Any) -> tuple[RegistrationIn | None, str | None]:
    """Return the item as a registration, or None and why it is not one."""
    try:
        return RegistrationIn.model_validate(item), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(item)"
        return None, f"field {where!r}: {first['msg']}"


def job_runner(
    settings: Settings, registrations: RegistrationDesk, tables: ServiceTables
) -> JobRunner:
    """The service's batch jobs: sent to the workers when a broker is set, else in-process."""
    if not settings.broker_url:
        return JobRunner(registrations, tables)
    from igent.service.queued_jobs import QueuedJobRunner  # dramatiq: only with a broker
    from igent.worker import BrokerOptions, declare_actor, make_broker

    broker = make_broker(settings.broker_url, BrokerOptions(namespace=settings.broker_namespace))
    return QueuedJobRunner(registrations, tables, declare_actor(broker))


__all__ = ["JobRunner", "job_runner", "parse_batch", "validate_item"]
