"""``kizuna ltv …``: customer lifetime value — the seed formulas (``formulas``) and the
probabilistic CLV models estimated from a file (``estimate``; ``fit`` is its old, hidden name:
"fit" is customer fit, ``kizuna fit``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from kizuna.cli.context import console, err_console, load_settings
from kizuna.cli.kpis import check_format, open_kpi_backend, parse_day
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _

if TYPE_CHECKING:  # the service pulls in numpy/scipy: imported when the command runs
    from kizuna.services.ltv import FitReport

app = typer.Typer(help="Customer lifetime value (LTV): the seed formulas and fitted CLV models.", no_args_is_help=True)


@app.command("formulas")
def formulas(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day to compute for (default: today)."),
    months: int | None = typer.Option(None, "--months", help="Months of history behind the inputs (default: KIZUNA_KPI_MONTHS, 12)."),
    output: str = typer.Option("table", "--format", help="Output: table, json or csv."),
) -> None:  # fmt: skip
    """The five LTV formulas of the seeds, each with its inputs shown, and LTV:CAC.

    Margin, acquisition cost and retention cost come from KIZUNA_GROSS_MARGIN,
    KIZUNA_ACQUISITION_COST and KIZUNA_RETENTION_COST; money is in the default currency."""
    from kizuna.domain.money import CURRENCY_EXPONENTS
    from kizuna.services import kpis

    check_format(output)
    settings = load_settings()
    day = parse_day(as_of, settings)
    options = kpis.KpiOptions.from_settings(settings, months=months, segment_by=None)
    backend = open_kpi_backend(settings)
    try:
        report = kpis.ltv_report(backend, day, options)
    finally:
        kpis.close_backend(backend)
    data = kpis.ltv_to_dict(report, day, options.currency)
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


_FORMATS = ("table", "json")


def estimate(
    model: str = typer.Option(
        ..., "--model", help="bgnbd, paretonbd (repeat purchases), gammagamma (spend) or sbg (subscription retention)."
    ),
    input_path: Path = typer.Option(
        ..., "--input", metavar="FILE",
        help="CSV. bgnbd/paretonbd: frequency,recency,T (optional customer_id); gammagamma: "
        "frequency,monetary_value (optional customer_id, and recency,T for the residual value); "
        "sbg: period,active (period 0 = cohort size).",
    ),
    output: str = typer.Option("table", "--format", help="Output: table or json."),
    predict: Path | None = typer.Option(
        None, "--predict", metavar="OUT.csv", help="Also write the predictions (one row per customer; sbg: per period)."
    ),
    horizon: float | None = typer.Option(
        None, "--horizon",
        help="bgnbd/paretonbd: time units of T to predict (default 52); gammagamma: months of CLV (default 12); "
        "sbg: the last period to project (default: last observed + 12).",
    ),
    discount_rate: float | None = typer.Option(
        None, "--discount-rate", help="gammagamma: per month (default 0.01); sbg DERL: per period (default 0.10)."
    ),
    fit_through: int | None = typer.Option(
        None, "--fit-through", metavar="PERIOD", help="sbg: fit on periods 0..PERIOD only; later ones are held out."
    ),
    unit: str = typer.Option("weeks", "--unit", help="gammagamma CLV: the time unit of recency and T (days, weeks, months)."),
    margin: float = typer.Option(1.0, "--margin", help="gammagamma CLV: the share of spend that is profit (0–1)."),
    encoding: str | None = typer.Option(None, "--encoding", help="The file's encoding (utf-8, cp932). Default: detected."),
) -> None:  # fmt: skip
    """Estimate a customer lifetime value model by maximum likelihood and print its parameters.

    BG/NBD and Pareto/NBD predict purchases and P(alive) from frequency (repeat
    purchases), recency (time of the last one) and T (time since the first purchase).
    Gamma-Gamma predicts average spend; with recency and T in the file it also fits
    BG/NBD and gives each customer's discounted expected residual value. sbg fits a
    cohort's renewals and projects survival, retention and DERL. Bad rows are listed as
    FILE:LINE: column: reason and nothing is written. See docs/ltv.md.
    """
    from kizuna.services import ltv

    if output not in _FORMATS:
        raise InvalidInput(
            _("--format must be one of {formats}, not {value!r}").format(formats=", ".join(_FORMATS), value=output),
            field="format",
        )
    options = ltv.FitOptions(
        horizon=horizon, discount_rate=discount_rate, fit_through=fit_through, unit=unit, margin=margin,
        encoding=encoding,
    )  # fmt: skip
    report = ltv.fit_file(input_path, model.lower(), options)
    written = ltv.write_predictions(report, predict) if predict is not None else None
    if output == "json":
        data = report.to_dict()
        data["predictions_file"] = str(predict) if predict is not None else None
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _render(report)
        if predict is not None:
            console.print(_("Predictions for {n} rows written to {path}").format(n=f"{written:,}", path=predict))
    if not report.fit.converged:
        err_console.print(
            _("Warning: the optimiser did not converge; treat these estimates with care."), style="yellow"
        )


def _render(report: FitReport) -> None:
    fit = report.fit
    table = Table(title=_("{model}: maximum-likelihood estimates").format(model=_MODEL_NAMES[report.model]),
                  caption=report.path)  # fmt: skip
    table.add_column(_("parameter"))
    table.add_column(_("estimate"), justify="right")
    for name, value in fit.params.items():
        table.add_row(name, f"{value:.4f}")
    table.add_row(_("log-likelihood"), f"{fit.log_likelihood:,.4f}")
    table.add_row(_("observations"), f"{fit.n:,}")
    table.add_row(_("converged"), _("yes") if fit.converged else _("no"))
    table.add_row(_("iterations"), str(fit.iterations))
    console.print(table)
    if report.purchase_model is not None:
        pm = report.purchase_model
        console.print(
            _("Purchases (BG/NBD, fitted on the same file): {params}; log-likelihood {ll:,.4f}").format(
                params=", ".join(f"{k} = {v:.4f}" for k, v in pm.params.items()), ll=pm.log_likelihood
            )
        )
    summary = Table(title=_("Fit summary"), show_header=False)
    summary.add_column()
    summary.add_column(justify="right")
    for key, value in report.summary.items():
        label = _(_SUMMARY_LABELS.get(key, key)).format(horizon=_fmt(report.horizon), rate=_fmt(report.discount_rate))
        summary.add_row(label, _fmt(value))
    console.print(summary)
    if report.model == "sbg":
        projection = Table(title=_("Projection"))
        for column in report.predictions:
            projection.add_column(_(_PROJECTION_LABELS[column]), justify="right", overflow="fold")
        for row in report.prediction_rows(json_safe=False):
            projection.add_row(*(_fmt(v) for v in row))
        console.print(projection)


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "∞" if value > 0 else "—"
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1 else f"{value:,.4f}"
    return str(value)


_MODEL_NAMES = {"bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD", "gammagamma": "Gamma-Gamma", "sbg": "sBG"}
_SUMMARY_LABELS = {
    "customers": N_("customers"),
    "repeat_customers": N_("customers with repeat purchases"),
    "mean_probability_alive": N_("mean P(alive)"),
    "expected_purchases_total": N_("expected purchases in the next {horizon} time units (all customers)"),
    "expected_purchases_new_customer": N_("expected purchases of a new customer in {horizon} time units"),
    "population_mean_spend": N_("population mean spend per transaction"),
    "mean_observed_spend": N_("mean observed spend per transaction"),
    "expected_clv_total": N_("expected residual value over {horizon} months, discounted at {rate}/month (all)"),
    "expected_clv_mean": N_("expected residual value per customer"),
    "cohort_size": N_("cohort size"),
    "fitted_periods": N_("periods fitted"),
    "observed_periods": N_("periods observed"),
    "expected_lifetime_new_customer": N_("expected renewals of a new customer"),
    "derl_new_customer": N_("DERL of a new customer at {rate}/period (payments)"),
}
_PROJECTION_LABELS = {
    "period": N_("period"),
    "observed_active": N_("observed active"),
    "survival": N_("survival S(t)"),
    "projected_active": N_("projected active"),
    "retention_rate": N_("retention rate"),
    "expected_remaining_lifetime": N_("expected renewals to come"),
    "derl": N_("DERL"),
}


app.command("estimate")(estimate)
app.command("fit", hidden=True)(estimate)  # the old name
