"""``kizuna ltv …``: customer lifetime value — the seed formulas (``formulas``) and the
probabilistic models (``fit``, added by the CLV feature)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from kizuna.cli.context import console, load_settings
from kizuna.cli.ltv_fit import fit as fit_command
from kizuna.cli.report import FORMATS, check_format, open_kpi_backend, parse_day
from kizuna.i18n import _

app = typer.Typer(help="Customer lifetime value (LTV): the seed formulas and fitted CLV models.", no_args_is_help=True)
app.command("fit")(fit_command)  # probabilistic CLV models: kizuna/cli/ltv_fit.py


@app.command("formulas")
def formulas(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day to compute for (default: today)."),
    months: int | None = typer.Option(None, "--months", help="Months of history behind the inputs (default: KIZUNA_KPI_MONTHS, 12)."),
    output: str = typer.Option("table", "--format", help=f"Output: {', '.join(FORMATS)}."),
) -> None:  # fmt: skip
    """The five LTV formulas of the seeds, each with its inputs shown, and LTV:CAC.

    Margin, acquisition cost and retention cost come from KIZUNA_GROSS_MARGIN,
    KIZUNA_ACQUISITION_COST and KIZUNA_RETENTION_COST; money is in the default currency."""
    from kizuna.domain.money import CURRENCY_EXPONENTS
    from kizuna.services import metrics

    check_format(output)
    settings = load_settings()
    day = parse_day(as_of, settings)
    options = metrics.KpiOptions.from_settings(settings, months=months, segment_by=None)
    backend = open_kpi_backend(settings)
    try:
        report = metrics.ltv_report(backend, day, options)
    finally:
        metrics.close_backend(backend)
    data = metrics.ltv_to_dict(report, day, options.currency)
    if output == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if output == "csv":
        import csv
        import sys

        writer = csv.writer(sys.stdout)
        writer.writerow(["formula", "value", "input", "input_value", "unit"])
        for f in data["formulas"]:
            for i in f["inputs"]:
                writer.writerow([f["key"], f["value"], i["key"], i["value"], i["unit"]])
        return
    scale = 10 ** CURRENCY_EXPONENTS.get(options.currency, 0)
    table = Table(
        title=_("LTV formulas as of {date} ({currency})").format(date=day.isoformat(), currency=options.currency)
    )
    table.add_column(_("formula"))
    table.add_column(_("value"), justify="right")
    table.add_column(_("inputs"))
    for f in report.formulas:
        inputs = "\n".join(f"{_(i.label)} = {_show(i.value, i.unit, scale)}" for i in f.inputs)
        table.add_row(f"{_(f.name)}\n[dim]{_(f.expression)}[/dim]", _show(f.value, "money", scale), inputs)
    console.print(table)
    console.print(_("LTV:CAC = {value}").format(value=_show(report.ltv_cac, "ratio", 1)))
    for note in report.notes:
        console.print(f"[yellow]{_(note)}[/yellow]")


def _show(value: float | int | None, unit: str, scale: int) -> str:
    if value is None:
        return "—"
    if unit == "money":
        return f"{value / scale:,.{len(str(scale)) - 1}f}"
    if unit == "rate":
        return f"{value:.2%}"
    if unit == "percent":
        return f"{value:.2f}%"
    return f"{value:,.2f}"
