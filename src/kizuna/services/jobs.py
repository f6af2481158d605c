"""Job records and leases: what ran when, and which process may run a job now.

The transactions belong to the caller (``kizuna.jobs``): each function here takes a
session and never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import jobs as q

RUNNING, SUCCEEDED, FAILED, SKIPPED = "running", "succeeded", "failed", "skipped"


@dataclass(frozen=True)
class StepRecord:
    """One step of one job run, as the admin page, the CLI and the API show it."""

    id: int
    run_id: str
    job: str
    step: str
    as_of: date | None
    trigger: str
    holder: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows: int | None
    error: str | None

    @property
    def seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


def _record(row: Any) -> StepRecord:  # a kizuna.db.models.JobRun
    return StepRecord(int(row.id), row.run_id, row.job, row.step, row.as_of, row.trigger, row.holder, row.status,
                      row.started_at, row.finished_at, row.rows, row.error)  # fmt: skip


def start_step(session: Session, *, run_id: str, job: str, step: str, as_of: date | None, trigger: str,
               holder: str, now: datetime | None = None) -> int:  # fmt: skip
    return q.start_step(session, run_id=run_id, job=job, step=step, as_of=as_of, trigger=trigger, holder=holder,
                        now=now or datetime.now(UTC))  # fmt: skip


def finish_step(session: Session, record_id: int, *, status: str, rows: int | None = None, error: str | None = None,
                now: datetime | None = None) -> None:  # fmt: skip
    q.finish_step(session, record_id, status=status, rows=rows, error=error, now=now or datetime.now(UTC))


def recent_steps(session: Session, *, job: str | None = None, limit: int = 200) -> list[StepRecord]:
    return [_record(r) for r in q.recent_steps(session, job=job, limit=limit)]


def steps_of_day(session: Session, job: str, as_of: date) -> list[StepRecord]:
    return [_record(r) for r in q.steps_of_day(session, job, as_of)]


def outstanding_steps(session: Session, job: str, as_of: date, keys: list[str]) -> list[str]:
    """The steps of ``job`` that have not succeeded for ``as_of`` yet (all of them when it
    never ran that day), in the order given: what the next run must do."""
    latest: dict[str, str] = {}
    for record in q.steps_of_day(session, job, as_of):
        latest[record.step] = record.status
    return [key for key in keys if latest.get(key) != SUCCEEDED]


def close_abandoned(session: Session, job: str, *, older_than: timedelta, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    return q.mark_abandoned(session, job=job, before=now - older_than, now=now)


def take_lease(session: Session, job: str, holder: str, *, seconds: float, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    return q.take_lease(session, job, holder, now=now, until=now + timedelta(seconds=seconds))


def give_back_lease(session: Session, job: str, holder: str) -> None:
    q.give_back_lease(session, job, holder)


def lease_holder(session: Session, job: str, *, now: datetime | None = None) -> str | None:
    """Who holds ``job``'s lease now (None when free or expired)."""
    lease = q.lease_of(session, job)
    if lease is None or lease.expires_at < (now or datetime.now(UTC)):
        return None
    return lease.holder


@dataclass(frozen=True)
class RunSummary:
    """One run of a job: its steps in order, its overall status, when and how long."""

    run_id: str
    job: str
    as_of: date | None
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, succeeded, failed (a step failed or was skipped)
    steps: tuple[StepRecord, ...]

    @property
    def seconds(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


def recent_runs(session: Session, *, job: str | None = None, limit: int = 20) -> list[RunSummary]:
    """The newest runs first, each with its steps (from the newest step records)."""
    by_run: dict[str, list[StepRecord]] = {}
    for record in recent_steps(session, job=job, limit=limit * 12):
        by_run.setdefault(record.run_id, []).append(record)
    runs = []
    for run_id, steps in list(by_run.items())[:limit]:
        ordered = tuple(sorted(steps, key=lambda s: (s.started_at, s.id)))
        finished = [s.finished_at for s in ordered if s.finished_at is not None]
        if any(s.status == RUNNING for s in ordered):
            status = RUNNING
        elif any(s.status in (FAILED, SKIPPED) for s in ordered):
            status = FAILED
        else:
            status = SUCCEEDED
        first = ordered[0]
        runs.append(RunSummary(run_id, first.job, first.as_of, first.trigger, first.started_at,
                               max(finished) if finished and status != RUNNING else None, status, ordered))  # fmt: skip
    return runs
