"""The job runs page (``/admin/jobs``, leads and admins): the daily job's last runs with
their steps, durations and errors, which process is running what, the outbox; buttons to
run the daily job now and to queue failed messages again. JSON twin: ``/api/jobs``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, Manager, State, check_csrf
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.jobs import JOBS, run_job
from kizuna.services import jobs as job_records
from kizuna.services import outbox

router = APIRouter(include_in_schema=False)


@router.get("/admin/jobs")
def jobs_page(request: Request, state: State, principal: Manager, done: str = "") -> Response:
    with state.unit_of_work() as session:
        runs = job_records.recent_runs(session, limit=20)
        running = {name: job_records.lease_holder(session, name) for name in JOBS}
        counts = outbox.counts(session)
        failed = outbox.list_items(session, status="failed", limit=50)
    return render(request, "admin/jobs.html", {
        "runs": runs, "running": {k: v for k, v in running.items() if v}, "counts": counts, "failed": failed,
        "scheduler": state.settings.scheduler, "daily_at": state.context.daily_at.strftime("%H:%M"),
        "timezone": state.settings.timezone, "done": done if done in ("ran", "busy", "failed", "retried") else "",
    })  # fmt: skip


@router.post("/admin/jobs/daily")
def run_daily_now(
    request: Request, state: State, principal: Manager, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = ""
) -> Response:
    """Run the daily job now, for today (every step, recorded as a web-triggered run)."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    report = run_job(state.engine, state.context, "daily", as_of=today(state.settings), trigger="web")
    done = "ran" if report.ok else ("busy" if not report.ran else "failed")
    return RedirectResponse(f"/admin/jobs?done={done}", status_code=303)


@router.post("/admin/outbox/retry")
def retry_failed(
    request: Request, state: State, principal: Manager, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = ""
) -> Response:
    """Queue every failed email and webhook again for another round of attempts."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    with state.unit_of_work() as session:
        outbox.retry(session)
    return RedirectResponse("/admin/jobs?done=retried", status_code=303)
