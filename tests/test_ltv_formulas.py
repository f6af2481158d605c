"""The five LTV formulas and LTV:CAC from their inputs, worked out by hand (no store, no
report): each formula's value and labelled inputs, the rounding to minor units, and the
edges that leave a formula undefined — no paying account, no churn (None or 0), no
realised months, no acquisition cost (0, negative, or 1 minor unit).

Each test calls :func:`kizuna.analytics.ltv.ltv_formulas` itself: the mutation run
(``scripts/mutate.py``) credits a call made in a shared fixture to the first test only.
"""

from __future__ import annotations

import re

import pytest

from kizuna.analytics.ltv import LtvFormula, LtvReport, ltv_formulas
from kizuna.i18n import gettext, language

BASE = {
    "mrr": 120_000, "paying_accounts": 5, "monthly_churn": 0.05, "account_months": 14,
    "account_months_mrr": 310_000, "distinct_accounts": 6, "gross_margin": 0.8,
    "acquisition_cost": 100_000, "retention_cost_per_year": 12_000,
}  # fmt: skip
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _formulas(report: LtvReport) -> dict[str, LtvFormula]:
    return {f.key: f for f in report.formulas}


def _inputs(formula: LtvFormula) -> dict[str, tuple[float | int | None, str]]:
    return {i.key: (i.value, i.unit) for i in formula.inputs}


def test_the_five_formulas_by_hand() -> None:
    report = ltv_formulas(**BASE)  # type: ignore[arg-type]
    f = _formulas(report)
    assert list(f) == ["average_x_count", "average_x_frequency_x_duration", "arpa_over_churn",
                       "annual_x_margin_x_years", "net"]  # fmt: skip
    # ARPA 120,000 ÷ 5 = 24,000; churn 5 % a month → 20 months = 5/3 years
    # 1. realised: 310,000 ÷ 14 = 22,142.86 a month × 14 ÷ 6 months = 310,000 ÷ 6 = 51,666.67
    assert f["average_x_count"].value == 51_667
    assert _inputs(f["average_x_count"]) == {"average_payment": (22_143, "money"),
                                             "payments": (pytest.approx(14 / 6), "count")}  # fmt: skip
    # 2. 24,000 × 12 × 5/3 = 480,000
    assert f["average_x_frequency_x_duration"].value == 480_000
    assert _inputs(f["average_x_frequency_x_duration"]) == {
        "arpa": (24_000, "money"),
        "frequency": (12, "per_year"),
        "years": (pytest.approx(5 / 3), "years"),
    }
    # 3. 24,000 × 100 ÷ 5 (%) = 480,000
    assert f["arpa_over_churn"].value == 480_000
    assert _inputs(f["arpa_over_churn"]) == {"arpa": (24_000, "money"), "churn_pct": (pytest.approx(5.0), "percent")}
    # 4. 288,000 × 0.8 × 5/3 = 384,000
    assert f["annual_x_margin_x_years"].value == 384_000
    assert _inputs(f["annual_x_margin_x_years"]) == {
        "annual_revenue": (288_000, "money"),
        "gross_margin": (0.8, "rate"),
        "years": (pytest.approx(5 / 3), "years"),
    }
    # 5. 384,000 − (100,000 + 12,000 × 5/3 = 20,000) = 264,000
    assert f["net"].value == 264_000
    assert _inputs(f["net"]) == {
        "arpa": (24_000, "money"), "gross_margin": (0.8, "rate"), "frequency": (12, "per_year"),
        "years": (pytest.approx(5 / 3), "years"), "acquisition_cost": (100_000, "money"),
        "retention_cost": (12_000, "money")}  # fmt: skip
    assert report.ltv_cac == pytest.approx(3.84)  # 384,000 ÷ 100,000
    assert report.notes == []


def test_money_is_rounded_to_the_nearest_minor_unit() -> None:
    # ARPA 10,001 ÷ 2 = 5,000.5 → 5,000 (half to even); churn 1/3 → 3 months = 0.25 years
    report = ltv_formulas(**{**BASE, "mrr": 10_001, "paying_accounts": 2, "monthly_churn": 1 / 3,
                             "account_months": 3, "account_months_mrr": 10, "distinct_accounts": 2,
                             "gross_margin": 0.5, "acquisition_cost": 7, "retention_cost_per_year": 4})  # fmt: skip
    f = _formulas(report)
    assert _inputs(f["arpa_over_churn"])["arpa"] == (5_000, "money")
    # 1. 10 ÷ 3 = 3.33 → 3 shown; × 3 ÷ 2 = 5 (the product of the unrounded values)
    assert f["average_x_count"].value == 5
    assert _inputs(f["average_x_count"])["average_payment"] == (3, "money")
    # 2. and 3. 5,000.5 × 3 = 15,001.5 → 15,002 (the unrounded ARPA)
    assert f["average_x_frequency_x_duration"].value == 15_002
    assert f["arpa_over_churn"].value == 15_002
    # 4. 60,006 × 0.5 × 0.25 = 7,500.75 → 7,501; annual revenue shown 60,006
    assert f["annual_x_margin_x_years"].value == 7_501
    assert _inputs(f["annual_x_margin_x_years"])["annual_revenue"] == (60_006, "money")
    # 5. 7,500.75 − (7 + 4 × 0.25) = 7,492.75 → 7,493
    assert f["net"].value == 7_493
    assert report.ltv_cac == pytest.approx(7_500.75 / 7)


