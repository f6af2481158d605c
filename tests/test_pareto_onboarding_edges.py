"""Pareto (80/20) figures and onboarding KPIs against values worked out by hand in the
test (never by the function under test): the top share with ⌈20 % × n⌉ accounts, the Gini
sum, the Lorenz points' rounding, zero and negative MRR left out; Kaplan–Meier medians at
exactly one half, tied days, censored accounts, a completion written in another zone,
plans starting on or after ``as_of``, the tier order. Pure functions: no store, no app.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest

from kizuna.analytics.onboarding import Durations, durations, km_median, onboarding_kpis
from kizuna.analytics.pareto import Pareto, pareto


def test_pareto_of_four_paying_accounts_by_hand() -> None:
    # paying: 10, 20, 30, 40 (the 0 and the -5 are not paying): n = 4, total 100
    # top: ⌈0.2 × 4⌉ = 1 account, 40 → 40 %
    # Gini: Σ (2i − 5)·x = −3·10 − 1·20 + 1·30 + 3·40 = 100; 100 ÷ (4 × 100) = 0.25
    # Lorenz: cumulative 0, 10, 30, 60, 100 at 0, ¼, ½, ¾, 1 of the accounts
    got = pareto(pd.Series([40, 10, 0, 30, 20, -5]))
    assert got == Pareto(4, 100, 1, 40, 0.4, 0.25, [(0.0, 0.0), (0.25, 0.1), (0.5, 0.3), (0.75, 0.6), (1.0, 1.0)])
    assert isinstance(got.total_mrr, int)
    assert isinstance(got.top_mrr, int)


def test_pareto_rounds_up_the_top_accounts_and_the_lorenz_points() -> None:
    # 1, 1, 1, 1, 1, 5: ⌈0.2 × 6⌉ = ⌈1.2⌉ = 2 accounts, 5 + 1 = 6 of 10
    # Gini: (−5 −3 −1 +1 +3)·1 + 5·5 = 20; 20 ÷ (6 × 10) = 1/3
    got = pareto(pd.Series([1, 1, 5, 1, 1, 1]))
    assert (got.accounts, got.total_mrr, got.top_accounts, got.top_mrr, got.top_share) == (6, 10, 2, 6, 0.6)
    assert got.gini == pytest.approx(1 / 3)
    # half of 4 accounts: ⌈0.5 × 4⌉ = 2 → 30 + 40 = 70
    half = pareto(pd.Series([10, 20, 30, 40]), top=0.5)
    assert (half.top_accounts, half.top_mrr, half.top_share) == (2, 70, 0.7)
    # 3 Lorenz steps over 4 accounts: j × 4 ÷ 3 = 0, 1.33, 2.67, 4 → rounded 0, 1, 3, 4
    three = pareto(pd.Series([10, 20, 30, 40]), points=3)
    assert three.lorenz == [(0.0, 0.0), (0.25, 0.1), (0.75, 0.6), (1.0, 1.0)]
    # 2 steps: 0, 2, 4
    assert pareto(pd.Series([10, 20, 30, 40]), points=2).lorenz == [(0.0, 0.0), (0.5, 0.3), (1.0, 1.0)]


def test_pareto_of_equal_accounts_one_account_and_nobody() -> None:
    assert pareto(pd.Series([7, 7, 7, 7, 7])).gini == 0.0
    one = pareto(pd.Series([0, 0, 500]))
    assert one == Pareto(1, 500, 1, 500, 1.0, 0.0, [(0.0, 0.0), (1.0, 1.0)])
    nobody = Pareto(0, 0, 0, 0, None, None, [(0.0, 0.0), (1.0, 1.0)])
    assert pareto(pd.Series([], dtype="int64")) == nobody
    assert pareto(pd.Series([0, 0, -3])) == nobody
    # one account paying ¥1 is still one paying account
    assert pareto(pd.Series([1])) == Pareto(1, 1, 1, 1, 1.0, 0.0, [(0.0, 0.0), (1.0, 1.0)])


def test_pareto_reads_whole_yen_and_draws_101_lorenz_points_by_default() -> None:
    # a float column (a warehouse's double) is read as whole yen: 10, 20, 30 (30.5 → 30);
    # Gini: (−2·10 + 0·20 + 2·30) ÷ (3 × 60) = 40/180
    got = pareto(pd.Series([10.0, 20.0, 30.5]))
    assert (got.total_mrr, got.top_mrr, got.top_share) == (60, 30, 0.5)
    assert got.gini == pytest.approx(40 / 180)
    # 200 accounts paying 1 … 200: a point every 2 accounts, 0 … 200 (101 points)
    many = pareto(pd.Series(range(1, 201)))
    assert [x for x, _y in many.lorenz] == [j / 100 for j in range(101)]
    # the smallest half (1 … 100) holds 5,050 of 20,100
    assert many.lorenz[50] == (0.5, 5050 / 20100)


# --- onboarding ------------------------------------------------------------------------------


def test_the_kaplan_meier_median_at_one_half_ties_and_censoring() -> None:
    # a single finished account: S(3) = 0 → 3
    assert km_median([3], [True]) == 3.0
    # nobody finished, or nobody at all
    assert km_median([4, 8], [False, False]) is None
    assert km_median([], []) is None
    # unsorted input, a tie of a finished and a censored one at 2: S(2) = 1 − 1/4 = 0.75,
    # then 3 at risk; S(6) = 0.75 × 2/3 = 0.5 → 6 (exactly one half counts)
    assert km_median([6, 2, 9, 2], [True, False, True, True]) == 6.0
    # 1/3 finished at 1, then 2 of 2 at risk at 5: S(1) = 2/3, S(5) = 0 → 5
    assert km_median([5, 1, 5], [True, True, True]) == 5.0
    # the censored at 4 leaves the risk set: S(1) = 3/4, S(7) = 3/4 × 1/2 = 3/8 → 7
    assert km_median([1, 4, 7, 9], [True, False, True, False]) == 7.0
    # 3 of 6 finished on one day: S = 1 − 3/6 = 0.5 (not 0.5000001 after rounding) → 2
    assert km_median([2, 2, 2, 8, 8, 8], [True, True, True, False, False, False]) == 2.0
    # S(1) = 0.6 and S(2) = 0.6 × 2/3 = 0.4 → 2; with a censored 1 first: 0.8 then 0.6 × …
    assert km_median([1, 1, 2, 3, 3], [True, True, True, False, False]) == 2.0


def test_the_kaplan_meier_risk_set_after_ties_and_mismatched_lists() -> None:
    # 2 finish on day 2 of 6: S(2) = 4/6, 4 left at risk; S(5) = 4/6 × 3/4 = 1/2 → 5
    assert km_median([2, 2, 5, 9, 9, 9], [True, True, True, False, False, False]) == 5.0
    with pytest.raises(ValueError, match="shorter"):
        km_median([1, 2], [True])


def test_durations_count_started_finished_censored_and_the_plain_median() -> None:
    # S(2) = 3/4, S(4) = 3/4 × 2/3 = 1/2 → 4; the finished 2, 4, 7 → 4
    assert durations([(4.0, True), (10.0, False), (2.0, True), (7.0, True)]) == Durations(4, 3, 1, 4.0, 4.0)
    assert durations([(4.0, True), (6.0, True)]) == Durations(2, 2, 0, 4.0, 5.0)
    assert durations([(9.0, False)]) == Durations(1, 0, 1, None, None)
    assert durations([]) == Durations(0, 0, 0, None, None)


def _at(day: date, hour: int = 0, zone: timezone = UTC) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


def test_a_naive_time_is_utc_and_an_aware_one_keeps_its_zone_whatever_the_server_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        start = date(2026, 3, 1)
        row = {"tier": "high", "started_on": start, "milestones": 1, "completed": 1, "has_first_value": 1,
               # 22:00 UTC on Mar 2: 1 day (read as New York time it would be Mar 3 in UTC: 2)
               "last_done": datetime(2026, 3, 2, 22),
               # 01:00 on Mar 5 in Tokyo = 16:00 UTC on Mar 4: 3 days in UTC
               "first_value_at": datetime(2026, 3, 5, 1, tzinfo=timezone(timedelta(hours=9)))}  # fmt: skip
        k = onboarding_kpis([row], date(2026, 3, 10))
        assert k.overall.complete.km_median == 1.0
        assert k.overall.first_value.km_median == 3.0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_onboarding_kpis_by_hand_with_zones_groups_and_the_rows_left_out() -> None:
    as_of = date(2026, 3, 10)
    start = date(2026, 3, 1)

    def row(tier: str | None, **kw: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"tier": tier, "started_on": start, "milestones": 2, "completed": 2,
                                "last_done": None, "has_first_value": 0}  # fmt: skip
        return base | kw

    tokyo = timezone(timedelta(hours=9))
    rows = [
        # finished Mar 4 at 20:00 UTC = Mar 5 in Tokyo: 3 days in UTC, 4 in Tokyo; first value
        # at 23:00 UTC on Mar 1 = Mar 2 in Tokyo: 0 days in UTC, 1 in Tokyo
        row("tech", last_done=_at(D(2026, 3, 4), 20), has_first_value=1, first_value_at=_at(D(2026, 3, 1), 23)),
        # a naive time is UTC: finished Mar 7 at 16:00 → 6 days (Mar 8 in Tokyo: 7)
        row("high", last_done=datetime(2026, 3, 7, 16), has_first_value=1, first_value_at=None),
        # 1 of 2 done: still going (9 days) although a last completion is known
        row("high", completed=1, last_done=_at(D(2026, 3, 2))),
        # every milestone ticked but no completion time: still going
        row(None, last_done=None),
        # no milestones at all: still going
        row("low", milestones=0, completed=0, last_done=_at(D(2026, 3, 2))),
        # a completion written before the start (bad clock): 0 days, not negative
        row(
            "low",
            started_on=D(2026, 2, 20),
            last_done=_at(D(2026, 2, 18)),
            has_first_value=1,
            first_value_at=_at(D(2026, 2, 10)),
        ),
        row("high", started_on=D(2026, 3, 11), last_done=_at(D(2026, 3, 12))),  # after as_of: left out
        row("high", started_on=None),  # no start: left out
    ]
    k = onboarding_kpis(rows, as_of)
    assert k.as_of == as_of
    # complete: tech 3 done, high 6 done + 9 going, none 9 going, low 9 going + 0 done:
    # S(0) = 5/6, S(3) = 5/6 × 4/5 = 4/6, S(6) = 4/6 × 3/4 = 1/2 → 6; finished 0, 3, 6 → 3
    assert k.overall.group == "all"
    assert k.overall.complete == Durations(6, 3, 3, 6.0, 3.0)
    # first value: tech 0 done, high 9 going (no time yet), low 0 done (clamped)
    assert k.overall.first_value == Durations(3, 2, 1, 0.0, 0.0)
    assert [g.group for g in k.by_tier] == ["high", "low", "tech", "none"]
    tiers = {g.group: g for g in k.by_tier}
    assert tiers["high"].complete == Durations(2, 1, 1, 6.0, 6.0)
    assert tiers["high"].first_value == Durations(1, 0, 1, None, None)
    assert tiers["low"].complete == Durations(2, 1, 1, 0.0, 0.0)
    assert tiers["none"].complete == Durations(1, 0, 1, None, None)
    assert tiers["none"].first_value == Durations(0, 0, 0, None, None)
    assert [(g.group, g.complete.started) for g in k.by_cohort] == [("2026-02", 1), ("2026-03", 5)]
    # the same in Tokyo: tech 4 days to complete, 1 to first value; high 7
    z = onboarding_kpis(rows, as_of, tokyo)
    tz_tiers = {g.group: g for g in z.by_tier}
    assert tz_tiers["tech"].complete == Durations(1, 1, 0, 4.0, 4.0)
    assert tz_tiers["tech"].first_value == Durations(1, 1, 0, 1.0, 1.0)
    assert tz_tiers["high"].complete.median_finished == 7.0


def test_a_plan_starting_on_as_of_counts_and_unknown_tiers_come_last() -> None:
    as_of = date(2026, 3, 10)
    later = {"tier": "high", "started_on": date(2026, 3, 11), "milestones": 1, "completed": 1,
             "last_done": _at(date(2026, 3, 11))}  # fmt: skip
    rows = [later] + [{"tier": t, "started_on": as_of, "milestones": 1, "completed": 0, "last_done": None}
                      for t in ("gold", None, "tech", "low", "high")]  # fmt: skip
    k = onboarding_kpis(rows, as_of)
    assert [g.group for g in k.by_tier] == ["high", "low", "tech", "none", "gold"]
    assert k.overall.complete == Durations(5, 0, 5, None, None)
    assert [g.group for g in k.by_cohort] == ["2026-03"]
    # started on as_of and still going: 0 days in, so it leaves the risk set before day 1;
    # done in 1 and 5 days: S(1) = 1 − 1/2 = 1/2 → 1 (were it 1 day in: S(1) = 2/3, S(5) = 0 → 5)
    done = [{"tier": "low", "started_on": date(2026, 3, 10) - timedelta(days=d), "milestones": 1, "completed": 1,
             "last_done": _at(date(2026, 3, 10))} for d in (1, 5)]  # fmt: skip
    assert onboarding_kpis([*done, rows[1]], as_of).overall.complete == Durations(3, 2, 1, 1.0, 3.0)
    assert onboarding_kpis([], as_of).overall == onboarding_kpis([], as_of).overall.__class__(
        "all", Durations(0, 0, 0, None, None), Durations(0, 0, 0, None, None)
    )


D = date
