"""The KPI dashboard (``/kpis``) and the accounts behind each of its numbers
(``/kpis/accounts``).

JSON twins: ``GET /api/kpis`` (the same report) and ``GET /api/kpis/accounts`` (the same
drill-down); ``kizuna kpis`` prints the report on the command line.

The report takes a second or more on a large store, so a page computes it once and keeps
it in the app for :data:`CACHE_SECONDS` (per store, analytics URL, the store's version,
day and options): a reload, a language switch or coming back from a drill-down within a
minute is instant; on SQLite a committed change shows at once (the store's version
changes), elsewhere figures are never more than a minute behind the store.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlencode

import pandas as pd
from babel.dates import format_date
from fastapi import APIRouter, Request
from fastapi.responses import Response

from kizuna.analytics.backend import store_tables
from kizuna.domain.dates import DATE_OUT_OF_RANGE, in_range, out_of_range_message
from kizuna.domain.kpi_targets import Target, parse_targets
from kizuna.domain.money import CURRENCY_EXPONENTS
from kizuna.domain.segments import FIT_LABELS, STAGE_LABELS, TIER_LABELS
from kizuna.errors import InvalidInput
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.i18n import Formatter
from kizuna.http.state import app_state
from kizuna.http.templating import render
from kizuna.i18n import N_, _, get_language
from kizuna.services import accounts as accounts_service
from kizuna.services import kb, kpis, onboarding
from kizuna.services import surveys as surveys_service
from kizuna.settings import Settings

router = APIRouter(include_in_schema=False)

#: How long a computed report is reused (seconds), and how many are kept.
CACHE_SECONDS = 60.0
CACHE_ENTRIES = 8
MAX_MONTHS = 120
#: Break-downs offered by the selector: each month by the segment the account had at its start.
SEGMENT_CHOICES = {
    "plan": N_("Plan"), "tier": N_("Touch tier"), "stage": N_("Lifecycle stage"), "owner": N_("Owner"),
    "fit": N_("Customer fit"), "none": N_("No breakdown"),
}  # fmt: skip
#: Older spellings still accepted in links.
SEGMENT_ALIASES = {"touch_tier": "tier", "lifecycle_stage": "stage", "fit_band": "fit"}
MOVEMENTS = ("new", "expansion", "reactivation", "contraction", "churned")
MOVEMENT_LABELS = {
    "new": N_("New"), "expansion": N_("Expansion"), "reactivation": N_("Reactivation"),
    "contraction": N_("Contraction"), "churned": N_("Churned"),
}  # fmt: skip
#: What each drill-down lists (title), in the reader's language.
DRILLDOWN_TITLES = {
    "mrr": N_("MRR in {month}"), "new": N_("New MRR in {month}"), "expansion": N_("Expansion MRR in {month}"),
    "contraction": N_("Contraction MRR in {month}"), "churned": N_("Churned MRR in {month}"),
    "reactivation": N_("Reactivation MRR in {month}"),
    "retained_12m": N_("Accounts paying 12 months before {month}"),
    "cohort": N_("Cohort {month}, month {age}"), "upsell": N_("Upsold accounts"),
    "cross_sell": N_("Cross-sold accounts"), "top_20": N_("Top 20 % of accounts by MRR"),
}  # fmt: skip
COLOURS = {
    "new": "#1b7f4b", "expansion": "#38a169", "reactivation": "#81c995", "contraction": "#d97706",
    "churned": "#c53030", "net": "#1d2430", "nrr": "#2f5fd0", "grr": "#b3261e", "promoters": "#1b7f4b",
    "passives": "#a0a7b4", "detractors": "#c53030", "tickets": "#6b8fd6", "mean": "#d97706", "median": "#b3261e",
}  # fmt: skip
PALETTE = ("#2f5fd0", "#b3261e", "#1b7f4b", "#d97706", "#7b3fb5", "#0f8a96", "#6b7483")
GRID = {"color": "#eef0f3"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
T = TypeVar("T")


# --- parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiParams:
    """The dashboard's query string, checked (to rebuild links from)."""

    as_of: date
    months: int
    by: str
    defaults: tuple[date, int] = field(compare=False, default=(date.min, 0))

    def query(self, **extra: Any) -> str:
        values: dict[str, Any] = {}
        if self.as_of != self.defaults[0]:
            values["as_of"] = self.as_of.isoformat()
        if self.months != self.defaults[1]:
            values["months"] = self.months
        if self.by != "plan":
            values["by"] = self.by
        values.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(values)

    def url(self, path: str = "/kpis", **extra: Any) -> str:
        q = self.query(**extra)
        return path + ("?" + q if q else "")

    def drill(self, metric: str, month: str | None = None, **extra: Any) -> str:
        return self.url("/kpis/accounts", metric=metric, month=month, **extra)


