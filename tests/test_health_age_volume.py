"""Age-aware measures, the usage-volume measures, "no silent zeros" and the backtest's
per-measure and naive AUCs (issue 20), worked out by hand on tiny frames.

As of 2026-06-30; windows ``(after, up to]``: last 30 days (05-31, 06-30], the 30 before
(05-01, 05-31], the 90-day baseline (03-02, 05-31].

- A1: started 2026-06-10 (21 days in the last 30, none before), plan P1 × 2 with 5 seats
  included = 10 seats. 42 events on 14 days, 21 active user-days. No logins.
  Events per day 42 ÷ 21 = 2; baseline: none (missing, not "rising"); active days
  14 × 30 ÷ 21 = 20; events per seat 2 × 30 ÷ 10 = 6; per active user 42 ÷ 21 = 2;
  age 20 days.
- A2: started 2025-01-01, P1 × 1 = 5 seats. Events 60 (30 days) / 90 (the 30 before) /
  270 (baseline); logins 30 on 20 days / 60 / 180; 30 active user-days.
  Events vs baseline (60 ÷ 30) ÷ (270 ÷ 90) − 1 = −⅓; logins vs baseline 1 ÷ 2 − 1 = −½,
  trend 1 ÷ 2 − 1 = −½; login days 20; active days 30; events per seat 2 × 30 ÷ 5 = 12;
  per active user 2; age 545 days.
- A3: started 2026-05-16 (16 days in the previous 30 and in the baseline), per-seat plan
  P2 × 3 = 3 seats. Events 90 on 10 days / 32 / 32; 45 active user-days; no logins.
  Events vs baseline (90 ÷ 30) ÷ (32 ÷ 16) − 1 = +½ (divided by 90 days it would be
  +2,712 %: "young accounts look like they are rising"); events per seat 30; age 45.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import health as calc
from kizuna.domain.health import Scorecard, parse_scorecards

AS_OF = date(2026, 6, 30)
T = pd.Timestamp

LINES = pd.DataFrame({
    "account_id": [1, 2, 3],
    "started_on": [T("2026-06-10"), T("2025-01-01"), T("2026-05-16")],
    "trial_ends_on": [pd.NaT] * 3, "ended_on": [pd.NaT] * 3, "interval": ["month"] * 3,
    "quantity": [2, 1, 3], "seats_included": [5, 5, None], "kind": ["plan"] * 3, "product_id": [1, 1, 2],
})  # fmt: skip

COLS = ["account_id", "metric", "last30", "prev30", "base90", "days30", "max30"]
USAGE = [
    (1, "events", 42, 0, 0, 14, 5), (1, "active_users", 21, 0, 0, 14, 3),
    (2, "events", 60, 90, 270, 30, 4), (2, "active_users", 30, 0, 0, 30, 2), (2, "logins", 30, 60, 180, 20, 3),
    (3, "events", 90, 32, 32, 10, 20), (3, "active_users", 45, 0, 0, 10, 4),
]  # fmt: skip

EMPTY = pd.DataFrame(columns=["account_id", "nps", "csat"])


def inputs(usage: list[tuple[object, ...]] = USAGE, history_from: date | None = None) -> calc.MeasureInputs:
    return calc.MeasureInputs(
        lines=LINES, usage=pd.DataFrame(usage, columns=COLS).astype(dict.fromkeys(COLS[2:], "float64")),
        surveys=EMPTY, tickets=pd.DataFrame(columns=["account_id", "open_tickets", "escalated_tickets"]),
        onboarding=pd.DataFrame(columns=["account_id", "milestones", "milestones_done"]),
        sentiment=pd.DataFrame(columns=["account_id", "csm_sentiment"]), history_from=history_from,
    )  # fmt: skip


def row(frame: pd.DataFrame, cols: list[str]) -> dict[int, list[float | None]]:
    return {int(a): [None if math.isnan(v) else round(v, 6) for v in r] for a, r in frame[cols].iterrows()}


ACCOUNTS = pd.Index([1, 2, 3])


def test_age_aware_and_volume_measures_by_hand() -> None:
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF)
    cols = ["events_vs_baseline", "active_days", "events_per_seat", "events_per_active_user", "account_age",
            "logins_vs_baseline", "login_trend", "login_days"]  # fmt: skip
    assert row(values, cols) == {
        1: [None, 20.0, 6.0, 2.0, 20.0, None, None, 0.0],
        2: [round(-1 / 3, 6), 30.0, 12.0, 2.0, 545.0, -0.5, -0.5, 20.0],
        3: [0.5, 10.0, 30.0, 2.0, 45.0, None, None, 0.0],
    }
    # P1 has two accounts, P2 one: fewer than five peers, so each ranks among all three
    assert row(values, ["events_percentile"]) == {1: [round(1 / 6, 6)], 2: [0.5], 3: [round(5 / 6, 6)]}


def test_a_window_shorter_than_the_minimum_is_missing_not_extreme() -> None:
    # 21 days of A1 in the last 30: below a minimum of 25 its rates are missing
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF, min_history_days=25)
    assert row(values, ["active_days", "events_per_seat", "login_days"])[1] == [None, None, None]
    # A3 has 16 days in the baseline: below 17 its baseline is missing too
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF, min_history_days=17)
    assert math.isnan(values.loc[3, "events_vs_baseline"])
    # exactly the minimum is enough
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF, min_history_days=16)
    assert values.loc[3, "events_vs_baseline"] == 0.5
    assert values.loc[2, "events_vs_baseline"] == pytest.approx(-1 / 3)
    # the percentile ranks only the accounts with data: A2 (12) and A3 (30) at 25 days
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF, min_history_days=25)
    assert row(values, ["events_percentile"]) == {1: [None], 2: [0.25], 3: [0.75]}


def test_history_before_the_store_s_first_day_is_unknown_not_zero() -> None:
    # usage starts 2026-05-10: A2's baseline and previous 30 days are 22 days long
    values = calc.compute_measures(ACCOUNTS, inputs(history_from=date(2026, 5, 10)), AS_OF)
    assert values.loc[2, "events_vs_baseline"] == pytest.approx(2 / (270 / 22) - 1)
    assert values.loc[2, "login_trend"] == pytest.approx(1 / (60 / 22) - 1)
    assert values.loc[2, "account_age"] == 545.0  # the contract's age is known, whatever the usage history


def test_days_existed_in_a_window() -> None:
    start = pd.Series([T("2026-06-10"), T("2026-05-31"), T("2026-06-01"), T("2026-07-01"), pd.NaT])
    got = calc.days_existed(start, date(2026, 5, 31), AS_OF).tolist()
    assert got == [21.0, 30.0, 30.0, 0.0, 30.0]


def test_peer_percentile_within_groups_and_among_all_when_a_group_is_small() -> None:
    values = pd.Series([6.0, 12.0, 30.0, np.nan, 12.0], index=[1, 2, 3, 4, 5])
    peers = pd.Series(["P1", "P1", "P2", "P1", "P1"], index=[1, 2, 3, 4, 5])
    got = calc.peer_percentile(values, peers, min_peers=2).round(6).tolist()
    # P1 with data: 6, 12, 12 → mid-ranks 1, 2.5, 2.5 of 3; P2 alone → among all four: rank 4
    assert got[:3] == [round(0.5 / 3, 6), round(2 / 3, 6), round(3.5 / 4, 6)]
    assert math.isnan(got[3])
    assert got[4] == round(2 / 3, 6)


def test_a_metric_no_account_reports_is_missing_for_everyone() -> None:
    values = calc.compute_measures(ACCOUNTS, inputs(), AS_OF)
    # nobody sends session minutes or feature events: missing, not 0 min / 0 %
    assert values["usage_minutes_per_seat"].isna().all()
    assert values["feature_breadth"].isna().all()
    no_logins = [r for r in USAGE if r[1] != "logins"]
    values = calc.compute_measures(ACCOUNTS, inputs(no_logins), AS_OF)
    assert values[["logins_vs_baseline", "login_trend", "login_days", "activation_vs_tier"]].isna().all().all()
    assert values["active_days"].tolist() == [20.0, 30.0, 10.0]
    assert calc.unreported_measures(pd.DataFrame(no_logins, columns=COLS)) == {
        "logins_vs_baseline", "login_trend", "login_days", "activation_vs_tier", "usage_minutes_per_seat",
        "feature_breadth"}  # fmt: skip
    # features with data earlier in the 120-day window (none in the frame's last 30 days): breadth 0, not missing
    assert "feature_breadth" not in calc.unreported_measures(pd.DataFrame(USAGE, columns=COLS), ("feature.api",))
    zero_logins = [*no_logins, (2, "logins", 0, 0, 0, 0, 0)]  # a row of zeros reports nothing either
    assert "login_days" in calc.unreported_measures(pd.DataFrame(zero_logins, columns=COLS))


CARD = {
    "scorecards": {"c": {"default": True, "groups": {"g": {"weight": 1, "measures": {
        "active_days": {"weight": 1, "points": [[0, 0], [30, 100]]},
        "login_days": {"weight": 3, "points": [[0, 0], [30, 100]]},
    }}}}},
}  # fmt: skip


def test_measures_missing_for_everyone_renormalise_the_weights() -> None:
    card: Scorecard = parse_scorecards(CARD, "card.toml").default
    values = pd.DataFrame({"active_days": [30.0, 15.0], "login_days": [0.0, 30.0]}, index=[1, 2])
    # both present: (1 × 100 + 3 × 0) ÷ 4 = 25 and (1 × 50 + 3 × 100) ÷ 4 = 87.5
    assert calc.score_accounts(values, card).score.tolist() == [25.0, 87.5]
    # logins from a stale feed: missing for both, active days carry the whole weight
    scores = calc.score_accounts(values, card, missing={"login_days"})
    assert scores.score.tolist() == [100.0, 50.0]
    assert scores.weights["login_days"].tolist() == [0.0, 0.0]
    assert scores.points["login_days"].isna().all()


def test_min_history_days_in_the_scorecard_file() -> None:
    doc = {"scorecards": {"c": {**CARD["scorecards"]["c"], "min_history_days": 21}}}
    assert parse_scorecards(doc, "card.toml").default.min_history_days == 21
    assert parse_scorecards(CARD, "card.toml").default.min_history_days == 14
    bad = {"scorecards": {"c": {**CARD["scorecards"]["c"], "min_history_days": 0}}}
    with pytest.raises(Exception, match=r"scorecards\.c\.min_history_days: must be a whole number of days from 1 to 90"):
        parse_scorecards(bad, "card.toml")


def test_each_measure_s_auc_and_the_naive_signal_by_hand() -> None:
    # four samples: accounts 1 and 4 churn within the horizon
    scored = pd.DataFrame({"day": [date(2026, 1, 31)] * 4, "account_id": [1, 2, 3, 4],
                           "score": [20.0, 80.0, 90.0, 70.0], "grade": ["red", "green", "green", "yellow"],
                           "events30": [1.0, 5.0, 3.0, 4.0]})  # fmt: skip
    churns = pd.DataFrame({"account_id": [1, 4], "churned_on": [T("2026-02-15"), T("2026-03-01")]})
    points = pd.DataFrame({"right": [10.0, 90.0, 80.0, np.nan], "wrong": [90.0, 10.0, 20.0, 80.0],
                           "none": [np.nan] * 4})  # fmt: skip
    result = calc.backtest_metrics(scored, churns, 90, points=points)
    # the score: churners 20 and 70 vs 80 and 90 → every pair right → 1.0
    assert result.auc == 1.0
    # naive: churners had 1 and 4 events, the others 5 and 3: 3 of 4 pairs right
    assert result.naive_auc == 0.75
    by_key = {m.key: m for m in result.measures}
    assert (by_key["right"].auc, by_key["right"].samples, by_key["right"].churned) == (1.0, 3, 1)
    assert (by_key["wrong"].auc, by_key["wrong"].direction) == (0.0, "wrong")
    assert by_key["right"].direction == "right"
    assert (by_key["none"].auc, by_key["none"].direction, by_key["none"].samples) == (None, "none", 0)
