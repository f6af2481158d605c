"""Lifetime value per account on ten contracts by hand (issue 22: mutation testing).

Months and renewals counted on the calendar, each fallback of ``fit_segments`` at the edge
of its minimum, the constant churn rate, the residual value of each running account and a
backtest whose every figure is written out here. Pure frames, no store: ~0.1 s a test."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import ltv_accounts as la
from kizuna.analytics import ltv_models
from kizuna.errors import InvalidInput

AS_OF = date(2026, 12, 1)


def _frame(rows: list[tuple[int, str, int, date, date | None]], payment: int = 1_000) -> pd.DataFrame:
    return pd.DataFrame([
        {"account_id": i, "segment": s, "term_months": t, "started_on": start, "ended_on": end,
         "payment": payment * t, "currency": "JPY"}
        for i, s, t, start, end in rows
    ])  # fmt: skip


#: Monthly contracts, renewals made by 2026-12-01 in the comments.
MONTHLY = [
    (1, "pro", 1, date(2026, 1, 1), date(2026, 3, 1)),  # ended: renewed 2/1 only → 1
    (2, "pro", 1, date(2026, 1, 1), None),  # 2/1 … 12/1 → 11
    (3, "pro", 1, date(2026, 2, 1), date(2026, 2, 20)),  # ended before its first renewal → 0
    (4, "pro", 1, date(2026, 2, 1), None),  # → 10
    (5, "pro", 1, date(2026, 3, 1), date(2026, 6, 1)),  # ended on its renewal day 6/1: 4/1, 5/1 → 2
    (6, "pro", 1, date(2026, 3, 1), None),  # → 9
    (7, "lite", 1, date(2026, 5, 1), date(2026, 7, 1)),  # → 1, ended
    (8, "lite", 1, date(2026, 5, 1), None),  # → 7
    (9, "new", 1, date(2026, 11, 15), None),  # 12/15 not yet → 0
    (10, "flop", 1, date(2026, 10, 1), date(2026, 10, 20)),  # → 0, ended
]
PRO_N, PRO_C = [1, 11, 0, 10, 2, 9], [True, False, True, False, True, False]
ALL_N = [1, 11, 0, 10, 2, 9, 1, 7, 0, 0]
ALL_C = [True, False, True, False, True, False, True, False, False, True]


def test_full_months_clip_to_the_months_last_day() -> None:
    starts = pd.Series(pd.to_datetime(["2026-01-31", "2026-01-31", "2026-01-15", "2025-12-15", "2024-02-29", "2026-03-10"]))
    ends = pd.Series(pd.to_datetime(["2026-02-28", "2026-02-27", "2026-03-14", "2026-01-15", "2025-02-28", "2026-03-09"]))
    # 1/31 + 1 month = 2/28 ≤ 2/28 → 1; 2/27 is short of it → 0; 1/15 → 3/15 > 3/14 → 1;
    # across a year end → 1; 2024-02-29 + 12 months = 2025-02-28 → 12; a day short of nothing → −1
    assert la.full_months(starts, ends).tolist() == [1, 0, 1, 1, 12, -1]


def test_tenure_counts_renewals_renewal_dates_cohorts_and_entries() -> None:
    rows = [*MONTHLY,
            (11, "pro", 1, date(2026, 12, 1), None),  # starts on as_of: in, 0 renewals
            (12, "pro", 1, date(2026, 12, 2), None),  # starts after as_of: out
            (13, "ent", 3, date(2025, 11, 30), None),  # quarterly: 12 full months → 4 renewals
            (14, "ent", 3, date(2025, 6, 1), date(2026, 6, 1)),  # 12 months to 5/31 → 11 → 3 renewals; ended
            (15, "pro", 1, date(2026, 6, 1), date(2027, 1, 1)),  # ends after as_of: running, 6 renewals
            (16, "pro", 1, date(2026, 2, 15), None)]  # 3/15 … 11/15 → 9; less than a month before 3/1  # fmt: skip
    ids = [*range(1, 12), 13, 14, 15, 16]
    out = la.tenure(_frame(rows), AS_OF).set_index("account_id")
    assert out.index.tolist() == ids
    assert out["renewals"].to_dict() == dict(zip(ids, [*ALL_N, 0, 4, 3, 6, 9], strict=True))
    assert out["churned"].to_dict() == dict(zip(ids, [*ALL_C, False, False, True, False, False], strict=True))
    # renewal dates that came by as_of, made or not: 1/1 → 11, 2/1 → 10, 3/1 → 9, 5/1 → 7, 11/15 → 0, 10/1 → 2
    assert out["renewal_dates"].tolist() == [11, 11, 10, 10, 9, 9, 7, 7, 0, 2, 0, 4, 6, 6, 9]
    assert (out["renewals"].dtype, out["renewal_dates"].dtype) == (np.int64, np.int64)
    assert out.loc[1, "cohort"] == 2026 * 12 + 1
    assert out.loc[13, "cohort"] == 2025 * 12 + 11
    assert out["entered"].tolist() == [0] * 15
    # seen from 2026-03-01: 1/1 → 2 renewal dates before (2/1, 3/1), 2/1 → 1, capped at the renewals made
    # (contract 3 made none); contracts started on or after it: 0; the quarterly ones: 1 (2/28) and 3 (9/1, 12/1, 3/1)
    seen = la.tenure(_frame(rows), AS_OF, observed_from=date(2026, 3, 1)).set_index("account_id")
    assert seen["entered"].tolist() == [1, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0]
    # an empty frame stays empty
    assert len(la.tenure(_frame(rows).iloc[:0], AS_OF, observed_from=date(2026, 3, 1))) == 0


def test_the_constant_churn_rate_and_its_fit() -> None:
    # 2 ended; renewals made inside the history 2 + 3 + 0 − 1 = 4 → 2/(4 + 2)
    assert la.constant_churn([2, 3, 0], [True, False, True], [0, 1, 0]) == pytest.approx(1 / 3)
    assert la.constant_churn([2, 3], [False, False], [0, 0]) is None
    assert la.constant_churn([0, 0], [True, True], [0, 0]) is None
    assert la.constant_churn([1, 1], [True, False], [1, 1]) is None  # nothing renewed inside the history
    assert la.constant_churn([1, 0], [False, True], [0, 0]) == 0.5  # one renewal made, one end: 1/(1 + 1)
    fit = la._constant_fit(1 / 3, 2, 4.0)
    assert (fit.alpha, fit.beta) == pytest.approx((1e8 / 3, 2e8 / 3))
    assert fit.log_likelihood == pytest.approx(2 * math.log(1 / 3) + 4 * math.log(2 / 3), rel=1e-12)


def test_each_segment_is_fitted_on_its_own_or_borrows_and_says_why() -> None:
    frame = _frame(MONTHLY)
    fits = la.fit_segments(frame, AS_OF, la.LtvOptions(min_cohorts=3, min_contracts=6, min_churned=3))
    # per term in order, its pooled fit first, then its segments in order
    assert list(fits) == [(la.POOLED, 1), ("flop", 1), ("lite", 1), ("new", 1), ("pro", 1)]
    annual_first = la.fit_segments(pd.concat([_frame([(99, "ent", 12, date(2024, 1, 1), None)]), frame]), AS_OF)
    assert list(annual_first) == [(la.POOLED, 1), ("flop", 1), ("lite", 1), ("new", 1), ("pro", 1),
                                  (la.POOLED, 12), ("ent", 12)]  # fmt: skip
    pooled, pro = fits[(la.POOLED, 1)], fits[("pro", 1)]
    every = ltv_models.fit_sbg_tenures(ALL_N, ALL_C)
    own = ltv_models.fit_sbg_tenures(PRO_N, PRO_C)
    assert (pooled.segment, pooled.term_months, pooled.contracts, pooled.cohorts, pooled.churned) == (la.POOLED, 1, 10, 6, 5)
    assert (pooled.pooled, pooled.reason, pooled.constant) == (True, la.REASON_POOLED, False)
    assert (pooled.alpha, pooled.beta, pooled.log_likelihood) == (every.alpha, every.beta, every.log_likelihood)
    # Kaplan–Meier of all ten: renewal 1: 7 of 9 (2 ended at once, "new" is short of it); 2: 5 of 7; 3: 4 of 5
    assert pooled.observed == pytest.approx((1.0, 7 / 9, 5 / 9, 4 / 9, *[4 / 9] * 8))
    # pro: 3 cohorts, 6 contracts and 3 ended — each exactly its minimum: its own fit
    assert (pro.contracts, pro.cohorts, pro.churned, pro.pooled, pro.reason) == (6, 3, 3, False, la.REASON_OWN)
    assert (pro.segment, pro.term_months) == ("pro", 1)
    assert (fits[("lite", 1)].segment, fits[("lite", 1)].term_months) == ("lite", 1)
    assert (pro.alpha, pro.beta, pro.log_likelihood) == (own.alpha, own.beta, own.log_likelihood)
    assert pro.fitted
    # Kaplan–Meier: renewal 1: 5 of 6; 2: 4 of 5 (the one ended after 1 at risk); 3: 3 of 4; then 1
    assert pro.observed == pytest.approx((1.0, 5 / 6, 2 / 3, 1 / 2, 1 / 2, 1 / 2, 1 / 2, 1 / 2, 1 / 2, 1 / 2, 1 / 2, 1 / 2))
    for segment in ("lite", "new", "flop"):
        fit = fits[(segment, 1)]
        assert (fit.pooled, fit.reason) == (True, la.REASON_FEW_COHORTS), segment
        assert (fit.alpha, fit.beta, fit.log_likelihood) == (pooled.alpha, pooled.beta, pooled.log_likelihood)
    assert (fits[("lite", 1)].contracts, fits[("lite", 1)].cohorts, fits[("lite", 1)].churned) == (2, 1, 1)
    # one more contract or cohort required: pro borrows too
    for options in (la.LtvOptions(min_cohorts=4, min_contracts=6, min_churned=3),
                    la.LtvOptions(min_cohorts=3, min_contracts=7, min_churned=3)):  # fmt: skip
        assert fits_reason(frame, options, "pro") == la.REASON_FEW_COHORTS
    assert fits_reason(frame, la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=4), "pro") == la.REASON_FEW_CHURNS
    loose = la.fit_segments(frame, AS_OF, la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=1))
    assert [loose[(s, 1)].reason for s in ("pro", "lite", "new", "flop")] == [
        la.REASON_OWN, la.REASON_OWN, la.REASON_NO_CHURN, la.REASON_NO_RENEWAL,
    ]  # fmt: skip
    lite = ltv_models.fit_sbg_tenures([1, 7], [True, False])
    assert (loose[("lite", 1)].alpha, loose[("lite", 1)].beta) == (lite.alpha, lite.beta)
    assert loose[("new", 1)].observed == (1.0,)
    assert fits_reason(frame, la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=2), "lite") == la.REASON_FEW_CHURNS


def fits_reason(frame: pd.DataFrame, options: la.LtvOptions, segment: str) -> str:
    return la.fit_segments(frame, AS_OF, options)[(segment, 1)].reason


def test_a_term_with_too_few_ends_uses_the_constant_rate_and_one_without_any_none() -> None:
    frame = _frame(MONTHLY)
    # 5 ended: at a minimum of 5 the pooled term is still sBG; at 6 it is the constant rate 5/(41 + 5)
    assert la.fit_segments(frame, AS_OF, la.LtvOptions(min_churned=5))[(la.POOLED, 1)].reason == la.REASON_POOLED
    fits = la.fit_segments(frame, AS_OF, la.LtvOptions(min_churned=6))
    pooled = fits[(la.POOLED, 1)]
    assert (pooled.reason, pooled.constant, pooled.pooled) == (la.REASON_CONSTANT, True, True)
    assert pooled.mean_churn == pytest.approx(5 / 46, rel=1e-12)
    assert pooled.alpha == pytest.approx(5 / 46 * 1e8)
    assert pooled.log_likelihood == pytest.approx(5 * math.log(5 / 46) + 41 * math.log(41 / 46), rel=1e-12)
    for segment in ("pro", "lite", "new", "flop"):
        assert (fits[(segment, 1)].reason, fits[(segment, 1)].constant) == (la.REASON_CONSTANT, True)
        assert fits[(segment, 1)].alpha == pooled.alpha
    # the constant rate counts the renewals made inside the history only: seen from 2026-03-01,
    # 1 + 2 + 0 + 1 = 4 renewals were made before it → 5/(37 + 5)
    seen = la.fit_segments(frame, AS_OF, la.LtvOptions(min_churned=6, observed_from=date(2026, 3, 1)))
    assert seen[(la.POOLED, 1)].mean_churn == pytest.approx(5 / 42, rel=1e-12)
    assert seen[(la.POOLED, 1)].log_likelihood == pytest.approx(5 * math.log(5 / 42) + 37 * math.log(37 / 42), rel=1e-12)
    # the sBG fits are conditioned on the renewals made before the history too (1, 2, 0, 1 for contracts 1–4)
    told = la.fit_segments(frame, AS_OF, la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=1,
                                                         observed_from=date(2026, 3, 1)))  # fmt: skip
    truncated = ltv_models.fit_sbg_tenures(ALL_N, ALL_C, [1, 2, 0, 1, 0, 0, 0, 0, 0, 0])
    assert (told[(la.POOLED, 1)].alpha, told[(la.POOLED, 1)].beta) == (truncated.alpha, truncated.beta)
    # contracts seen from their 1st (1, 4) and 2nd (2) renewal leave the risk sets before it:
    # renewal 1: 4 of 6; 2: 4 of 6; 3: 4 of 5
    assert told[(la.POOLED, 1)].observed == pytest.approx((1.0, 2 / 3, 4 / 9, 16 / 45, *[16 / 45] * 8))
    pro = ltv_models.fit_sbg_tenures(PRO_N, PRO_C, [1, 2, 0, 1, 0, 0])
    assert (told[("pro", 1)].alpha, told[("pro", 1)].beta) == (pro.alpha, pro.beta)
    # pro seen from then: renewal 1: 2 of 3 (contracts 1, 2, 4 were past it); 2: 3 of 4; 3: 3 of 4
    assert told[("pro", 1)].observed == pytest.approx((1.0, 2 / 3, 1 / 2, 3 / 8, *[3 / 8] * 8))
    # annual contracts: one still running (no end), or ends without a renewal: no fit at all
    for rows in ([(1, "ent", 12, date(2024, 1, 1), None)],
                 [(1, "ent", 12, date(2025, 1, 1), date(2025, 6, 1)), (2, "ent", 12, date(2026, 3, 1), None)]):  # fmt: skip
        fits = la.fit_segments(_frame(rows), AS_OF, la.LtvOptions(min_churned=1))
        pooled, ent = fits[(la.POOLED, 12)], fits[("ent", 12)]
        assert (pooled.alpha, pooled.beta, pooled.log_likelihood, pooled.reason) == (None, None, None, la.REASON_UNFITTABLE)
        assert (ent.alpha, ent.pooled, ent.reason, ent.fitted, ent.mean_churn) == (None, True, la.REASON_UNFITTABLE, False, None)
        assert ent.fitted_survival(3) == ()
        with pytest.raises(InvalidInput) as err:
            ent.model()
        assert (err.value.field, err.value.message) == ("segment", "this segment has no fit")


def test_a_segment_fit_as_a_model() -> None:
    fit = la.SegmentFit("pro", 1, 10, 2, 4, 1.0, 3.0, -5.5, False, la.REASON_OWN)
    model = fit.model()
    assert (model.alpha, model.beta, model.log_likelihood, model.n) == (1.0, 3.0, -5.5, 10)
    # S(t) = B(1, 3+t)/B(1, 3) = 3/(3+t)
    assert fit.fitted_survival(2) == pytest.approx((1.0, 3 / 4, 3 / 5))
    assert fit.mean_churn == 0.25
    assert (fit.fitted, fit.constant, fit.observed) == (True, False, ())
    assert la.SegmentFit("pro", 1, 10, 2, 4, 1.0, 3.0, None, False, la.REASON_OWN).model().log_likelihood == 0.0
    assert la.SegmentFit("pro", 1, 10, 2, 4, None, 3.0, None, True, la.REASON_UNFITTABLE).fitted is False
    assert la.SegmentFit("pro", 1, 10, 2, 4, 1.0, None, None, True, la.REASON_UNFITTABLE).fitted is False
    assert la.SegmentFit("pro", 1, 10, 2, 4, 1.0, None, None, True, la.REASON_UNFITTABLE).mean_churn is None


def test_the_options_edges() -> None:
    assert la.LtvOptions(annual_discount_rate=10, margin=0).margin == 0
    assert la.LtvOptions(margin=1).margin == 1
    defaults = la.LtvOptions()
    assert (defaults.annual_discount_rate, defaults.margin, defaults.min_cohorts, defaults.min_contracts,
            defaults.min_churned, defaults.observed_from) == (0.10, 0.8, 3, 20, 20, None)  # fmt: skip
    for kwargs, field, message in [
        ({"annual_discount_rate": 0}, "discount_rate", "the discount rate must be > 0 and at most 10 (1000%)"),
        ({"annual_discount_rate": 10.01}, "discount_rate", "the discount rate must be > 0 and at most 10 (1000%)"),
        ({"margin": -0.01}, "margin", "the margin must be a fraction from 0 to 1"),
        ({"margin": 1.01}, "margin", "the margin must be a fraction from 0 to 1"),
        ({"min_cohorts": 0}, "min_cohorts", "the minimum cohorts and contracts must be at least 1"),
        ({"min_contracts": 0}, "min_cohorts", "the minimum cohorts and contracts must be at least 1"),
        ({"min_churned": 0}, "min_churned", "the minimum of ended contracts must be at least 1"),
    ]:
        with pytest.raises(InvalidInput) as err:
            la.LtvOptions(**kwargs)
        assert (err.value.field, err.value.message) == (field, message), kwargs
    assert la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=1).min_churned == 1
    # a term's rate: (1 + 0.21)^(6/12) − 1 = 1.1 − 1
    assert la.LtvOptions(annual_discount_rate=0.21).term_discount_rate(6) == pytest.approx(0.1, rel=1e-12)
    assert la.LtvOptions(annual_discount_rate=0.21).term_discount_rate(24) == pytest.approx(1.21**2 - 1, rel=1e-12)


def test_the_residual_value_of_each_running_account_by_hand() -> None:
    rows = [*MONTHLY, (20, "ent", 12, date(2025, 1, 10), None), (21, "gov", 3, date(2026, 1, 1), None)]
    fits = {
        ("pro", 1): la.SegmentFit("pro", 1, 6, 3, 3, 1.0, 1.0, -1.0, False, la.REASON_OWN),
        (la.POOLED, 1): la.SegmentFit(la.POOLED, 1, 10, 6, 5, 2.0, 3.0, -2.0, True, la.REASON_POOLED),
        ("new", 1): la.SegmentFit("new", 1, 1, 1, 0, None, None, None, True, la.REASON_UNFITTABLE),
        (la.POOLED, 12): la.SegmentFit(la.POOLED, 12, 1, 1, 1, 1.0, 3.0, -1.0, True, la.REASON_POOLED),
    }
    options = la.LtvOptions(annual_discount_rate=1.0, margin=0.5)
    out = la.score(_frame(rows, payment=1_000), fits, AS_OF, options)
    assert list(out.columns) == ["account_id", "segment", "term_months", "renewals", "pooled", "alpha", "beta",
                                 "retention", "derl", "payment", "currency", "discount_rate", "residual_value"]  # fmt: skip
    # running: 2, 4, 6 (pro), 8 (lite → the pooled monthly fit), 9 (new: no fit), 20 (ent → pooled annual), 21 (no fit)
    assert out["account_id"].tolist() == [2, 4, 6, 8, 9, 20, 21]
    assert out.index.tolist() == list(range(7))
    assert out["renewals"].tolist() == [11, 10, 9, 7, 0, 1, 3]
    assert out["pooled"].tolist() == [False, False, False, True, True, True, True]
    assert out["segment"].tolist() == ["pro", "pro", "pro", "lite", "new", "ent", "gov"]
    assert out["term_months"].tolist() == [1, 1, 1, 1, 1, 12, 3]
    assert out["payment"].tolist() == [1_000] * 5 + [12_000, 3_000]
    assert out["currency"].tolist() == ["JPY"] * 7
    # the term's rate: 2^(1/12) − 1 a month, 1 a year, 2^(1/4) − 1 a quarter
    monthly, quarterly = 2 ** (1 / 12) - 1, 2 ** (1 / 4) - 1
    assert out["discount_rate"].tolist() == pytest.approx([monthly] * 5 + [1.0, quarterly], rel=1e-12)

    def derl(a: float, b: float, n: int, d: float) -> float:
        # Σ_j S(n+1+j)/S(n) / (1+d)^j with S(t) = B(a, b+t)/B(a, b), summed far enough out
        t = np.arange(n + 1, n + 20_000, dtype=float)
        log_s = [math.lgamma(b + x) - math.lgamma(a + b + x) for x in (*t, n)]
        return float(sum(math.exp(ls - log_s[-1] - j * math.log1p(d)) for j, ls in enumerate(log_s[:-1])))

    # α = β = 1: retention (1+n)/(2+n); the pooled monthly α = 2, β = 3: (3+7)/(5+7); annual α = 1, β = 3: 4/5
    assert out["retention"].iloc[:4].tolist() == pytest.approx([12 / 13, 11 / 12, 10 / 11, 10 / 12], rel=1e-12)
    assert out["retention"].iloc[5] == pytest.approx(4 / 5, rel=1e-12)
    assert out["alpha"].tolist()[:4] == [1.0, 1.0, 1.0, 2.0]
    assert out["beta"].tolist()[:4] == [1.0, 1.0, 1.0, 3.0]
    hand = [derl(1, 1, 11, monthly), derl(1, 1, 10, monthly), derl(1, 1, 9, monthly), derl(2, 3, 7, monthly)]
    assert out["derl"].iloc[:4].tolist() == pytest.approx(hand, rel=1e-6)
    annual = derl(1, 3, 1, 1.0)
    assert out["derl"].iloc[5] == pytest.approx(annual, rel=1e-6)
    values = out["residual_value"]
    assert str(values.dtype) == "Int64"
    assert values.iloc[:4].tolist() == [round(v * 1_000 * 0.5) for v in hand]
    assert values.iloc[5] == round(annual * 12_000 * 0.5)
    # no fit: nothing made up
    for i in (4, 6):
        assert pd.isna(values.iloc[i])
        assert all(math.isnan(out[name].iloc[i]) for name in ("alpha", "beta", "retention", "derl"))
    # nothing running: an empty frame with the same columns
    ended = la.score(_frame([MONTHLY[0]]), fits, AS_OF)
    assert (len(ended), list(ended.columns)) == (0, list(out.columns))
    # the default options: 10 % a year, margin 0.8
    default = la.score(_frame([MONTHLY[1]]), fits, AS_OF)
    assert default["residual_value"].tolist() == [round(derl(1, 1, 11, 1.1 ** (1 / 12) - 1) * 1_000 * 0.8)]
    assert str(default["residual_value"].dtype) == "Int64"  # nullable whether or not a value is missing


def test_bands_and_labels() -> None:
    assert la.tenure_band([0, 0.5, 1, 2, 2.5, 3, 24, 1000]).tolist() == [0, 0, 1, 1, 1, 2, 5, 5]
    assert (la.band_label(0, 0), la.band_label(1, 2), la.band_label(24, None), la.band_label(7, 7)) == ("0", "1-2", "24+", "7")


def test_the_holdout_errors_and_combination_by_hand() -> None:
    # α = β = 1, S(n+j)/S(n) = (n+1)/(n+j+1); constant 1/4
    fit = ltv_models.SBGFit(1.0, 1.0, 0.0, 0, True, 0)
    # two contracts of tenure 0: one renewed twice of 2 dates, one ended at once; one of tenure 24, 1 date, renewed
    h = la.holdout([0, 0, 24], [2, 2, 1], [2, 0, 1], [False, True, False], fit, churn=0.25)
    cells = [(c.band, c.period, c.at_risk, c.actual) for c in h.cells]
    assert cells == [("0", 1, 2, 1), ("0", 2, 2, 1), ("24+", 1, 1, 1)]
    assert [c.sbg for c in h.cells] == pytest.approx([2 / 2, 2 / 3, 25 / 26])
    assert [c.baseline for c in h.cells] == pytest.approx([2 * 0.75, 2 * 0.5625, 0.75])
    # sBG: S(2)/S(0) = 1/3; P(T=1)/S(0) = 1/2; S(25)/S(24) = 25/26. Constant: 0.75², 0.25, 0.75
    assert h.log_likelihood_sbg == pytest.approx(math.log(1 / 3 * 1 / 2 * 25 / 26))
    assert h.log_likelihood_baseline == pytest.approx(math.log(0.75**2 * 0.25 * 0.75))
    assert h.contracts == 3
    assert h.survivors_mae_sbg == pytest.approx((0 + 1 / 3 + 1 / 26) / 3)
    assert h.survivors_mae_baseline == pytest.approx((0.5 + 0.125 + 0.25) / 3)
    assert h.survivors_mape_baseline == pytest.approx(100 * (0.5 + 0.125 + 0.25) / 3)
    # a churn of 0 or 1 is kept inside (0, 1): finite log-likelihoods
    assert math.isfinite(la.holdout([0], [1], [0], [True], fit, churn=0.0).log_likelihood_baseline)
    assert la.holdout([0], [1], [0], [True], fit, churn=0.0).log_likelihood_baseline == pytest.approx(math.log(1e-12))
    assert la.holdout([0], [1], [1], [False], fit, churn=1.0).log_likelihood_baseline == pytest.approx(math.log(1e-12), rel=1e-3)
    # no cell at risk, and a cell without survivors left out of the percentage only
    empty = la.HoldOut((), 0.0, 0.0)
    assert math.isnan(empty.survivors_mae_sbg)
    assert math.isnan(empty.survivors_mape_sbg)
    none_left = la.HoldOut((la.SurvivorCell("0", 1, 2, 0, 0.5, 1.0),), 0.0, 0.0)
    assert none_left.survivors_mae_baseline == 1.0
    assert math.isnan(none_left.survivors_mape_baseline)
    # combined: cells summed per (band, period) in band order, the log-likelihoods added
    other = la.HoldOut((la.SurvivorCell("3-5", 1, 1, 1, 0.5, 0.25), la.SurvivorCell("0", 1, 3, 2, 1.5, 1.25)), -1.0, -2.0)
    both = other.combine(h)
    assert [(c.band, c.period, c.at_risk, c.actual) for c in both.cells] == [
        ("0", 1, 5, 3), ("0", 2, 2, 1), ("3-5", 1, 1, 1), ("24+", 1, 1, 1),
    ]  # fmt: skip
    assert [c.sbg for c in both.cells] == pytest.approx([2.5, 2 / 3, 0.5, 25 / 26])
    assert [c.baseline for c in both.cells] == pytest.approx([2.75, 1.125, 0.25, 0.75])
    assert both.log_likelihood_sbg == pytest.approx(h.log_likelihood_sbg - 1.0)
    assert both.log_likelihood_baseline == pytest.approx(h.log_likelihood_baseline - 2.0)


def test_a_backtest_of_ten_contracts_by_hand() -> None:
    frame = _frame(MONTHLY)
    cutoff = date(2026, 9, 1)
    options = la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=1)
    rows = la.backtest(frame, cutoff, AS_OF, options)
    fits = la.fit_segments(frame, cutoff, options)
    # running at 9/1 with a renewal date since: 2 (8 renewals, 3 dates since, made 3), 4 (7; 3; 3),
    # 6 (6; 3; 3), 8 (lite: 4 renewals, 3 dates, 3 made). 9 and 10 started later.
    by = {(r.segment, r.term_months): r for r in rows}
    assert list(by) == [("lite", 1), ("pro", 1), (la.POOLED, 1)]
    pro, lite, every = by[("pro", 1)], by[("lite", 1)], by[(la.POOLED, 1)]
    a, b = fits[("pro", 1)].alpha, fits[("pro", 1)].beta
    assert a is not None
    assert b is not None

    def s(t: float, a: float, b: float) -> float:
        return math.exp(math.lgamma(b + t) - math.lgamma(a + b + t))  # ∝ B(a, b+t)

    expected = [sum(s(n + j, a, b) / s(n, a, b) for j in (1, 2, 3)) for n in (8, 7, 6)]
    # pro's history at the cutoff: ended 3 (contracts 1, 3, 5), renewals 1 + 8 + 0 + 7 + 2 + 6 = 24 → 3/27
    p = 3 / 27
    base = sum((1 - p) ** j for j in (1, 2, 3))
    assert (pro.contracts, pro.actual, pro.pooled, pro.constant) == (3, 3.0, False, False)
    assert pro.baseline_churn == pytest.approx(p, rel=1e-12)
    assert pro.predicted_sbg == pytest.approx(sum(expected) / 3, rel=1e-9)
    assert pro.predicted_baseline == pytest.approx(base, rel=1e-12)
    assert pro.mae_sbg == pytest.approx(sum(3 - e for e in expected) / 3, rel=1e-9)
    assert pro.mae_baseline == pytest.approx(3 - base, rel=1e-12)
    assert pro.sbg_wins == (pro.mae_sbg < pro.mae_baseline)
    assert pro.holdout is not None
    assert [(c.band, c.period, c.at_risk, c.actual) for c in pro.holdout.cells] == [("6-11", j, 3, 3) for j in (1, 2, 3)]
    # lite at the cutoff: 1 ended, 1 + 4 renewals → 1/6
    q = 1 / 6
    assert (lite.contracts, lite.actual, lite.baseline_churn) == (1, 3.0, pytest.approx(q))
    assert lite.predicted_baseline == pytest.approx(sum((1 - q) ** j for j in (1, 2, 3)), rel=1e-12)
    # the term's row: every judged contract
    assert (every.contracts, every.actual, every.pooled, every.constant) == (4, 3.0, True, False)
    assert math.isnan(every.baseline_churn)
    assert every.predicted_sbg == pytest.approx((3 * pro.predicted_sbg + lite.predicted_sbg) / 4, rel=1e-12)
    assert every.predicted_baseline == pytest.approx((3 * base + lite.predicted_baseline) / 4, rel=1e-12)
    assert every.mae_baseline == pytest.approx((3 * (3 - base) + lite.mae_baseline) / 4, rel=1e-12)
    # every contract made all 3: |sBG − 3| = 3 − expected
    assert every.mae_sbg == pytest.approx((sum(3 - e for e in expected) + lite.mae_sbg) / 4, rel=1e-9)
    assert every.holdout is not None
    assert every.holdout.contracts == 4
    assert every.holdout.log_likelihood_sbg == pytest.approx(
        pro.holdout.log_likelihood_sbg + (lite.holdout.log_likelihood_sbg if lite.holdout else 0.0)
    )
    # a pooled segment reads its term's history: lite borrowing (2 cohorts needed) → all 10 at the cutoff:
    # ended 1, 3, 5, 7 (4), renewals 8 + 7 + 6 + 4 + 1 + 2 + 1 = 29 → 4/33
    borrowed = {(r.segment, r.term_months): r for r in la.backtest(frame, cutoff, AS_OF, la.LtvOptions(
        min_cohorts=2, min_contracts=1, min_churned=1))}[("lite", 1)]  # fmt: skip
    assert (borrowed.pooled, borrowed.baseline_churn) == (True, pytest.approx(4 / 33))
    with pytest.raises(InvalidInput) as err:
        la.backtest(frame, AS_OF, AS_OF)
    assert (err.value.field, err.value.message) == ("cutoff", "the backtest cutoff must be before the as-of day")


def test_simulated_contracts_follow_their_segments() -> None:
    book = la.simulate_contracts([("a", 1, 1.0, 3.0, 30), ("b", 12, 2.0, 1.0, 20)], date(2020, 1, 1), date(2026, 1, 1),
                                 payment=500, currency="USD", seed=7)  # fmt: skip
    assert list(book.columns) == list(la.CONTRACT_COLUMNS)
    assert book["account_id"].tolist() == list(range(1, 51))
    assert book["segment"].tolist() == ["a"] * 30 + ["b"] * 20
    assert book["payment"].tolist() == [500] * 30 + [6_000] * 20
    assert set(book["currency"]) == {"USD"}
    starts = pd.to_datetime(book["started_on"])
    assert starts.min() >= pd.Timestamp("2020-01-01")
    assert starts.max() < pd.Timestamp("2026-01-01")
    ends = pd.to_datetime(book["ended_on"])
    assert (ends.dropna() <= pd.Timestamp("2026-01-01")).all()
    # each end is a whole number of terms after its start
    ended = book[ends.notna()]
    months = la.full_months(pd.to_datetime(ended["started_on"]), pd.to_datetime(ended["ended_on"]))
    assert (months % ended["term_months"].to_numpy() == 0).all()
    assert (months > 0).all()


def test_a_backtest_judges_only_contracts_with_a_renewal_date_since_and_sees_their_ends() -> None:
    # cutoff 11/1, as of 11/20: the monthly contracts started on a 1st have no renewal date since
    # (next one 12/1); 11 (pro, from 10/10) reaches 11/10 and ends on it: 0 renewals made of 1;
    # 12 (basic, annual from 2025-11-10) renews on 2026-11-10, but its term has no end: no fit, skipped
    frame = _frame([*MONTHLY, (11, "pro", 1, date(2026, 10, 10), date(2026, 11, 10)),
                    (12, "basic", 12, date(2025, 11, 10), None)])  # fmt: skip
    cutoff, as_of = date(2026, 11, 1), date(2026, 11, 20)
    options = la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=1)
    rows = la.backtest(frame, cutoff, as_of, options)
    by = {(r.segment, r.term_months): r for r in rows}
    assert list(by) == [("pro", 1), (la.POOLED, 1)]
    pro = by[("pro", 1)]
    fit = la.fit_segments(frame, cutoff, options)[("pro", 1)]
    a, b = fit.alpha, fit.beta
    assert a is not None
    assert b is not None
    # pro's history at 11/1: ended 1, 3, 5 (3); renewals 1 + 10 + 0 + 9 + 2 + 8 + 0 = 30 → p = 3/33 = 1/11
    assert (pro.contracts, pro.actual, pro.pooled, pro.constant) == (1, 0.0, False, False)
    assert pro.baseline_churn == pytest.approx(1 / 11, rel=1e-12)
    assert (pro.predicted_baseline, pro.mae_baseline) == (pytest.approx(10 / 11), pytest.approx(10 / 11))
    # sBG from tenure 0: S(1)/S(0) = β/(α+β); it ended at once: P(T=1) = α/(α+β)
    assert (pro.predicted_sbg, pro.mae_sbg) == (pytest.approx(b / (a + b)), pytest.approx(b / (a + b)))
    assert pro.holdout is not None
    assert [(c.band, c.period, c.at_risk, c.actual) for c in pro.holdout.cells] == [("0", 1, 1, 0)]
    assert pro.holdout.log_likelihood_baseline == pytest.approx(math.log(1 / 11))
    assert pro.holdout.log_likelihood_sbg == pytest.approx(math.log(a / (a + b)))
    # seen from 2026-03-01: 1 + 2 + 0 + 1 = 4 of those renewals came before the history → 3/(26 + 3)
    seen = la.backtest(frame, cutoff, as_of, la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=1,
                                                            observed_from=date(2026, 3, 1)))[0]  # fmt: skip
    assert (seen.segment, seen.baseline_churn, seen.predicted_baseline) == ("pro", pytest.approx(3 / 29), pytest.approx(26 / 29))


def test_a_backtest_on_the_constant_rate_says_so_on_every_row() -> None:
    # 4 ended by 9/1 (1, 3, 5, 7), fewer than 10: every monthly fit is the constant rate, pooled:
    # 4 / (29 renewals + 4) for both segments (see the borrowed case above)
    rows = la.backtest(_frame(MONTHLY), date(2026, 9, 1), AS_OF, la.LtvOptions(min_churned=10))
    assert [(r.segment, r.constant, r.pooled) for r in rows] == [("lite", True, True), ("pro", True, True), (la.POOLED, True, True)]
    assert [r.baseline_churn for r in rows[:2]] == [pytest.approx(4 / 33), pytest.approx(4 / 33)]
    # pro: 3 contracts with 3 dates since, all made → actual 3; expected Σ_{j≤3} (29/33)^j
    expected = sum((29 / 33) ** j for j in (1, 2, 3))
    assert rows[1].predicted_baseline == pytest.approx(expected, rel=1e-12)
    assert rows[1].predicted_sbg == pytest.approx(expected, rel=1e-6)  # Beta(c·1e8, (1−c)·1e8) ≈ c


def test_expected_renewals_stop_at_each_contracts_own_renewal_dates() -> None:
    survival = np.array([[0.5, 0.25, 0.125], [0.5, 0.25, 0.125]])
    # 1 date since: 0.5; 3 dates: 0.5 + 0.25 + 0.125 = 0.875
    assert la._expected_renewals(survival, np.array([1, 3])).tolist() == [0.5, 0.875]


def test_simulated_contracts_that_churn_at_once_end_one_term_after_their_start() -> None:
    # θ ~ Beta(1e9, 1) ≈ 1: every contract ends at its first renewal date, if that is by as_of
    book = la.simulate_contracts([("x", 1, 1e9, 1.0, 6)], date(2025, 1, 1), date(2025, 7, 1), seed=3)
    starts, ends = pd.to_datetime(book["started_on"]), pd.to_datetime(book["ended_on"])
    due = starts + pd.DateOffset(months=1)
    assert ends.tolist() == [d if d <= pd.Timestamp("2025-07-01") else pd.NaT for d in due]
    assert int(ends.notna().sum()) == int((due <= pd.Timestamp("2025-07-01")).sum())
    assert int(ends.notna().sum()) >= 1
    assert (book["payment"].tolist(), set(book["currency"])) == ([10_000] * 6, {"JPY"})


def test_a_backtest_of_two_terms_gives_their_pooled_rows_in_term_order() -> None:
    # annual segment "a" sorts first: 21 renewed once and ended 2025-01-01; 22 renewed 2025-10-01 and
    # has its next date 2026-10-01 between the cutoff and as of: scored as term 12 before term 1
    frame = _frame([*MONTHLY, (21, "a", 12, date(2023, 1, 1), date(2025, 1, 1)), (22, "a", 12, date(2024, 10, 1), None)])
    rows = la.backtest(frame, date(2026, 9, 1), AS_OF, la.LtvOptions(min_cohorts=1, min_contracts=1, min_churned=1))
    assert [(r.segment, r.term_months) for r in rows] == [("a", 12), ("lite", 1), ("pro", 1), (la.POOLED, 1), (la.POOLED, 12)]
    # 22: 1 date since, renewed → actual 1; a's history: 1 ended, 1 + 1 renewals → 1/3
    assert (rows[4].contracts, rows[4].actual, rows[0].baseline_churn) == (1, 1.0, pytest.approx(1 / 3))
