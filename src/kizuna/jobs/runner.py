"""Running a job: the lease, a transaction per step, a record per step."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from kizuna.db import maintenance, session_scope
from kizuna.i18n import N_
from kizuna.services import jobs as records
from kizuna.services.context import RunContext
from kizuna.services.pipeline import STEPS

log = logging.getLogger("kizuna.jobs")

#: How long a lease lasts before another process may take over a job whose holder died;
#: renewed before each step, so only a single step longer than this could overlap.
LEASE_SECONDS = 3600.0


@dataclass(frozen=True)
class StepOutcome:
    step: str
    label: str
    status: str  # succeeded, failed, skipped
    rows: int | None
    seconds: float
    error: str | None = None


@dataclass
class JobReport:
    """What one run did. ``ran`` is False when another process holds the job's lease."""

    job: str
    run_id: str
    as_of: date | None
    ran: bool = True
    held_by: str | None = None
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[StepOutcome]:
        return [s for s in self.steps if s.status == records.FAILED]

    @property
    def ok(self) -> bool:
        return self.ran and not self.failed and not any(s.status == records.SKIPPED for s in self.steps)


@dataclass(frozen=True)
class JobStep:
    key: str
    label: str
    run: Callable[[Any, date | None, RunContext], int]  # (engine, as_of, context) -> rows
    after: tuple[str, ...] = ()
    own_transaction: bool = True  # False: the step manages its transactions itself


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    steps: tuple[JobStep, ...]
    daily: bool = False  # has an as_of day; its steps are retried until they succeed for that day


def _in_transaction(step: Callable[..., int]) -> Callable[[Any, date | None, RunContext], int]:
    def run(engine: Any, as_of: date | None, context: RunContext) -> int:
        with session_scope(engine) as session:
            return step(session, as_of, context)

    return run


def _optimize(engine: Any, _as_of: date | None, _context: RunContext) -> int:
    with session_scope(engine) as session:
        maintenance.optimize(session)
    return 0


def _deliver(engine: Any, _as_of: date | None, context: RunContext) -> int:
    from kizuna.jobs.outbox import deliver

    return deliver(engine, context).sent


DAILY = Job(
    "daily",
    N_("The daily job: usage rollups, account summaries, touch tiers, lifecycle stages, fit, health, at-risk flags."),
    (*tuple(JobStep(s.key, s.label, _in_transaction(s.run), s.after) for s in STEPS), JobStep("optimize", N_("store statistics"), _optimize)),
    daily=True,
)
OUTBOX = Job(
    "outbox",
    N_("Deliver the queued emails and webhooks that are due (retries with backoff)."),
    (JobStep("deliver", N_("outbox delivery"), _deliver, own_transaction=False),),
)
JOBS: dict[str, Job] = {job.name: job for job in (DAILY, OUTBOX)}


def holder_name() -> str:
    """This process and thread, as recorded in leases and job runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_job(
    engine: Any, context: RunContext, name: str, *, as_of: date | None = None, trigger: str = "manual",
    only: list[str] | None = None, holder: str | None = None, pending_only: bool = False,
) -> JobReport:  # fmt: skip
    """Run job ``name`` (its steps ``only``, when given, in the job's order).

    A daily job runs for ``as_of``; each step runs in its own transaction and is recorded;
    a step whose input step failed (or was skipped) in this run is recorded as skipped;
    the others go on. Returns at once with ``ran=False`` when another process holds the
    job's lease. ``pending_only`` (the scheduler): of a daily job, run only the steps that
    have not succeeded for ``as_of`` yet — decided after taking the lease, so that two
    schedulers racing for the same day run it once.
    """
    job = JOBS[name]
    holder = holder or holder_name()
    report = JobReport(name, str(uuid.uuid4()), as_of if job.daily else None)
    with session_scope(engine) as session:
        records.close_abandoned(session, name, older_than=timedelta(seconds=LEASE_SECONDS))
        if not records.take_lease(session, name, holder, seconds=LEASE_SECONDS):
            report.ran = False
            report.held_by = records.lease_holder(session, name)
            return report
        if pending_only and job.daily and as_of is not None:
            todo = records.outstanding_steps(session, name, as_of, [s.key for s in job.steps])
            only = [k for k in todo if only is None or k in only]
    try:
        broken: set[str] = set()
        for step in job.steps:
            if only is not None and step.key not in only:
                continue
            with session_scope(engine) as session:
                records.take_lease(session, name, holder, seconds=LEASE_SECONDS)  # renew
                record = records.start_step(session, run_id=report.run_id, job=name, step=step.key, as_of=report.as_of,
                                            trigger=trigger, holder=holder)  # fmt: skip
            blocked = [d for d in step.after if d in broken]
            started = time.perf_counter()
            if blocked:
                status, rows, error = records.SKIPPED, None, "waits for: " + ", ".join(blocked)
                broken.add(step.key)
            else:
                try:
                    rows, status, error = step.run(engine, report.as_of, context), records.SUCCEEDED, None
                except Exception as exc:  # recorded with its type and message; the next steps go on
                    log.exception("job %s step %s failed", name, step.key)
                    status, rows, error = records.FAILED, None, f"{type(exc).__name__}: {exc}"[:4000]
                    broken.add(step.key)
            seconds = time.perf_counter() - started
            with session_scope(engine) as session:
                records.finish_step(session, record, status=status, rows=rows, error=error)
            report.steps.append(StepOutcome(step.key, step.label, status, rows, seconds, error))
    finally:
        with session_scope(engine) as session:
            records.give_back_lease(session, name, holder)
    return report


def outstanding(engine: Any, name: str, as_of: date) -> list[str]:
    """The steps of daily job ``name`` not yet succeeded for ``as_of`` (all when it never ran)."""
    job = JOBS[name]
    with session_scope(engine) as session:
        return records.outstanding_steps(session, name, as_of, [s.key for s in job.steps])
