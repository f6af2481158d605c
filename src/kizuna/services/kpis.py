"""KPIs (the analytics engine's use case): one :class:`KpiReport` for a day, and the
accounts behind each of its numbers.

The API for every surface (CLI ``kizuna kpis`` / ``kizuna ltv formulas``, the
JSON API ``/api/kpis``, the KPI dashboard page)::

    from kizuna.services import kpis

    backend = kpis.open_backend(settings.database_url, settings.analytics_url)
    options = kpis.KpiOptions(months=12, currency="JPY", zone="Asia/Tokyo",
                                 gross_margin=0.8, acquisition_cost=300_000,
                                 retention_cost=60_000, segment_by="plan")
    report = kpis.kpi_report(backend, as_of, options)   # -> KpiReport
    report.headline            # KpiHeadline: the numbers of the top row (mrr, nrr_12m, nps, …)
    report.revenue             # DataFrame, one row per month: mrr, arr, accounts, the five
                               # movements (+ *_accounts counts), net_change, logo/revenue
                               # churn, grr, nrr, grr_12m, nrr_12m, logo_retention_12m
    report.revenue_by_segment  # the same per (month, segment); report.segment_by names it
    report.cohorts_logo / report.cohorts_revenue   # cohort month × age (fractions)
    report.survival            # Kaplan–Meier: segment, month, survival, lower, upper, at_risk
    report.onboarding          # dict (rates, counts, days); report.expansion: Expansion
    report.current_month       # MonthProgress: the reported month, partial unless as_of is its last day
    report.effort, report.effort_trend             # tickets per paying account by month
    report.nps, report.nps_by_segment, report.nps_total
    report.usage               # monthly active accounts and events (daily rollups)
    report.support, report.support_totals          # ticket KPIs by month and for the window
    report.pareto              # analytics.pareto.Pareto (top-20 % share, Lorenz, Gini)
    report.ltv                 # analytics.ltv.LtvReport (five formulas with inputs, LTV:CAC)
    report.excluded_currencies # lines in other currencies left out (per currency)
    report.to_dict()           # JSON-ready (what /api/kpis returns)
    kpis.monthly_rows(report)  # list[MonthlyKpis]: one typed row per reported month

    # "each number links to the accounts behind it":
    kpis.kpi_accounts(backend, as_of, options, metric="churned", month="2026-10")
    # -> DataFrame account_id, name, value (+ before/after for movements); metrics in
    #    DRILLDOWN_METRICS: mrr, new, expansion, contraction, churned, reactivation,
    #    retained_12m, cohort (month = cohort month, age = months), upsell, cross_sell, top_20.

Money is in minor units of ``options.currency`` (the default currency); lines in other
currencies are left out and counted in ``excluded_currencies``. Nothing here reads the
clock or the settings: the caller passes ``as_of`` and the options.
"""

from __future__ import annotations

import calendar
import math
import threading
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from kizuna.analytics import backend as analytics_backend
from kizuna.analytics import ltv as ltv_mod
from kizuna.analytics import pareto as pareto_mod
from kizuna.analytics import retention, revenue, success, support
from kizuna.analytics import segments as segments_mod
from kizuna.analytics.backend import StoreTables, store_tables
from kizuna.analytics.periods import MonthGrid
from kizuna.errors import InvalidInput
from kizuna.i18n import _

DRILLDOWN_METRICS = (
    "mrr", "new", "expansion", "contraction", "churned", "reactivation", "retained_12m", "cohort", "upsell",
    "cross_sell", "top_20",
)  # fmt: skip


#: Kaplan–Meier curves run at least this many months (longer when the report is).
SURVIVAL_MONTHS = 24