def parse_params(settings: Settings, as_of: str | None, months: str | None, by: str | None) -> KpiParams:
    """Check the query string; a bad value raises ``InvalidInput`` naming it."""
    default_day = today(settings)
    day = default_day
    text = (as_of or "").strip()
    if text:
        try:
            if not _DATE.match(text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                _("as_of must be a date like 2026-03-31, not {value!r}").format(value=text[:40]), field="as_of"
            ) from None
        if not in_range(day):
            raise InvalidInput(out_of_range_message(day), code=DATE_OUT_OF_RANGE, field="as_of")
    count = settings.kpi_months
    text = (months or "").strip()
    if text:
        count = int(text) if text.isdecimal() and len(text) < 6 else 0
        if not 1 <= count <= MAX_MONTHS:
            raise InvalidInput(
                _("months must be a whole number from 1 to {n}, not {value!r}").format(n=MAX_MONTHS, value=text[:40]),
                field="months",
            )
    segment = (by or "plan").strip() or "plan"
    segment = SEGMENT_ALIASES.get(segment, segment)
    if segment not in SEGMENT_CHOICES:
        raise InvalidInput(_("by must be one of: {choices}").format(choices=", ".join(SEGMENT_CHOICES)), field="by")
    return KpiParams(day, count, segment, (default_day, settings.kpi_months))


def options_for(settings: Settings, params: KpiParams) -> kpis.KpiOptions:
    return kpis.KpiOptions.from_settings(
        settings, months=params.months, segment_by=None if params.by == "none" else params.by
    )


# --- the report, computed once a minute at most ------------------------------------------


@dataclass
class Computed:
    report: kpis.KpiReport
    segment_columns: tuple[str, ...]


class ReportCache:
    """Reports by (store, analytics URL, day, options), kept :data:`CACHE_SECONDS`."""

    def __init__(self, seconds: float = CACHE_SECONDS, entries: int = CACHE_ENTRIES) -> None:
        self.seconds, self.entries = seconds, entries
        self._lock = threading.Lock()
        self._items: dict[Any, tuple[float, Any]] = {}

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and now - hit[0] < self.seconds:
                cached: T = hit[1]
                return cached
        value = compute()
        with self._lock:
            self._items = {k: v for k, v in self._items.items() if now - v[0] < self.seconds}
            self._items[key] = (now, value)
            while len(self._items) > self.entries:
                del self._items[min(self._items, key=lambda k: self._items[k][0])]
        return value


def report_cache(request: Request) -> ReportCache:
    cache: ReportCache = request.app.state.__dict__.setdefault("kpi_report_cache", ReportCache())
    return cache


def _with_backend(settings: Settings, fn: Callable[[Any], Any]) -> Any:
    backend = kpis.open_backend(settings.database_url, settings.analytics_url)
    try:
        return fn(backend)
    finally:
        kpis.close_backend(backend)


def compute(request: Request, settings: Settings, params: KpiParams) -> Computed:
    options = options_for(settings, params)

    def run(backend: Any) -> Computed:
        columns = tuple(store_tables(backend).accounts.columns)
        return Computed(kpis.kpi_report(backend, params.as_of, options), columns)

    def fresh() -> Computed:
        computed: Computed = _with_backend(settings, run)
        return computed

    # the store's version (SQLite: read before the report reads the store) is part of the
    # key: a committed change is in the next page at once, not up to a minute later
    version = app_state(request).reports.version()
    key = (settings.database_url, settings.analytics_url, version, params.as_of, options)
    return report_cache(request).get(key, fresh)


def _bad_request(request: Request, message: str) -> Response:
    return render(request, "error.html", {"status": 400, "title": _("Something is not right"), "message": message},
                  status=400)  # fmt: skip


# --- presentation helpers ----------------------------------------------------------------


def month_label(fmt: Formatter, month: str) -> str:
    """``2026-01`` as ``2026年1月`` or ``Jan 2026``."""
    year, number = int(month[:4]), int(month[5:7])
    if fmt.language == "ja":
        return f"{year}年{number}月"
    return format_date(date(year, number, 1), "MMM y", locale=fmt.locale)