@pytest.mark.parametrize("churn", [None, 0.0])
def test_no_churn_leaves_the_lifetime_formulas_undefined(churn: float | None) -> None:
    report = ltv_formulas(**{**BASE, "monthly_churn": churn})  # type: ignore[arg-type]
    f = _formulas(report)
    assert f["average_x_count"].value == 51_667  # realised: needs no lifetime
    for key in ("average_x_frequency_x_duration", "arpa_over_churn", "annual_x_margin_x_years", "net"):
        assert f[key].value is None, key
    assert _inputs(f["arpa_over_churn"]) == {"arpa": (24_000, "money"), "churn_pct": (None, "percent")}
    assert _inputs(f["net"])["years"] == (None, "years")
    assert report.ltv_cac is None
    assert report.notes == ["no churn in the last 12 months: lifetime-based formulas are undefined"]


def test_no_paying_account_leaves_the_arpa_formulas_undefined() -> None:
    report = ltv_formulas(**{**BASE, "mrr": 0, "paying_accounts": 0})  # type: ignore[arg-type]
    f = _formulas(report)
    assert f["average_x_count"].value == 51_667
    for key in ("average_x_frequency_x_duration", "arpa_over_churn", "annual_x_margin_x_years", "net"):
        assert f[key].value is None, key
    assert _inputs(f["net"])["arpa"] == (None, "money")
    assert _inputs(f["annual_x_margin_x_years"])["annual_revenue"] == (None, "money")
    assert _inputs(f["net"])["years"] == (pytest.approx(5 / 3), "years")
    assert report.ltv_cac is None
    assert report.notes == ["no paying accounts at the reporting date"]


def test_no_churn_and_no_paying_account_give_both_notes_in_order() -> None:
    report = ltv_formulas(**{**BASE, "paying_accounts": 0, "monthly_churn": None,  # type: ignore[arg-type]
                             "acquisition_cost": 0})  # fmt: skip
    assert report.notes == ["no churn in the last 12 months: lifetime-based formulas are undefined",
                            "no paying accounts at the reporting date",
                            "no acquisition cost set: LTV:CAC is undefined"]  # fmt: skip


@pytest.mark.parametrize(("months", "accounts"), [(0, 6), (14, 0)])
def test_no_realised_months_or_accounts_leave_formula_1_undefined(months: int, accounts: int) -> None:
    report = ltv_formulas(**{**BASE, "account_months": months, "distinct_accounts": accounts})  # type: ignore[arg-type]
    f = _formulas(report)
    assert f["average_x_count"].value is None
    inputs = _inputs(f["average_x_count"])
    if months == 0:  # no average payment; payments 0 ÷ 6 = 0
        assert inputs == {"average_payment": (None, "money"), "payments": (0.0, "count")}
    else:  # average 22,143; no payments per account
        assert inputs == {"average_payment": (22_143, "money"), "payments": (None, "count")}
    assert f["net"].value == 264_000  # the others do not read them


@pytest.mark.parametrize(("cost", "ratio"), [(0, None), (-5, None), (1, 384_000.0)])
def test_ltv_cac_needs_a_positive_acquisition_cost(cost: int, ratio: float | None) -> None:
    report = ltv_formulas(**{**BASE, "acquisition_cost": cost})  # type: ignore[arg-type]
    assert report.ltv_cac == (None if ratio is None else pytest.approx(ratio))
    # 384,000 − (cost + 20,000)
    assert _formulas(report)["net"].value == 364_000 - cost
    notes = ["no acquisition cost set: LTV:CAC is undefined"] if ratio is None else []
    assert report.notes == notes


def test_every_name_expression_and_label_is_translated() -> None:
    report = ltv_formulas(**BASE)  # type: ignore[arg-type]
    empty = ltv_formulas(**{**BASE, "paying_accounts": 0, "monthly_churn": None,  # type: ignore[arg-type]
                            "acquisition_cost": 0})  # fmt: skip
    texts = [t for f in report.formulas for t in (f.name, f.expression, *(i.label for i in f.inputs))]
    texts += empty.notes
    assert len(texts) == 5 * 2 + (2 + 3 + 2 + 3 + 6) + 3  # names and expressions, inputs, notes
    with language("ja"):
        for text in texts:
            assert isinstance(text, str), text
            assert not JAPANESE.search(text), text
            assert JAPANESE.search(gettext(text)), text
    f = _formulas(report)
    assert f["arpa_over_churn"].name == "ARPA × 100 ÷ churn rate (%)"
    assert f["net"].name == "Net LTV"