@dataclass(frozen=True)
class KpiOptions:
    """How to compute: window, currency, zone, the segment, the LTV settings (money in
    minor units of ``currency``)."""

    months: int = 12
    currency: str = "JPY"
    zone: str = "Asia/Tokyo"
    segment_by: str | None = "plan"  # one of analytics.segments.CHOICES (plan, tier, stage, owner, fit, industry)
    gross_margin: float = 0.8
    acquisition_cost: int = 0
    retention_cost: int = 0  # per account per year

    @classmethod
    def from_settings(cls, settings: Any, *, months: int | None = None, segment_by: str | None = "plan") -> KpiOptions:
        """Options from the entry point's settings object (its fields are read, nothing
        else): costs in major units are converted to minor units of the default currency."""
        from kizuna.domain.money import CURRENCY_EXPONENTS

        scale = 10 ** CURRENCY_EXPONENTS[settings.default_currency]
        return cls(
            months=settings.kpi_months if months is None else months, currency=settings.default_currency, zone=settings.timezone,
            segment_by=segment_by, gross_margin=settings.gross_margin,
            acquisition_cost=round(settings.acquisition_cost * scale),
            retention_cost=round(settings.retention_cost * scale),
        )  # fmt: skip

    def grid(self, as_of: date) -> MonthGrid:
        return MonthGrid(as_of, self.months, self.zone)


