"""LTV (顧客生涯価値): the five formulas of the seeds, each with its inputs labelled,
and LTV:CAC.

Inputs (money in minor units of the reporting currency):

- **ARPA** (平均顧客単価) = MRR at ``as_of`` ÷ paying accounts at ``as_of``;
- **monthly churn rate** (解約率) = churned accounts over the last 12 months ÷ the paying
  accounts at the start of each of those months (summed);
- **lifetime** (継続期間) = 1 ÷ monthly churn rate months = that ÷ 12 years;
- **average payment** and **payments per account** (realised): over the snapshots of
  the window, MRR of paying account-months ÷ their number, and paying account-months ÷
  distinct paying accounts;
- **gross margin** (収益率), **acquisition cost** (新規顧客獲得コスト) and **retention
  cost per account per year** (既存顧客維持コスト) are settings.

The formulas (seed: ``docs/kpis.md`` cites them):

1. average purchase × number of purchases (realised, within the window);
2. average purchase (ARPA) × frequency (12 a year) × duration (years);
3. ARPA × 100 ÷ churn rate (%);
4. annual revenue per account (ARPA × 12) × margin × years;
5. net LTV = ARPA × margin × frequency × years − (acquisition cost + retention cost × years).

**LTV:CAC** = formula 4 (margin LTV before costs) ÷ acquisition cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kizuna.i18n import N_


@dataclass(frozen=True)
class LtvInput:
    key: str
    label: str  # English; translate when shown
    value: float | int | None
    unit: str  # "money" (minor units), "rate", "months", "years", "count", "per_year"


@dataclass(frozen=True)
class LtvFormula:
    key: str
    name: str  # English; translate when shown
    expression: str  # English; translate when shown
    value: int | None  # minor units; None when an input is missing (e.g. no churn yet)
    inputs: list[LtvInput] = field(default_factory=list)


@dataclass(frozen=True)
class LtvReport:
    formulas: list[LtvFormula]
    ltv_cac: float | None
    notes: list[str] = field(default_factory=list)  # English; translate when shown


def _money(value: float | None) -> int | None:
    return None if value is None else round(value)


def ltv_formulas(
    *,
    mrr: int,
    paying_accounts: int,
    monthly_churn: float | None,
    account_months: int,
    account_months_mrr: int,
    distinct_accounts: int,
    gross_margin: float,
    acquisition_cost: int,
    retention_cost_per_year: int,
) -> LtvReport:
    """The five formulas from their inputs (money in minor units)."""
    arpa = mrr / paying_accounts if paying_accounts else None
    avg_payment = account_months_mrr / account_months if account_months else None
    payments = account_months / distinct_accounts if distinct_accounts else None
    churn = monthly_churn if monthly_churn else None
    months = 1 / churn if churn else None
    years = months / 12 if months is not None else None
    notes: list[str] = []
    if churn is None:
        notes.append(N_("no churn in the last 12 months: lifetime-based formulas are undefined"))
    if arpa is None:
        notes.append(N_("no paying accounts at the reporting date"))

    i_arpa = LtvInput("arpa", N_("ARPA (MRR per paying account)"), _money(arpa), "money")
    i_years = LtvInput("years", N_("lifetime (years) = 1 ÷ (monthly churn × 12)"), years, "years")
    i_margin = LtvInput("gross_margin", N_("gross margin"), gross_margin, "rate")
    i_freq = LtvInput("frequency", N_("payments per year"), 12, "per_year")

    def mul(*xs: float | None) -> float | None:
        out = 1.0
        for x in xs:
            if x is None:
                return None
            out *= x
        return out

    f1 = LtvFormula(
        "average_x_count", N_("Average purchase × number of purchases"),
        N_("average payment × payments per account"),
        _money(mul(avg_payment, payments)),
        [LtvInput("average_payment", N_("average monthly payment (realised)"), _money(avg_payment), "money"),
         LtvInput("payments", N_("monthly payments per account (realised)"), payments, "count")],
    )  # fmt: skip
    f2 = LtvFormula(
        "average_x_frequency_x_duration", N_("Average purchase × frequency × duration"),
        N_("ARPA × payments per year × lifetime (years)"),
        _money(mul(arpa, 12, years)), [i_arpa, i_freq, i_years],
    )  # fmt: skip
    f3 = LtvFormula(
        "arpa_over_churn", N_("ARPA × 100 ÷ churn rate (%)"), N_("ARPA × 100 ÷ (monthly churn rate × 100)"),
        _money(arpa * 100 / (churn * 100)) if arpa is not None and churn else None,
        [i_arpa, LtvInput("churn_pct", N_("monthly churn rate (%)"), churn * 100 if churn else None, "percent")],
    )  # fmt: skip
    annual = arpa * 12 if arpa is not None else None
    f4_value = mul(annual, gross_margin, years)
    f4 = LtvFormula(
        "annual_x_margin_x_years", N_("Annual revenue × margin × years"),
        N_("ARPA × 12 × gross margin × lifetime (years)"),
        _money(f4_value),
        [LtvInput("annual_revenue", N_("annual revenue per account (ARPA × 12)"), _money(annual), "money"),
         i_margin, i_years],
    )  # fmt: skip
    retention_total = retention_cost_per_year * years if years is not None else None
    gross = mul(arpa, gross_margin, 12, years)
    f5 = LtvFormula(
        "net", N_("Net LTV"),
        N_("ARPA × margin × frequency × years − (acquisition cost + retention cost per year × years)"),
        _money(gross - (acquisition_cost + retention_total)) if gross is not None and retention_total is not None
        else None,
        [i_arpa, i_margin, i_freq, i_years,
         LtvInput("acquisition_cost", N_("acquisition cost per account"), acquisition_cost, "money"),
         LtvInput("retention_cost", N_("retention cost per account per year"), retention_cost_per_year, "money")],
    )  # fmt: skip
    ltv_cac = f4_value / acquisition_cost if f4_value is not None and acquisition_cost > 0 else None
    if acquisition_cost <= 0:
        notes.append(N_("no acquisition cost set: LTV:CAC is undefined"))
    return LtvReport([f1, f2, f3, f4, f5], ltv_cac, notes)
