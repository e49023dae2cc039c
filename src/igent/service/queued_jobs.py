"""Batch jobs decided by ``igent worker`` processes: the service enqueues, workers decide.

With ``igent serve --broker URL`` (``IGENT_BROKER_URL``) a batch upload is stored as a job as
before, then each registration is claimed (as a synchronous POST claims it, so the same
registration posted meanwhile waits for this decision instead of booking twice) and sent as a
Dramatiq message against the campaign's published spec. The job's progress is read from the
ledger: an item is done once its registration's decision is committed; a registration the
workers gave up on (its message went to the dead letters) has a ``failed`` decision naming the
reason, which becomes the item's error.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import dramatiq

from igent.domain import RegistrationRecord, parse_registration_record
from igent.service.jobs import JobRunner, validate_item
from igent.service.registrations import STANDING, RegistrationDesk, differing_fields
from igent.store import StoredDecision
from igent.store.service_tables import CampaignRow, JobRow, ServiceTables
from igent.worker.spec import CampaignSpec, publish_spec
from igent.worker.submit import committed_decisions, send_records

POLL_S = 0.5
DEADLINE_S = 300.0  # a queued registration's deadline (the workers retry within it)
CLAIM_MARGIN_S = 60.0


class QueuedJobRunner(JobRunner):
    """Send a job's registrations to the workers and follow their decisions in the ledger."""

    def __init__(
        self,
        registrations: RegistrationDesk,
        tables: ServiceTables,
        actor: dramatiq.Actor[..., None],
        *,
        poll_s: float = POLL_S,
        deadline_s: float = DEADLINE_S,
    ) -> None:
        super().__init__(registrations, tables)
        self.actor = actor
        self.poll_s = poll_s
        self.deadline_s = deadline_s
        self._sending: set[str] = set()
        self._refreshing = threading.Lock()

    async def stop(self) -> None:
        """Stop following jobs (messages already sent stay queued) and close the broker."""
        await super().stop()
        self.actor.broker.close()

    async def _run(self, job: JobRow) -> None:
        try:
            self._sending.add(job.job_id)
            try:
                # After a restart the pending items are sent again: a duplicate is harmless.
                await asyncio.to_thread(self._enqueue, job)
                # Running once sent: until then the ledger may hold an earlier decision of an
                # item (failed, or cancelled) that the enqueue clears to redo it.
                self.tables.set_job_status(job.job_id, "running")
            finally:
                self._sending.discard(job.job_id)
            self._progress(job.job_id)
            while not await asyncio.to_thread(self.refresh, job.job_id):
                await asyncio.sleep(self.poll_s)
        except Exception as exc:  # a store or broker failure stops the job; it is reported
            self.tables.set_job_status(job.job_id, "failed", str(exc))
            self._progress(job.job_id)

    def _enqueue(self, job: JobRow) -> int:
        """Claim and send the job's pending items; items that need no worker finish here."""
        campaigns = self.registrations.campaigns
        row = campaigns.row(job.campaign_id)
        spec = _spec(row, json.loads(self.tables.offers(row.campaign_id, row.offer_version)))
        spec = spec.model_copy(update={"deadline_s": self.deadline_s})
        digest = publish_spec(campaigns.store, spec)
        owner = f"job-{job.job_id}"
        until = time.time() + self.deadline_s + CLAIM_MARGIN_S
        records: list[RegistrationRecord] = []
        for index, item in self.tables.pending_items(job.job_id):
            registration, invalid = validate_item(item)
            if registration is None:
                self.tables.finish_item(job.job_id, index, None, invalid)
                continue
            raw = registration.raw()
            registration_id = str(raw["RegistrationNumber"]).strip()
            record, error = self._claim(job, owner, until, registration_id, raw)
            if record is not None:
                records.append(record)
            elif error is not None or self._standing(job.campaign_id, registration_id):
                self.tables.finish_item(job.job_id, index, registration_id, error)
            # else: another request is deciding it; the ledger will show its decision
        return send_records(self.actor, spec, digest, records)

    def _claim(
        self, job: JobRow, owner: str, until: float, registration_id: str, raw: dict[str, Any]
    ) -> tuple[RegistrationRecord | None, str | None]:
        """Claim a registration for the workers: (its record, None) when it is to be sent."""
        if not registration_id:
            return None, "field 'RegistrationNumber' is empty; give each registration its id"
        campaign_id = job.campaign_id
        claim = self.tables.claim(
            campaign_id, registration_id, raw, job.created_by, owner, until, retry=False
        )
        if not claim.taken and claim.state == "decided" and claim.raw == raw:
            if self._standing(campaign_id, registration_id):
                return None, None
            # failed or unapproved before: decide again, from a clean slate in the ledger
            claim = self.tables.claim(
                campaign_id, registration_id, raw, job.created_by, owner, until, retry=True
            )
            if claim.taken:
                self.registrations.store.remove(campaign_id, [registration_id])
        elif claim.taken and claim.previous == "cancelled":
            # Submitted again after a cancel: the workers keep a final decision (cancelled, or
            # a no_match cancelled as it stood), so clear it first or nobody decides this one.
            stored = self.registrations.store.decision(campaign_id, registration_id)
            if stored is not None and stored.status != "matched":
                self.registrations.store.remove(campaign_id, [registration_id])
        if not claim.taken:
            differing = differing_fields(claim.raw, raw)
            if differing:
                return None, (
                    f"registration {registration_id!r} was already submitted with other "
                    f"content: {', '.join(differing)} differ; cancel it first to change it"
                )
            return None, None
        record = parse_registration_record(raw, claim.sequence)
        if record.registration is None:
            self.tables.release_claim(campaign_id, registration_id)
            return None, record.error or "not a valid registration"
        return record, None

    def _standing(self, campaign_id: str, registration_id: str) -> bool:
        stored = self.registrations.store.decision(campaign_id, registration_id)
        return stored is not None and stored.status in STANDING

    def refresh(self, job_id: str) -> bool:
        """Mark the items whose decisions are committed; True once the job is finished."""
        with self._refreshing:
            job = self.tables.job(job_id)
            if job is None or job.status in ("done", "failed"):
                return True
            if job.status == "queued" or job_id in self._sending:
                return False  # not all sent yet: see _run
            pending = self.tables.pending_items(job_id)
            indexes: dict[str, list[int]] = {}
            for index, item in pending:
                indexes.setdefault(_registration_id(item), []).append(index)
            indexes.pop("", None)
            found = committed_decisions(self.registrations.store, job.campaign_id, indexes)
            for key, stored in found.items():
                for index in indexes[key]:  # one registration may come twice in one upload
                    self._finish(job, index, stored)
            if sum(len(indexes[key]) for key in found) < len(pending) or job_id in self._sending:
                return False
            self.tables.set_job_status(job_id, "done")
        self._progress(job_id)
        return True

    def _finish(self, job: JobRow, index: int, stored: StoredDecision) -> None:
        campaign_id, registration_id = job.campaign_id, stored.registration_id
        submission = self.tables.submission(campaign_id, registration_id)
        match = stored.payload.get("match") or {}
        if submission is not None and submission.state == "deciding":
            row = self.registrations.campaigns.row(campaign_id)
            info = {"offer_version": row.offer_version, "ledger_key": registration_id}
            event = {
                "registration_id": registration_id,
                "status": stored.status,
                "supplier_id": stored.supplier_id,
                "reason": match.get("reason"),
                "job_id": job.job_id,
            }
            self.tables.finish_decision(campaign_id, registration_id, [], info, event)
        # A registration the workers gave up on (its message is in the dead letters): the
        # reason its failed decision names is the item's error.
        error = f"failed ({match.get('reason') or 'unknown'}): {match.get('message') or ''}"
        self.tables.finish_item(
            job.job_id, index, registration_id, error if stored.status == "failed" else None
        )


def _spec(row: CampaignRow, offers: dict[str, Any]) -> CampaignSpec:
    """The campaign as the workers decide it, from the service's campaign row."""
    return CampaignSpec(
        campaign_id=row.campaign_id,
        offers=offers,
        incentives=row.incentives,
        campaign_date=row.campaign_date,
        constellation=row.constellation,
        model=row.model,
    )


def _registration_id(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("RegistrationNumber") or "").strip()
    return ""


__all__ = ["QueuedJobRunner"]