def segment_label(by: str | None, value: Any) -> str:
    text = str(value)
    if text == "all":
        return _("All accounts")
    if text in ("(none)", "None", ""):
        return _("No segment")
    labels = {"tier": TIER_LABELS, "touch_tier": TIER_LABELS, "stage": STAGE_LABELS, "fit": FIT_LABELS}.get(by or "", {})
    if text in labels:
        return _(labels[text])
    return text


def num(value: Any) -> float | None:
    """A plain float, or None for a missing value."""
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def pct(value: Any, digits: int = 1) -> float | None:
    f = num(value)
    return None if f is None else round(f * 100, digits)


def heat_class(value: Any) -> str:
    """A cohort cell's shade: ``heat-0`` … ``heat-10`` for 0–100 %, ``heat-over`` above."""
    f = num(value)
    if f is None:
        return "heat-none"
    if f > 1.0 + 1e-9:
        return "heat-over"
    return f"heat-{max(0, min(10, round(f * 10)))}"


def _options(*, y: dict[str, Any] | None = None, stacked: bool = False, extra: dict[str, Any] | None = None,
             legend: bool = True) -> dict[str, Any]:  # fmt: skip
    scales: dict[str, Any] = {
        "x": {"stacked": stacked, "grid": {"display": False}, "ticks": {"maxRotation": 0, "autoSkip": True}},
        "y": {"stacked": stacked, "grid": GRID, **(y or {})},
    }
    scales.update(extra or {})
    return {
        "interaction": {"mode": "index", "intersect": False},
        "plugins": {"legend": {"display": legend, "position": "bottom", "labels": {"boxWidth": 12}}},
        "scales": scales,
    }


def _line(label: str, data: list[Any], colour: str, **more: Any) -> dict[str, Any]:
    return {"type": "line", "label": label, "data": data, "borderColor": colour, "backgroundColor": colour,
            "borderWidth": 2, "pointRadius": 2, "tension": 0, "spanGaps": False, **more}  # fmt: skip


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def waterfall_chart(rev: pd.DataFrame, labels: list[str]) -> dict[str, Any]:
    """MRR movements by month: gains stacked up, losses stacked down, net change a line."""
    datasets: list[dict[str, Any]] = [
        {"type": "bar", "label": _(MOVEMENT_LABELS[m]), "data": [int(v) for v in rev[m]], "stack": "mrr",
         "backgroundColor": COLOURS[m], "order": 1}
        for m in MOVEMENTS
    ]  # fmt: skip
    datasets.append(_line(_("Net change"), [int(v) for v in rev["net_change"]], COLOURS["net"], stack="net", order=0))
    return {"type": "bar", "data": {"labels": labels, "datasets": datasets},
            "options": _options(stacked=True, y={"title": {"display": True, "text": _("MRR change")}})}  # fmt: skip


def retention_chart(rev: pd.DataFrame, labels: list[str]) -> dict[str, Any]:
    """NRR and GRR, monthly and trailing 12 months, in percent."""
    series: tuple[tuple[str, str, str, dict[str, Any]], ...] = (("nrr", _("NRR (month)"), COLOURS["nrr"], {}), ("grr", _("GRR (month)"), COLOURS["grr"], {}),
              ("nrr_12m", _("NRR (12 months)"), COLOURS["nrr"], {"borderDash": [6, 4]}),
              ("grr_12m", _("GRR (12 months)"), COLOURS["grr"], {"borderDash": [6, 4]}))  # fmt: skip
    datasets = [_line(label, [pct(v) for v in rev[key]], colour, **more) for key, label, colour, more in series]
    return {"type": "line", "data": {"labels": labels, "datasets": datasets},
            "options": _options(y={"title": {"display": True, "text": "%"}})}  # fmt: skip


def survival_chart(survival: pd.DataFrame, by: str | None) -> dict[str, Any]:
    """Kaplan–Meier curves per segment, each with its 95 % band (filled between bounds)."""
    months = sorted({int(m) for m in survival["month"]}) if len(survival) else []
    datasets: list[dict[str, Any]] = []
    for i, (segment, part) in enumerate(survival.groupby("segment", sort=True)):
        colour = PALETTE[i % len(PALETTE)]
        by_month = part.set_index("month")
        label = segment_label(by, segment)

        def values(col: str, frame: pd.DataFrame = by_month) -> list[float | None]:
            return [pct(frame.at[m, col]) if m in frame.index else None for m in months]

        band = {"pointRadius": 0, "borderWidth": 0, "stepped": True, "borderColor": _rgba(colour, 0)}
        datasets.append(_line(_("{segment}: upper 95 %").format(segment=label), values("upper"), colour,
                              fill=False, **band) | {"backgroundColor": _rgba(colour, 0.15)})  # fmt: skip
        datasets.append(_line(_("{segment}: lower 95 %").format(segment=label), values("lower"), colour,
                              fill="-1", **band) | {"backgroundColor": _rgba(colour, 0.15)})  # fmt: skip
        datasets.append(_line(label, values("survival"), colour, stepped=True, pointRadius=0, fill=False))
    return {"type": "line", "data": {"labels": months, "datasets": datasets},
            "options": _options(y={"min": 0, "max": 100, "title": {"display": True, "text": _("Still paying (%)")}},
                                extra={"x": {"grid": {"display": False},
                                             "title": {"display": True, "text": _("Months since start")}}})}  # fmt: skip


