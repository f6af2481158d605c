"""Lifetime value per account (issue 21), the pure part: sBG fitted over many cohorts,
tenure in renewals, DERL against a hand-computed case and a brute-force sum, the pooled
fallback, and the backtest against a constant churn rate on data unlike the demo."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import ltv_accounts as la
from kizuna.analytics import ltv_models
from kizuna.errors import InvalidInput

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]


def _one(start: date, end: date | None, term: int = 12, payment: int = 1_200_000, segment: str = "pro") -> pd.DataFrame:
    return pd.DataFrame([{"account_id": 7, "segment": segment, "term_months": term, "started_on": start,
                          "ended_on": end, "payment": payment, "currency": "JPY"}])  # fmt: skip


def test_derl_of_a_two_renewal_account_is_the_hand_computed_closed_form() -> None:
    # α = β = 1: S(t) = 1/(1+t). An annual contract started 2024-03-15 has renewed on
    # 2025-03-15 and 2026-03-15 by 2026-04-01: n = 2. With a discount of 100% per term
    # (v = 1/2), DERL = Σ_j S(3+j)/S(2) v^j = 3 Σ_j v^j/(4+j) = 3/v⁴ (−ln(1−v) − v − v²/2 − v³/3)
    # = 48 (ln 2 − 2/3) = 1.27106…
    hand = 48 * (math.log(2) - 2 / 3)
    fits = {("pro", 12): la.SegmentFit("pro", 12, 1, 1, 0, 1.0, 1.0, None, False, la.REASON_OWN)}
    options = la.LtvOptions(annual_discount_rate=1.0, margin=0.5)
    row = la.score(_one(date(2024, 3, 15), None), fits, date(2026, 4, 1), options).iloc[0]
    assert row["renewals"] == 2
    assert row["retention"] == pytest.approx(3 / 4)  # (β + n)/(α + β + n)
    assert row["discount_rate"] == pytest.approx(1.0)
    assert row["derl"] == pytest.approx(hand, rel=1e-12)
    assert row["residual_value"] == round(hand * 1_200_000 * 0.5) == 762_639
    # brute force: the discounted sum of the conditional survival, far enough out
    t = np.arange(3, 400)
    brute = float(np.sum((1 / (1 + t)) / (1 / 3) * 0.5 ** (t - 3)))
    assert row["derl"] == pytest.approx(brute, rel=1e-12)


def test_derl_of_fitted_values_equals_the_brute_force_sum_for_every_tenure() -> None:
    fit = ltv_models.fit_sbg(range(8), REGULAR[:8])
    d = 0.1
    for n in (0, 1, 4, 11):
        t = np.arange(n + 1, n + 3000)
        brute = float(np.sum(fit.survival(t) / fit.survival(n) / (1 + d) ** (t - n - 1)))
        assert la.derl(fit.alpha, fit.beta, n, d)[()] == pytest.approx(brute, rel=1e-9)
    # survivors are worth more: DERL rises with tenure (heterogeneity)
    values = la.derl(fit.alpha, fit.beta, np.arange(6), d)
    assert np.all(np.diff(values) > 0)


def test_one_cohort_as_contracts_gives_the_single_cohort_fit() -> None:
    # the published regular cohort, contract by contract: those lost in year t ended after t−1 renewals
    k = np.array(REGULAR[:8])
    renewals = np.concatenate([np.full(int(k[t - 1] - k[t]), t - 1) for t in range(1, 8)] + [np.full(int(k[7]), 7)])
    churned = np.concatenate([np.ones(int(k[0] - k[7]), bool), np.zeros(int(k[7]), bool)])
    many = ltv_models.fit_sbg_tenures(renewals, churned)
    one = ltv_models.fit_sbg(range(8), REGULAR[:8])
    assert (round(many.alpha, 3), round(many.beta, 3)) == (0.704, 1.182)  # Fader & Hardie 2007
    assert many.alpha == pytest.approx(one.alpha, rel=1e-5)
    assert many.log_likelihood == pytest.approx(one.log_likelihood, rel=1e-9)


def test_observed_survival_leaves_out_contracts_short_of_a_renewal() -> None:
    # 4 contracts: ended after 0 renewals; running after 0 (not yet at risk of renewal 1);
    # running after 2; ended after 1. At renewal 1: 3 at risk (the one short of it is out),
    # 2 renewed → 2/3. At renewal 2: 2 at risk (running after 2, ended after 1), 1 renewed → 1/3.
    s = ltv_models.observed_survival([0, 0, 2, 1], [True, False, False, True])
    assert s.tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])


def test_tenure_counts_renewals_on_month_ends_and_churn_on_a_renewal_day() -> None:
    frame = pd.DataFrame([
        {"account_id": 1, "segment": "a", "term_months": 1, "started_on": date(2026, 1, 31), "ended_on": None,
         "payment": 1, "currency": "JPY"},
        # ended on its first renewal day: it never renewed
        {"account_id": 2, "segment": "a", "term_months": 12, "started_on": date(2025, 3, 1),
         "ended_on": date(2026, 3, 1), "payment": 1, "currency": "JPY"},
        {"account_id": 3, "segment": "a", "term_months": 12, "started_on": date(2025, 3, 1),
         "ended_on": date(2026, 3, 2), "payment": 1, "currency": "JPY"},
        # ends on the as-of day (the end is exclusive: it earns nothing that day): churned
        {"account_id": 4, "segment": "a", "term_months": 1, "started_on": date(2026, 1, 29),
         "ended_on": date(2026, 4, 29), "payment": 1, "currency": "JPY"},
    ])  # fmt: skip
    out = la.tenure(frame, date(2026, 4, 29)).set_index("account_id")
    # 1/31 renews on 2/28, 3/31 — not yet on 4/30
    assert out.loc[1, "renewals"] == 2
    assert not out.loc[1, "churned"]
    assert out.loc[2, "renewals"] == 0
    assert out.loc[2, "churned"]
    assert out.loc[3, "renewals"] == 1
    assert out.loc[3, "churned"]
    assert out.loc[4, "churned"]
    assert out.loc[4, "renewals"] == 2  # 2/28 and 3/29; 4/29 is the day it ended


def test_a_segment_with_too_few_cohorts_uses_the_pooled_fit_and_says_so() -> None:
    big = la.simulate_contracts([("pro", 1, 1.0, 4.0, 400)], date(2022, 1, 1), date(2026, 12, 1), seed=3)
    small = _one(date(2026, 2, 1), None, term=1, payment=10_000, segment="new-plan")
    small["account_id"] = 10_000
    fits = la.fit_segments(pd.concat([big, small], ignore_index=True), date(2026, 12, 1))
    own, few, pooled = fits[("pro", 1)], fits[("new-plan", 1)], fits[(la.POOLED, 1)]
    assert not own.pooled
    assert own.reason == la.REASON_OWN
    assert few.pooled
    assert few.reason == la.REASON_FEW_COHORTS
    assert few.cohorts == 1
    assert (few.alpha, few.beta) == (pooled.alpha, pooled.beta)
    # the simulated α = 1, β = 4 is found again
    assert own.alpha == pytest.approx(1.0, rel=0.35)
    assert own.beta == pytest.approx(4.0, rel=0.35)


def test_a_segment_with_a_handful_of_churns_uses_the_pooled_fit_and_says_so() -> None:
    big = la.simulate_contracts([("pro", 1, 1.0, 4.0, 400)], date(2022, 1, 1), date(2026, 12, 1), seed=3)
    rare = la.simulate_contracts([("rare", 1, 1.0, 1e9, 60)], date(2022, 1, 1), date(2026, 6, 1), seed=4)
    rare["account_id"] += 10_000
    rare.loc[:2, "ended_on"] = [s + pd.DateOffset(months=2) for s in pd.to_datetime(rare.loc[:2, "started_on"])]
    rare["ended_on"] = [None if pd.isna(e) else pd.Timestamp(e).date() for e in rare["ended_on"]]
    frame = pd.concat([big, rare], ignore_index=True)
    fits = la.fit_segments(frame, date(2026, 12, 1))
    few, pooled = fits[("rare", 1)], fits[(la.POOLED, 1)]
    assert (few.churned, few.pooled, few.reason) == (3, True, la.REASON_FEW_CHURNS)
    assert (few.alpha, few.beta) == (pooled.alpha, pooled.beta)
    own = la.fit_segments(frame, date(2026, 12, 1), la.LtvOptions(min_churned=3))[("rare", 1)]
    assert (own.pooled, own.reason) == (False, la.REASON_OWN)
    with pytest.raises(InvalidInput) as err:
        la.LtvOptions(min_churned=0)
    assert err.value.field == "min_churned"


def test_no_churn_at_all_is_no_fit_and_no_value() -> None:
    frame = la.simulate_contracts([("pro", 12, 1.0, 1e9, 50)], date(2020, 1, 1), date(2026, 12, 1), seed=1)
    fits = la.fit_segments(frame, date(2026, 12, 1))
    assert not fits[("pro", 12)].fitted
    assert fits[("pro", 12)].reason == la.REASON_UNFITTABLE
    scored = la.score(frame, fits, date(2026, 12, 1))
    assert scored["residual_value"].isna().all()


def test_bad_options_are_named() -> None:
    with pytest.raises(InvalidInput) as err:
        la.LtvOptions(annual_discount_rate=0)
    assert err.value.field == "discount_rate"
    with pytest.raises(InvalidInput):
        la.LtvOptions(margin=1.5)
    with pytest.raises(InvalidInput):
        la.backtest(_one(date(2024, 1, 1), None), date(2026, 1, 1), date(2026, 1, 1))
    with pytest.raises(InvalidInput):
        ltv_models.fit_sbg_tenures([1, -1], [True, False])


# --------------------------------------------------------------------------- backtest

#: Unlike the demo: a segment mixing loyal and flighty accounts (a U-shaped Beta), a
#: flighty one, and annual contracts with spread-out churn.
HETEROGENEOUS = [("mixed", 1, 0.35, 0.9, 3000), ("flighty", 1, 2.0, 3.0, 2000), ("annual", 12, 0.5, 1.5, 3000)]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_backtest_beats_a_constant_churn_rate_on_heterogeneous_segments(seed: int) -> None:
    contracts = la.simulate_contracts(HETEROGENEOUS, date(2014, 1, 1), date(2026, 12, 1), seed=seed)
    rows = la.backtest(contracts, date(2024, 12, 1), date(2026, 12, 1))
    by = {(r.segment, r.term_months): r for r in rows}
    assert set(by) == {("mixed", 1), ("flighty", 1), ("annual", 12), (la.POOLED, 1), (la.POOLED, 12)}
    for key in (("mixed", 1), ("annual", 12), (la.POOLED, 1), (la.POOLED, 12)):
        assert by[key].mae_sbg < 0.9 * by[key].mae_baseline, key
    # a constant rate underestimates the survivors: they are the loyal ones
    assert by[("mixed", 1)].predicted_baseline < by[("mixed", 1)].actual
    assert abs(by[("mixed", 1)].predicted_sbg - by[("mixed", 1)].actual) < 0.1 * by[("mixed", 1)].actual


# --------------------------------------------------------------------------- the aggregate yardstick

#: Three cohorts (tenure bands at the cutoff: 0, 1–2 and 3–5 renewals), four contracts:
#: (renewals at the cutoff n, renewal dates since m, renewals made since k, ended since).
THREE_COHORTS = [(0, 2, 2, False), (0, 2, 0, True), (1, 2, 1, True), (3, 1, 1, False)]


def test_survivors_and_log_likelihood_of_three_cohorts_are_the_hand_computed_ones() -> None:
    n, m, k, ended = (np.array(col) for col in zip(*THREE_COHORTS, strict=True))
    # α = β = 1: S(t) = 1/(t+1), P(T = t) = 1/(t(t+1)); so S(n+j)/S(n) = (n+1)/(n+j+1)
    h = la.holdout(n, m, k, ended, ltv_models.SBGFit(1.0, 1.0, 0.0, 0, True, 0), churn=0.5)
    cells = [(c.band, c.period, c.at_risk, c.actual) for c in h.cells]
    assert cells == [("0", 1, 2, 1), ("0", 2, 2, 1), ("1-2", 1, 1, 1), ("1-2", 2, 1, 0), ("3-5", 1, 1, 1)]
    assert [c.sbg for c in h.cells] == pytest.approx([2 * 1 / 2, 2 * 1 / 3, 2 / 3, 2 / 4, 4 / 5])
    assert [c.baseline for c in h.cells] == pytest.approx([2 * 0.5, 2 * 0.25, 0.5, 0.25, 0.5])
    # |error| per cell: sBG 0, 1/3, 1/3, 1/2, 1/5; constant 0, 1/2, 1/2, 1/4, 1/2
    assert h.survivors_mae_sbg == pytest.approx((1 / 3 + 1 / 3 + 1 / 2 + 1 / 5) / 5)
    assert h.survivors_mae_baseline == pytest.approx(1.75 / 5)
    # percentage over the four cells with survivors (1-2 in period 2 has none)
    assert h.survivors_mape_sbg == pytest.approx(100 * (1 / 3 + 1 / 3 + 1 / 5) / 4)
    assert h.survivors_mape_baseline == pytest.approx(37.5)
    # sBG: S(2)/S(0) · P(T=1)/S(0) · P(T=3)/S(1) · S(4)/S(3) = 1/3 · 1/2 · 1/6 · 4/5 = 1/45
    assert h.log_likelihood_sbg == pytest.approx(math.log(1 / 45))
    # constant 1/2: (1/2)^2 · 1/2 · (1/2 · 1/2) · 1/2 = 1/64
    assert h.log_likelihood_baseline == pytest.approx(math.log(1 / 64))
    assert h.contracts == 4
    both = h.combine(h)
    assert [(c.band, c.period, c.at_risk, c.actual) for c in both.cells] == [
        (b, j, 2 * r, 2 * a) for b, j, r, a in cells
    ]
    assert both.log_likelihood_sbg == pytest.approx(2 * math.log(1 / 45))
    assert both.survivors_mape_sbg == pytest.approx(h.survivors_mape_sbg)


def test_tenure_bands() -> None:
    assert la.tenure_band([0, 1, 2, 3, 5, 6, 11, 12, 23, 24, 300]).tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [la.band_label(lo, hi) for lo, hi in la.TENURE_BANDS] == ["0", "1-2", "3-5", "6-11", "12-23", "24+"]


#: A young book (it starts inside the history: every start is seen) mixing loyal and flighty
#: monthly accounts, and annual ones with a spread-out churn.
YOUNG_MIXED = [("mixed", 1, 0.4, 1.2, 1500), ("annual", 12, 0.6, 2.0, 600)]
#: A homogeneous book: every account has the same churn probability (Beta with a tiny spread).
HOMOGENEOUS = [("same", 1, 40.0, 960.0, 1500), ("same", 12, 300.0, 700.0, 600)]


@pytest.mark.parametrize("seed", [4, 5])
def test_sbg_beats_constant_churn_on_survivors_of_a_young_mixed_book(seed: int) -> None:
    contracts = la.simulate_contracts(YOUNG_MIXED, date(2021, 12, 1), date(2026, 12, 1), seed=seed)
    rows = {(r.segment, r.term_months): r for r in la.backtest(contracts, date(2025, 6, 1), date(2026, 12, 1))}
    h = rows[("mixed", 1)].holdout
    assert h is not None
    assert h.survivors_mape_sbg < 0.6 * h.survivors_mape_baseline
    assert h.survivors_mae_sbg < 0.6 * h.survivors_mae_baseline
    assert h.log_likelihood_sbg > h.log_likelihood_baseline + 20
    # the constant rate, learnt mostly from young contracts, expects too few survivors among the old
    old = [c for c in h.cells if c.band in ("12-23", "24+") and c.period == 12]
    assert old
    assert all(c.baseline < c.actual - 5 and abs(c.sbg - c.actual) < abs(c.baseline - c.actual) for c in old)


@pytest.mark.parametrize("seed", [4, 5])
def test_on_a_homogeneous_book_sbg_gains_nothing(seed: int) -> None:
    """sBG nests the constant rate (α, β → ∞ with the same mean): on a book where every
    account has the same churn probability it can only tie or overfit — the measures must
    not hand it a win."""
    contracts = la.simulate_contracts(HOMOGENEOUS, date(2021, 12, 1), date(2026, 12, 1), seed=seed)
    rows = {(r.segment, r.term_months): r for r in la.backtest(contracts, date(2025, 6, 1), date(2026, 12, 1))}
    monthly, annual = rows[("same", 1)].holdout, rows[("same", 12)].holdout
    assert monthly is not None
    assert annual is not None
    assert abs(monthly.survivors_mape_sbg - monthly.survivors_mape_baseline) < 2.0  # percentage points
    assert abs(monthly.log_likelihood_sbg - monthly.log_likelihood_baseline) < 15
    for h in (monthly, annual):
        assert h.log_likelihood_sbg < h.log_likelihood_baseline + 2


# --------------------------------------------------------------------------- left truncation


def test_tenure_counts_the_renewals_made_before_the_history_begins() -> None:
    frame = pd.concat([_one(date(2020, 1, 15), None, term=1), _one(date(2022, 3, 1), None, term=1),
                       _one(date(2019, 6, 1), None, term=12)], ignore_index=True)  # fmt: skip
    frame["account_id"] = [1, 2, 3]
    out = la.tenure(frame, date(2026, 12, 1), observed_from=date(2022, 1, 1)).set_index("account_id")
    # 2020-01-15 + 23 months = 2021-12-15 ≤ 2022-01-01 < 2022-01-15; started after it: 0; annual: 2020-06, 2021-06
    assert out["entered"].to_dict() == {1: 23, 2: 0, 3: 2}
    assert la.tenure(frame, date(2026, 12, 1))["entered"].tolist() == [0, 0, 0]


def test_observed_survival_leaves_contracts_out_before_they_are_seen() -> None:
    renewals, churned = [2, 3, 1, 0], [False, True, True, True]
    # at renewal 1: without entry 3 of 4 made it; the first contract is only seen after its first renewal
    assert ltv_models.observed_survival(renewals, churned).tolist() == pytest.approx([1, 3 / 4, 1 / 2, 1 / 2])
    assert ltv_models.observed_survival(renewals, churned, [1, 0, 0, 0]).tolist() == pytest.approx([1, 2 / 3, 4 / 9, 4 / 9])


def test_a_left_truncated_fit_is_the_conditional_likelihood_at_its_maximum() -> None:
    n = np.array([0, 1, 1, 2, 3, 5, 5, 8, 8, 12], dtype=float)
    c = np.array([1, 1, 0, 1, 0, 1, 0, 1, 0, 0], dtype=bool)
    e = np.array([0, 0, 1, 0, 2, 4, 3, 0, 6, 9], dtype=float)
    fit = ltv_models.fit_sbg_tenures(n, c, e)

    def ll(a: float, b: float) -> float:
        from scipy.special import betaln

        terms = np.where(c, betaln(a + 1, b + n), betaln(a, b + n)) - betaln(a, b + e)
        return float(terms.sum())

    assert fit.log_likelihood == pytest.approx(ll(fit.alpha, fit.beta), rel=1e-9)
    for da, db in ((1.02, 1), (0.98, 1), (1, 1.02), (1, 0.98)):
        assert ll(fit.alpha * da, fit.beta * db) < fit.log_likelihood
    with pytest.raises(InvalidInput) as err:
        ltv_models.fit_sbg_tenures(n, c, e + 1)  # more renewals before the history than in all
    assert err.value.field == "entered"


def test_a_store_without_its_early_churns_is_fitted_right_when_told_where_its_history_begins() -> None:
    book = la.simulate_contracts([("mixed", 1, 0.5, 2.0, 3000)], date(2014, 1, 1), date(2026, 12, 1), seed=3)
    # the store was started in 2022 with the customers still active then: the earlier churns are missing
    store = book[~(pd.to_datetime(book["ended_on"]) < pd.Timestamp("2022-01-01"))].reset_index(drop=True)
    plain = la.fit_segments(store, date(2026, 12, 1))[("mixed", 1)]
    told = la.fit_segments(store, date(2026, 12, 1), la.LtvOptions(observed_from=date(2022, 1, 1)))[("mixed", 1)]
    assert told.alpha == pytest.approx(0.5, rel=0.2)
    assert told.beta == pytest.approx(2.0, rel=0.2)
    assert abs(plain.alpha - 0.5) > 2 * abs(told.alpha - 0.5)  # the survivors alone look loyaler than the book
    options = la.LtvOptions(observed_from=date(2022, 1, 1))
    before, after = (
        {(r.segment, r.term_months): r for r in la.backtest(store, date(2025, 6, 1), date(2026, 12, 1), o)}[("mixed", 1)]
        for o in (None, options)
    )
    assert before.holdout is not None
    assert after.holdout is not None
    assert after.holdout.log_likelihood_sbg > before.holdout.log_likelihood_sbg + 20
    assert after.holdout.log_likelihood_sbg > after.holdout.log_likelihood_baseline + 20
    assert after.holdout.survivors_mape_sbg < 0.5 * before.holdout.survivors_mape_sbg


# --------------------------------------------------------------------------- nearly constant rates, few churns


@pytest.mark.parametrize(("alpha", "beta", "d"), [(2.0, 190.0, 0.1), (20.0, 150.0, 1.1 ** (1 / 12) - 1),
                                                  (3.8, 162.6, 1.1 ** (1 / 12) - 1), (0.7, 400.0, 0.1)])  # fmt: skip
def test_derl_is_the_brute_force_sum_where_scipys_hyp2f1_fails(alpha: float, beta: float, d: float) -> None:
    # scipy's hyp2f1(1, b; c; z) returns NaN or inf from b ≈ 150 (α + β in the hundreds: a
    # segment whose churn barely depends on tenure); DERL must not
    fit = ltv_models.SBGFit(alpha, beta, 0.0, 0, True, 0)
    for n in (0, 5, 40):
        t = np.arange(n + 1, n + 20_000)
        log_terms = np.log(fit.survival(t)) - np.log(fit.survival(n)) - (t - n - 1) * math.log1p(d)
        brute = float(np.sum(np.exp(log_terms)))
        assert la.derl(alpha, beta, n, d)[()] == pytest.approx(brute, rel=1e-9), n


def test_a_nearly_constant_sbg_gives_the_constant_rates_derl() -> None:
    # α, β → ∞ with α/(α+β) = c: each renewal is made with probability 1 − c, so
    # DERL = Σ_j (1−c)^(j+1) / (1+d)^j = (1 − c)(1 + d)/(d + c)
    for c, d in ((0.02, 0.008), (0.1, 0.1), (0.3, 0.1)):
        fit = ltv_models.SBGFit(c * la.CONSTANT_SIZE, (1 - c) * la.CONSTANT_SIZE, 0.0, 0, True, 0)
        assert fit.derl(np.array([0, 7, 60]), d) == pytest.approx((1 - c) * (1 + d) / (d + c), rel=1e-6)


def _few_annual_churns() -> pd.DataFrame:
    """A monthly segment with plenty of churn and two annual ones with a handful between them."""
    monthly = la.simulate_contracts([("pro", 1, 1.0, 4.0, 400)], date(2022, 1, 1), date(2026, 12, 1), seed=3)
    annual = la.simulate_contracts([("ent", 12, 1.0, 12.0, 40), ("biz", 12, 1.0, 12.0, 40)],
                                   date(2023, 1, 1), date(2026, 12, 1), seed=8)  # fmt: skip
    annual["account_id"] += 10_000
    return pd.concat([monthly, annual], ignore_index=True)


def test_a_term_with_too_few_ended_contracts_even_pooled_uses_a_constant_rate_and_says_so() -> None:
    frame = _few_annual_churns()
    as_of = date(2026, 12, 1)
    fits = la.fit_segments(frame, as_of)
    pooled = fits[(la.POOLED, 12)]
    then = la.tenure(frame[frame["term_months"] == 12], as_of)
    ended, made = int(then["churned"].sum()), int(then["renewals"].sum())
    assert 0 < ended < la.LtvOptions().min_churned
    assert (pooled.pooled, pooled.constant, pooled.reason) == (True, True, la.REASON_CONSTANT)
    assert pooled.mean_churn == pytest.approx(ended / (made + ended), rel=1e-12)
    assert pooled.log_likelihood == pytest.approx(ended * math.log(ended / (made + ended))
                                                  + made * math.log(made / (made + ended)))  # fmt: skip
    for segment in ("ent", "biz"):
        assert (fits[(segment, 12)].constant, fits[(segment, 12)].reason) == (True, la.REASON_CONSTANT)
        assert (fits[(segment, 12)].alpha, fits[(segment, 12)].beta) == (pooled.alpha, pooled.beta)
    # the monthly term has churns enough: sBG as before
    assert not fits[(la.POOLED, 1)].constant
    assert fits[("pro", 1)].reason == la.REASON_OWN
    # every running annual account is worth what the constant rate says
    c, d = ended / (made + ended), 0.1
    scored = la.score(frame, fits, as_of)
    annual = scored[scored["term_months"] == 12]
    assert annual["derl"].to_numpy() == pytest.approx((1 - c) * (1 + d) / (d + c), rel=1e-6)
    assert annual["retention"].to_numpy() == pytest.approx(1 - c, rel=1e-6)
    # with the minimum lowered to what it has, the pooled annual term is sBG again
    told = la.fit_segments(frame, as_of, la.LtvOptions(min_churned=ended))[(la.POOLED, 12)]
    assert (told.constant, told.reason) == (False, la.REASON_POOLED)


def test_the_backtest_of_a_constant_term_ties_with_the_constant_rate_and_says_so() -> None:
    rows = la.backtest(_few_annual_churns(), date(2025, 12, 1), date(2026, 12, 1))
    by = {(r.segment, r.term_months): r for r in rows}
    for key in (("ent", 12), ("biz", 12), (la.POOLED, 12)):
        row = by[key]
        assert row.constant, key
        assert row.holdout is not None
        assert row.holdout.log_likelihood_sbg == pytest.approx(row.holdout.log_likelihood_baseline, abs=1e-4)
        assert row.mae_sbg == pytest.approx(row.mae_baseline, abs=1e-6)
    assert not by[(la.POOLED, 1)].constant
