"""``kizuna churn``: the churn model (解約予測) — train, predict, evaluate, and evaluate on
your own table (see docs/churn.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from kizuna.cli.context import console, load_settings, open_store, today
from kizuna.cli.pipeline import parse_as_of
from kizuna.db import session_scope
from kizuna.errors import InvalidInput
from kizuna.i18n import _

if TYPE_CHECKING:
    from kizuna.analytics.churn import Metrics, TableEvaluation
    from kizuna.services.churn import Evaluation

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


def _check_format(output: str) -> None:
    if output not in ("table", "json"):
        raise InvalidInput(_("--format must be table or json"), field="format")


def _n(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _metrics_table(title: str, columns: list[tuple[str, Metrics]]) -> Table:
    table = Table(title=title)
    table.add_column(_("figure"))
    for name, _m in columns:
        table.add_column(name, justify="right")
    rows: list[tuple[str, Any]] = [
        (_("ROC-AUC"), lambda m: _n(m.roc_auc)), (_("PR-AUC"), lambda m: _n(m.pr_auc)),
        (_("Brier score"), lambda m: _n(m.brier, 4)), (_("top-decile lift"), lambda m: _n(m.top_decile_lift, 2)),
        (_("samples (churned)"), lambda m: f"{m.samples:,} ({m.positives:,})"),
    ]  # fmt: skip
    for label, get in rows:
        table.add_row(label, *[get(m) for _name, m in columns])
    return table


def _calibration(m: Metrics) -> Table:
    table = Table(title=_("Calibration (test months)"))
    table.add_column(_("predicted"), justify="right")
    table.add_column(_("observed"), justify="right")
    table.add_column(_("rows"), justify="right")
    for p, o, n in m.calibration:
        table.add_row(f"{p * 100:.1f}%", f"{o * 100:.1f}%", f"{n:,}")
    return table


def _show(result: Evaluation) -> None:
    months = _("trained on {a}–{b}, calibrated on {c}–{d}, tested on {e}–{f}").format(
        a=result.train_days[0], b=result.train_days[-1], c=result.calibration_days[0], d=result.calibration_days[-1],
        e=result.test_days[0], f=result.test_days[-1])  # fmt: skip
    console.print(months, markup=False, highlight=False)
    title = _("Churn model vs the health score ({h}-day horizon, test months)").format(h=result.horizon_days)
    console.print(_metrics_table(title, [(_("churn model"), result.model), (_("health score"), result.health),
                                         (_("naive signal"), result.naive)]))  # fmt: skip
    margin = result.margin
    if margin is not None:
        console.print(_("ROC-AUC margin over the health score: {m}").format(m=f"{margin:+.3f}"), highlight=False)
    warning = result.warning()
    if warning is not None:
        console.print(_("Warning: {text}").format(text=warning), markup=False, highlight=False, style="yellow")
    if result.selection is not None:
        console.print(_("Model chosen inside the training months: {name} (inner ROC-AUC {auc}, health score {health})")
                      .format(name=result.selection.chosen.name, auc=_n(result.selection.scores.get(
                          result.selection.chosen.name)), health=_n(result.selection.health)),
                      markup=False, highlight=False)  # fmt: skip
    console.print(_calibration(result.model))
    if result.version is not None:
        console.print(_("Saved as churn model version {v}.").format(v=result.version), highlight=False)


def _store_command(as_of: str | None, horizon_days: int, output: str, save: bool) -> None:
    from kizuna.services import churn

    _check_format(output)
    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    engine = open_store(settings)
    with session_scope(engine) as session:
        result = churn.evaluate(session, as_of=day, horizon_days=horizon_days, save=save)
    if output == "json":
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    _show(result)


@app.command("train")
def train(
    horizon_days: int = typer.Option(90, "--horizon-days", help="Churn counts when it happens within this many days."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The end of history (default: today)."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:  # fmt: skip
    """Train the churn model on the store's month-ends and save it as a new version.

    The earlier month-ends train, the next calibrate and the later ones test it against
    the health score alone and the naive signal; then a model trained on every month-end
    is saved with its feature schema."""
    _store_command(as_of, horizon_days, output, save=True)


@app.command("evaluate")
def evaluate(
    input_file: Path | None = typer.Option(None, "--input", metavar="FILE", help="Evaluate on this CSV file (one row per customer) instead of the store."),
    target: str | None = typer.Option(None, "--target", metavar="COLUMN", help="With --input: the column holding the churn label (yes/no, 1/0, true/false)."),
    id_column: str | None = typer.Option(None, "--id", metavar="COLUMN", help="With --input: the customer identifier column (left out of the model)."),
    cv: int = typer.Option(5, "--cv", help="With --input: the number of cross-validation folds."),
    horizon_days: int = typer.Option(90, "--horizon-days", help="Churn counts when it happens within this many days."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The end of history (default: today)."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:  # fmt: skip
    """Evaluate the churn model without saving it: on the store's later month-ends, or
    with --input on your own table by cross-validation.

    Reports ROC-AUC, PR-AUC, the Brier score, the lift in the riskiest tenth and a
    calibration table; on the store also the same figures for the health score alone."""
    if input_file is None:
        if target is not None or id_column is not None:
            raise InvalidInput(_("--target and --id need --input FILE"), field="input")
        _store_command(as_of, horizon_days, output, save=False)
        return
    from kizuna.services import churn

    _check_format(output)
    if target is None:
        raise InvalidInput(_("--input needs --target COLUMN: the column holding the churn label"), field="target")
    result = churn.evaluate_file(input_file, target=target, id_column=id_column, folds=cv)
    if output == "json":
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    _show_table(result)


def _show_table(result: TableEvaluation) -> None:
    console.print(_("{file}: {rows} rows, {churned} churned, {folds}-fold cross-validation").format(
        file=result.source, rows=f"{result.rows:,}", churned=f"{result.positives:,}", folds=result.folds),
        markup=False, highlight=False)  # fmt: skip
    if result.identifiers:
        console.print(_("Left out as identifiers: {names}").format(names=", ".join(result.identifiers)),
                      markup=False, highlight=False)  # fmt: skip
    if result.constant:
        console.print(_("Left out as constant: {names}").format(names=", ".join(result.constant)),
                      markup=False, highlight=False)  # fmt: skip
    for column, auc in result.leakage:
        console.print(_("Likely leakage, left out: {column} alone predicts the label (ROC-AUC {auc})").format(
            column=column, auc=f"{auc:.3f}"), style="yellow", markup=False, highlight=False)  # fmt: skip
    table = Table(title=_("Churn model, cross-validated"))
    table.add_column(_("figure"))
    table.add_column(_("mean"), justify="right")
    table.add_column(_("spread (sd)"), justify="right")
    labels = {"roc_auc": _("ROC-AUC"), "pr_auc": _("PR-AUC"), "brier": _("Brier score"),
              "top_decile_lift": _("top-decile lift")}  # fmt: skip
    for key, figures in result.summary().items():
        table.add_row(labels[key], _n(figures["mean"]), _n(figures["std"]))
    console.print(table)
    if result.best_single is not None:
        console.print(_("Best single column: {column} (ROC-AUC {auc})").format(
            column=result.best_single[0], auc=f"{result.best_single[1]:.3f}"), markup=False, highlight=False)  # fmt: skip
    console.print(_("Features used: {names}").format(names=", ".join(result.features)), markup=False, highlight=False)


@app.command("predict")
def predict(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day to score (default: today)."),
    output: str = typer.Option("table", "--format", help="table or json."),
    top: int = typer.Option(20, "--top", help="Show this many of the riskiest accounts."),
) -> None:  # fmt: skip
    """Score every paying account with the newest churn model and keep the scores; show
    the riskiest accounts with their reasons."""
    from kizuna.services import churn

    _check_format(output)
    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    engine = open_store(settings)
    with session_scope(engine) as session:
        n = churn.predict(session, as_of=day)
        probs = churn.probabilities(session)
        riskiest = sorted(probs, key=lambda a: -probs[a])[: max(0, top)]
        views = [v for v in (churn.account_churn(session, a) for a in riskiest) if v is not None]
    if output == "json":
        print(json.dumps({"as_of": day.isoformat(), "scored": n, "riskiest": [v.as_dict() for v in views]},
                         ensure_ascii=False, indent=2))  # fmt: skip
        return
    console.print(_("Scored {n} accounts as of {day}.").format(n=f"{n:,}", day=day), highlight=False)
    table = Table(title=_("Riskiest accounts"))
    table.add_column(_("account"), justify="right")
    table.add_column(_("churn risk"), justify="right")
    table.add_column(_("why"))
    for v in views:
        table.add_row(str(v.account_id), f"{v.probability * 100:.0f}%", "; ".join(v.drivers))
    console.print(table)
