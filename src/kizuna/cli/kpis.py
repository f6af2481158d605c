"""``kizuna kpis``: the customer-success, revenue and support KPIs (``kizuna kpis``
is the same command under its old name)."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any

import typer
from rich.table import Table

from kizuna.cli import context, summary
from kizuna.cli.context import bounded_day, console, load_settings, open_store, settle_imports, today
from kizuna.cli.tables import print_fitted
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _
from kizuna.settings import Settings

report_app = typer.Typer(no_args_is_help=True)  # its help, and kpis's summary: COMMANDS in kizuna.cli

FORMATS = ("table", "json", "csv")


def check_format(value: str) -> None:
    context.check_format(value, FORMATS)


def parse_day(value: str | None, settings: Settings) -> date:
    if value is None:
        return today(settings)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            _("--as-of must be a date like 2025-03-31, not {value!r}").format(value=value), field="as_of"
        ) from None
    return bounded_day(day)


def open_kpi_backend(settings: Settings) -> Any:
    """The analytics backend: KIZUNA_ANALYTICS_URL, else the store (its schema brought up to date)."""
    from kizuna.analytics import compiled
    from kizuna.services import kpis

    compiled.use_folder(settings.sql_cache_folder)  # the compiled SQL an earlier command kept
    settle_imports()
    if settings.analytics_url is None:
        open_store(settings).dispose()
    return kpis.open_backend(settings.database_url, settings.analytics_url)


#: The help after the summary (the summary: COMMANDS in kizuna.cli).
KPIS_MORE_HELP = "\n\n".join((
    N_("Money is in minor units of the default currency (KIZUNA_DEFAULT_CURRENCY); lines in other currencies are "
       "left out and counted. Definitions: docs/kpis.md."),
    N_("In a narrow terminal the months are shown in several tables; --format csv or json gives every column."),
))  # fmt: skip


def kpis(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help=N_("The day to report on (default: today).")),
    months: int | None = typer.Option(None, "--months", help=N_("How many months to report (default: KIZUNA_KPI_MONTHS, 12).")),
    segment_by: str = typer.Option("plan", "--by", help=N_("Break revenue and NPS down by the segment each account had at the start of each month: plan, tier, stage, owner, fit, industry, or none.")),
    output: str = typer.Option("table", "--format", help=N_("Output: table, json or csv (csv: one row per month, every column in one table).")),
) -> None:  # fmt: skip
    from kizuna.services import kpis

    check_format(output)
    settings = load_settings()
    day = parse_day(as_of, settings)
    options = kpis.KpiOptions.from_settings(
        settings, months=months, segment_by=None if segment_by in ("none", "") else segment_by
    )
    backend = open_kpi_backend(settings)
    try:
        report = kpis.kpi_report(backend, day, options)
    finally:
        kpis.close_backend(backend)
    if output == "json":
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    if output == "csv":
        kpis.monthly_frame(report).to_csv(sys.stdout, index=False)
        return
    _show_table(report)


report_app.command("kpis", help=f"{summary('kpis')}\n\n{KPIS_MORE_HELP}")(kpis)


def _pct(value: Any) -> str:
    return "—" if value is None or value != value else f"{value:.1%}"


def _num(value: Any, digits: int = 0) -> str:
    return "—" if value is None or value != value else f"{value:,.{digits}f}"


def _show_table(report: Any) -> None:
    h = report.headline
    head = Table(title=_("KPIs as of {date} ({currency}, {backend})").format(
        date=report.as_of.isoformat(), currency=report.currency, backend=report.backend))  # fmt: skip
    head.add_column(_("metric"))
    head.add_column(_("value"), justify="right")
    rows = [
        (_("MRR"), _num(h.mrr)), (_("ARR"), _num(h.arr)), (_("paying accounts"), _num(h.paying_accounts)),
        (_("logo churn rate (monthly, last 12 months)"), _pct(h.logo_churn_rate)),
        (_("GRR (12 months)"), _pct(h.grr_12m)), (_("NRR (12 months)"), _pct(h.nrr_12m)),
        (_("NPS"), _num(h.nps, 1)), (_("onboarding completion rate"), _pct(h.onboarding_completion_rate)),
        (_("upsell rate"), _pct(h.upsell_rate)), (_("cross-sell rate"), _pct(h.cross_sell_rate)),
        (_("median first response (hours)"), _num(h.median_frt_hours, 2)),
        (_("MRR share of the top 20% of accounts"), _pct(h.top_20_share)), (_("Gini"), _num(h.gini, 3)),
        (_("LTV (ARPA × 100 ÷ churn %)"), _num(h.ltv)), (_("LTV:CAC"), _num(h.ltv_cac, 2)),
    ]  # fmt: skip
    for name, value in rows:
        head.add_row(name, value)
    console.print(head)
    headers = (_("month"), _("MRR"), _("new"), _("expansion"), _("contraction"), _("churned"), _("reactivation"),
               _("logo churn"), _("GRR"), _("NRR"), _("NRR 12m"), _("NPS"), _("tickets/account"))  # fmt: skip
    from kizuna.services.kpis import monthly_rows

    month_rows = [_month_row(r) for r in monthly_rows(report)]
    # a narrow terminal gets the months in several tables, never cut cells (--format csv: all in one)
    print_fitted(console, _("By month"), headers, month_rows)
    st = report.support_totals
    console.print(
        _("Support over the window: {tickets} tickets, answer rate {answer}, resolution rate {resolution}, "
          "mean first response {mean} h, exchanges to resolve {exchanges}, CSAT {csat}").format(
            tickets=_num(st["tickets"]), answer=_pct(st["answer_rate"]), resolution=_pct(st["resolution_rate"]),
            mean=_num(st["mean_frt_hours"], 2), exchanges=_num(st["exchanges_to_resolve"], 2), csat=_num(st["csat"], 2),
        )
    )  # fmt: skip
    for row in report.excluded_currencies:
        console.print(_("Left out: {accounts} accounts with {lines} lines in {currency}").format(**row))


def _month_row(r: Any) -> tuple[str, ...]:  # a services.kpis.MonthlyKpis
    return (
        r.month, _num(r.mrr), _num(r.new), _num(r.expansion), _num(r.contraction), _num(r.churned),
        _num(r.reactivation), _pct(r.logo_churn_rate), _pct(r.grr), _pct(r.nrr), _pct(r.nrr_12m), _num(r.nps, 1),
        _num(r.tickets_per_account, 3),
    )  # fmt: skip
