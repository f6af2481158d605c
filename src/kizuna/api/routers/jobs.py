"""``GET /api/jobs``: the scheduled jobs' last runs and the outbox (the admin page's twin)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from kizuna.api.routers._common import responses
from kizuna.http.auth import Manager, State
from kizuna.services import jobs as job_records
from kizuna.services import outbox

router = APIRouter(prefix="/api", tags=["jobs"])


class StepOut(BaseModel):
    step: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    rows: int | None
    error: str | None


class RunOut(BaseModel):
    run_id: str
    job: str
    as_of: date | None
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    steps: list[StepOut]


class OutboxMessageOut(BaseModel):
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
        runs=[RunOut(run_id=r.run_id, job=r.job, as_of=r.as_of, trigger=r.trigger, status=r.status,
                     started_at=r.started_at, finished_at=r.finished_at, seconds=r.seconds,
                     steps=[StepOut(step=s.step, status=s.status, started_at=s.started_at, finished_at=s.finished_at,
                                    seconds=s.seconds, rows=s.rows, error=s.error) for s in r.steps])
              for r in runs],
        outbox_counts=counts,
        outbox_failed=[OutboxMessageOut(id=m.id, kind=m.kind, target=m.target, status=m.status, attempts=m.attempts,
                                        created_at=m.created_at, next_attempt_at=m.next_attempt_at,
                                        last_error=m.last_error, account_id=m.account_id) for m in failed],
    )


@router.get("/jobs", response_model=JobsOut, responses=responses(401, 403), summary="The scheduled jobs' last runs and the outbox")
def get_jobs(state: State, principal: Manager) -> JobsOut:
    """The last 20 runs (each step with status, rows, duration, error), which job is running
    where, the scheduler's settings, and the outbox: messages per status and the failed
    ones with their last error. Leads and admins."""
    return jobs_overview(state)
