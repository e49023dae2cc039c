"""/v1/campaigns/{c}/jobs/{job_id}: progress of a batch upload."""

from __future__ import annotations

from fastapi import APIRouter, Path

from igent.service.deps import Context, Reader, error_responses
from igent.service.errors import NotFound
from igent.service.routes.campaigns import CampaignId
from igent.service.schemas import JobPublic
from igent.store.service_tables import JobRow

router = APIRouter(prefix="/v1/campaigns/{campaign_id}/jobs", tags=["jobs"])


def job_public(job: JobRow, item_errors: list[tuple[int, str]] | None = None) -> JobPublic:
    """Return the wire form of a job."""
    return JobPublic(
        job_id=job.job_id,
        campaign_id=job.campaign_id,
        status=job.status,
        total=job.total,
        done=job.done,
        errors=job.errors,
        error=job.error,
        created_at=job.created_at,
        updated_at=job.updated_at,
        url=f"/v1/campaigns/{job.campaign_id}/jobs/{job.job_id}",
        item_errors=[{"index": i, "error": e} for i, e in item_errors or []],
    )


@router.get(
    "/{job_id}",
    operation_id="getJob",
    response_model=JobPublic,
    summary="Progress of a batch job",
    responses=error_responses(404),
)
def get_job(
    context: Context,
    key: Reader,
    campaign_id: str = CampaignId,
    job_id: str = Path(max_length=64),
) -> JobPublic:
    """Return a job's progress and its item errors."""
    job = context.tables.job(job_id)
    if job is not None and job.campaign_id == campaign_id:
        context.jobs.refresh(job_id)  # a queued job: progress from the committed decisions
        job = context.tables.job(job_id)
    if job is None or job.campaign_id != campaign_id:
        raise NotFound(f"campaign {campaign_id!r} has no job {job_id!r}")
    return job_public(job, context.tables.job_errors(job_id))
