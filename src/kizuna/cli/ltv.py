"""``kizuna ltv …``: customer lifetime value — the seed formulas (``formulas``) and the
probabilistic CLV models estimated from a file (``estimate``; ``fit`` is its old, hidden name:
"fit" is customer fit, ``kizuna fit``)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from kizuna.cli import context as cli_context
from kizuna.cli.context import console, err_console, load_settings
from kizuna.cli.kpis import check_format, open_kpi_backend, parse_day
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _

if TYPE_CHECKING:  # the service pulls in numpy/scipy: imported when the command runs
    from kizuna.analytics.ltv_accounts import BacktestRow, HoldOut
    from kizuna.services.ltv import FitReport

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


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


# --------------------------------------------------------------------------- per account (issue 21)

_ACCOUNT_COLUMNS = ("account_id", "external_id", "name", "segment", "term_months", "renewals", "pooled", "alpha",
                    "beta", "retention", "derl", "mrr", "payment", "currency", "discount_rate",
                    "annual_discount_rate", "margin", "revenue_to_date", "residual_value", "ltv", "as_of")  # fmt: skip


def _segment_name(segment: str) -> str:
    if segment == "*":
        return _("all segments (pooled)")
    return segment or _("every account")


@app.command("accounts")
def accounts(
    output: str = typer.Option("table", "--format", help="Output: table, csv or json."),
    refit: bool = typer.Option(False, "--refit", help="Refit and score first (the daily job's ltv step), as of --as-of."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="With --refit: the day to fit up to (default: today)."),
    limit: int = typer.Option(50, "--limit", min=1, help="Table output: how many accounts to show (csv and json: all)."),
) -> None:  # fmt: skip
    """Each paying account's lifetime value, largest first, with what it is made of:
    segment, fitted retention, tenure in renewals, MRR, payment per term, discount rate
    and margin. The residual value is DERL (sBG, Fader & Hardie 2010) × payment per term
    × margin; LTV adds the margin on revenue to date. See docs/ltv.md."""
    import csv
    import sys

    from kizuna.db import session_scope
    from kizuna.services import ltv_accounts

    cli_context.check_format(output, ("table", "csv", "json"))
    settings = load_settings()
    engine = cli_context.open_store(settings)
    with session_scope(engine) as session:
        if refit:
            ltv_accounts.refit_step(session, parse_day(as_of, settings), settings.run_context().ltv)
        views = ltv_accounts.accounts_ltv(session)
    rows = [{c: (v.isoformat() if c == "as_of" else v) for c in _ACCOUNT_COLUMNS for v in [getattr(view, c)]}
            for view in views]  # fmt: skip
    if output == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(_ACCOUNT_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    if not views:
        console.print(_("No lifetime values yet: run the daily job (kizuna jobs run daily) or kizuna ltv accounts --refit."))
        return
    table = Table(title=_("Lifetime value per account (as of {day})").format(day=views[0].as_of.isoformat()))
    for label in (_("account"), _("segment"), _("term"), _("renewals"), _("next renewal"), _("MRR"),
                  _("residual value"), _("LTV")):  # fmt: skip
        table.add_column(label, justify="left" if label in (_("account"), _("segment")) else "right")
    for v in views[:limit]:
        table.add_row(
            v.name, _segment_name(v.segment) + (" " + _("(pooled)") if v.pooled and v.segment != "*" else ""),
            _("{n} months").format(n=v.term_months), str(v.renewals),
            "—" if v.retention is None else f"{v.retention:.1%}", f"{v.mrr:,}",
            "—" if v.residual_value is None else f"{v.residual_value:,}", "—" if v.ltv is None else f"{v.ltv:,}",
        )  # fmt: skip
    console.print(table)
    console.print(_("{n} accounts; discount rate {rate:.1%} a year, margin {margin:.0%}.").format(
        n=f"{len(views):,}", rate=views[0].annual_discount_rate, margin=views[0].margin))  # fmt: skip


@app.command("backtest")
def backtest(
    cutoff: str | None = typer.Option(None, "--cutoff", metavar="YYYY-MM-DD", help="Fit on the history up to this day (default: 12 months before --as-of)."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The end of history (default: today)."),
    output: str = typer.Option("table", "--format", help="Output: table or json."),
    survivors: bool = typer.Option(False, "--survivors", help="Also print each segment's survivors by tenure band and renewal period."),
    observed_from: str | None = typer.Option(None, "--observed-from", metavar="YYYY-MM-DD", help="The day the contract history begins: earlier contracts are conditioned on having survived to it (default: KIZUNA_LTV_OBSERVED_FROM, else the store's first usage day or first churn, whichever is earlier; none without usage)."),
) -> None:  # fmt: skip
    """Fit each segment's retention on the contract history up to the cutoff, predict how
    many renewals each account running then makes by --as-of, and compare with what it
    did, against a constant churn rate per renewal fitted on the same history: the mean
    absolute error per account, the errors of the survivor counts by tenure band and
    renewal period, and the log-likelihood of the renewals since the cutoff."""
    from kizuna.db import session_scope
    from kizuna.domain.subscriptions import add_months
    from kizuna.services import ltv_accounts

    cli_context.check_format(output, ("table", "json"))
    settings = load_settings()
    end = parse_day(as_of, settings)
    start = add_months(end, -12) if cutoff is None else parse_day(cutoff, settings)
    engine = cli_context.open_store(settings)
    with session_scope(engine) as session:
        ltv = settings.run_context().ltv
        if observed_from is not None:
            ltv = dataclasses.replace(ltv, observed_from=_day_option(observed_from, "--observed-from"))
        rows = ltv_accounts.backtest(session, start, end, ltv)
        history = ltv_accounts.history_start(session, ltv)
    if output == "json":
        print(json.dumps({"cutoff": start.isoformat(), "as_of": end.isoformat(),
                          "observed_from": history.day.isoformat() if history.day else None,
                          "observed_from_inferred": history.inferred, "segments": [
            {"segment": r.segment, "term_months": r.term_months, "contracts": r.contracts, "actual": r.actual,
             "predicted_sbg": r.predicted_sbg, "predicted_baseline": r.predicted_baseline, "mae_sbg": r.mae_sbg,
             "mae_baseline": r.mae_baseline, "baseline_churn": None if r.segment == "*" else r.baseline_churn,
             "pooled": r.pooled, "constant": r.constant, "sbg_wins": r.sbg_wins, **_holdout_json(r.holdout)}
            for r in rows]},
            ensure_ascii=False, indent=2))  # fmt: skip
        return
    if not rows:
        console.print(_("Nothing to backtest: no segment has a fit and accounts running at the cutoff."))
        return
    table = Table(title=_("LTV backtest: renewals from {cutoff} to {as_of}").format(
        cutoff=start.isoformat(), as_of=end.isoformat()))  # fmt: skip
    for label in (_("segment"), _("term"), _("accounts"), _("actual renewals"), _("sBG"), _("constant churn"),
                  _("error sBG"), _("error constant churn")):  # fmt: skip
        table.add_column(label, justify="left" if label == _("segment") else "right")
    for r in rows:
        table.add_row(_segment_name(r.segment), _("{n} months").format(n=r.term_months), f"{r.contracts:,}",
                      f"{r.actual:.2f}", f"{r.predicted_sbg:.2f}", f"{r.predicted_baseline:.2f}",
                      f"{r.mae_sbg:.3f}", f"{r.mae_baseline:.3f}")  # fmt: skip
    console.print(table)
    console.print(_("Mean absolute error of each account's predicted vs actual renewals; lower is better."))
    if history.day is not None:
        console.print((_("The contract history begins on {day} (the store's first usage day, or its first churn if "
                         "earlier): contracts that started before it are taken as the survivors to it.")
                       if history.inferred else _("The contract history begins on {day}: contracts that started before "
                                                  "it are taken as the survivors to it.")).format(day=history.day.isoformat()))  # fmt: skip
    for term in sorted({r.term_months for r in rows if r.constant}):
        console.print(_("{n} months: too few contracts with this term ended, even pooled: the sBG column is the "
                        "constant churn rate, so the two tie.").format(n=term))  # fmt: skip
    _print_holdout(rows, survivors)


def _day_option(value: str, option: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("{option} must be a date like 2025-03-31, not {value!r}").format(option=option, value=value),
                           field=option.lstrip("-").replace("-", "_")) from None  # fmt: skip
    return cli_context.bounded_day(day, option)


def _number(value: float) -> float | None:
    return None if value != value else round(value, 4)  # NaN (no cell with survivors) → null


def _holdout_json(h: HoldOut | None) -> dict[str, object]:
    if h is None:
        return {}
    return {
        "survivors_mae_sbg": _number(h.survivors_mae_sbg), "survivors_mae_baseline": _number(h.survivors_mae_baseline),
        "survivors_mape_sbg": _number(h.survivors_mape_sbg),
        "survivors_mape_baseline": _number(h.survivors_mape_baseline),
        "log_likelihood_sbg": round(h.log_likelihood_sbg, 4),
        "log_likelihood_baseline": round(h.log_likelihood_baseline, 4),
        "survivors": [{"tenure_band": c.band, "period": c.period, "at_risk": c.at_risk, "actual": c.actual,
                       "sbg": round(c.sbg, 4), "baseline": round(c.baseline, 4)} for c in h.cells],
    }  # fmt: skip


def _percent(value: float) -> str:
    return "-" if value != value else f"{value:.1f}%"


def _print_holdout(rows: list[BacktestRow], survivors: bool) -> None:
    table = Table(title=_("Survivors by tenure band and renewal period, and the log-likelihood of the renewals"))
    for label in (_("segment"), _("term"), _("measure"), _("sBG"), _("constant churn")):
        table.add_column(label, justify="left" if label in (_("segment"), _("measure")) else "right")
    judged = [r for r in rows if r.holdout is not None]
    for r in judged:
        h = r.holdout
        assert h is not None
        name, term = _segment_name(r.segment), _("{n} months").format(n=r.term_months)
        table.add_row(name, term, _("survivors: mean absolute error"), f"{h.survivors_mae_sbg:.2f}",
                      f"{h.survivors_mae_baseline:.2f}")  # fmt: skip
        table.add_row("", "", _("survivors: mean absolute percentage error"), _percent(h.survivors_mape_sbg),
                      _percent(h.survivors_mape_baseline))  # fmt: skip
        table.add_row("", "", _("log-likelihood of the renewals"), f"{h.log_likelihood_sbg:,.1f}",
                      f"{h.log_likelihood_baseline:,.1f}", end_section=True)  # fmt: skip
    console.print(table)
    console.print(_("Survivor errors: mean over the tenure bands and periods of |expected − actual| survivors "
                    "(lower is better). Log-likelihood of what each account did since the cutoff: higher is better."))
    if not survivors:
        return
    for r in judged:
        h = r.holdout
        assert h is not None
        cells = Table(title=_("{segment}, {n} months: survivors by tenure band and renewal period").format(
            segment=_segment_name(r.segment), n=r.term_months))  # fmt: skip
        for label in (_("renewals at the cutoff"), _("renewal period"), _("accounts"), _("actual survivors"),
                      _("sBG"), _("constant churn")):  # fmt: skip
            cells.add_column(label, justify="right")
        for c in h.cells:
            cells.add_row(c.band, str(c.period), f"{c.at_risk:,}", f"{c.actual:,}", f"{c.sbg:,.1f}",
                          f"{c.baseline:,.1f}")  # fmt: skip
        console.print(cells)
