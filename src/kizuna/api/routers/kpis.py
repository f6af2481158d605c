"""``/api/kpis``: the KPI report, the LTV formulas and the accounts behind a number —
the JSON twins of ``kizuna kpis``, ``kizuna ltv formulas`` and the KPI page."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kizuna.api.routers._common import READ
from kizuna.api.schemas.common import InDateRange
from kizuna.api.schemas.kpis import KpiAccountsOut, KpiReportOut, LtvOut
from kizuna.domain.kpi_targets import parse_targets
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.services import accounts as accounts_service
from kizuna.services import kb, kpis

router = APIRouter(prefix="/api/kpis", tags=["kpis"])

AsOf = Annotated[
    date | None, Query(description="The day to report on (default: today in KIZUNA_TIMEZONE)."), InDateRange
]
Months = Annotated[int | None, Query(ge=1, le=120, description="Months to report (default: KIZUNA_KPI_MONTHS).")]
By = Annotated[
    str,
    Query(max_length=64, pattern=r"^[a-z_]+$",
          description="Break revenue, NPS and retention down by the segment each account had at the "
                      "start of each month: plan, tier, stage, owner, fit, industry, or none."),
]  # fmt: skip


def _run(state: Any, as_of: date | None, months: int | None, by: str, fn: Any, **kw: Any) -> Any:
    """``fn(backend, day, options, **kw)`` on the analytics backend; the answer is kept
    while the store is unchanged (``state.reports``: SQLite only, never when the KPIs
    read another analytics store), by everything it depends on — the resolved day
    included."""
    settings = state.settings
    options = kpis.KpiOptions.from_settings(settings, months=months, segment_by=None if by == "none" else by)
    day = as_of or today(settings)

    def compute() -> Any:
        backend = kpis.open_backend(settings.database_url, settings.analytics_url)
        try:
            return fn(backend, day, options, **kw)
        finally:
            kpis.close_backend(backend)

    if settings.analytics_url not in (None, "", settings.database_url):
        return compute()
    version = state.reports.version()  # read before the report reads the store
    key = repr((fn.__name__, day, options, sorted(kw.items())))
    return state.reports.get(key, version, compute)


@router.get("", response_model=KpiReportOut, response_model_exclude_unset=True, responses=READ,
            summary="The KPI report")
def get_kpis(state: State, principal: CurrentPrincipal, as_of: AsOf = None, months: Months = None,
             by: By = "plan") -> KpiReportOut:  # fmt: skip
    """Every KPI month by month up to `as_of` (what `kizuna kpis --format json`
    prints): revenue and its movements, churn, GRR/NRR, cohorts, retention curves,
    onboarding, upsell/cross-sell, effort, NPS, usage, support, Pareto and LTV. Money in
    minor units of `currency`. Definitions: docs/kpis.md.

    Beyond the CLI's report, what the KPI page shows from the store: `at_risk` (accounts
    flagged at risk today and their MRR in `currency`) and `targets` (KIZUNA_KPI_TARGETS:
    `{key, op, value, kind}`, rates as fractions, money in major units)."""
    report: kpis.KpiReport = _run(state, as_of, months, by, kpis.kpi_report)
    with state.unit_of_work() as session:
        at_risk = accounts_service.at_risk_summary(session, report.currency)
    targets = [t.to_dict() for t in parse_targets(state.settings.kpi_targets).values()]
    return KpiReportOut.model_validate(report.to_dict() | {"at_risk": asdict(at_risk), "targets": targets})


class DeflectionOut(BaseModel):
    days: int
    as_of: date
    playbooks: list[str]
    sent_accounts: int
    holdout_accounts: int
    sent_tickets: int
    holdout_tickets: int
    sent_rate: float | None
    holdout_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    minimum: int
    enough: bool


@router.get("/deflection", response_model=DeflectionOut, responses=READ, summary="Ticket deflection by articles")
def get_deflection(state: State, principal: CurrentPrincipal, as_of: AsOf = None,
                   days: Annotated[int, Query(ge=1, le=365, description="Days after the send.")] = 30) -> DeflectionOut:  # fmt: skip
    """Tickets per active account in the `days` days after a playbook sent knowledge-base
    articles, against the accounts that playbook held out: the means, the difference (sent −
    held out) and its 95 % interval (Welch's); `enough` is false while either group has fewer
    than `minimum` accounts (what `kizuna kb deflection --format json` prints)."""
    with state.unit_of_work() as session:
        found = kb.deflection(session, as_of or today(state.settings), days=days)
    return DeflectionOut.model_validate({**asdict(found), "playbooks": list(found.playbooks)})


@router.get("/ltv", response_model=LtvOut, responses=READ, summary="The LTV formulas")
def get_ltv(state: State, principal: CurrentPrincipal, as_of: AsOf = None, months: Months = None) -> LtvOut:
    """The five seed LTV formulas with their labelled inputs, and LTV:CAC (what `kizuna ltv
    formulas --format json` prints)."""
    settings = state.settings
    day = as_of or today(settings)
    report = _run(state, day, months, "none", kpis.ltv_report)
    return LtvOut.model_validate(kpis.ltv_to_dict(report, day, settings.default_currency))


@router.get("/accounts", response_model=KpiAccountsOut, responses=READ, summary="The accounts behind a KPI")
def get_kpi_accounts(
    state: State,
    principal: CurrentPrincipal,
    metric: Annotated[str, Query(max_length=32, description=f"One of: {', '.join(kpis.DRILLDOWN_METRICS)}.")],
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (default: the as_of month); "
                                       "for `cohort`, the cohort's month.")] = None,
    age: Annotated[int | None, Query(ge=0, le=120, description="For `cohort`: months since the cohort month.")] = None,
    segment: Annotated[str | None, Query(max_length=200, description="Keep one segment of `by`.")] = None,
    as_of: AsOf = None,
    months: Months = None,
    by: By = "plan",
) -> KpiAccountsOut:  # fmt: skip
    """The accounts whose figures make up one number of the report (largest first):
    `account_id`, `external_id`, `name`, `value` (+ `before`/`after` for movements)."""
    frame = _run(state, as_of, months, by, kpis.kpi_accounts, metric=metric, month=month, age=age, segment=segment)
    rows = [{k: kpis.plain(v) for k, v in r.items()} for r in frame.to_dict(orient="records")]
    return KpiAccountsOut(metric=metric, month=month, count=len(rows), accounts=rows)