def pareto_chart(pareto: Any) -> dict[str, Any]:
    """The Lorenz curve of MRR across accounts against the line of equality."""
    curve = [{"x": round(x * 100, 2), "y": round(y * 100, 2)} for x, y in pareto.lorenz]
    return {
        "type": "scatter",
        "data": {"datasets": [
            _line(_("Lorenz curve"), curve, PALETTE[0], showLine=True, pointRadius=0, fill=False),
            _line(_("Equal MRR for every account"), [{"x": 0, "y": 0}, {"x": 100, "y": 100}], "#a0a7b4",
                  showLine=True, pointRadius=0, borderDash=[4, 4], borderWidth=1),
        ]},
        "options": {
            "plugins": {"legend": {"position": "bottom", "labels": {"boxWidth": 12}}},
            "scales": {
                "x": {"type": "linear", "min": 0, "max": 100, "grid": GRID,
                      "title": {"display": True, "text": _("Accounts, smallest MRR first (%)")}},
                "y": {"min": 0, "max": 100, "grid": GRID, "title": {"display": True, "text": _("Share of MRR (%)")}},
            },
        },
    }  # fmt: skip


def nps_chart(nps_rows: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Promoters, passives and detractors per month (bars) and the NPS score (line, right axis)."""
    datasets: list[dict[str, Any]] = [
        {"type": "bar", "label": label, "data": [r[key] for r in nps_rows], "stack": "nps", "yAxisID": "y",
         "backgroundColor": COLOURS[key]}
        for key, label in (("promoters", _("Promoters (9–10)")), ("passives", _("Passives (7–8)")),
                           ("detractors", _("Detractors (0–6)")))
    ]  # fmt: skip
    datasets.insert(0, _line(_("NPS"), [num(r["nps"]) for r in nps_rows], COLOURS["nrr"], yAxisID="y1", stack="score"))
    return {"type": "bar", "data": {"labels": labels, "datasets": datasets},
            "options": _options(stacked=True, y={"beginAtZero": True, "ticks": {"precision": 0},
                                                  "title": {"display": True, "text": _("Responses")}},
                                extra={"y1": {"position": "right", "min": -100, "max": 100, "grid": {"display": False},
                                              "title": {"display": True, "text": _("NPS")}}})}  # fmt: skip


def support_chart(sup_rows: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """Tickets opened per month (bars) and first-response time, mean and median (lines, hours)."""
    datasets: list[dict[str, Any]] = [
        _line(_("First response, average (hours)"), [num(r["mean_frt_hours"]) for r in sup_rows], COLOURS["mean"],
              yAxisID="y1"),
        _line(_("First response, median (hours)"), [num(r["median_frt_hours"]) for r in sup_rows], COLOURS["median"],
              yAxisID="y1", borderDash=[6, 4]),
        {"type": "bar", "label": _("Tickets"), "data": [r["tickets"] for r in sup_rows], "yAxisID": "y",
         "backgroundColor": COLOURS["tickets"]},
    ]  # fmt: skip
    return {"type": "bar", "data": {"labels": labels, "datasets": datasets},
            "options": _options(y={"beginAtZero": True, "ticks": {"precision": 0},
                                   "title": {"display": True, "text": _("Tickets")}},
                                extra={"y1": {"position": "right", "beginAtZero": True, "grid": {"display": False},
                                              "title": {"display": True, "text": _("Hours")}}})}  # fmt: skip


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): kpis.plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _by_month(frame: pd.DataFrame, months: list[str], empty: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {r["month"]: r for r in _records(frame)} if len(frame) else {}
    return [rows.get(m, {"month": m, **empty}) for m in months]


def cohort_rows(frame: pd.DataFrame, size_col: str, months: list[str]) -> list[dict[str, Any]]:
    """Cohort rows: ``month``, ``size`` and cells (``age``, value, shade) up to the last month."""
    out = []
    last = len(months) - 1
    for i, cohort in enumerate(frame.index):
        cells = []
        for age in range(last - months.index(cohort) + 1 if cohort in months else 0):
            value = num(frame.at[cohort, age]) if age in frame.columns else None
            cells.append({"age": age, "value": value, "heat": heat_class(value)})
        size = num(frame.iloc[i][size_col])
        out.append({"month": str(cohort), "size": 0 if size is None else round(size), "cells": cells})
    return out


#: Whether a rise is good news (+1) or bad news (-1), by headline key.
GOOD_WHEN = {
    "mrr": 1, "arr": 1, "paying_accounts": 1, "net_change": 1, "nrr": 1, "grr": 1, "nrr_12m": 1, "grr_12m": 1,
    "logo_churn_rate": -1, "revenue_churn_rate": -1, "nps": 1, "onboarding_completion_rate": 1, "upsell_rate": 1,
    "cross_sell_rate": 1, "tickets_per_account": -1, "median_frt_hours": -1, "top_20_share": -1, "ltv": 1,
    "ltv_cac": 1, "at_risk_accounts": -1,
}  # fmt: skip
#: The few that matter first (in this order); the rest follow, smaller.
PRIMARY = ("mrr", "nrr_12m", "grr_12m", "logo_churn_rate", "at_risk_accounts")
#: Figures summed over the month so far (partial while the month runs).
MONTH_FLOWS = frozenset({"net_change", "nrr", "grr"})


def _change(key: str, value: Any, previous: Any) -> dict[str, Any] | None:
    """The change vs the previous month: its amount, direction and whether it is good news."""
    now, before = num(value), num(previous)
    if now is None or before is None:
        return None
    delta = now - before
    direction = 0 if abs(delta) < 1e-9 else (1 if delta > 0 else -1)
    good = None if direction == 0 else direction * GOOD_WHEN.get(key, 1) > 0
    return {"delta": delta, "direction": direction, "good": good}


def _target(target: Target | None, kind: str, value: Any, exponent: int) -> dict[str, Any] | None:
    if target is None:
        return None
    actual = num(value)
    if actual is not None and kind == "money":
        actual = actual / 10**exponent  # targets are in major units
    shown = target.value * 10**exponent if kind == "money" else target.value
    return {"op": "≥" if target.op == ">=" else "≤", "value": shown, "met": target.met(actual)}


def headline_tiles(report: kpis.KpiReport, params: KpiParams, last_month: str, *,
                   targets: dict[str, Target] | None = None,
                   at_risk: accounts_service.AtRiskTotals | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The tiles: every figure with its kind (for formatting), its change vs the previous
    month, its target, and a link to the accounts behind it (or to the chart that explains
    it). The :data:`PRIMARY` ones first, marked ``primary``."""
    h, rev = report.headline, report.revenue
    last = rev.iloc[-1] if len(rev) else None
    on, ex, sup = report.onboarding, report.expansion, report.support_totals
    previous = report.headline_previous
    partial = report.current_month is not None and not report.current_month.complete
    exponent = CURRENCY_EXPONENTS.get(report.currency, 0)
    targets = targets or {}

    def tile(key: str, label: str, value: Any, kind: str, link: str | None, sub: str | None = None) -> dict[str, Any]:
        value = kpis.plain(value)
        return {
            "key": key, "label": label, "value": value, "kind": kind, "link": link, "sub": sub,
            "previous": kpis.plain(previous.get(key)), "change": _change(key, value, previous.get(key)),
            "target": _target(targets.get(key), kind, value, exponent), "primary": key in PRIMARY,
            "to_date": partial and key in MONTH_FLOWS,
        }  # fmt: skip

    tiles = [
        tile("mrr", _("MRR"), h.mrr, "money", params.drill("mrr", last_month)),
        tile("arr", _("ARR"), h.arr, "money", params.drill("mrr", last_month)),
        tile("paying_accounts", _("Paying accounts"), h.paying_accounts, "number", params.drill("mrr", last_month)),
        tile("net_change", _("Net MRR change this month"), h.net_change, "money", "#movements"),
        tile("nrr", _("NRR (month)"), None if last is None else last["nrr"], "percent", "#movements"),
        tile("grr", _("GRR (month)"), None if last is None else last["grr"], "percent", "#movements"),
        tile("nrr_12m", _("NRR (12 months)"), h.nrr_12m, "percent", params.drill("retained_12m", last_month)),
        tile("grr_12m", _("GRR (12 months)"), h.grr_12m, "percent", params.drill("retained_12m", last_month)),
        tile("logo_churn_rate", _("Logo churn (monthly, 12-month average)"), h.logo_churn_rate, "percent",
             params.drill("churned", last_month)),
        tile("revenue_churn_rate", _("Revenue churn (window)"), h.revenue_churn_rate, "percent", "#movements"),
        tile("nps", _("NPS"), h.nps, "score", "#nps",
             _("{n} responses").format(n=report.nps_total.responses)),
        tile("onboarding_completion_rate", _("Onboarding completion"), h.onboarding_completion_rate, "percent",
             None, _("{done} of {total} accounts").format(done=on.get("completed", 0), total=on.get("accounts", 0))),
        tile("upsell_rate", _("Upsell rate"), h.upsell_rate, "percent", params.drill("upsell"),
             _("{n} of {base} accounts").format(n=ex.upsell_accounts, base=ex.base_accounts)),
        tile("cross_sell_rate", _("Cross-sell rate"), h.cross_sell_rate, "percent", params.drill("cross_sell"),
             _("{n} of {base} accounts").format(n=ex.cross_sell_accounts, base=ex.base_accounts)),
        tile("tickets_per_account", _("Tickets per paying account"), h.tickets_per_account, "decimal", "#support"),
        tile("median_frt_hours", _("First response, median (hours)"), h.median_frt_hours, "decimal", "#support",
             _("{n} tickets").format(n=sup.get("tickets", 0))),
        tile("top_20_share", _("MRR share of the top 20 %"), h.top_20_share, "percent", params.drill("top_20"),
             _("Gini {gini}").format(gini="—" if h.gini is None else f"{h.gini:.2f}")),
        tile("ltv", _("LTV (ARPA × 100 ÷ churn %)"), h.ltv, "money", "#ltv"),
        tile("ltv_cac", _("LTV:CAC"), h.ltv_cac, "ratio", "#ltv"),
    ]  # fmt: skip
    if at_risk is not None:
        tiles.append(tile("at_risk_accounts", _("Accounts at risk (today)"), at_risk.accounts, "number",
                          "/accounts?risk=yes"))  # fmt: skip
        tiles[-1]["sub_money"] = at_risk.mrr  # their MRR, formatted by the template
    order = {key: i for i, key in enumerate(PRIMARY)}
    return sorted(tiles, key=lambda t: (0, order[t["key"]]) if t["primary"] else (1, 0))


def ltv_rows(ltv: Any) -> list[dict[str, Any]]:
    """The LTV formulas with their names, expressions and inputs in the reader's language
    (translated here: the texts hold per-cent signs, which templates' gettext would format)."""
    return [
        {"key": f.key, "name": _(f.name), "expression": _(f.expression), "value": f.value,
         "inputs": [{"label": _(i.label), "value": kpis.plain(i.value), "unit": i.unit} for i in f.inputs]}
        for f in ltv.formulas
    ]  # fmt: skip


def chart_meta(charts: dict[str, Any], report: kpis.KpiReport, fmt: Formatter, partial: bool) -> None:
    """What kizuna.js adds to each chart: money ticks (¥ / 万円 by language) on the money
    axes and a lighter, dashed last month while that month is partial."""
    money = {"currency": report.currency, "exponent": CURRENCY_EXPONENTS.get(report.currency, 0),
             "locale": "ja-JP" if fmt.language == "ja" else "en-US"}  # fmt: skip
    for key, chart in charts.items():
        if chart is None:
            continue
        meta: dict[str, Any] = {"money": money, "money_axes": ["y"] if key == "kpi-waterfall" else []}
        meta["partial_last"] = partial and key in MONTHLY_CHARTS
        chart["kizuna"] = meta


#: The charts with one point or bar per month (the last one partial while the month runs).
MONTHLY_CHARTS = frozenset({"kpi-waterfall", "kpi-retention", "kpi-nps", "kpi-support"})


def dashboard_context(report: kpis.KpiReport, params: KpiParams, fmt: Formatter,
                      segment_columns: tuple[str, ...], *, targets: dict[str, Target] | None = None,
                      at_risk: accounts_service.AtRiskTotals | None = None) -> dict[str, Any]:  # fmt: skip
    rev = report.revenue
    months = [str(m) for m in rev["month"]]
    progress = report.current_month
    partial = bool(months) and progress is not None and not progress.complete and months[-1] == progress.month
    labels = [month_label(fmt, m) for m in months]
    table_labels = list(labels)
    if partial:
        labels[-1] = _("{month} (to date)").format(month=labels[-1])
    last_month = months[-1] if months else params.as_of.strftime("%Y-%m")
    revenue_rows = _records(rev)
    support_rows = _by_month(report.support, months, {"tickets": 0, "answered": 0, "resolved": 0,
                                                      "answer_rate": None, "resolution_rate": None,
                                                      "mean_frt_hours": None, "median_frt_hours": None,
                                                      "exchanges_to_resolve": None, "csat": None, "csat_pct": None})  # fmt: skip
    effort = {r["month"]: r for r in _records(report.effort)}
    for row in support_rows:
        row["tickets_per_account"] = effort.get(row["month"], {}).get("tickets_per_account")
    nps_rows = _by_month(report.nps, months, {"responses": 0, "promoters": 0, "passives": 0, "detractors": 0,
                                              "nps": None})  # fmt: skip
    by = report.segment_by
    segments: list[dict[str, Any]] = []
    if by and len(report.revenue_by_segment):
        seg_last = report.revenue_by_segment[report.revenue_by_segment["month"] == last_month]
        nps_seg = report.nps_by_segment
        for row in _records(seg_last):
            part = nps_seg[nps_seg["segment"] == row["segment"]] if len(nps_seg) else nps_seg
            responses = int(part["responses"].sum()) if len(part) else 0
            score = (100.0 * (int(part["promoters"].sum()) - int(part["detractors"].sum())) / responses
                     if responses else None)  # fmt: skip
            segments.append(
                row | {"label": segment_label(by, row["segment"]), "nps": score, "nps_responses": responses}
            )
        segments.sort(key=lambda r: -(r["mrr"] or 0))
    choices = list(SEGMENT_CHOICES.items())
    tiles = headline_tiles(report, params, last_month, targets=targets, at_risk=at_risk)
    context: dict[str, Any] = {
        "report": report, "params": params, "months": months,
        "month_labels": dict(zip(months, labels, strict=True)), "partial": partial,
        "partial_note": _("{month} is not over ({days} of {total} days): its figures are month to date, drawn "
                          "lighter and dashed in the charts.").format(
            month=table_labels[-1] if months else "", days=progress.days if progress else None,
            total=progress.days_in_month if progress else None) if partial else "",
        "last_month": last_month, "tiles": [t for t in tiles if t["primary"]],
        "more_tiles": [t for t in tiles if not t["primary"]], "revenue_rows": revenue_rows,
        "movements": MOVEMENTS, "movement_labels": MOVEMENT_LABELS, "support_rows": support_rows,
        "support_total": report.support_totals, "nps_rows": nps_rows, "segments": segments,
        "segment_choices": choices, "segment_title": _(SEGMENT_CHOICES.get(by or "none", "")) if by else "",
        "cohorts_logo": cohort_rows(report.cohorts_logo, "size", months),
        "cohorts_revenue": cohort_rows(report.cohorts_revenue, "mrr0", months),
        "max_age": len(months), "ltv": report.ltv, "ltv_rows": ltv_rows(report.ltv), "pareto": report.pareto,
        # sentences with a per-cent sign (templates' gettext would read it as a format)
        "texts": {
            "survival": _("Share of accounts still paying by months since their start, with the 95 % confidence band."),
            "above_100": _("above 100 %"), "top_20": _("The top 20 % of accounts ({n}) hold {share} of MRR."),
        },
        "charts": {
            "kpi-waterfall": waterfall_chart(rev, labels) if len(rev) else None,
            "kpi-retention": retention_chart(rev, labels) if len(rev) else None,
            "kpi-survival": survival_chart(report.survival, by) if len(report.survival) else None,
            "kpi-pareto": pareto_chart(report.pareto) if report.pareto.accounts else None,
            "kpi-nps": nps_chart(nps_rows, labels),
            "kpi-support": support_chart(support_rows, labels),
        },
    }  # fmt: skip
    chart_meta(context["charts"], report, fmt, partial)
    return context


# --- the pages ---------------------------------------------------------------------------


def deflection_texts(df: kb.Deflection, fmt: Formatter) -> dict[str, str]:
    """The deflection card's sentences with a per-cent sign (templates' gettext would read it as a format)."""
    return {
        "intro": _("Tickets per active account in the {days} days after a playbook sent knowledge-base articles, "
                   "against the accounts the same playbook held out; the difference with its 95 % confidence "
                   "interval (Welch's, over the accounts). Below zero: fewer tickets.").format(days=df.days),
        "result": _("Difference: {d} tickets per account (95 % CI {low} to {high}).").format(
            d=fmt.number(df.difference, 2), low=fmt.number(df.low, 2), high=fmt.number(df.high, 2)),
    }  # fmt: skip


@router.get("/kpis")
def kpi_dashboard(request: Request, state: State, principal: CurrentPrincipal, as_of: str | None = None,
                  months: str | None = None, by: str | None = None,
                  deflection_days: str | None = None) -> Response:  # fmt: skip
    settings = state.settings
    try:
        params = parse_params(settings, as_of, months, by)
        window = kb.DEFLECTION_DAYS if deflection_days is None else kb.check_days(deflection_days)
        computed = compute(request, settings, params)
    except InvalidInput as exc:
        return _bad_request(request, exc.message)
    fmt = Formatter(get_language(), settings.zone)
    with state.unit_of_work() as session:
        at_risk = accounts_service.at_risk_summary(session, computed.report.currency)
        survey_report = surveys_service.report(session, params.as_of, months=params.months)
        onboarding_kpis = onboarding.kpis(session, params.as_of, settings.zone)
        deflection = kb.deflection(session, params.as_of, days=window)
    context = dashboard_context(computed.report, params, fmt, computed.segment_columns,
                                targets=parse_targets(settings.kpi_targets), at_risk=at_risk)  # fmt: skip
    return render(request, "kpis/dashboard.html", {**context, "survey_report": survey_report,
                                                     "survey_labels": {"tier": TIER_LABELS, "stage": STAGE_LABELS},
                                                     "onboarding_kpis": onboarding_kpis, "deflection": deflection,
                                                     "deflection_texts": deflection_texts(deflection, fmt)})


@router.get("/kpis/accounts")
def kpi_accounts_page(
    request: Request, state: State, principal: CurrentPrincipal, metric: str | None = None, month: str | None = None,
    age: str | None = None, segment: str | None = None, as_of: str | None = None, months: str | None = None,
    by: str | None = None,
) -> Response:  # fmt: skip
    settings = state.settings
    try:
        params = parse_params(settings, as_of, months, by)
        name = (metric or "").strip()
        if name not in kpis.DRILLDOWN_METRICS:
            raise InvalidInput(
                _("unknown metric {metric!r}; one of: {metrics}").format(
                    metric=name[:40], metrics=", ".join(kpis.DRILLDOWN_METRICS)
                ),
                field="metric",
            )
        month_text = (month or "").strip() or None
        if month_text is not None and not _MONTH.match(month_text):
            raise InvalidInput(
                _("month must be a month like 2026-03, not {value!r}").format(value=month_text[:40]), field="month"
            )
        cohort_age: int | None = None
        if name == "cohort":
            if month_text is None:
                raise InvalidInput(_("a cohort needs its month (month=YYYY-MM)"), field="month")
            text = (age or "0").strip()
            cohort_age = int(text) if text.isdecimal() and len(text) < 4 else -1
            if not 0 <= cohort_age < params.months:
                raise InvalidInput(
                    _("age must be a whole number of months from 0 to {n}, not {value!r}").format(
                        n=params.months - 1, value=text[:40]
                    ),
                    field="age",
                )
        segment_text = (segment or "").strip()[:200] or None
        options = options_for(settings, params)
        frame: pd.DataFrame = _with_backend(settings, lambda backend: kpis.kpi_accounts(
            backend, params.as_of, options, metric=name, month=month_text, age=cohort_age, segment=segment_text))  # fmt: skip
    except InvalidInput as exc:
        return _bad_request(request, exc.message)
    fmt = Formatter(get_language(), settings.zone)
    shown_month = month_text or params.as_of.strftime("%Y-%m")
    title = _(DRILLDOWN_TITLES[name]).format(month=month_label(fmt, shown_month), age=cohort_age or 0)
    rows = _records(frame)
    extra = [c for c in ("before", "after", "start", "end") if c in frame.columns]
    context = {
        "params": params, "metric": name, "title": title, "rows": rows, "extra": extra,
        "segment": segment_label(options.segment_by, segment_text) if segment_text else None,
        "total": int(sum(r["value"] or 0 for r in rows)), "currency": options.currency,
        "back": params.url() + ("#cohorts" if name == "cohort" else "#movements" if name in MOVEMENTS else ""),
        "api": params.url("/api/kpis/accounts", metric=name, month=month_text, age=cohort_age, segment=segment_text),
        "columns": {"before": _("Before"), "after": _("After"), "start": _("12 months before"), "end": _("Now")},
    }  # fmt: skip
    return render(request, "kpis/accounts.html", context)
