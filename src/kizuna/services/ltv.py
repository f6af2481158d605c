"""Fitting a probabilistic CLV model to a file: ``kizuna ltv estimate``.

Reads a CSV (UTF-8 with or without BOM, or CP932), checks every row — each problem is
reported as ``FILE:LINE: column: reason`` and nothing is fitted or written — fits the
model (:mod:`kizuna.analytics.ltv_models`) and computes the per-customer predictions, which
:func:`write_predictions` writes atomically.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kizuna.analytics import ltv_models
from kizuna.domain.spreadsheet import neutralise
from kizuna.errors import ImportRejected, InvalidInput, KizunaError, RowError
from kizuna.i18n import _, ngettext
from kizuna.services.imports.readers import Record, open_records

MODELS = ("bgnbd", "paretonbd", "gammagamma", "sbg")

#: Columns each model needs, and the ones it also reads when present.
REQUIRED: dict[str, tuple[str, ...]] = {
    "bgnbd": ("frequency", "recency", "T"),
    "paretonbd": ("frequency", "recency", "T"),
    "gammagamma": ("frequency", "monetary_value"),
    "sbg": ("period", "active"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "bgnbd": ("customer_id",),
    "paretonbd": ("customer_id",),
    "gammagamma": ("customer_id", "recency", "T"),
    "sbg": (),
}
#: How many time units of ``recency``/``T`` make a month (for the Gamma-Gamma CLV horizon).
UNITS = {"days": ltv_models.DAYS_PER_MONTH, "weeks": ltv_models.WEEKS_PER_MONTH, "months": 1.0}

DEFAULT_HORIZON = {"bgnbd": 52.0, "paretonbd": 52.0, "gammagamma": 12.0}
DEFAULT_DISCOUNT = {"gammagamma": 0.01, "sbg": 0.10}


@dataclass
class FitInputRejected(ImportRejected):
    """The input file has bad rows; nothing was fitted or written."""

    def __post_init__(self) -> None:
        n = len(self.errors)
        problems = ngettext("{n} problem", "{n} problems", n).format(n=f"{n:,}")
        rows = ngettext("{n} row", "{n} rows", self.rows_read).format(n=f"{self.rows_read:,}")
        message = _("{problems} found in {rows}; nothing was fitted or written").format(problems=problems, rows=rows)
        InvalidInput.__init__(self, message, code="invalid_input")


@dataclass(frozen=True)
class FitOptions:
    """What to fit and predict. ``None`` picks the model's default."""

    horizon: float | None = None  # time units of T (bgnbd, paretonbd); months (gammagamma); last period (sbg)
    discount_rate: float | None = None  # per month (gammagamma CLV); per period (sbg DERL)
    fit_through: int | None = None  # sbg: fit on periods 0..fit_through only
    unit: str = "weeks"  # time unit of recency and T (gammagamma CLV)
    margin: float = 1.0  # share of spend that is profit (gammagamma CLV)
    encoding: str | None = None


@dataclass
class FitReport:
    """A fitted model, its summary, and per-row predictions (column name → values)."""

    model: str
    path: str
    fit: Any
    horizon: float | None
    discount_rate: float | None
    summary: dict[str, float | int | None] = field(default_factory=dict)
    predictions: dict[str, list[Any]] = field(default_factory=dict)
    purchase_model: ltv_models.BGNBDFit | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "input": self.path,
            "n": self.fit.n,
            "parameters": {k: _num(v) for k, v in self.fit.params.items()},
            "log_likelihood": _num(self.fit.log_likelihood),
            "converged": self.fit.converged,
            "iterations": self.fit.iterations,
            "horizon": self.horizon,
            "discount_rate": self.discount_rate,
            "summary": {k: _num(v) for k, v in self.summary.items()},
        }
        if self.purchase_model is not None:
            pm = self.purchase_model
            out["purchase_model"] = {
                "model": pm.model,
                "parameters": {k: _num(v) for k, v in pm.params.items()},
                "log_likelihood": _num(pm.log_likelihood),
                "converged": pm.converged,
            }
        if self.model == "sbg":
            out["projection"] = [dict(zip(self.predictions, row, strict=True)) for row in self.prediction_rows()]
        return out

    def prediction_rows(self, *, json_safe: bool = True) -> Iterator[list[Any]]:
        """Rows of predictions; ``json_safe`` turns infinite values into ``None``."""
        columns = list(self.predictions.values())
        for i in range(len(columns[0]) if columns else 0):
            yield [_num(c[i]) if json_safe else c[i] for c in columns]


