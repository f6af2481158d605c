"""``kizuna jobs`` and ``kizuna outbox``: the scheduled jobs and the queue of emails and
webhooks, by hand (or from cron, with ``KIZUNA_SCHEDULER=false`` on the servers)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Any

import typer
from rich.table import Table

from kizuna.cli.context import bounded_day, check_format, console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _
from kizuna.jobs import JOBS, JobReport, run_job
from kizuna.services import jobs as records
from kizuna.services import outbox

app = typer.Typer(no_args_is_help=True)  # the helps of both: COMMANDS in kizuna.cli
outbox_app = typer.Typer(no_args_is_help=True)

FORMATS = ("table", "json")


def _check_format(value: str) -> None:
    check_format(value, FORMATS)


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            _("--as-of must be a date like 2025-03-31, not {value!r}").format(value=value), field="as_of"
        ) from None
    return bounded_day(day)


def _json(value: Any) -> None:
    console.print_json(json.dumps(value, default=str, ensure_ascii=False))


@app.command("list")
def list_jobs() -> None:
    """The jobs there are, with what each does."""
    table = Table()
    table.add_column(_("job"))
    table.add_column(_("steps"))
    table.add_column(_("what it does"))
    for job in JOBS.values():
        table.add_row(job.name, ", ".join(s.key for s in job.steps), _(job.description))
    console.print(table)


def show_report(report: JobReport, output: str = "table") -> None:
    if output == "json":
        _json({"job": report.job, "run_id": report.run_id, "as_of": report.as_of, "ran": report.ran,
               "held_by": report.held_by, "ok": report.ok, "steps": [asdict(s) for s in report.steps]})  # fmt: skip
        return
    if not report.ran:
        console.print(_("Job {job} is running in another process ({holder}); nothing was done.").format(
            job=report.job, holder=report.held_by or "?"), markup=False)  # fmt: skip
        return
    title = _("Job {job} for {date}").format(job=report.job, date=report.as_of.isoformat()) if report.as_of \
        else _("Job {job}").format(job=report.job)  # fmt: skip
    table = Table(title=title)
    table.add_column(_("step"))
    table.add_column(_("status"))
    table.add_column(_("records"), justify="right")
    table.add_column(_("seconds"), justify="right")
    table.add_column(_("error"), overflow="fold")
    labels = {"succeeded": _("succeeded"), "failed": _("failed"), "skipped": _("skipped")}
    for s in report.steps:
        table.add_row(_(s.label), labels.get(s.status, s.status), "" if s.rows is None else f"{s.rows:,}",
                      f"{s.seconds:.1f}", s.error or "")  # fmt: skip
    console.print(table)


@app.command("run")
def run(
    name: str = typer.Argument(..., help="The job: daily or outbox (kizuna jobs list)."),
    as_of: str | None = typer.Option(None, "--as-of", help="The day a daily job computes for (default: today)."),
    step: list[str] = typer.Option([], "--step", help="Run only these steps of the job (repeatable)."),
    output: str = typer.Option("table", "--format", help="Output: table or json."),
) -> None:
    """Run a job now, each step in its own transaction, recorded like a scheduled run.

    Exits with 1 when a step failed (the others still ran) or another process holds the job."""
    _check_format(output)
    if name not in JOBS:
        raise NotFound(_("no job named {name!r}: use one of {names}").format(name=name, names=", ".join(JOBS)),
                       field="name")  # fmt: skip
    keys = [s.key for s in JOBS[name].steps]
    unknown = [s for s in step if s not in keys]
    if unknown:
        raise InvalidInput(_("job {job} has no step {step!r}: its steps are {steps}").format(
            job=name, step=unknown[0], steps=", ".join(keys)), field="step")  # fmt: skip
    settings = load_settings()
    context = settings.run_context()
    day = _day(as_of) or today(settings)
    engine = open_store(settings)
    report = run_job(engine, context, name, as_of=day, trigger="cli", only=step or None)
    show_report(report, output)
    if not report.ok:
        raise typer.Exit(1)


@app.command("status")
def status(
    job: str | None = typer.Option(None, "--job", help="Only this job."),
    limit: int = typer.Option(30, "--limit", min=1, max=1000, help="How many step records, newest first."),
    output: str = typer.Option("table", "--format", help="Output: table or json."),
) -> None:
    """The last runs: each step with its status, rows, duration and error."""
    _check_format(output)
    settings = load_settings()
    engine = open_store(settings)
    with session_scope(engine) as session:
        steps = records.recent_steps(session, job=job, limit=limit)
        holders = {name: records.lease_holder(session, name) for name in JOBS}
    if output == "json":
        _json({"running": {k: v for k, v in holders.items() if v},
               "steps": [{**asdict(s), "seconds": s.seconds} for s in steps]})  # fmt: skip
        return
    if not steps:
        console.print(_("No job has run yet."))
        return
    table = Table()
    for header in (_("started"), _("job"), _("step"), _("for"), _("trigger"), _("status"), _("records"), _("seconds"),
                   _("error")):  # fmt: skip
        table.add_column(header)
    for s in steps:
        table.add_row(s.started_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M:%S"), s.job, s.step,
                      s.as_of.isoformat() if s.as_of else "", s.trigger, s.status,
                      "" if s.rows is None else f"{s.rows:,}", "" if s.seconds is None else f"{s.seconds:.1f}",
                      (s.error or "")[:80])  # fmt: skip
    console.print(table)


@outbox_app.command("list")
def outbox_list(
    status_: str | None = typer.Option(None, "--status", help="pending, sending, sent or failed."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="How many, newest first."),
    output: str = typer.Option("table", "--format", help="Output: table or json."),
) -> None:
    """Queued, sent and failed messages, newest first, with the counts per status."""
    _check_format(output)
    settings = load_settings()
    engine = open_store(settings)
    with session_scope(engine) as session:
        items = outbox.list_items(session, status=status_, limit=limit)
        counts = outbox.counts(session)
    if output == "json":
        _json({"counts": counts, "messages": [asdict(i) for i in items]})
        return
    console.print("  ".join(f"{k}: {v:,}" for k, v in counts.items()), markup=False, highlight=False)
    table = Table()
    for header in (_("id"), _("kind"), _("to"), _("status"), _("attempts"), _("queued"), _("last error")):
        table.add_column(header)
    for i in items:
        table.add_row(str(i.id), i.kind, i.target, i.status, str(i.attempts),
                      i.created_at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M"), (i.last_error or "")[:80])  # fmt: skip
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: list[int] = typer.Argument(None, help="Message ids (default: every failed message)."),
) -> None:
    """Queue failed messages again for another round of attempts."""
    settings = load_settings()
    engine = open_store(settings)
    with session_scope(engine) as session:
        n = outbox.retry(session, list(ids) if ids else None)
    console.print(_("{n} messages queued again.").format(n=f"{n:,}"))


@outbox_app.command("purge")
def outbox_purge(
    older_than: int = typer.Option(30, "--older-than", help="Days: delete sent messages older than this."),
    failed: bool = typer.Option(False, "--failed", help="Delete failed messages of that age too."),
) -> None:
    """Delete delivered messages (and failed ones with --failed) older than --older-than days."""
    settings = load_settings()
    engine = open_store(settings)
    with session_scope(engine) as session:
        n = outbox.purge(session, older_than_days=older_than, failed_too=failed)
    console.print(_("{n} messages deleted.").format(n=f"{n:,}"))
