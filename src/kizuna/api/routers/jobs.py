"""``GET /api/jobs``: the scheduled jobs' last runs and the outbox (the admin page's twin)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from kizuna.api.routers._common import responses
from kizuna.api.schemas.common import OutputModel
from kizuna.http.auth import Manager, State
from kizuna.services import jobs as job_records
from kizuna.services import outbox

router = APIRouter(prefix="/api", tags=["jobs"])


class StepOut(OutputModel):
    step: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    rows: int | None
    error: str | None


class RunOut(OutputModel):
    run_id: str
    job: str
    as_of: date | None
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    steps: list[StepOut]


class OutboxMessageOut(OutputModel):
    id: int
    kind: str
    target: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    account_id: int | None


class SchedulerOut(BaseModel):
    enabled: bool
    daily_at: str
    timezone: str
    running: dict[str, str]


class JobsOut(BaseModel):
    scheduler: SchedulerOut
    runs: list[RunOut]
    outbox_counts: dict[str, int]
    outbox_failed: list[OutboxMessageOut]


def jobs_overview(state: State, *, limit: int = 20) -> JobsOut:
    with state.unit_of_work() as session:
        runs = job_records.recent_runs(session, limit=limit)
        running = {name: holder for name in ("daily", "outbox")
                   if (holder := job_records.lease_holder(session, name)) is not None}  # fmt: skip
        counts = outbox.counts(session)
        failed = outbox.list_items(session, status="failed", limit=50)
    return JobsOut(
        scheduler=SchedulerOut(enabled=state.settings.scheduler, daily_at=state.context.daily_at.strftime("%H:%M"),
                               timezone=state.settings.timezone, running=running),
        runs=[RunOut.model_validate(r) for r in runs],  # from services.jobs.RunSummary / StepRecord
        outbox_counts=counts,
        outbox_failed=[OutboxMessageOut.model_validate(m) for m in failed],  # from services.outbox.OutboxItem
    )


@router.get("/jobs", response_model=JobsOut, responses=responses(401, 403), summary="The scheduled jobs' last runs and the outbox")
def get_jobs(state: State, principal: Manager) -> JobsOut:
    """The last 20 runs (each step with status, rows, duration, error), which job is running
    where, the scheduler's settings, and the outbox: messages per status and the failed
    ones with their last error. Leads and admins."""
    return jobs_overview(state)
