"""``kizuna renewals …``: the renewal pipeline (契約更新) and its forecast (issue 16 item 3)."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

import typer
from rich.table import Table

from kizuna.cli import context as cli_context
from kizuna.cli.context import console, load_settings
from kizuna.cli.kpis import parse_day
from kizuna.i18n import _

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli

_LIST_COLUMNS = ("id", "external_id", "name", "term_end", "month", "currency", "arr_due", "arr_after", "owner_name",
                 "tier", "health_grade", "stage", "stage_source", "detected_on", "probability", "probability_source",
                 "expected_arr", "at_risk", "call_reason", "call_by")  # fmt: skip


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _window(as_of: str | None, start: str | None, months: int, refresh: bool) -> tuple[Any, date, date, date]:
    from kizuna.db import session_scope
    from kizuna.services import renewals

    settings = load_settings()
    day = parse_day(as_of, settings)
    first, last = renewals.month_window(day, start, months)
    engine = cli_context.open_store(settings)
    if refresh:
        with session_scope(engine) as session:
            renewals.step(session, day)
    return engine, day, first, last


@app.command("list")
def list_renewals(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day to look from (default: today)."),
    start: str | None = typer.Option(None, "--start", metavar="YYYY-MM", help="The first month (default: the month of --as-of)."),
    months: int = typer.Option(3, "--months", help="How many months from --start (1–36)."),
    owner: str | None = typer.Option(None, "--owner", help="Only this owner's renewals (email or user id)."),
    tier: str | None = typer.Option(None, "--tier", help="Only this touch tier (high, low, tech)."),
    refresh: bool = typer.Option(False, "--refresh", help="Run the daily job's renewals step first, as of --as-of."),
    output: str = typer.Option("table", "--format", help="Output: table, csv or json."),
) -> None:  # fmt: skip
    """The renewals whose term ends in the months asked for: ARR due, owner, tier, stage,
    the renewal probability and where it comes from (the CSM's call, the churn model, the
    LTV retention or the tier's history), expected ARR and whether it is at risk. See docs/renewals.md."""
    from kizuna.db import session_scope
    from kizuna.services import renewals

    cli_context.check_format(output, ("table", "csv", "json"))
    engine, day, first, last = _window(as_of, start, months, refresh)
    with session_scope(engine) as session:
        filters = renewals.PipelineFilter(owner_id=renewals.owner_id_of(session, owner), tier=renewals.tier_of(tier))
        rows = renewals.pipeline(session, day, first, last, filters)
    data = [{c: _plain(getattr(x, c)) for c in _LIST_COLUMNS} for x in rows]
    if output == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(_LIST_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
        return
    table = Table(title=_("Renewals from {start} to {end}").format(start=first.isoformat(), end=last.isoformat()))
    for label in (_("term end"), _("account"), _("owner"), _("stage"), _("ARR due"), _("probability"),
                  _("source"), _("expected ARR"), _("at risk")):  # fmt: skip
        table.add_column(label, justify="right" if label in (_("ARR due"), _("probability"), _("expected ARR")) else "left")
    for x in rows:
        table.add_row(
            x.term_end.isoformat(), x.name, x.owner_name or "—", _(renewals.STAGE_LABELS[x.stage]),
            f"{x.arr_due:,} {x.currency}", "—" if x.probability is None else f"{x.probability:.0%}",
            _(renewals.SOURCE_LABELS[x.probability_source]),
            "—" if x.expected_arr is None else f"{x.expected_arr:,}", _("yes") if x.at_risk else "",
        )  # fmt: skip
    console.print(table)
    console.print(_("{n} renewals.").format(n=f"{len(rows):,}"))


@app.command("forecast")
def forecast(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day to look from (default: today)."),
    start: str | None = typer.Option(None, "--start", metavar="YYYY-MM", help="The first month (default: the month of --as-of)."),
    months: int = typer.Option(3, "--months", help="How many months from --start (1–36)."),
    owner: str | None = typer.Option(None, "--owner", help="Only this owner's renewals (email or user id)."),
    tier: str | None = typer.Option(None, "--tier", help="Only this touch tier (high, low, tech)."),
    by: str = typer.Option("month", "--by", help="The renewal rate of the last 12 months by month, tier or owner."),
    refresh: bool = typer.Option(False, "--refresh", help="Run the daily job's renewals step first, as of --as-of."),
    output: str = typer.Option("table", "--format", help="Output: table, csv or json."),
) -> None:  # fmt: skip
    """Expected renewing ARR by month (Σ ARR due × renewal probability), ARR at risk
    (red health or a probability below 50 %), each currency apart, and the renewal rate
    KPI (renewed ARR ÷ ARR due, and logos) of the last 12 months by month, tier or owner."""
    from kizuna.db import session_scope
    from kizuna.services import renewals

    cli_context.check_format(output, ("table", "csv", "json"))
    engine, day, first, last = _window(as_of, start, months, refresh)
    with session_scope(engine) as session:
        filters = renewals.PipelineFilter(owner_id=renewals.owner_id_of(session, owner), tier=renewals.tier_of(tier))
        f = renewals.forecast(session, day, first, last, filters)
        rate_lines = renewals.rates(session, day, by, day - timedelta(days=365), day)
    lines = [*f.months, *f.totals]
    if output == "json":
        print(json.dumps({"as_of": day.isoformat(), "start": first.isoformat(), "end": last.isoformat(),
                          "months": [asdict(m) for m in f.months], "totals": [asdict(t) for t in f.totals],
                          "rates": [{**asdict(x), "by": by, "arr_rate": x.arr_rate, "logo_rate": x.logo_rate}
                                    for x in rate_lines]}, ensure_ascii=False, indent=2))  # fmt: skip
        return
    columns = ("month", "currency", "renewals", "arr_due", "expected_arr", "unpriced_arr", "at_risk", "at_risk_arr")
    if output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for m in lines:
            writer.writerow([m.month or "total", *(getattr(m, c) for c in columns[1:])])
        return
    table = Table(title=_("Renewal forecast from {start} to {end}").format(start=first.isoformat(), end=last.isoformat()))
    for label in (_("month"), _("renewals"), _("ARR due"), _("expected ARR"), _("ARR at risk")):
        table.add_column(label, justify="left" if label == _("month") else "right")
    for m in lines:
        table.add_row(m.month or _("total"), str(m.renewals), f"{m.arr_due:,} {m.currency}",
                      f"{m.expected_arr:,}", f"{m.at_risk_arr:,} ({m.at_risk})")  # fmt: skip
    console.print(table)
    rate = Table(title=_("Renewal rate, last 12 months"))
    for label in (by, _("due"), _("kept"), _("ARR due"), _("ARR renewed"), _("ARR rate"), _("logo rate")):
        rate.add_column(label, justify="left" if label == by else "right")
    for x in rate_lines:
        rate.add_row(x.key or "—", str(x.due), str(x.kept), f"{x.arr_due:,} {x.currency}", f"{x.arr_renewed:,}",
                     "—" if x.arr_rate is None else f"{x.arr_rate:.1%}",
                     "—" if x.logo_rate is None else f"{x.logo_rate:.1%}")  # fmt: skip
    console.print(rate)