def _num(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if not math.isfinite(v) else v
    if isinstance(value, np.integer):
        return int(value)
    return value


# --------------------------------------------------------------------------- reading


@dataclass
class _Table:
    label: str
    lines: list[int]
    values: dict[str, list[Any]]
    errors: list[RowError]
    rows: int = 0  # data rows read so far, good or bad

    def floats(self, column: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(self.values[column], dtype=np.float64)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _read(path: Path, model: str, encoding: str | None) -> _Table:
    if not path.is_file():
        raise InvalidInput(_("no such file: {path}").format(path=path), field="input")
    label = str(path)
    errors: list[RowError] = []
    columns, records = open_records(path, fmt="csv", encoding=encoding, errors=errors)
    if errors:
        raise FitInputRejected(errors, rows_read=0)
    missing = [c for c in REQUIRED[model] if c not in columns]
    if missing:
        records.close()  # type: ignore[attr-defined]
        raise FitInputRejected(
            [RowError(label, 1, c, _("missing column (this model needs {columns})").format(
                columns=", ".join(REQUIRED[model]))) for c in missing],
            rows_read=0,
        )  # fmt: skip
    wanted = [*REQUIRED[model], *(c for c in OPTIONAL[model] if c in columns)]
    table = _Table(label, [], {c: [] for c in wanted}, errors)
    for record in records:
        table.rows += 1
        if record.values is None:
            continue
        _check_row(model, table, record)
    rows = table.rows
    if rows == 0:
        raise InvalidInput(_("{path}: no rows to fit").format(path=label), field="input")
    if errors:
        raise FitInputRejected(sorted(errors, key=lambda e: (e.line, e.column)), rows_read=rows)
    return table


def _check_row(model: str, table: _Table, record: Record) -> None:
    assert record.values is not None
    values, line, label = record.values, record.line, table.label
    problems: list[RowError] = []

    def bad(column: str, reason: str) -> None:
        problems.append(RowError(label, line, column, reason))

    def whole(column: str) -> float | None:
        raw = values.get(column)
        v = _number(raw)
        if raw is None:
            bad(column, _("required"))
        elif v is None:
            bad(column, _("not a number: {value!r}").format(value=raw))
        elif v < 0 or v != math.floor(v):
            bad(column, _("must be a whole number ≥ 0, not {value!r}").format(value=raw))
        else:
            return v
        return None

    def nonneg(column: str, *, positive: bool = False) -> float | None:
        raw = values.get(column)
        v = _number(raw)
        if raw is None:
            bad(column, _("required"))
        elif v is None:
            bad(column, _("not a number: {value!r}").format(value=raw))
        elif positive and v <= 0:
            bad(column, _("must be > 0, not {value!r}").format(value=raw))
        elif v < 0:
            bad(column, _("must be ≥ 0, not {value!r}").format(value=raw))
        else:
            return v
        return None

    row: dict[str, Any] = {}
    if model == "sbg":
        period, active = whole("period"), whole("active")
        expected = table.rows - 1
        if period is not None and period != expected:
            bad("period", _("expected period {expected} (periods run 0, 1, 2, … in order), not {value}").format(
                expected=expected, value=int(period)))  # fmt: skip
        if active is not None:
            previous = table.values["active"][-1] if table.values["active"] else None
            if previous is not None and active > previous:
                bad("active", _("{value} is more than the {previous} active in the period before: "
                                "customers who left cannot come back in a cohort").format(
                    value=int(active), previous=int(previous)))  # fmt: skip
            if expected == 0 and active == 0:
                bad("active", _("period 0 is the cohort size and must be > 0"))
        row = {"period": _int(period), "active": _int(active)}
    else:
        frequency = whole("frequency")
        row["frequency"] = _int(frequency)
        if "recency" in table.values:
            recency, age = nonneg("recency"), nonneg("T", positive=True)
            if recency is not None and age is not None and recency > age:
                bad("recency", _("{recency} is after T ({T}): the last purchase cannot come after the end of the "
                                 "observation").format(recency=values["recency"], T=values["T"]))  # fmt: skip
            if frequency == 0 and recency is not None and recency > 0:
                bad("recency", _("must be 0 when frequency is 0 (no repeat purchase), not {value!r}").format(
                    value=values["recency"]))  # fmt: skip
            row.update(recency=recency, T=age)
        if "monetary_value" in table.values:
            money = nonneg("monetary_value")
            if money is not None and frequency is not None and frequency > 0 and money == 0:
                bad("monetary_value", _("must be > 0 for a customer with repeat purchases"))
            row["monetary_value"] = money
        if "customer_id" in table.values:
            row["customer_id"] = values.get("customer_id") or ""
    if problems:
        table.errors.extend(problems)
        return
    table.lines.append(line)
    for column, value in row.items():
        table.values[column].append(value)


# --------------------------------------------------------------------------- fitting


def fit_file(path: Path, model: str, options: FitOptions | None = None) -> FitReport:
    """Read ``path``, fit ``model`` and compute its predictions. Writes nothing."""
    options = options or FitOptions()
    if model not in MODELS:
        raise InvalidInput(
            _("unknown model {model!r}: use one of {models}").format(model=model, models=", ".join(MODELS)),
            field="model",
        )
    if options.unit not in UNITS:
        raise InvalidInput(
            _("unknown time unit {unit!r}: use one of {units}").format(unit=options.unit, units=", ".join(UNITS)),
            field="unit",
        )
    if options.horizon is not None and not options.horizon > 0:
        raise InvalidInput(_("--horizon must be > 0"), field="horizon")
    if options.discount_rate is not None and not options.discount_rate >= 0:
        raise InvalidInput(_("--discount-rate must be ≥ 0"), field="discount_rate")
    table = _read(path, model, options.encoding)
    try:
        if model == "sbg":
            return _fit_sbg(table, options)
        if model == "gammagamma":
            return _fit_spend(table, options)
        return _fit_purchases(table, model, options)
    except KizunaError as exc:
        raise InvalidInput(f"{table.label}: {exc.message}", field=exc.field) from None


def _ids(table: _Table) -> dict[str, list[Any]]:
    if "customer_id" in table.values:
        return {"customer_id": table.values["customer_id"]}
    return {"line": table.lines}


def _fit_purchases(table: _Table, model: str, options: FitOptions) -> FitReport:
    x, tx, t = table.floats("frequency"), table.floats("recency"), table.floats("T")
    horizon = options.horizon or DEFAULT_HORIZON[model]
    fit: ltv_models.BGNBDFit | ltv_models.ParetoNBDFit = ltv_models.fit_bgnbd(x, tx, t) if model == "bgnbd" else ltv_models.fit_paretonbd(x, tx, t)
    alive = fit.probability_alive(x, tx, t)
    expected = fit.expected_purchases(horizon, x, tx, t)
    report = FitReport(model, table.label, fit, horizon, None)
    report.summary = {
        "customers": len(x),
        "repeat_customers": int((x > 0).sum()),
        "mean_probability_alive": float(alive.mean()),
        "expected_purchases_total": float(expected.sum()),
        "expected_purchases_new_customer": float(fit.expected_purchases_new_customer(horizon)),
    }
    report.predictions = {
        **_ids(table),
        "frequency": table.values["frequency"],
        "recency": table.values["recency"],
        "T": table.values["T"],
        "probability_alive": alive.tolist(),
        "expected_purchases": expected.tolist(),
    }
    return report


def _fit_spend(table: _Table, options: FitOptions) -> FitReport:
    x, m = table.floats("frequency"), table.floats("monetary_value")
    fit = ltv_models.fit_gammagamma(x, m)
    value = fit.expected_average_value(x, m)
    with_clv = "recency" in table.values
    months = options.horizon or DEFAULT_HORIZON["gammagamma"]
    rate = DEFAULT_DISCOUNT["gammagamma"] if options.discount_rate is None else options.discount_rate
    report = FitReport("gammagamma", table.label, fit, months if with_clv else None, rate if with_clv else None)
    report.summary = {
        "customers": len(x),
        "repeat_customers": fit.n,
        "population_mean_spend": fit.population_mean_spend,
        "mean_observed_spend": float(m[x > 0].mean()),
    }
    report.predictions = {
        **_ids(table),
        "frequency": table.values["frequency"],
        "monetary_value": table.values["monetary_value"],
        "expected_average_value": value.tolist(),
    }
    if with_clv:
        if months != math.floor(months):
            raise InvalidInput(_("--horizon is a whole number of months for the CLV"), field="horizon")
        tx, t = table.floats("recency"), table.floats("T")
        purchases = ltv_models.fit_bgnbd(x, tx, t)
        per_month = UNITS[options.unit]
        residual = ltv_models.expected_residual_clv(
            purchases, fit, x, tx, t, m,
            months=int(months), monthly_discount_rate=rate, periods_per_month=per_month, margin=options.margin,
        )  # fmt: skip
        report.purchase_model = purchases
        report.summary["expected_clv_total"] = float(residual.sum())
        report.summary["expected_clv_mean"] = float(residual.mean())
        report.predictions["recency"] = table.values["recency"]
        report.predictions["T"] = table.values["T"]
        report.predictions["probability_alive"] = purchases.probability_alive(x, tx, t).tolist()
        report.predictions["expected_purchases"] = purchases.expected_purchases(months * per_month, x, tx, t).tolist()
        report.predictions["expected_clv"] = residual.tolist()
    return report


def _fit_sbg(table: _Table, options: FitOptions) -> FitReport:
    period, active = table.floats("period"), table.floats("active")
    last = len(period) - 1
    through = last if options.fit_through is None else options.fit_through
    if not 1 <= through <= last:
        raise InvalidInput(_("--fit-through must be a period from 1 to {last}").format(last=last), field="fit_through")
    fit = ltv_models.fit_sbg(period[: through + 1], active[: through + 1])
    horizon = int(options.horizon) if options.horizon is not None else last + 12
    if horizon < 1:
        raise InvalidInput(_("--horizon must be > 0"), field="horizon")
    rate = DEFAULT_DISCOUNT["sbg"] if options.discount_rate is None else options.discount_rate
    if rate <= 0:
        raise InvalidInput(_("--discount-rate must be > 0 for the sBG DERL"), field="discount_rate")
    ts = np.arange(0, max(horizon, last) + 1, dtype=np.float64)
    survival = fit.survival(ts)
    size = float(active[0])
    observed: list[int | None] = [int(a) for a in active] + [None] * (len(ts) - len(active))
    retention: list[float | None] = [None, *fit.retention_rate(ts[1:]).tolist()]
    report = FitReport("sbg", table.label, fit, float(horizon), rate)
    report.summary = {
        "cohort_size": int(size),
        "fitted_periods": through,
        "observed_periods": last,
        "expected_lifetime_new_customer": float(fit.expected_remaining_lifetime(0)),
        "derl_new_customer": float(fit.derl(0, rate)),
    }
    report.predictions = {
        "period": ts.astype(int).tolist(),
        "observed_active": observed,
        "survival": survival.tolist(),
        "projected_active": (survival * size).tolist(),
        "retention_rate": retention,
        "expected_remaining_lifetime": fit.expected_remaining_lifetime(ts).tolist(),
        "derl": fit.derl(ts, rate).tolist(),
    }
    return report


# --------------------------------------------------------------------------- writing


def write_predictions(report: FitReport, out: Path) -> int:
    """Write the predictions as CSV, atomically (a temporary file renamed into place).

    Returns the number of rows written."""
    if out.exists() and out.is_dir():
        raise InvalidInput(_("{path} is a folder, not a file").format(path=out), field="predict")
    if not out.parent.is_dir():
        raise InvalidInput(_("no such folder: {path}").format(path=out.parent), field="predict")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    rows = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(list(report.predictions))
            for row in report.prediction_rows(json_safe=False):
                # Customer ids come from the user's file: text a spreadsheet would run gets a '.
                writer.writerow(["" if v is None else neutralise(v) if isinstance(v, str) else v for v in row])
                rows += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return rows
