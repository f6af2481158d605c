"""The small helpers of ``analytics/health.py`` by hand, each on a frame of a few lines (no
store: the mutation run of these functions points at this file; see docs/testing.md):
who is live and paying on a day, the survey look-back, the measures no account reports,
each account's first day, seats and peer groups, the (day, account) keys, the tracked
users, the early activation against the tier's norm, the stages replayed for the
backtest, the JSON rows of the measures and each measure's own AUC.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import health as calc
from kizuna.domain.health import ScoringOptions

T = pd.Timestamp
NAT = pd.NaT

# 1: a trial to 01-15; 2: 01-10 to 01-20 (ended on the 20th); 3: a trial that ended before
# its start (paid from the start, 01-20); 4: from 02-01; 5: two lines, from 2025-12-01 and -15
LIVE = pd.DataFrame({
    "account_id": [1, 2, 3, 4, 5, 5],
    "started_on": [T("2026-01-01"), T("2026-01-10"), T("2026-01-20"), T("2026-02-01"), T("2025-12-01"),
                   T("2025-12-15")],
    "trial_ends_on": [T("2026-01-15"), NAT, T("2026-01-05"), NAT, NAT, NAT],
    "ended_on": [NAT, T("2026-01-20"), NAT, NAT, NAT, NAT],
})  # fmt: skip


def test_paid_from_after_a_trial_and_the_lines_live_on_a_day() -> None:
    # a trial ending after the start moves the paid start to its end; one ending before it does not
    assert calc._paid_from(LIVE).tolist() == [T("2026-01-15"), T("2026-01-10"), T("2026-01-20"), T("2026-02-01"),
                                              T("2025-12-01"), T("2025-12-15")]  # fmt: skip
    # 01-10, any line: 1 (from 01-01), 2 (from that very day), both lines of 5; not 3 nor 4
    assert calc.live_lines(LIVE, date(2026, 1, 10), paying_only=False).index.tolist() == [0, 1, 4, 5]
    # paying: 1 is still in its trial (paid from 01-15)
    assert calc.live_lines(LIVE, date(2026, 1, 10), paying_only=True).index.tolist() == [1, 4, 5]
    # 01-20, paying: 1 (paid since 01-15), 3 (from that day); 2 ended that day: not live
    assert calc.live_lines(LIVE, date(2026, 1, 20), paying_only=True).index.tolist() == [0, 2, 4, 5]
    assert calc.live_lines(LIVE, date(2026, 1, 19), paying_only=True).index.tolist() == [0, 1, 4, 5]
    # the accounts once each (5 has two lines), as plain ints in order
    assert calc.live_accounts(LIVE, date(2026, 1, 20), paying_only=True).tolist() == [1, 3, 5]
    assert calc.live_accounts(LIVE, date(2026, 1, 10), paying_only=False).tolist() == [1, 2, 5]
    assert calc.live_accounts(LIVE, date(2026, 1, 14), paying_only=True).tolist() == [2, 5]
    assert calc.live_accounts(LIVE, date(2025, 11, 30), paying_only=False).tolist() == []


def test_how_far_back_survey_answers_count() -> None:
    # the defaults: NPS 6 half-lives of 120 days = 720, CSAT 6 × 60 = 360 → 720
    assert calc._survey_window("nps", ScoringOptions()) == 720
    assert calc._survey_window("csat", ScoringOptions()) == 360
    assert calc.survey_lookback_days(ScoringOptions()) == 720
    # no half-life: the plain windows, NPS 365 and CSAT 180
    plain = ScoringOptions(nps_half_life_days=0, csat_half_life_days=0)
    assert (calc._survey_window("nps", plain), calc._survey_window("csat", plain)) == (365, 180)
    assert calc.survey_lookback_days(plain) == 365
    # CSAT the longer: 6 × 100 = 600 against NPS' 365
    assert calc.survey_lookback_days(ScoringOptions(nps_half_life_days=0, csat_half_life_days=100)) == 600
    # rounded up: 6 × 70.1 = 420.6 → 421; a half-life of 1 day: 6 days
    assert calc.survey_lookback_days(ScoringOptions(nps_half_life_days=70.1, csat_half_life_days=0)) == 421
    assert calc._survey_window("nps", ScoringOptions(nps_half_life_days=1, csat_half_life_days=0)) == 6


def usage(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric", "last30", "prev30", "base90"])


def test_the_measures_no_account_reports() -> None:
    everything = {"logins_vs_baseline", "login_trend", "login_days", "activation_vs_tier", "usage_minutes_per_seat",
                  "active_users_per_seat", "events_per_active_user", "events_vs_baseline", "active_days",
                  "events_per_seat", "events_percentile", "feature_breadth"}  # fmt: skip
    assert calc.unreported_measures(usage([])) == everything
    # logins only in the baseline, active users only in the 30 days before, a feature: reported;
    # events all 0 and no session minutes: not
    rows = [("logins", 0, 0, 5), ("active_users", 0, 3, 0), ("events", 0, 0, 0), ("feature.api", 1, 0, 0)]
    assert calc.unreported_measures(usage(rows)) == {"usage_minutes_per_seat", "events_vs_baseline", "active_days",
                                                     "events_per_seat", "events_percentile"}  # fmt: skip
    # no feature row, but features with data in the window: the breadth is not missing
    logins = [("logins", 2, 0, 0)]
    assert "feature_breadth" in calc.unreported_measures(usage(logins))
    assert "feature_breadth" not in calc.unreported_measures(usage(logins), ("feature.api",))
    # a frame with only the last 30 days' sums
    only = pd.DataFrame({"metric": ["events", "logins"], "last30": [4.0, 0.0]})
    assert calc.unreported_measures(only, ("feature.x",)) == everything - {
        "events_vs_baseline", "active_days", "events_per_seat", "events_percentile", "feature_breadth"}


def test_each_account_s_first_day_not_before_the_store_s() -> None:
    lines = pd.DataFrame({"account_id": [1, 1, 2], "started_on": [T("2026-03-01"), T("2026-01-01"), T("2026-05-01")]})
    assert calc.account_start(lines).to_dict() == {1: T("2026-01-01"), 2: T("2026-05-01")}
    # usage known from 02-01: account 1's history starts then, account 2's later start stands
    assert calc.account_start(lines, date(2026, 2, 1)).to_dict() == {1: T("2026-02-01"), 2: T("2026-05-01")}
    assert calc.account_start(lines, date(2026, 6, 1)).to_dict() == {1: T("2026-06-01"), 2: T("2026-06-01")}


# 1: plans P1 (2 × 10 seats = 20) and P2 (1 × 30 = 30), the larger P2; 2: a per-seat plan P3 × 5
# (its seats unknown: the quantity) and a 100-unit add-on P9 (not a plan); 3: P7 and P4 of 10
# seats each (a tie: the lower product id, 4); 4: a plan that ended on 06-30; 5: a plan from 07-01
SEATED = pd.DataFrame({
    "account_id": [1, 1, 2, 2, 3, 3, 4, 5],
    "started_on": [T("2026-01-01")] * 7 + [T("2026-07-01")],
    "trial_ends_on": [NAT] * 8,
    "ended_on": [NAT] * 6 + [T("2026-06-30"), NAT],
    "kind": ["plan", "plan", "plan", "addon", "plan", "plan", "plan", "plan"],
    "quantity": [2, 1, 5, 100, 1, 2, 3, 4],
    "seats_included": [10, 30, None, 50, 10, 5, 10, 10],
    "product_id": [1, 2, 3, 9, 7, 4, 5, 6],
})  # fmt: skip


def test_the_lines_of_each_day_seats_and_peer_groups() -> None:
    days = [date(2026, 6, 30), date(2026, 7, 1)]
    on = calc.lines_on(SEATED, days, paying_only=False)
    # 4 ended on 06-30 (not live then), 5 starts 07-01: one row per line and day, no helper column
    pairs = list(zip(on["account_id"], on["day"], strict=True))
    assert pairs == [(1, T("2026-06-30")), (1, T("2026-07-01")), (1, T("2026-06-30")), (1, T("2026-07-01")),
                     (2, T("2026-06-30")), (2, T("2026-07-01")), (2, T("2026-06-30")), (2, T("2026-07-01")),
                     (3, T("2026-06-30")), (3, T("2026-07-01")), (3, T("2026-06-30")), (3, T("2026-07-01")),
                     (5, T("2026-07-01"))]  # fmt: skip
    assert list(on.columns) == [*SEATED.columns, "day"]
    # seats: 1: 2 × 10 + 1 × 30 = 50; 2: 5 (the add-on's 100 × 50 is not seats); 3: 1 × 10 + 2 × 5 = 20
    assert calc.seats(SEATED, date(2026, 6, 30)).to_dict() == {1: 50.0, 2: 5.0, 3: 20.0}
    assert calc.seats(SEATED, date(2026, 7, 1)).to_dict() == {1: 50.0, 2: 5.0, 3: 20.0, 5: 40.0}
    # the product of the plan with the most seats; a tie of 10 and 10 → the lower product id
    assert calc.peer_groups(SEATED, date(2026, 6, 30)).to_dict() == {1: "2", 2: "3", 3: "4"}
    # per day and account: 5 joins on 07-01
    both = calc._peer_groups_on(calc.lines_on(SEATED, days, paying_only=False))
    assert both.to_dict() == {(T("2026-06-30"), 1): "2", (T("2026-06-30"), 2): "3", (T("2026-06-30"), 3): "4",
                              (T("2026-07-01"), 1): "2", (T("2026-07-01"), 2): "3", (T("2026-07-01"), 3): "4",
                              (T("2026-07-01"), 5): "6"}  # fmt: skip
    assert list(both.index.names) == ["day", "account_id"]
    assert list(both.index) == sorted(both.index)  # by day, then account
    # a per-seat plan's seats are its quantity: 7's per-seat P10 × 5 (5 seats) beats P11's 1 × 4;
    # 8's per-seat P12 × 5 loses to P13's 1 × 6
    per_seat = pd.DataFrame({
        "account_id": [7, 7, 8, 8], "started_on": [T("2026-01-01")] * 4, "trial_ends_on": [NAT] * 4,
        "ended_on": [NAT] * 4, "kind": ["plan"] * 4, "quantity": [5, 1, 5, 1], "seats_included": [None, 4, None, 6],
        "product_id": [10, 11, 12, 13],
    })  # fmt: skip
    assert calc.peer_groups(per_seat, date(2026, 6, 30)).to_dict() == {7: "10", 8: "13"}
    # every line still in a trial: seats and peers count them all the same (not only the paying lines)
    in_trial = SEATED.assign(trial_ends_on=[T("2026-07-15")] * 8)
    assert calc.seats(in_trial, date(2026, 6, 30)).to_dict() == {1: 50.0, 2: 5.0, 3: 20.0}
    assert calc.peer_groups(in_trial, date(2026, 6, 30)).to_dict() == {1: "2", 2: "3", 3: "4"}
    # lines without products: one group for all; only add-ons: no group at all
    plain = calc.peer_groups(SEATED.drop(columns="product_id"), date(2026, 6, 30))
    assert plain.to_dict() == {1: "all", 2: "all", 3: "all"}
    assert calc.peer_groups(SEATED[SEATED["kind"] == "addon"], date(2026, 6, 30)).to_dict() == {}


def test_one_day_by_account_and_the_row_keys() -> None:
    two = pd.Series([1.0, 2.0], index=pd.MultiIndex.from_tuples([(T("2026-06-30"), 7), (T("2026-06-30"), 8)],
                                                                 names=["day", "account_id"]))  # fmt: skip
    assert calc._one_day(two).to_dict() == {7: 1.0, 8: 2.0}
    flat = pd.Series([3.0], index=pd.Index([9], name="account_id"))
    assert calc._one_day(flat).to_dict() == {9: 3.0}
    # the day number above 32 bits, the id below: day 1 (1970-01-02), id 5 → 2³² + 5
    keys = calc._row_keys(np.array(["1970-01-02", "1970-01-01"], dtype="datetime64[ns]"), np.array([5, 7]))
    assert keys.tolist() == [4_294_967_296 + 5, 7]
    # per (day, account): the values of each line summed, and the smallest
    frame = pd.DataFrame({"day": [T("2026-06-30")] * 3, "account_id": [1, 1, 2]})
    total = calc._per_day(frame, pd.Series([2.0, 3.0, 4.0]), "sum")
    assert total.to_dict() == {(T("2026-06-30"), 1): 5.0, (T("2026-06-30"), 2): 4.0}
    assert list(total.index.names) == ["day", "account_id"]


def test_features_of_a_day_and_the_tracked_users() -> None:
    by_day = {T("2026-06-30"): ("feature.api",)}
    assert calc._features_on(by_day, T("2026-06-30")) == ("feature.api",)
    assert calc._features_on(by_day, T("2026-07-01")) == ()
    assert calc._features_on(("feature.a", "feature.b"), T("2026-07-01")) == ("feature.a", "feature.b")
    rows = pd.MultiIndex.from_product([[T("2026-06-30")], [1, 2, 3]], names=["day", "account_id"])
    ids = rows.get_level_values("account_id")
    contacts = pd.DataFrame({"account_id": [3, 1], "contacts": [2, 8]})
    tracked = calc._tracked_users(rows, ids, contacts)
    # 2 has no contact row: 0 tracked users
    assert tracked.tolist() == [8.0, 0.0, 2.0]
    assert tracked.index.equals(rows)
    assert calc._tracked_users(rows, ids, None).tolist() == [0.0, 0.0, 0.0]
    assert calc._tracked_users(rows, ids, contacts.iloc[:0]).tolist() == [0.0, 0.0, 0.0]


def test_early_activation_against_the_tier_s_established_accounts() -> None:
    day = T("2026-06-30")
    ids = [1, 2, 3, 4, 5, 6, 7, 8]
    rows = pd.MultiIndex.from_product([[day], ids], names=["day", "account_id"])
    ages = [100, 200, 9, 90, 9, 30, -1, 0]  # days since each account's start
    start = pd.Series(day - pd.to_timedelta(ages, unit="D"), index=rows)
    login_days = pd.Series([15.0, 9.0, 6.0, 15.0, 3.0, 6.0, 2.0, 1.0], index=rows)
    tiers = pd.Series({1: "high", 2: "high", 3: "high", 4: "low", 5: "mid", 8: "mid"})  # 6, 7: no tier
    day_col = pd.Series(rows.get_level_values("day"), index=rows)
    got = calc._activation_vs_tier(rows, rows.get_level_values("account_id"), day_col, start, tiers, login_days)
    # login days ÷ the days existed in the last 30 (age + 1, at most 30): 15/30 = 0.5, 9/30 = 0.3,
    # 6/10 = 0.6, 15/30 = 0.5, 3/10 = 0.3, 6/30 = 0.2 (age 30: 30 days), age −1: none, 1/1 = 1.0.
    # Established (age ≥ 90): 1, 2 (high: median 0.4) and 4 (exactly 90; low: 0.5); all: 0.5.
    # 1: 0.5/0.4 − 1 = 0.25, 2: 0.3/0.4 − 1 = −0.25, 3: 0.6/0.4 − 1 = 0.5, 4: 0.5/0.5 − 1 = 0,
    # 5 (mid has no established account: all) 0.3/0.5 − 1 = −0.4, 6 (no tier) 0.2/0.5 − 1 = −0.6,
    # 7 missing, 8 (mid) 1.0/0.5 − 1 = 1.0
    assert got.index.equals(rows)
    expected = [0.25, -0.25, 0.5, 0.0, -0.4, -0.6, None, 1.0]
    assert [None if math.isnan(v) else v for v in got.tolist()] == [pytest.approx(v) if v is not None else None
                                                                     for v in expected]  # fmt: skip
    # no tiers: every account against all established ones (0.5):
    # 0, −0.4, 0.6/0.5 − 1 = 0.2, 0, −0.4, −0.6, missing, 1.0
    untiered = calc._activation_vs_tier(rows, rows.get_level_values("account_id"), day_col, start, None, login_days)
    expected = [0.0, -0.4, 0.2, 0.0, -0.4, -0.6, None, 1.0]
    assert [None if math.isnan(v) else v for v in untiered.tolist()] == [
        pytest.approx(v) if v is not None else None for v in expected]


def test_two_days_each_with_its_own_norm() -> None:
    # the same account established on both days: its rate is the norm of its own day only
    days = [T("2026-06-29"), T("2026-06-30")]
    rows = pd.MultiIndex.from_product([days, [1, 2]], names=["day", "account_id"])
    day_col = pd.Series(rows.get_level_values("day"), index=rows)
    start = pd.Series([T("2026-01-01"), T("2026-06-25")] * 2, index=rows)
    # day 1: 1 has 12 login days (0.4), 2 (age 4: 5 days) 2 → 0.4 → 0; day 2: 1 has 15 (0.5),
    # 2 (6 days) 3 → 0.5 → 0
    login_days = pd.Series([12.0, 2.0, 15.0, 3.0], index=rows)
    tiers = pd.Series({1: "high", 2: "high"})
    got = calc._activation_vs_tier(rows, rows.get_level_values("account_id"), day_col, start, tiers, login_days)
    assert got.tolist() == pytest.approx([0.0, 0.0, 0.0, 0.0])


def test_the_stages_replayed_for_the_backtest() -> None:
    lines = pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5, 6, 6, 9],
        "started_on": [T("2026-06-01"), T("2026-04-01"), T("2026-04-02"), T("2026-06-20"), T("2026-01-01"),
                       T("2026-01-01"), T("2026-06-20"), T("2026-06-29")],
        "trial_ends_on": [NAT, NAT, NAT, NAT, T("2026-06-25"), NAT, NAT, NAT],
        "ended_on": [NAT] * 8,
    })  # fmt: skip  (9: not among the values, not staged)
    values = pd.DataFrame({"onboarding_progress": [0.5, 0.5, 1.0, np.nan, 0.0, 0.0],
                           "days_to_renewal": [np.nan, 90.0, 91.0, 5.0, np.nan, np.nan]},
                          index=pd.Index([1, 2, 3, 4, 5, 6]))  # fmt: skip
    stages = calc.replay_stages(lines, values, date(2026, 6, 30))
    # 1: 29 days paying, half done → onboarding; 2: 90 days (not under 90), renews in 90 (within 90)
    # → renewal; 3: 89 days but every milestone done, renews in 91 → none; 4: 10 days, no milestone
    # data (not done) → onboarding before its renewal in 5; 5: paid from its trial's end 06-25 (5
    # days) → onboarding; 6: paying since 01-01 (its first line) → none
    assert stages.to_dict() == {1: "onboarding", 2: "renewal", 3: None, 4: "onboarding", 5: "onboarding", 6: None}
    # the values' rows in their own order, not the lines'
    backwards = calc.replay_stages(lines, values.iloc[::-1], date(2026, 6, 30))
    assert list(backwards.items()) == [(6, None), (5, "onboarding"), (4, "onboarding"), (3, None), (2, "renewal"),
                                       (1, "onboarding")]  # fmt: skip
    # shorter windows: 30 days of onboarding, renewals within 5 days
    short = calc.replay_stages(lines, values, date(2026, 6, 30), onboarding_days=30, renewal_days=5)
    assert short.to_dict() == {1: "onboarding", 2: None, 3: None, 4: "onboarding", 5: "onboarding", 6: None}


def test_measures_set_missing_for_everyone() -> None:
    values = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    out = calc.mark_missing(values, {"b", "not_a_column"})
    assert out["a"].tolist() == [1.0, 2.0]
    assert out["b"].isna().tolist() == [True, True]
    assert values["b"].tolist() == [3.0, 4.0]  # the caller's frame untouched
    assert calc.mark_missing(values, frozenset({"zzz"})).equals(values)


def test_levels_clean_numbers_and_the_basis() -> None:
    # thresholds 50 and 70 reached: NaN stays NaN
    levels = calc._levels(np.array([np.nan, 50.0, 70.0, 69.9, 100.0, 10.0]), [50.0, 70.0])
    assert [None if math.isnan(v) else v for v in levels.tolist()] == [None, 1.0, 2.0, 1.0, 2.0, 0.0]
    assert calc._clean(None) is None  # type: ignore[arg-type]
    assert calc._clean(float("nan")) is None
    assert calc._clean(np.float64("nan")) is None
    assert calc._clean(2.5) == 2.5
    three = calc._clean(3)  # type: ignore[arg-type]
    assert (three, type(three)) == (3.0, float)
    item: dict[str, object] = {}
    calc._with_basis(item, {"basis": {"seats": 20, "tracked_users": 8}})
    assert item == {"basis": {"seats": 20, "tracked_users": 8}}
    for measure in ({}, {"basis": None}):
        item = {}
        calc._with_basis(item, measure)
        assert item == {}


def test_the_measures_as_json_rows() -> None:
    values = pd.DataFrame({"a": [0.123456, np.nan], "active_users_per_seat": [0.5, 0.25],
                           "tracked_users": [8.0, np.nan], "seats": [20.0, 4.0]})  # fmt: skip
    points = pd.DataFrame({"a": [12.346, np.nan], "active_users_per_seat": [80.0, 40.0]})
    weights = pd.DataFrame({"a": [0.33333, 0.0], "active_users_per_seat": [0.66667, 1.0]})
    rows = calc.measures_json(values, calc.Scores(pd.Series([60.0, 40.0]), points, weights))
    # values to 4 places, points to 2, weights to 4; missing → None; the per-seat measure of the
    # account counted per tracked user says so (8 tracked users of 20 seats)
    assert rows == [
        {"a": {"value": 0.1235, "points": 12.35, "weight": 0.3333},
         "active_users_per_seat": {"value": 0.5, "points": 80.0, "weight": 0.6667,
                                   "basis": {"tracked_users": 8, "seats": 20}}},
        {"a": {"value": None, "points": None, "weight": 0.0},
         "active_users_per_seat": {"value": 0.25, "points": 40.0, "weight": 1.0}},
    ]  # fmt: skip
    assert type(rows[0]["a"]["value"]) is float
    assert type(rows[0]["active_users_per_seat"]["basis"]["seats"]) is int
    # the values' columns in another order than the points', one measure without a column: missing
    shuffled = values[["tracked_users", "active_users_per_seat", "seats"]]
    again = calc.measures_json(shuffled, calc.Scores(pd.Series([60.0, 40.0]), points, weights))
    assert [row["a"]["value"] for row in again] == [None, None]
    assert [row["active_users_per_seat"]["value"] for row in again] == [0.5, 0.25]
    # without tracked users in the values: no basis anywhere
    plain = calc.measures_json(values.drop(columns=["tracked_users"]), calc.Scores(pd.Series([60.0, 40.0]), points,
                                                                                    weights))  # fmt: skip
    assert "basis" not in plain[0]["active_users_per_seat"]
    assert calc._nan_to_none(np.array([[1.0, np.nan], [np.nan, 2.0]])) == [[1.0, None], [None, 2.0]]
    assert calc._nan_to_none(np.array([[1.5]])) == [[1.5]]


def test_each_measure_s_auc_its_samples_and_direction() -> None:
    y = np.array([True, False, True, False])
    points = pd.DataFrame({"a": [10.0, 90.0, 20.0, 80.0], 7: [np.nan, 50.0, 60.0, np.nan], "c": [np.nan] * 4})
    a, seven, c = calc.measure_aucs(y, points)
    # a: the churners have the fewest points → 1.0 over 4 samples, 2 churned
    assert (a.key, a.auc, a.samples, a.churned, a.direction) == ("a", 1.0, 4, 2, "right")
    # 7: two samples, the churner has more points (60 vs 50) → 0.0, pointing the wrong way
    assert (seven.key, seven.auc, seven.samples, seven.churned, seven.direction) == ("7", 0.0, 2, 1, "wrong")
    assert (c.key, c.auc, c.samples, c.churned, c.direction) == ("c", None, 0, 0, "none")
    # exactly 0.5: no worse than chance, "right"
    assert calc.MeasureAuc("x", 0.5, 4, 2).direction == "right"
    assert calc.MeasureAuc("x", 0.49, 4, 2).direction == "wrong"
