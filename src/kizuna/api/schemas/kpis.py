"""The KPI report's JSON twin (``/api/kpis``), the LTV formulas and the drill-down: the
headline named field by field; the monthly tables as rows of column → value (numbers,
``YYYY-MM`` months, segment names; definitions in docs/kpis.md)."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from kizuna.api.schemas.common import ClosedOutput

#: A cell of a KPI table: a number, a ``YYYY-MM`` month or a segment's name, or null.
Cell = bool | int | float | str | None
#: One row of a KPI table: column → value (the columns are listed in docs/kpis.md).
Row = dict[str, Cell]


class KpiHeadlineOut(ClosedOutput):
    """The numbers of the top row. Money in minor units of `currency`; rates as fractions."""

    mrr: int
    arr: int
    paying_accounts: int
    net_change: int = Field(description="MRR change over the reported month.")
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


class KpiPreviousOut(ClosedOutput):
    """The headline figures that have a monthly value, one month earlier (empty without one)."""

    mrr: int | None = None
    arr: int | None = None
    paying_accounts: int | None = None
    net_change: int | None = None
    logo_churn_rate: float | None = None
    nrr: float | None = None
    grr: float | None = None
    nrr_12m: float | None = None
    grr_12m: float | None = None
    tickets_per_account: float | None = None


class MonthProgressOut(ClosedOutput):
    month: str = Field(description="YYYY-MM.")
    days: int = Field(description="Days of the month up to `as_of`.")
    days_in_month: int
    complete: bool


class CohortsOut(ClosedOutput):
    logo: list[Row] = Field(description="Per cohort month: the share of its accounts still paying at each age.")
    revenue: list[Row] = Field(description="Per cohort month: the share of its starting MRR at each age.")


class EffortOut(ClosedOutput):
    months: list[Row]
    trend_per_month: float | None


class NpsOut(ClosedOutput):
    months: list[Row]
    by_segment: list[Row]
    total: Row = Field(description="responses, promoters, passives, detractors, nps over the window.")


class SupportOut(ClosedOutput):
    months: list[Row]
    total: Row


class ParetoOut(ClosedOutput):
    accounts: int
    total_mrr: int
    top_accounts: int
    top_mrr: int
    top_share: float | None
    gini: float | None
    lorenz: list[list[float]] = Field(description="(share of accounts, share of MRR) points.")


class LtvInputOut(ClosedOutput):
    key: str
    label: str
    value: int | float | None
    unit: str = Field(description="money (minor units), rate, months, years, count or per_year.")


class LtvFormulaOut(ClosedOutput):
    key: str
    name: str
    expression: str
    value: int | None = Field(description="Minor units of `currency`; null when an input is missing.")
    inputs: list[LtvInputOut]


class LtvFormulasOut(ClosedOutput):
    formulas: list[LtvFormulaOut]
    ltv_cac: float | None
    notes: list[str]


class LtvOut(LtvFormulasOut):
    """The LTV formulas for a day (``kizuna ltv formulas --format json``)."""

    as_of: date
    currency: str


class AtRiskOut(ClosedOutput):
    accounts: int = Field(description="Accounts flagged at risk today.")
    mrr: int = Field(description="Their MRR in minor units of `currency`.")


class TargetOut(ClosedOutput):
    key: str
    op: str
    value: float
    kind: str


class ExcludedCurrencyOut(ClosedOutput):
    """Lines in another currency than the report's, left out of it."""

    currency: str
    lines: int
    accounts: int
    mrr: int = Field(description="Minor units of that currency.")


class KpiReportOut(ClosedOutput):
    as_of: date
    months: int
    currency: str
    backend: str
    segment_by: str | None
    headline: KpiHeadlineOut
    headline_previous: KpiPreviousOut
    current_month: MonthProgressOut
    revenue: list[Row] = Field(description="One row per month: mrr, arr, accounts, the movements, churn, GRR/NRR…")
    revenue_by_segment: list[Row]
    cohorts: CohortsOut
    survival: list[Row] = Field(description="Kaplan–Meier: segment, month, survival, lower, upper, at_risk.")
    onboarding: Row
    expansion: Row
    effort: EffortOut
    nps: NpsOut
    usage: list[Row]
    support: SupportOut
    pareto: ParetoOut
    ltv: LtvFormulasOut
    excluded_currencies: list[ExcludedCurrencyOut]
    at_risk: AtRiskOut
    targets: list[TargetOut]


class KpiAccountsOut(ClosedOutput):
    metric: str
    month: str | None
    count: int
    accounts: list[Row] = Field(description="account_id, external_id, name, value (+ before/after, start/end).")
