"""``kizuna demo``: a realistic Japanese SaaS company in the configured store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kizuna.cli.context import bounded_day, console, err_console, load_settings, open_store
from kizuna.cli.exports import show_export
from kizuna.db import Session, session_scope
from kizuna.demo import (
    STAGE_ACCOUNTS,
    STAGE_FINISH,
    STAGE_SETUP,
    DemoSummary,
    ProgressCallback,
    check_options,
    clear_store,
    generate_demo,
    store_is_empty,
)
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _
from kizuna.services.exports import export_csv

STAGE_HISTORY = "history"
DEMO_EMAIL = "demo@kizuna.example"
DEMO_PASSWORD = "kizuna-demo-2026"


def ensure_demo_admin(session: Session) -> tuple[str, str]:
    """The demo's sign-in: an admin with a published password (demo stores only)."""
    from kizuna.domain.enums import UserRole
    from kizuna.errors import NotFound
    from kizuna.services import auth

    try:
        user = auth.get_user_by_email(session, DEMO_EMAIL)
        auth.set_password(session, user, DEMO_PASSWORD)
    except NotFound:
        auth.create_user(session, email=DEMO_EMAIL, name="デモ 管理者", role=UserRole.ADMIN,
                         password=DEMO_PASSWORD, locale="ja")  # fmt: skip
    return DEMO_EMAIL, DEMO_PASSWORD


#: The help after its summary (the summary: COMMANDS in kizuna.cli).
DEMO_MORE_HELP = N_("Accounts, contacts, subscriptions, daily usage, tickets, surveys, activities, onboarding, goals "
                    "and tasks, all simulated from each customer's engagement. The store must be empty, unless "
                    "--reset is given.")  # fmt: skip


def demo(
    accounts: int = typer.Option(1000, "--accounts", help="How many customer accounts to create."),
    months: int = typer.Option(24, "--months", help="Months of history, ending at --as-of."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same options give the same company."),
    as_of: str | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD", help="The day the history ends. Default: today."
    ),
    reset: bool = typer.Option(False, "--reset", help="Delete everything in the store first."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Do not start the web app afterwards."),
    host: str | None = typer.Option(None, "--host", help="Address to serve on (default KIZUNA_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port to serve on (default KIZUNA_PORT, 8000)."
    ),
    export: Path | None = typer.Option(
        None, "--export", metavar="DIR", help="Also write every table as CSV files into DIR."
    ),
    allow_demo_admin: bool = typer.Option(
        False, "--allow-demo-admin", help="Serve beyond this machine even with the demo admin's public password."
    ),
) -> None:
    from kizuna.cli.serve import check_address, is_loopback, with_address

    settings = with_address(load_settings(), host, port)
    if not no_serve and not is_loopback(settings.host) and not allow_demo_admin:
        raise InvalidInput(
            _(
                "The demo admin's password is published; serving it on {host} would let anyone sign in as an "
                "admin. Serve on 127.0.0.1, use --no-serve, or pass --allow-demo-admin."
            ).format(host=settings.host),
            field="host",
        )
    day = _parse_day(as_of) if as_of else datetime.now(settings.zone).date()
    check_options(accounts=accounts, months=months, seed=seed)
    if not no_serve:
        check_address(settings.host, settings.port)  # before a minute of work, not after
    engine = open_store(settings)
    started = time.perf_counter()
    with session_scope(engine) as session:
        if reset:
            clear_store(session)
        elif not store_is_empty(session):
            raise InvalidInput(
                _(
                    "{url} already holds data. Run `kizuna demo --reset` to delete everything in it "
                    "and create the demo company, or set KIZUNA_DATABASE_URL to an empty store."
                ).format(url=engine.url.render_as_string(hide_password=True)),
                field="reset",
            )
        with _progress() as on_progress:
            summary = generate_demo(
                session, accounts=accounts, months=months, seed=seed, as_of=day, on_progress=on_progress,
                playbooks_enabled=True,
            )
        sign_in = ensure_demo_admin(session)
    # whatever the daily job computes, as of the demo's day — recorded, so that the server's
    # scheduler finds today's job done instead of running it again at start
    from dataclasses import replace

    from kizuna.jobs import run_job

    # no digest emails to the made-up team (their addresses do not exist)
    run_job(engine, replace(settings.run_context(), digest_weekday=None), "daily", as_of=day, trigger="cli")
    # 180 days of daily health snapshots, so that trends, movers and the 360 chart exist
    from kizuna.services.health.history import HISTORY_DAYS, build_history

    with session_scope(engine) as session, _progress() as on_progress:
        first = day - timedelta(days=HISTORY_DAYS - 1)
        on_progress(STAGE_HISTORY, 0, HISTORY_DAYS)
        build_history(
            session, day, days=HISTORY_DAYS,
            on_day=lambda d: on_progress(STAGE_HISTORY, (d - first).days + 1, HISTORY_DAYS),
        )  # fmt: skip
    _show(summary, time.perf_counter() - started)
    if export is not None:
        with session_scope(engine) as session:
            written = export_csv(session, export)
        show_export(export, written)
    console.print(_("Sign in as {email} with the password {password}").format(email=sign_in[0], password=sign_in[1]))
    if not no_serve:
        from kizuna.cli.serve import run

        run(settings, allow_demo_admin=allow_demo_admin)


def _parse_day(text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            _("--as-of must be a date like 2025-03-31, not {value!r}").format(value=text), field="as_of"
        ) from None
    return bounded_day(day)


def _stage_label(stage: str) -> str:
    labels = {
        STAGE_SETUP: _("Planning the company"),
        STAGE_ACCOUNTS: _("Simulating customers"),
        STAGE_FINISH: _("Finishing"),
        STAGE_HISTORY: _("Scoring 180 days of health history"),
    }
    return labels.get(stage, stage)


@contextmanager
def _progress() -> Iterator[ProgressCallback]:
    """A progress display on stderr (when it is a terminal) fed by the service's callbacks."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    ) as progress:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(_stage_label(stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield update


def _show(summary: DemoSummary, seconds: float) -> None:
    table = Table(title=_("Demo company as of {date}").format(date=summary.as_of.isoformat()))
    table.add_column(_("table"))
    table.add_column(_("rows"), justify="right")
    for name, n in summary.counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    console.print(
        _("MRR on {date}: ¥{amount} from {n} paying accounts").format(
            date=summary.as_of.isoformat(), amount=f"{summary.mrr:,}", n=f"{summary.paying_accounts:,}"
        ),
        markup=False,
        highlight=False,
    )
    console.print(
        _("History from {start} to {end} (seed {seed}), written in {seconds:.1f} s").format(
            start=summary.start.isoformat(), end=summary.as_of.isoformat(), seed=summary.seed, seconds=seconds
        ),
        markup=False,
        highlight=False,
    )
