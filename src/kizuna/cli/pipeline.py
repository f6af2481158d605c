"""``kizuna pipeline run``: the daily pipeline, on demand."""

from __future__ import annotations

from datetime import date

import typer

from kizuna.cli.context import bounded_day, err_console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.db.maintenance import dates_out_of_range
from kizuna.errors import InvalidInput
from kizuna.i18n import _

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


def parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            _("--as-of must be a date like 2025-03-31, not {value!r}").format(value=value), field="as_of"
        ) from None
    return bounded_day(day)


@app.command("run")
def run(as_of: str | None = typer.Option(None, "--as-of", help="The day to compute for (default: today).")) -> None:
    """Run every step of the daily job now (the same as `kizuna jobs run daily`).

    Each step runs in its own transaction and is recorded (`kizuna jobs status`); a step
    whose input failed is skipped, the others go on, and the command exits with 1."""
    from kizuna.cli.jobs import show_report
    from kizuna.jobs import run_job

    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    engine = open_store(settings)
    with session_scope(engine) as session:
        outside = dates_out_of_range(session, limit=1000)
    if outside:
        # Rows from before the range was enforced: read as the range's first or last day.
        err_console.print(
            _("Warning: {n} stored dates are outside the accepted range and are read as its first or last day; "
              "`kizuna db check` lists them.").format(n=f"{len(outside):,}"),
            style="yellow", markup=False, soft_wrap=True,
        )  # fmt: skip
    report = run_job(engine, settings.run_context(), "daily", as_of=day, trigger="cli")
    show_report(report)
    if not report.ok:
        raise typer.Exit(1)
