"""``kizuna pipeline run``: the daily pipeline, on demand."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from kizuna.cli.context import bounded_day, console, err_console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.db.maintenance import dates_out_of_range
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services.pipeline import run_daily

app = typer.Typer(help="The daily pipeline that keeps derived figures current.", no_args_is_help=True)


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
    """Run every step of the daily pipeline (account summaries, and more as features arrive)."""
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
        results = run_daily(session, day)
    table = Table(title=_("Daily pipeline for {date}").format(date=day.isoformat()))
    table.add_column(_("step"))
    table.add_column(_("records"), justify="right")
    table.add_column(_("seconds"), justify="right")
    for r in results:
        table.add_row(_(r.name), f"{r.count:,}", f"{r.seconds:.1f}")
    console.print(table)