@dataclass(frozen=True)
class KpiHeadline:
    """The numbers of the report's top row: money in minor units of the report's currency,
    rates as fractions, None where there is no data yet."""

    mrr: int
    arr: int
    paying_accounts: int
    net_change: int
    logo_churn_rate: float | None
    revenue_churn_rate: float | None
    grr_12m: float | None
    nrr_12m: float | None
    nps: float | None
    onboarding_completion_rate: float | None
    upsell_rate: float | None
    cross_sell_rate: float | None
    tickets_per_account: float | None
    median_frt_hours: float | None
    top_20_share: float | None
    gini: float | None
    ltv: int | None
    ltv_cac: float | None

    def as_dict(self) -> dict[str, Any]:
        """By key (as the KPI targets and the tiles name the figures), JSON-ready."""
        return {k: plain(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class MonthlyKpis:
    """One reported month's main KPIs (``kizuna kpis --format csv``, the CLI's table)."""

    month: str
    mrr: int
    arr: int
    accounts: int
    new: int
    expansion: int
    contraction: int
    churned: int
    reactivation: int
    net_change: int
    logo_churn_rate: float | None
    revenue_churn_rate: float | None
    grr: float | None
    nrr: float | None
    grr_12m: float | None
    nrr_12m: float | None
    tickets: float | None
    tickets_per_account: float | None
    nps_responses: int
    nps: float | None
    active_accounts: float | None
    events: float | None
    answer_rate: float | None
    resolution_rate: float | None
    mean_frt_hours: float | None
    median_frt_hours: float | None
    exchanges_to_resolve: float | None
    csat: float | None


@dataclass(frozen=True)
class MonthProgress:
    """The reported month (``YYYY-MM``), its days so far and in all, and whether it is over."""

    month: str
    days: int
    days_in_month: int
    complete: bool


@dataclass(frozen=True)
class Expansion:
    """Upsell and cross-sell over the window: of the accounts paying at its start (``base``)."""

    window_start: str
    base_accounts: int
    upsell_accounts: int
    upsell_rate: float | None
    cross_sell_accounts: int
    cross_sell_rate: float | None


@dataclass(frozen=True)
class NpsTotal:
    """NPS over the window's answers."""

    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


@dataclass
class KpiReport:
    as_of: date
    months: int
    currency: str
    backend: str
    segment_by: str | None
    headline: KpiHeadline
    revenue: pd.DataFrame
    revenue_by_segment: pd.DataFrame
    cohorts_logo: pd.DataFrame
    cohorts_revenue: pd.DataFrame
    survival: pd.DataFrame
    onboarding: dict[str, Any]
    expansion: Expansion
    effort: pd.DataFrame
    effort_trend: float | None
    nps: pd.DataFrame
    nps_by_segment: pd.DataFrame
    nps_total: NpsTotal
    usage: pd.DataFrame
    support: pd.DataFrame
    support_totals: dict[str, Any]
    pareto: pareto_mod.Pareto
    ltv: ltv_mod.LtvReport
    excluded_currencies: list[dict[str, Any]] = field(default_factory=list)
    #: The headline figures one month earlier (those with a monthly value), for "change vs
    #: the previous month"; and the reported month's progress (partial unless ``as_of`` is
    #: its last day).
    headline_previous: dict[str, Any] = field(default_factory=dict)
    current_month: MonthProgress | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: numbers as numbers, missing values as null, months as ``YYYY-MM``."""

        def frame(df: pd.DataFrame, index: str | None = None) -> list[dict[str, Any]]:
            d = df.reset_index().rename(columns={"index": index}) if index else df
            d = d.drop(columns=[c for c in ("mi",) if c in d.columns])
            return [{str(k): plain(v) for k, v in row.items()} for row in d.to_dict(orient="records")]

        return {
            "as_of": self.as_of.isoformat(),
            "months": self.months,
            "currency": self.currency,
            "backend": self.backend,
            "segment_by": self.segment_by,
            "headline": self.headline.as_dict(),
            "headline_previous": {k: plain(v) for k, v in self.headline_previous.items()},
            "current_month": asdict(self.current_month) if self.current_month else {},
            "revenue": frame(self.revenue),
            "revenue_by_segment": frame(self.revenue_by_segment),
            "cohorts": {"logo": frame(self.cohorts_logo, "cohort"), "revenue": frame(self.cohorts_revenue, "cohort")},
            "survival": frame(self.survival),
            "onboarding": {k: plain(v) for k, v in self.onboarding.items()},
            "expansion": {k: plain(v) for k, v in asdict(self.expansion).items()},
            "effort": {"months": frame(self.effort), "trend_per_month": plain(self.effort_trend)},
            "nps": {
                "months": frame(self.nps),
                "by_segment": frame(self.nps_by_segment),
                "total": {k: plain(v) for k, v in asdict(self.nps_total).items()},
            },
            "usage": frame(self.usage),
            "support": {"months": frame(self.support), "total": {k: plain(v) for k, v in self.support_totals.items()}},
            "pareto": {k: plain(v) for k, v in asdict(self.pareto).items() if k != "lorenz"}
            | {"lorenz": [[x, y] for x, y in self.pareto.lorenz]},
            "ltv": ltv_to_dict(self.ltv),
            "excluded_currencies": [{k: plain(v) for k, v in row.items()} for row in self.excluded_currencies],
        }


def ltv_to_dict(report: ltv_mod.LtvReport, as_of: date | None = None, currency: str | None = None) -> dict[str, Any]:
    """The LTV formulas as JSON (``kizuna ltv formulas --format json``, ``/api/kpis/ltv``)."""
    out: dict[str, Any] = {}
    if as_of is not None:
        out["as_of"] = as_of.isoformat()
    if currency is not None:
        out["currency"] = currency
    out["formulas"] = [
        {"key": f.key, "name": f.name, "expression": f.expression, "value": f.value,
         "inputs": [{"key": i.key, "label": i.label, "value": plain(i.value), "unit": i.unit} for i in f.inputs]}
        for f in report.formulas
    ]  # fmt: skip
    out["ltv_cac"] = plain(report.ltv_cac)
    out["notes"] = list(report.notes)
    return out


def monthly_frame(report: KpiReport) -> pd.DataFrame:
    """One row per reported month with the main monthly KPIs (``--format csv``)."""
    rev = report.revenue[["mi", "month", "mrr", "arr", "accounts", "new", "expansion", "contraction", "churned",
                          "reactivation", "net_change", "logo_churn_rate", "revenue_churn_rate", "grr", "nrr",
                          "grr_12m", "nrr_12m"]]  # fmt: skip
    out = rev.merge(report.effort[["mi", "tickets", "tickets_per_account"]], on="mi", how="left")
    out = out.merge(report.nps[["mi", "responses", "nps"]].rename(columns={"responses": "nps_responses"}),
                    on="mi", how="left")  # fmt: skip
    out = out.merge(report.usage[["mi", "active_accounts", "events"]], on="mi", how="left")
    sup = report.support[["mi", "answer_rate", "resolution_rate", "mean_frt_hours", "median_frt_hours",
                          "exchanges_to_resolve", "csat"]]  # fmt: skip
    out = out.merge(sup, on="mi", how="left")
    out["nps_responses"] = out["nps_responses"].fillna(0).astype("int64")
    return out.drop(columns="mi")


def monthly_rows(report: KpiReport) -> list[MonthlyKpis]:
    """:func:`monthly_frame` as typed rows (NaN → None)."""
    return [MonthlyKpis(**{str(k): plain(v) for k, v in r.items()}) for r in monthly_frame(report).to_dict("records")]


def plain(value: Any) -> Any:
    """A JSON value: numpy scalars unwrapped, NaN → None, dates → ISO text."""
    if value is None:
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if value is pd.NaT:
        return None
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


# --- the backend -------------------------------------------------------------------------

_spark_lock = threading.Lock()
_spark_backends: dict[str, BaseBackend] = {}


def open_backend(database_url: str, analytics_url: str | None = None) -> BaseBackend:
    """The Ibis backend the KPIs run on: ``analytics_url`` when set, else the store itself.

    Spark backends are opened once per process (a session takes seconds to start); the
    others are cheap and opened per call."""
    url = analytics_url or database_url
    if url.split(":", 1)[0].lower() in ("pyspark", "spark"):
        with _spark_lock:
            if url not in _spark_backends:
                _spark_backends[url] = analytics_backend.connect(url)
            return _spark_backends[url]
    return analytics_backend.connect(url)


def close_backend(backend: BaseBackend) -> None:
    """Release a backend from :func:`open_backend` (Spark ones stay open for reuse)."""
    if backend.name == "pyspark":
        return
    # The report's cached tables are temporary: they go with the connection. Forget them
    # first, or Ibis' finalizers try to drop them later (from whichever thread collects
    # them) on a closed connection.
    entries = getattr(backend, "_cache_name_to_entry", None)
    if isinstance(entries, dict):
        for entry in list(entries.values()):
            entry.finalizer.detach()
        entries.clear()
        getattr(backend, "_cache_op_to_entry", {}).clear()
    disconnect = getattr(backend, "disconnect", None)
    if disconnect is not None:
        disconnect()


def _segment_name(options: KpiOptions) -> str | None:
    """``options.segment_by`` checked (None: no breakdown)."""
    seg = options.segment_by
    if not seg:
        return None
    if segments_mod.canonical(seg) not in segments_mod.CHOICES:
        raise InvalidInput(
            _("cannot break KPIs down by {segment!r}; one of: {allowed}").format(
                segment=seg, allowed=", ".join(segments_mod.CHOICES)
            ),
            field="segment_by",
        )
    return seg


def _segments(t: StoreTables, options: KpiOptions, grid: MonthGrid) -> ibis.Table | None:
    seg = _segment_name(options)
    return None if seg is None else segments_mod.segments_for(t, grid, seg, options.currency)


def _segment_frame(t: StoreTables, options: KpiOptions, grid: MonthGrid, lines: pd.DataFrame) -> pd.DataFrame | None:
    """The segments of :func:`_segments`, fetched (``account_id, [mi,] segment``): the plan
    ones computed from the report's fetched lines, the others from their own small fetch."""
    seg = _segment_name(options)
    return None if seg is None else segments_mod.segments_frame(t, grid, seg, lines)


def _segment_now(segments: pd.DataFrame, grid: MonthGrid) -> pd.DataFrame:
    """:func:`_segment_now` of fetched segments."""
    if "mi" not in segments.columns:
        return segments
    now = segments[segments["mi"] == grid.last]
    return now[["account_id", "segment"]].reset_index(drop=True)


def _cache(expr: ibis.Table, index: tuple[str, ...] = ("account_id",)) -> ibis.Table:
    """Materialise a table reused by many queries (a temporary table / Spark cache),
    indexed on ``index`` where that matters (SQLite)."""
    return analytics_backend.materialise(expr, index)


@dataclass
class _Core:
    t: StoreTables
    grid: MonthGrid
    amm: ibis.Table
    segments: ibis.Table | None


def _core(con: BaseBackend, as_of: date, options: KpiOptions) -> _Core:
    """The store's tables, the grid, the account-month MRR and the segments (temporary
    tables: the drill-downs' queries read them)."""
    t = store_tables(con)
    grid = options.grid(as_of)
    amm = _cache(revenue.account_mrr(t, grid, options.currency), index=("account_id", "mi"))
    segments = _segments(t, options, grid)
    if segments is None:
        return _Core(t, grid, amm, None)
    by_month = "mi" in segments.columns
    return _Core(t, grid, amm, _cache(segments, index=("account_id", "mi") if by_month else ("account_id",)))


def kpi_report(con: BaseBackend, as_of: date, options: KpiOptions | None = None) -> KpiReport:
    """Every KPI for ``as_of`` over ``options.months`` months, on ``con``."""
    options = options or KpiOptions()
    t = store_tables(con)
    grid = options.grid(as_of)
    cur = options.currency
    labels = grid.labels()

    # revenue: the earning lines are fetched once (a row per subscription line); the
    # account-month MRR, the segments (by plan), the first earning days, the lifetimes and
    # the upsell/cross-sell counts are computed from them, and every revenue total from the
    # account-month MRR (revenue.revenue_totals); with segments, each total is by segment and
    # summed here (every account has exactly one segment in a month, so the sums are the
    # overall figures)
    lines = revenue.line_facts(t, cur).execute()
    segs = _segment_frame(t, options, grid, lines)
    months_df = revenue.account_months_frame(revenue.account_mrr_frame(grid, lines), segs)
    # each account's first earning day and last end (the lifetimes of the survival curves)
    spans = revenue.line_spans(lines, as_of)
    first_df = spans[["account_id", "first_earned"]]
    totals = revenue.revenue_totals(grid, months_df, first_df)
    if segs is not None:
        start_seg = totals.start if "mi" in segs.columns else None
        rev_seg = revenue.revenue_table(grid, totals.mrr, totals.movements, totals.trailing, keys=["segment"],
                                        start=start_seg)  # fmt: skip
        seg_frame = _segment_now(segs, grid)
        mrr_df = _unsegment(totals.mrr, ["mi"])
        mv_df = _unsegment(totals.movements, ["mi", "kind"])
        tr_df = _unsegment(totals.trailing, ["mi"])
    else:
        rev_seg, seg_frame = pd.DataFrame(), None
        mrr_df, mv_df, tr_df = totals.mrr, totals.movements, totals.trailing
    full = revenue.revenue_table(grid, mrr_df, mv_df, tr_df, lookback=True)
    rev = full[full["mi"] >= grid.first_reported].reset_index(drop=True)

    # retention
    logo, rev_ret = retention.cohort_tables(grid, *retention.cohort_frames(grid, months_df, first_df))
    life = retention.with_paying(spans, months_df.loc[months_df["mi"] == grid.last, "account_id"])
    survival = retention.kaplan_meier(life, as_of, max(options.months, SURVIVAL_MONTHS), seg_frame)

    # success
    onboarding = success.onboarding_summary(success.onboarding_accounts(t, grid).execute(), options.zone)
    n_base, n_up, n_cross = success.expansion_counts(grid, lines)
    expansion = Expansion(
        window_start=labels[grid.first_reported - 1], base_accounts=n_base,
        upsell_accounts=n_up, upsell_rate=n_up / n_base if n_base else None,
        cross_sell_accounts=n_cross, cross_sell_rate=n_cross / n_base if n_base else None,
    )  # fmt: skip
    answers = success.nps_answers(t, grid)
    if segs is not None:  # as for revenue: by segment once, summed for the totals
        nps_counts = success.nps_counts(answers, segs)
        nps_seg = success.nps_table(grid, nps_counts, ["segment"])
        nps = success.nps_table(grid, _unsegment(nps_counts, ["mi"]))
    else:
        nps, nps_seg = success.nps_table(grid, success.nps_counts(answers)), pd.DataFrame()
    responses = int(nps["responses"].sum())
    nps_total = NpsTotal(
        responses=responses, promoters=int(nps["promoters"].sum()), passives=int(nps["passives"].sum()),
        detractors=int(nps["detractors"].sum()),
        nps=100.0 * (int(nps["promoters"].sum()) - int(nps["detractors"].sum())) / responses if responses else None,
    )  # fmt: skip
    usage = success.usage_by_month(t, grid).execute()
    usage = pd.DataFrame({"mi": range(grid.first_reported, grid.size)}).merge(usage, on="mi", how="left")
    usage["active_accounts"] = usage["active_accounts"].fillna(0).astype("int64")
    usage["events"] = usage["events"].fillna(0.0).astype("float64")
    usage.insert(1, "month", [labels[mi] for mi in usage["mi"]])

    # support (the tickets are placed in their months once, fetched and summed; effort counts them too)
    sums_df, medians_df, tsums_df, tmedians_df = support.support_frames(
        support.fetched_ticket_facts(t, grid), grid.first_reported
    )
    effort, effort_trend = success.effort_table(grid, sums_df[["mi", "tickets"]], mrr_df)
    sup = support.support_table(sums_df, medians_df, labels)
    sup = sup[sup["mi"] >= grid.first_reported].reset_index(drop=True)
    sup_row = support.support_table(tsums_df, tmedians_df)
    sup_total = {
        col: (int(sup_row[col].iloc[0]) if sup_row[col].dtype.kind == "i" else plain(sup_row[col].iloc[0]))
        for col in sup_row.columns
    }

    # pareto
    par = pareto_mod.pareto(months_df.loc[months_df["mi"] == grid.last, "mrr"])

    # LTV
    window = mrr_df[mrr_df["mi"] >= grid.first_reported]
    distinct = int(months_df.loc[months_df["mi"] >= grid.first_reported, "account_id"].nunique())
    last = rev.iloc[-1]
    churn = revenue.trailing_logo_churn(full)
    ltv = ltv_mod.ltv_formulas(
        mrr=int(last["mrr"]), paying_accounts=int(last["accounts"]), monthly_churn=churn,
        account_months=int(window["accounts"].sum()), account_months_mrr=int(window["mrr"].sum()),
        distinct_accounts=distinct, gross_margin=options.gross_margin, acquisition_cost=options.acquisition_cost,
        retention_cost_per_year=options.retention_cost,
    )  # fmt: skip

    excluded = revenue.other_currencies(t, cur, as_of).execute()
    headline = KpiHeadline(
        mrr=int(last["mrr"]), arr=int(last["arr"]), paying_accounts=int(last["accounts"]),
        net_change=int(last["net_change"]), logo_churn_rate=churn, revenue_churn_rate=_window_rate(rev),
        grr_12m=revenue.as_float(last["grr_12m"]), nrr_12m=revenue.as_float(last["nrr_12m"]),
        nps=nps_total.nps, onboarding_completion_rate=onboarding["completion_rate"],
        upsell_rate=expansion.upsell_rate, cross_sell_rate=expansion.cross_sell_rate,
        tickets_per_account=revenue.as_float(effort["tickets_per_account"].iloc[-1]),
        median_frt_hours=revenue.as_float(sup_total["median_frt_hours"]),
        top_20_share=par.top_share, gini=par.gini, ltv=ltv.formulas[2].value, ltv_cac=ltv.ltv_cac,
    )  # fmt: skip
    return KpiReport(
        as_of=as_of, months=options.months, currency=cur, backend=str(con.name), segment_by=options.segment_by,
        headline=headline, headline_previous=_previous_headline(full, effort), current_month=month_progress(as_of), revenue=rev, revenue_by_segment=rev_seg, cohorts_logo=logo, cohorts_revenue=rev_ret,
        survival=survival, onboarding=onboarding, expansion=expansion, effort=effort, effort_trend=effort_trend,
        nps=nps, nps_by_segment=nps_seg, nps_total=nps_total, usage=usage, support=sup,
        support_totals={k: plain(v) for k, v in sup_total.items()}, pareto=par, ltv=ltv,
        excluded_currencies=[{k: plain(v) for k, v in r.items()} for r in excluded.to_dict(orient="records")],
    )  # fmt: skip


def _unsegment(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per-segment integer counts summed over the segments: the overall figures."""
    values = [c for c in frame.columns if c not in keys and c != "segment"]
    out = frame.groupby(keys, as_index=False)[values].sum()
    for col in values:
        out[col] = out[col].astype("int64")
    return out


def month_progress(as_of: date) -> MonthProgress:
    """The reported month (``YYYY-MM``), its days so far and in all, and whether it is over."""
    total = calendar.monthrange(as_of.year, as_of.month)[1]
    return MonthProgress(f"{as_of.year:04d}-{as_of.month:02d}", as_of.day, total, as_of.day == total)


def _previous_headline(full: pd.DataFrame, effort: pd.DataFrame) -> dict[str, Any]:
    """The headline figures that have a monthly value, as they were one month earlier."""
    if len(full) < 2:
        return {}
    prev = full.iloc[-2]
    out: dict[str, Any] = {
        "mrr": int(prev["mrr"]), "arr": int(prev["arr"]), "paying_accounts": int(prev["accounts"]),
        "net_change": int(prev["net_change"]), "logo_churn_rate": revenue.trailing_logo_churn(full.iloc[:-1]),
        "nrr": revenue.as_float(prev["nrr"]), "grr": revenue.as_float(prev["grr"]),
        "nrr_12m": revenue.as_float(prev["nrr_12m"]), "grr_12m": revenue.as_float(prev["grr_12m"]),
    }  # fmt: skip
    if len(effort) >= 2:
        out["tickets_per_account"] = revenue.as_float(effort["tickets_per_account"].iloc[-2])
    return out


def _window_rate(rev: pd.DataFrame) -> float | None:
    """(churned + contraction) ÷ starting MRR, summed over the window's months."""
    start = int(rev["start_mrr"].sum())
    if not start:
        return None
    return float(-(rev["churned"].sum() + rev["contraction"].sum())) / start


def ltv_report(con: BaseBackend, as_of: date, options: KpiOptions | None = None) -> ltv_mod.LtvReport:
    """Just the LTV formulas (``kizuna ltv formulas``): same inputs as :func:`kpi_report`."""
    options = options or KpiOptions()
    # as in kpi_report: from the earning lines fetched once (no segments: no figure here uses them)
    grid = options.grid(as_of)
    _segment_name(options)  # the same check of the options as the report's
    lines = revenue.line_facts(store_tables(con), options.currency).execute()
    months_df = revenue.account_months_frame(revenue.account_mrr_frame(grid, lines))
    totals = revenue.revenue_totals(grid, months_df, revenue.line_spans(lines, as_of)[["account_id", "first_earned"]])
    full = revenue.revenue_table(grid, totals.mrr, totals.movements, totals.trailing, lookback=True)
    window = totals.mrr[totals.mrr["mi"] >= grid.first_reported]
    distinct = int(months_df.loc[months_df["mi"] >= grid.first_reported, "account_id"].nunique())
    last = full.iloc[-1]
    return ltv_mod.ltv_formulas(
        mrr=int(last["mrr"]), paying_accounts=int(last["accounts"]), monthly_churn=revenue.trailing_logo_churn(full),
        account_months=int(window["accounts"].sum()), account_months_mrr=int(window["mrr"].sum()),
        distinct_accounts=distinct, gross_margin=options.gross_margin, acquisition_cost=options.acquisition_cost,
        retention_cost_per_year=options.retention_cost,
    )  # fmt: skip


# --- drill-down: the accounts behind a number --------------------------------------------


def kpi_accounts(
    con: BaseBackend,
    as_of: date,
    options: KpiOptions | None = None,
    *,
    metric: str,
    month: str | None = None,
    age: int | None = None,
    segment: str | None = None,
) -> pd.DataFrame:
    """The accounts behind one number: ``account_id, name, value`` (+ ``before``/``after``
    for movements, ``start``/``end`` for 12-month retention), largest value first.

    ``month`` (``YYYY-MM``, default the ``as_of`` month) picks the month; for ``cohort``
    it is the cohort's month and ``age`` the months since; ``segment`` keeps one segment
    of ``options.segment_by``."""
    options = options or KpiOptions()
    if metric not in DRILLDOWN_METRICS:
        raise InvalidInput(
            _("unknown metric {metric!r}; one of: {metrics}").format(
                metric=metric, metrics=", ".join(DRILLDOWN_METRICS)
            ),
            field="metric",
        )
    c = _core(con, as_of, options)
    grid, amm, t = c.grid, c.amm, c.t
    labels = grid.labels()
    mi = grid.last
    if month is not None:
        if month not in labels[grid.first_reported :]:
            raise InvalidInput(
                _("month {month!r} is not in the report (from {first} to {last})").format(
                    month=month, first=labels[grid.first_reported], last=labels[-1]
                ),
                field="month",
            )
        mi = labels.index(month)
    expr: ibis.Table
    if metric == "mrr":
        expr = amm.filter(amm.mi == mi).select("account_id", value="mrr")
    elif metric in revenue.MOVEMENTS:
        mv = revenue.movements_by_account(t, grid, options.currency, amm)
        mv = mv.filter(mv.mi == mi, mv.kind == metric)
        expr = mv.select("account_id", value=mv.delta, before=mv.prev, after=mv.cur)
    elif metric == "retained_12m":
        tr = revenue.trailing_accounts(amm, mi)
        expr = tr.select("account_id", value=tr.end, start=tr.start, end=tr.end)
    elif metric == "cohort":
        members = retention.cohort_members(t, grid, options.currency).filter(ibis._.cohort_mi == mi)
        at = amm.filter(amm.mi == mi + (age or 0)).select(a_account="account_id", value="mrr")
        j = members.left_join(at, members.account_id == at.a_account)
        expr = j.select("account_id", value=ibis.coalesce(j.value, 0))
    elif metric in ("upsell", "cross_sell"):
        _base, upsold, cross = success.expansion_accounts(t, grid, options.currency)
        chosen = upsold if metric == "upsell" else cross
        now = amm.filter(amm.mi == grid.last).select(a_account="account_id", value="mrr")
        j = chosen.left_join(now, chosen.account_id == now.a_account)
        expr = j.select("account_id", value=ibis.coalesce(j.value, 0))
    else:  # top_20
        now = amm.filter(amm.mi == grid.last)
        n = int(now.count().execute())
        expr = (
            now.order_by([now.mrr.desc(), now.account_id]).limit(math.ceil(0.2 * n)).select("account_id", value="mrr")
        )
    if segment is not None and c.segments is not None:
        # the segment the account had at the start of the month (of the 12 months, for retained_12m)
        back = 11 if metric == "retained_12m" else 0
        at = c.segments.filter(c.segments.mi == mi - back) if "mi" in c.segments.columns else c.segments
        seg = at.filter(at.segment == segment).select(s_account="account_id")
        expr = expr.semi_join(seg, expr.account_id == seg.s_account)
    names = t.accounts.select(n_id="id", name="name", external_id="external_id")
    j = expr.join(names, expr.account_id == names.n_id).drop("n_id")
    out = j.execute()
    first = ["account_id", "external_id", "name", "value"]
    out = out[first + [col for col in out.columns if col not in first]]
    out["_size"] = out["value"].abs()
    out = out.sort_values(["_size", "account_id"], ascending=[False, True]).drop(columns="_size")
    result: pd.DataFrame = out.reset_index(drop=True)
    return result
