"""The health measures, the days to renewal and the backtest's lead days, worked out by
hand on in-memory frames of 2–3 accounts (no store: each test takes milliseconds, so the
mutation run of ``compute_measures``, ``measures_by_day``, ``_renewal_days_on``,
``backtest_metrics`` and ``_lead_times`` points at these; see docs/testing.md).

As of 2026-06-30; windows ``(after, up to]``: last 30 days (05-31, 06-30], the 30 before
(05-01, 05-31], the 90-day baseline (03-02, 05-31].

- F1: plan P1 (10 seats included) × 2 = 20 seats, yearly from 2025-07-01 (renews
  tomorrow: 1 day; 364 days old), tier "high", 8 contacts. Logins 45 on 15 days (1.5 a
  day) / 30 the 30 days before (1 a day) / 180 in the baseline (2 a day): vs baseline
  1.5 ÷ 2 − 1 = −25 %, trend 1.5 ÷ 1 − 1 = +50 %, 15 login days. At most 8 users active
  on a day = its 8 contacts, and 20 seats > 2 × 8: the tracking is partial, the per-seat
  measures are per tracked user (8): 8 ÷ 8 = 1.0 active users a seat, 600 session
  minutes ÷ 8 = 75, events 300 (10 a day) × 30 ÷ 8 = 37.5 a seat; events vs baseline
  (450 ÷ 90 = 5 a day): +100 %; per active user-day 300 ÷ 150 = 2; 20 active days.
  Features: reports used (3 events), 2 features seen → 1 of 6 = 1/6, first value 1.
  NPS 40 (confidence 0.5), CSAT 4.5, 2 open tickets of which 1 escalated, sentiment 0.8.
  Activation: 15 login days ÷ 30 = 0.5, the norm of "high" (only F1 established) 0.5: 0.
- F2: a per-seat monthly plan P2 × 4 = 4 seats from 2026-01-01 (180 days old; monthly:
  no renewal day), tier "low". Logins 12 on 6 days, none before (baseline and trend
  missing: nothing to compare with). 10 users active on a day > 4 seats: 1.0 (clipped);
  no contacts: per seat. Events 60 (2 a day) × 30 ÷ 4 = 15 a seat, per active user-day
  60 ÷ 20 = 3, no events before (missing). No features: breadth 0, first value 0.
  Onboarding with 0 milestones: missing, not 0 %. Activation 6 ÷ 30 = 0.2 vs "low"'s
  own 0.2: 0.
- F3: P1 × 1 = 10 seats, yearly from 2026-06-21: 10 days in the last 30 (9 days old),
  under the 14-day minimum: login days, active days and the event rates are missing.
  5 contacts: 10 seats is not more than 2 × 5, so per seat: 2 ÷ 10 = 0.2. Events 10 ÷ 5
  user-days = 2 a user. Its renewal 2027-06-21 is 356 days away. Feature api used:
  1/6. Onboarding 1 of 4 milestones done (25 %), 1 of the 2 due on time (50 %).
  Activation 4 login days ÷ 10 days = 0.4 vs "high"'s 0.5: −20 %.

Events per seat ranked among all with data (two products, each under five accounts):
F2 15 → ¼, F1 37.5 → ¾.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import health as calc
from kizuna.domain.health import MEASURES

AS_OF = date(2026, 6, 30)
T = pd.Timestamp

LINES = pd.DataFrame({
    "account_id": [1, 2, 3],
    "started_on": [T("2025-07-01"), T("2026-01-01"), T("2026-06-21")],
    "trial_ends_on": [pd.NaT] * 3, "ended_on": [pd.NaT] * 3, "interval": ["year", "month", "year"],
    "quantity": [2, 4, 1], "seats_included": [10, None, 10], "kind": ["plan"] * 3, "product_id": [1, 2, 1],
})  # fmt: skip

COLS = ["account_id", "metric", "last30", "prev30", "base90", "days30", "max30"]
USAGE = [
    (1, "logins", 45, 30, 180, 15, 5), (1, "active_users", 150, 0, 0, 30, 8), (1, "session_minutes", 600, 0, 0, 10, 90),
    (1, "events", 300, 0, 450, 20, 30), (1, "feature.reports", 3, 0, 0, 2, 2),
    (2, "logins", 12, 0, 0, 6, 3), (2, "active_users", 20, 0, 0, 2, 10), (2, "events", 60, 0, 0, 5, 20),
    (2, "feature.exports", 0, 0, 0, 0, 0),  # a row of 0: not a feature used
    (3, "logins", 4, 0, 0, 4, 1), (3, "active_users", 5, 0, 0, 3, 2), (3, "events", 10, 0, 0, 3, 5),
    (3, "feature.api", 2, 0, 0, 1, 2),
]  # fmt: skip


def inputs(lines: pd.DataFrame = LINES, usage: list[tuple[object, ...]] = USAGE) -> calc.MeasureInputs:
    return calc.MeasureInputs(
        lines=lines, usage=pd.DataFrame(usage, columns=COLS).astype(dict.fromkeys(COLS[2:], "float64")),
        surveys=pd.DataFrame({"account_id": [1, 2], "nps": [40.0, np.nan], "csat": [4.5, np.nan],
                              "nps:confidence": [0.5, np.nan]}),
        tickets=pd.DataFrame({"account_id": [1], "open_tickets": [2], "escalated_tickets": [1]}),
        onboarding=pd.DataFrame({"account_id": [2, 3], "milestones": [0, 4], "milestones_done": [0, 1],
                                 "milestones_due": [0, 2], "milestones_on_time": [0, 1]}),
        sentiment=pd.DataFrame({"account_id": [1], "csm_sentiment": [0.8]}),
        contacts=pd.DataFrame({"account_id": [1, 3], "contacts": [8, 5]}),
        tiers=pd.Series({1: "high", 2: "low", 3: "high"}),
    )  # fmt: skip


def values_of(frame: pd.DataFrame, cols: list[str]) -> dict[int, list[float | None]]:
    return {int(a): [None if math.isnan(v) else round(float(v), 6) for v in r] for a, r in frame[cols].iterrows()}


ACCOUNTS = pd.Index([1, 2, 3])


def test_every_measure_of_three_accounts_by_hand() -> None:
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF)
    assert list(values.index) == [1, 2, 3]
    assert values.index.name == "account_id"
    assert (values.dtypes == "float64").all()
    # the catalogue's measures in its order (the feature table's columns), then the extras
    assert list(values.columns) == [*MEASURES, "seats", "tracked_users", "nps:confidence"]
    usage = ["logins_vs_baseline", "login_trend", "login_days", "active_days", "events_vs_baseline",
             "events_per_seat", "events_per_active_user", "events_percentile"]  # fmt: skip
    assert values_of(values, usage) == {
        1: [-0.25, 0.5, 15.0, 20.0, 1.0, 37.5, 2.0, 0.75],
        2: [None, None, 6.0, 5.0, None, 15.0, 3.0, 0.25],
        3: [None, None, None, None, None, None, 2.0, None],
    }
    seats = ["seats", "tracked_users", "active_users_per_seat", "usage_minutes_per_seat", "account_age"]
    assert values_of(values, seats) == {
        1: [20.0, 8.0, 1.0, 75.0, 364.0],
        2: [4.0, None, 1.0, 0.0, 180.0],
        3: [10.0, None, 0.2, 0.0, 9.0],
    }
    features = ["feature_breadth", "first_value", "activation_vs_tier", "days_to_renewal"]
    assert values_of(values, features) == {
        1: [round(1 / 6, 6), 1.0, 0.0, 1.0],
        2: [0.0, 0.0, 0.0, None],
        3: [round(1 / 6, 6), 1.0, -0.2, 356.0],
    }
    other = ["nps", "nps:confidence", "csat", "open_tickets", "escalated_tickets", "onboarding_progress",
             "milestones_on_time", "csm_sentiment", "payment_state"]  # fmt: skip
    assert values_of(values, other) == {
        1: [40.0, 0.5, 4.5, 2.0, 1.0, None, None, 0.8, None],
        2: [None, None, None, 0.0, 0.0, None, None, None, None],
        3: [None, None, None, 0.0, 0.0, 0.25, 0.5, None, None],
    }


def test_the_tracking_is_partial_only_past_the_ratio_and_the_peak() -> None:
    # F1 with 9 users active on its busiest day (more than its 8 contacts): per seat again
    busier = [(1, "active_users", 150, 0, 0, 30, 9) if r[:2] == (1, "active_users") else r for r in USAGE]
    values = calc.compute_measures(ACCOUNTS, inputs(usage=busier), AS_OF)
    assert values_of(values, ["tracked_users", "active_users_per_seat", "usage_minutes_per_seat"])[1] == [
        None, 0.45, 30.0]  # fmt: skip
    # F3 with 4 contacts: 10 seats > 2 × 4 and 2 users ≤ 4: per tracked user, 2 ÷ 4
    more = dataclasses.replace(inputs(), contacts=pd.DataFrame({"account_id": [1, 3], "contacts": [8, 4]}))
    values = calc.compute_measures(ACCOUNTS, more, AS_OF)
    assert values_of(values, ["tracked_users", "active_users_per_seat"])[3] == [4.0, 0.5]
    # a ratio of 1: seats more than the contacts are enough (F3: 10 > 5, 2 users ≤ 5: 2 ÷ 5)
    one = dataclasses.replace(inputs(), options=calc.ScoringOptions(partial_tracking_ratio=1))
    values = calc.compute_measures(ACCOUNTS, one, AS_OF)
    assert values_of(values, ["tracked_users", "active_users_per_seat"]) == {1: [8.0, 1.0], 2: [None, 1.0],
                                                                             3: [5.0, 0.4]}  # fmt: skip
    # a single contact is enough to count: F2 with 1 contact, 4 seats > 2 and no users seen
    single = dataclasses.replace(inputs(usage=[]), contacts=pd.DataFrame({"account_id": [2], "contacts": [1]}))
    assert values_of(calc.compute_measures(ACCOUNTS, single, AS_OF), ["tracked_users"]) == {
        1: [None], 2: [1.0], 3: [None]}  # fmt: skip
    # a ratio of 0 turns the rule off: F1 per seat, 8 ÷ 20
    off = dataclasses.replace(inputs(), options=calc.ScoringOptions(partial_tracking_ratio=0))
    values = calc.compute_measures(ACCOUNTS, off, AS_OF)
    assert values_of(values, ["tracked_users", "active_users_per_seat", "usage_minutes_per_seat"])[1] == [
        None, 0.4, 30.0]  # fmt: skip


def test_a_store_without_usage_or_without_active_users() -> None:
    # no usage at all (a new store): every usage measure missing, the contract's figures known
    # (F1's 20 seats > 2 × 8 contacts and no user seen active: per tracked user)
    values = calc.compute_measures(ACCOUNTS, inputs(usage=[]), AS_OF)
    cols = ["seats", "tracked_users", "days_to_renewal", "account_age", "logins_vs_baseline", "active_users_per_seat",
            "events_per_seat", "feature_breadth", "first_value", "activation_vs_tier"]  # fmt: skip
    assert values_of(values, cols) == {
        1: [20.0, 8.0, 1.0, 364.0, None, None, None, None, None, None],
        2: [4.0, None, None, 180.0, None, None, None, None, None, None],
        3: [10.0, None, 356.0, 9.0, None, None, None, None, None, None],
    }
    # nobody reports active users: their measures missing; F1 still per tracked user (no day
    # saw more users than its contacts): 10 events a day × 30 ÷ 8
    no_users = [r for r in USAGE if r[1] != "active_users"]
    values = calc.compute_measures(ACCOUNTS, inputs(usage=no_users), AS_OF)
    cols = ["events_per_seat", "tracked_users", "active_users_per_seat", "events_per_active_user",
            "usage_minutes_per_seat"]  # fmt: skip
    assert values_of(values, cols) == {1: [37.5, 8.0, None, None, 75.0], 2: [15.0, None, None, None, 0.0],
                                       3: [None, None, None, None, 0.0]}  # fmt: skip
    # no feature rows in the last 30 days, but features seen earlier in the window: nothing
    # used, 0 of 6 (not missing) and no first value
    plain = [r for r in USAGE if not str(r[1]).startswith("feature.")]
    values = calc.compute_measures(ACCOUNTS, dataclasses.replace(inputs(usage=plain), features=("feature.api",)), AS_OF)
    assert values_of(values, ["feature_breadth", "first_value"]) == {1: [0.0, 0.0], 2: [0.0, 0.0], 3: [0.0, 0.0]}
    # F2 without active users while others report them: no events per active user (not ∞);
    # F3 with exactly one active user-day: 10 events ÷ 1
    some = [r for r in USAGE if r[:2] not in ((2, "active_users"), (3, "active_users"))]
    values = calc.compute_measures(ACCOUNTS, inputs(usage=[*some, (3, "active_users", 1, 0, 0, 1, 1)]), AS_OF)
    assert values_of(values, ["events_per_active_user"]) == {1: [2.0], 2: [None], 3: [10.0]}


def test_seats_of_a_trial_none_of_zero_and_a_window_of_exactly_the_minimum() -> None:
    # F2 with a quantity of 0: no seats (missing, not a division by zero), so no per-seat
    # measures; F3 in a trial until 07-15: its seats count all the same (live, not paying)
    lines = LINES.assign(quantity=[2, 0, 1], trial_ends_on=[pd.NaT, pd.NaT, T("2026-07-15")])
    values = calc.compute_measures(ACCOUNTS, inputs(lines), AS_OF)
    cols = ["seats", "active_users_per_seat", "usage_minutes_per_seat", "events_per_seat", "days_to_renewal"]
    assert values_of(values, cols) == {1: [20.0, 1.0, 75.0, 37.5, 1.0], 2: [None, None, None, None, None],
                                       3: [10.0, 0.2, 0.0, None, None]}  # fmt: skip
    # F3's 10 days in the last 30 are exactly a minimum of 10: its rates count, scaled to 30
    # days (4 login days → 12, 3 active days → 9, 10 events ÷ 10 days × 30 ÷ 10 seats = 3)
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF, min_history_days=10)
    assert values_of(values, ["login_days", "active_days", "events_per_seat"])[3] == [12.0, 9.0, 3.0]


def test_measures_of_two_days_at_once_each_from_its_own_rows() -> None:
    # day 1 (06-29): only F1's events and reports; seven other features seen in its window
    # (more than the six known: breadth is out of eight). Day 2 (06-30): the frames above.
    d1, d2 = T("2026-06-29"), T("2026-06-30")
    one = inputs()
    usage = pd.concat([
        pd.DataFrame([(1, "events", 120, 0, 0, 12, 9), (1, "feature.reports", 1, 0, 0, 1, 1)], columns=COLS).assign(day=d1),
        one.usage.assign(day=d2),
    ], ignore_index=True).astype(dict.fromkeys(COLS[2:], "float64"))  # fmt: skip
    seven = tuple(f"feature.f{i}" for i in range(7))
    rows = pd.MultiIndex.from_tuples([(d1, 1), (d1, 2), (d2, 1), (d2, 2)], names=["day", "account_id"])
    many = dataclasses.replace(
        one, usage=usage, features={d1: seven, d2: ()},
        surveys=pd.DataFrame({"day": [d1, d2], "account_id": [2, 1], "nps": [10.0, 40.0], "csat": [3.0, 4.5]}),
        tickets=pd.DataFrame({"day": [d1], "account_id": [1], "open_tickets": [5], "escalated_tickets": [0]}),
        onboarding=pd.DataFrame({"day": [d1], "account_id": [2], "milestones": [5], "milestones_done": [4]}),
        sentiment=pd.DataFrame({"day": [d2], "account_id": [2], "csm_sentiment": [-0.5]}),
    )
    values = calc.measures_by_day(rows, many)
    assert list(values.index) == list(rows)
    # numbers only, a measure never computed too (no due milestones given: milestones_on_time is NaN, not None)
    assert (values.dtypes == "float64").all()
    assert values["milestones_on_time"].isna().all()
    # events per seat ranked within each day: day 1 F2 0 (no events) → ¼, F1 15 → ¾; day 2 as above
    assert values["events_percentile"].tolist() == [0.75, 0.25, 0.75, 0.25]
    cols = ["events_per_seat", "login_days", "feature_breadth", "nps", "csat", "open_tickets",
            "onboarding_progress", "csm_sentiment", "days_to_renewal", "account_age"]  # fmt: skip
    got = {(d.date().isoformat(), int(a)): [None if math.isnan(v) else round(float(v), 6) for v in r]
           for (d, a), r in values[cols].iterrows()}  # fmt: skip
    assert got == {
        # day 1: F1 4 events a day × 30 ÷ its 8 contacts (20 seats > 2 × 8, and no day saw
        # more users active: per tracked user); nobody reported logins: missing for all;
        # reports of eight features (its own row and the seven seen); F2's survey; F1's
        # tickets; F2's onboarding 4 of 5; renewal in 2 days; 363 days old
        ("2026-06-29", 1): [15.0, None, 0.125, None, None, 5.0, None, None, 2.0, 363.0],
        ("2026-06-29", 2): [0.0, None, 0.0, 10.0, 3.0, 0.0, 0.8, None, None, 179.0],
        ("2026-06-30", 1): [37.5, 15.0, round(1 / 6, 6), 40.0, 4.5, 0.0, None, None, 1.0, 364.0],
        ("2026-06-30", 2): [15.0, 6.0, 0.0, None, None, 0.0, None, -0.5, None, 180.0],
    }


def test_a_day_without_usage_rows_features_named_by_the_day_and_a_single_milestone() -> None:
    # day 0 (06-28): no usage row at all; day 1 (06-29): F1's events and F2's logins only, no feature
    # row. The features known for each day come from its window alone: feature.api both days
    d0, d1 = T("2026-06-28"), T("2026-06-29")
    usage = pd.DataFrame([(1, "events", 120, 0, 0, 12, 9), (2, "logins", 6, 0, 0, 3, 1)], columns=COLS)
    none = pd.DataFrame({"day": pd.Series(dtype="datetime64[ns]"), "account_id": pd.Series(dtype="int64")})
    inputs_ = dataclasses.replace(
        inputs(), usage=usage.assign(day=d1).astype(dict.fromkeys(COLS[2:], "float64")),
        features={d0: ("feature.api",), d1: ("feature.api",)},
        surveys=none.assign(nps=[], csat=[]), tickets=none.assign(open_tickets=[], escalated_tickets=[]),
        sentiment=none.assign(csm_sentiment=[]),
        # F2 on day 1: its one milestone done, and on time of the one due
        onboarding=pd.DataFrame({"day": [d1], "account_id": [2], "milestones": [1], "milestones_done": [1],
                                 "milestones_due": [1], "milestones_on_time": [1]}),
    )  # fmt: skip
    rows = pd.MultiIndex.from_tuples([(d0, 1), (d0, 2), (d1, 1), (d1, 2)], names=["day", "account_id"])
    values = calc.measures_by_day(rows, inputs_)
    cols = ["events_per_seat", "login_days", "feature_breadth", "first_value", "onboarding_progress",
            "milestones_on_time"]  # fmt: skip
    got = {(d.date().isoformat(), int(a)): [None if math.isnan(v) else round(float(v), 6) for v in r]
           for (d, a), r in values[cols].iterrows()}  # fmt: skip
    assert got == {
        # day 0: no metric reported, so every usage measure is missing (not 0); a feature is known for the
        # day: breadth 0 of 6 and no first value, not missing
        ("2026-06-28", 1): [None, None, 0.0, 0.0, None, None],
        ("2026-06-28", 2): [None, None, 0.0, 0.0, None, None],
        # day 1: F1 120 events ÷ 30 days × 30 ÷ its 8 tracked users (20 seats > 2 × 8; nobody reported
        # active users: a peak of 0) = 15, no login (0 of 30 days); F2 no event (0 ÷ 4 seats), 3 login
        # days of 30; no feature used of the 6 known; F2's 1 of 1 milestone done and on time
        ("2026-06-29", 1): [15.0, 0.0, 0.0, 0.0, None, None],
        ("2026-06-29", 2): [0.0, 3.0, 0.0, 0.0, 1.0, 1.0],
    }


# --- days to renewal -------------------------------------------------------------------------


RENEWALS = pd.DataFrame({
    "account_id": [1, 2, 3, 4, 5, 5, 6, 7],
    "started_on": [T("2025-06-30"), T("2025-07-01"), T("2025-07-01"), T("2024-03-15"), T("2025-10-01"),
                   T("2026-01-20"), T("2025-05-01"), T("2026-06-01")],
    "trial_ends_on": [pd.NaT, pd.NaT, pd.NaT, pd.NaT, pd.NaT, pd.NaT, T("2025-08-10"), T("2026-07-15")],
    "ended_on": [pd.NaT, pd.NaT, pd.NaT, T("2026-06-30"), pd.NaT, pd.NaT, pd.NaT, pd.NaT],
    "interval": ["year", "year", "month", "year", "year", "year", "year", "year"],
    "quantity": [1] * 8, "seats_included": [1] * 8, "kind": ["plan"] * 8,
})  # fmt: skip


def test_days_to_renewal_on_the_day_the_day_before_monthly_ended_and_in_trial() -> None:
    # 1: its anniversary is today: the next one is a year away (365 days), not 0;
    # 2: renews tomorrow; 3: monthly: none; 4: ended today: none; 5: two yearly lines,
    # 10-01 (93 days) and 01-20 (204 days): the nearer; 6: paid from its trial's end
    # 2025-08-10 (41 days), not from its start 05-01 (305); 7: still in its trial: none
    got = calc.next_renewal_days(RENEWALS, AS_OF)
    assert got.to_dict() == {1: 365.0, 2: 1.0, 5: 93.0, 6: 41.0}
    assert got.dtype == "float64"
    # a year later the next anniversary of 2 is past 29 February 2028: 366 days from 2027-07-01
    assert calc.next_renewal_days(RENEWALS, date(2027, 7, 1)).to_dict()[2] == 366.0
    # the day before 1's anniversary: 1 day; on 2's anniversary: the year after
    assert calc.next_renewal_days(RENEWALS, date(2026, 6, 29)).to_dict() == {1: 1.0, 2: 2.0, 4: 259.0, 5: 94.0,
                                                                            6: 42.0}  # fmt: skip
    assert calc.next_renewal_days(RENEWALS, date(2026, 7, 1)).to_dict()[2] == 365.0
    # the same through the measures, and missing (float, not an object column) with no yearly line
    values = calc.compute_measures(pd.Index([1, 2, 3, 7]), inputs(RENEWALS), AS_OF)
    # (one seat each: 7 in its trial too)
    assert values_of(values, ["days_to_renewal", "seats"]) == {1: [365.0, 1.0], 2: [1.0, 1.0], 3: [None, 1.0],
                                                               7: [None, 1.0]}  # fmt: skip
    monthly = RENEWALS.assign(interval="month")
    values = calc.compute_measures(pd.Index([1, 2]), inputs(monthly), AS_OF)
    assert values["days_to_renewal"].isna().all()
    assert values["days_to_renewal"].dtype == "float64"
    assert calc.next_renewal_days(monthly, AS_OF).empty


def test_a_renewal_at_a_month_s_end_and_on_29_february() -> None:
    lines = RENEWALS.iloc[:2].assign(started_on=[T("2024-02-29"), T("2025-01-31")])
    # 29 Feb anchors 28 Feb in 2027 (243 days), 31 Jan is 31 Jan (215 days)
    assert calc.next_renewal_days(lines, AS_OF).to_dict() == {1: 243.0, 2: 215.0}
    # on 28 Feb 2027 the 29 Feb anchor's day has come: the next is 29 Feb 2028, 366 days on
    assert calc.next_renewal_days(lines, date(2027, 2, 28)).to_dict() == {1: 366.0, 2: 337.0}


# --- the backtest's lead days ----------------------------------------------------------------


def history(account_id: int, days_grades: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"day": [date.fromisoformat(d) for d, _ in days_grades], "account_id": account_id,
                         "score": [10.0 if g == "red" else 50.0 if g == "yellow" else 90.0 for _, g in days_grades],
                         "grade": [g for _, g in days_grades]})  # fmt: skip


def churned(*pairs: tuple[int, str]) -> pd.DataFrame:
    return pd.DataFrame({"account_id": [a for a, _ in pairs], "churned_on": pd.to_datetime([d for _, d in pairs])})


def leads(scored: pd.DataFrame, churns: pd.DataFrame, daily: pd.DataFrame | None = None) -> tuple[object, ...]:
    r = calc.backtest_metrics(scored, churns, 60, daily_red=daily)
    return r.churn_events, r.red_before_churn, r.median_lead_days


def test_lead_days_of_a_churn_by_hand() -> None:
    # red at every evaluation since the first: the run starts at the first (31 Jan → 10 Mar: 38 days)
    red = history(10, [("2026-01-31", "red"), ("2026-02-28", "red")])
    assert leads(red, churned((10, "2026-03-10"))) == (1, 1, 38.0)
    # yellow, then red on the churn day itself: that evaluation is not before the churn
    late = history(11, [("2026-01-31", "yellow"), ("2026-02-28", "red")])
    assert leads(late, churned((11, "2026-02-28"))) == (1, 0, None)
    # evaluations only after the churn, or none at all: no churn event with a score before it
    assert leads(late, churned((11, "2026-01-15"))) == (0, 0, None)
    assert leads(late, churned((99, "2026-03-15"))) == (0, 0, None)
    # 400 days before the churn still counts; 401 does not
    old = history(13, [("2025-01-01", "red")])
    assert leads(old, churned((13, "2026-02-05"))) == (1, 1, 400.0)
    assert leads(old, churned((13, "2026-02-06"))) == (0, 0, None)
    # churned twice: 31 Jan red → 10 Feb (10 days); back, green 31 May, red 30 Jun → 5 Jul (5)
    twice = history(15, [("2026-01-31", "red"), ("2026-05-31", "green"), ("2026-06-30", "red")])
    assert leads(twice, churned((15, "2026-02-10"), (15, "2026-07-05"))) == (2, 2, 7.5)
    # all together (accounts in any order; the churns without a score before them first, the
    # one that was not red next: each skipped, the others still counted): leads 38, 400, 10,
    # 5 → median 24
    everyone = pd.concat([twice, old, red, late], ignore_index=True)
    churns = churned((99, "2026-03-15"), (11, "2026-01-15"), (11, "2026-02-28"), (13, "2026-02-05"),
                     (10, "2026-03-10"), (15, "2026-02-10"), (15, "2026-07-05"))  # fmt: skip
    assert leads(everyone, churns) == (5, 4, 24.0)


def test_lead_days_from_the_daily_grades_when_given() -> None:
    monthly = history(10, [("2026-01-31", "yellow"), ("2026-02-28", "red")])
    daily = history(10, [("2026-02-20", "yellow"), ("2026-02-21", "red"), ("2026-02-28", "red")])
    # month-ends: red from 28 Feb (10 days to 10 March); daily: red from 21 Feb (17 days)
    assert leads(monthly, churned((10, "2026-03-10"))) == (1, 1, 10.0)
    assert leads(monthly, churned((10, "2026-03-10")), daily) == (1, 1, 17.0)


# --- the backtest's other figures ------------------------------------------------------------


def test_backtest_figures_without_both_outcomes_or_without_a_grade() -> None:
    scored = history(1, [("2026-01-31", "red"), ("2026-02-28", "red")])
    scored = pd.concat([scored, history(2, [("2026-01-31", "yellow"), ("2026-02-28", "yellow")])], ignore_index=True)
    # nobody churns: no AUC, no ROC, no lift (no green account: a rate of 0 ÷ 0 is 0, not NaN)
    none = calc.backtest_metrics(scored, churned(), 60)
    assert (none.auc, none.roc, none.lift_red_over_green, none.churned) == (None, [], None, 0)
    assert none.by_grade["green"] == {"accounts": 0, "churned": 0, "rate": 0.0}
    assert (none.evaluations, none.samples, none.first_day, none.last_day) == (2, 4, date(2026, 1, 31),
                                                                                 date(2026, 2, 28))  # fmt: skip
    assert (none.naive_auc, none.measures, none.horizon_days) == (None, (), 60)
    # nothing scored: no evaluation, no first or last day
    empty = calc.backtest_metrics(scored.iloc[:0], churned((1, "2026-03-15")), 60)
    assert (empty.evaluations, empty.samples, empty.first_day, empty.last_day) == (0, 0, None, None)
    assert (empty.churn_events, empty.red_before_churn, empty.median_lead_days) == (0, 0, None)
    assert (none.churn_events, none.red_before_churn, none.median_lead_days) == (0, 0, None)
    # every sample churns within 60 days: no AUC either
    both = calc.backtest_metrics(scored, churned((1, "2026-03-15"), (2, "2026-03-20")), 60)
    assert (both.auc, both.roc, both.churned) == (None, [], 4)
    assert both.by_grade["red"] == {"accounts": 2, "churned": 2, "rate": 1.0}
    # one of four (1 on 28 Feb, red, 10): above both yellows (50), tied with its own 31 Jan:
    # AUC (1 + 1 + ½) ÷ 3; green none: no lift; the curve's every corner, then (1, 1)
    one = calc.backtest_metrics(scored, churned((1, "2026-03-15")), 30)
    assert (one.churned, one.auc, one.lift_red_over_green) == (1, pytest.approx(2.5 / 3), None)
    assert one.by_grade["red"] == {"accounts": 2, "churned": 1, "rate": 0.5}
    assert one.roc == [(0.0, 0.0), (0.3333, 1.0), (1.0, 1.0), (1.0, 1.0)]


def test_the_roc_curve_is_thinned_to_about_200_points() -> None:
    # 599 samples scored 0–598, the even ones churn (300 of them, 299 not): the curve has 600
    # corners, thinned by 600 // 200 = 3 (200 points), closed at (1, 1), rounded to 4
    # decimals (after 3 samples: 1 ÷ 299 = 0.003344 → 0.0033, 2 ÷ 300 = 0.006667 → 0.0067)
    n = 599
    scored = pd.DataFrame({"day": date(2026, 1, 31), "account_id": range(n), "score": np.arange(n, dtype="float64"),
                           "grade": "yellow"})  # fmt: skip
    churns = churned(*[(a, "2026-02-15") for a in range(0, n, 2)])
    result = calc.backtest_metrics(scored, churns, 30)
    assert len(result.roc) == 201
    assert result.roc[:3] == [(0.0, 0.0), (0.0033, 0.0067), (0.01, 0.01)]
    # the last thinned corners: 594 samples in (297 of 299, 297 of 300), 597 (298 of 299, 299 of
    # 300), then (1, 1)
    assert result.roc[-3:] == [(0.9933, 0.99), (0.9967, 0.9967), (1.0, 1.0)]
    # each churner ranks above the non-churners scored higher: 299 + 298 + … + 0 of 300 × 299 pairs
    assert result.auc == pytest.approx(0.5)
