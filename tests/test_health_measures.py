"""Each raw health measure, a whole score and grade, and the backtest's labels and lead
days, worked out by hand on tiny tables (the statistical backtest on the demo cannot
see a measure that is off by a factor).

The store (as of 2026-06-30; windows ``(after, up to]``: last 30 days (05-31, 06-30],
the 30 before (05-01, 05-31], the 90-day baseline (03-02, 05-31]):

- H1: plan "team" (10 seats included) × 2 = 20 seats, yearly from 2025-09-15, plus an
  add-on (no seats). Logins: 03-02 1,000 (outside every window), 04-10 5, 05-20 25,
  05-31 15 (the last day of the earlier windows), 06-01 10, 06-15 20, 06-30 30.
  Last 30 days: 60 logins on 3 days = 2 a day; baseline 5 + 25 + 15 = 45 over 90 days
  = 0.5 a day → logins vs baseline 2 ÷ 0.5 − 1 = +300 %; the 30 days before: 40 →
  trend 60 ÷ 40 − 1 = +50 %. Active users: 5 and 8 (the most on a day: 8) ÷ 20 seats
  = 0.4; session minutes 600 ÷ 20 = 30 a seat; features: reports and api used of the 6
  → 1/3. Renewal: the next anniversary 2026-09-15 is 77 days away.
- H2: a per-seat monthly plan × 4 seats, no logins (baseline and trend missing, 0
  login days), 2 active users → 0.5 a seat; monthly: no renewal day.
- H3: a yearly plan started 2025-05-01 with a trial to 2025-06-30: paid from 06-30, so
  its anniversary is today and the next renewal is 365 days away; 8 days with one
  login each in the last 30 days, nothing before (baseline and trend missing).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from kizuna.analytics import health as calc
from kizuna.db import Session, ensure_schema, make_engine, session_scope
from kizuna.db.queries import health as q
from kizuna.domain.health import Scoring, ScoringOptions
from kizuna.services import health as health_service
from kizuna.services.imports import ParseContext, import_file

AS_OF = date(2026, 6, 30)

PRODUCTS = """code,name,kind,rank,currency,list_price,seats_included
team,Team,plan,1,JPY,50000,10
seat,Per seat,plan,1,JPY,3000,
addon,Add-on,addon,0,JPY,5000,
"""
ACCOUNTS = "external_id,name\nH1,Eich One\nH2,Eich Two\nH3,Eich Three\n"
SUBSCRIPTIONS = """external_id,account_external_id,product_code,quantity,currency,monthly_amount,billing_interval,status,started_on,trial_ends_on,ended_on
L1,H1,team,2,JPY,100000,year,active,2025-09-15,,
L2,H1,addon,3,JPY,15000,month,active,2025-09-15,,
L3,H2,seat,4,JPY,12000,month,active,2026-01-01,,
L4,H3,team,1,JPY,50000,year,active,2025-05-01,2025-06-30,
"""
USAGE = [
    ("H1", "2026-03-02", "logins", 1000), ("H1", "2026-04-10", "logins", 5), ("H1", "2026-05-20", "logins", 25),
    ("H1", "2026-05-31", "logins", 15), ("H1", "2026-06-01", "logins", 10), ("H1", "2026-06-15", "logins", 20),
    ("H1", "2026-06-30", "logins", 30),
    ("H1", "2026-06-01", "active_users", 5), ("H1", "2026-06-15", "active_users", 8),
    ("H1", "2026-06-15", "session_minutes", 600),
    ("H1", "2026-06-15", "feature.reports", 3), ("H1", "2026-06-30", "feature.api", 1),
    ("H1", "2026-05-10", "feature.exports", 2),  # before the last 30 days: not used now
    ("H2", "2026-06-20", "active_users", 2),
    *[("H3", f"2026-06-{d:02d}", "logins", 1) for d in range(1, 9)],
]  # fmt: skip

CARD = """
[grades]
green = 70
yellow = 40
letters = { A = 90, B = 75, C = 60, D = 40 }

[scorecards.main]
name = "Main"
default = true

[scorecards.main.groups.usage]
label = "Usage"
weight = 1

[scorecards.main.groups.usage.measures]
logins_vs_baseline = { weight = 1, scoring = "linear", points = [[-0.5, 0], [0.5, 100]] }
login_days = { weight = 1, scoring = "linear", points = [[0, 0], [10, 100]] }

[scorecards.main.groups.commercial]
label = "Commercial"
weight = 1

[scorecards.main.groups.commercial.measures]
days_to_renewal = { weight = 1, scoring = "steps", points = [[0, 0], [60, 50], [120, 100]] }
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Session:
    folder = tmp_path_factory.mktemp("measures")
    url = f"sqlite:///{folder / 'kizuna.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    usage = "account_external_id,day,metric,value\n" + "".join(f"{a},{d},{m},{v}\n" for a, d, m, v in USAGE)
    files = {"products": PRODUCTS, "accounts": ACCOUNTS, "subscriptions": SUBSCRIPTIONS, "usage_daily": usage}
    with session_scope(engine) as session:
        ctx = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
        for name, content in files.items():
            path = folder / f"{name}.csv"
            path.write_text(content, encoding="utf-8")
            import_file(session, name, Path(path), ctx=ctx)
    with session_scope(engine) as session:
        yield session
    engine.dispose()


def by_name(store: Session, frame: pd.DataFrame) -> pd.DataFrame:
    ids = {int(i): ext for i, ext in store.execute(text("SELECT id, external_id FROM accounts"))}
    return frame.rename(index=ids)


def test_each_raw_measure_by_hand(store: Session) -> None:
    lines = q.subscription_lines(store)
    accounts = calc.live_accounts(lines, AS_OF, paying_only=False)
    inputs = health_service._inputs(store, AS_OF, lines, None)
    values = by_name(store, calc.compute_measures(accounts, inputs, AS_OF))
    cols = ["logins_vs_baseline", "login_trend", "login_days", "active_users_per_seat", "usage_minutes_per_seat",
            "feature_breadth", "days_to_renewal"]  # fmt: skip
    got = {a: [None if math.isnan(v) else round(v, 6) for v in row] for a, row in values[cols].iterrows()}
    assert got == {
        "H1": [3.0, 0.5, 3.0, 0.4, 30.0, round(2 / 6, 6), 77.0],
        "H2": [None, None, 0.0, 0.5, 0.0, 0.0, None],
        "H3": [None, None, 8.0, 0.0, 0.0, 0.0, 365.0],
    }
    # no surveys, tickets, onboarding or sentiment in this store
    assert values.loc["H1", ["open_tickets", "escalated_tickets"]].tolist() == [0.0, 0.0]
    assert values.loc["H1", ["nps", "csat", "onboarding_progress", "csm_sentiment"]].isna().all()


def test_seats_and_renewal_days_on_their_own() -> None:
    ts = pd.Timestamp
    lines = pd.DataFrame({
        "account_id": [1, 1, 2, 3],
        "started_on": [ts("2025-09-15"), ts("2025-09-15"), ts("2026-01-01"), ts("2024-02-29")],
        "trial_ends_on": [pd.NaT, pd.NaT, pd.NaT, pd.NaT],
        "ended_on": [pd.NaT, ts("2026-06-30"), pd.NaT, pd.NaT],
        "interval": ["year", "year", "month", "year"],
        "quantity": [2, 5, 4, 1],
        "seats_included": [10, 10, None, 3],
        "kind": ["plan", "plan", "plan", "plan"],
    })  # fmt: skip
    # line 2 ended on the day: neither its seats nor its renewal count
    assert calc.seats(lines, AS_OF).to_dict() == {1: 20.0, 2: 4.0, 3: 3.0}
    # a 29 February anchor renews on the 28th
    assert calc.next_renewal_days(lines, AS_OF).to_dict() == {1: 77.0, 3: (date(2027, 2, 28) - AS_OF).days}
    assert calc.next_renewal_days(lines, date(2026, 9, 14)).to_dict() == {1: 1.0, 3: 167.0}
    assert calc.next_renewal_days(lines, date(2026, 9, 15)).to_dict() == {1: 365.0, 3: 166.0}


def test_a_whole_score_and_grade_by_hand(store: Session) -> None:
    cards = health_service.parse_toml(CARD, "card.toml")
    day = health_service.score_day(store, AS_OF, cards)
    ext = {int(i): e for i, e in store.execute(text("SELECT id, external_id FROM accounts"))}
    got = {ext[int(a)]: (round(float(s), 4), g, letter)
           for a, s, g, letter in zip(day.score.index, day.score, day.grade, day.letter, strict=True)}  # fmt: skip
    # H1: baseline +300 % → 100 points, 3 login days → 30; usage (100 + 30) ÷ 2 = 65;
    #     77 days to renewal → 50 (steps); score (65 + 50) ÷ 2 = 57.5 → yellow, D
    # H2: baseline missing, 0 login days → usage 0; no renewal: commercial left out → 0, red, F
    # H3: 8 login days → 80 (baseline missing: login days carry the usage group);
    #     365 days → 100; (80 + 100) ÷ 2 = 90 → green, A
    assert got == {"H1": (57.5, "yellow", "D"), "H2": (0.0, "red", "F"),
                   "H3": (90.0, "green", "A")}  # fmt: skip
    h1 = day.measures[list(day.score.index).index(next(a for a, e in ext.items() if e == "H1"))]
    assert h1["logins_vs_baseline"] == {"value": 3.0, "points": 100.0, "weight": 0.25}
    assert h1["login_days"] == {"value": 3.0, "points": 30.0, "weight": 0.25}
    assert h1["days_to_renewal"] == {"value": 77.0, "points": 50.0, "weight": 0.5}


# --- the backtest on three accounts ----------------------------------------------------------

DAYS = [date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
# per account: (score, grade) at each month-end
HISTORY = {
    1: [(25, "red"), (60, "yellow"), (30, "red"), (20, "red")],  # churns 2026-04-15
    2: [(95, "green"), (90, "green"), (85, "green"), (80, "green")],  # churns 2026-05-20
    3: [(55, "yellow"), (50, "yellow"), (35, "red"), (45, "yellow")],  # churns 2026-04-10
}
CHURNS = pd.DataFrame({"account_id": [1, 2, 3], "churned_on": pd.to_datetime(["2026-04-15", "2026-05-20",
                                                                              "2026-04-10"])})  # fmt: skip


def scored() -> pd.DataFrame:
    rows = [(day, a, s, g) for a, hist in HISTORY.items() for day, (s, g) in zip(DAYS, hist, strict=True)]
    return pd.DataFrame(rows, columns=["day", "account_id", "score", "grade"])


def test_backtest_labels_by_hand() -> None:
    frame = scored()
    # horizon 60 days: churned within (day, day + 60]; 31 Jan + 60 = 1 Apr (before every churn),
    # 28 Feb + 60 = 29 Apr (accounts 1 and 3), 31 Mar + 60 = 30 May (all three)
    labels = calc.label_churn(frame, CHURNS, 60)
    got = {(r.account_id, r.day.isoformat()) for r, hit in zip(frame.itertuples(), labels, strict=True) if hit}
    assert got == {(1, "2026-02-28"), (1, "2026-03-31"), (3, "2026-02-28"), (3, "2026-03-31"), (2, "2026-03-31")}
    # 30 days: only the last month-end, and not account 2 (51 days ahead)
    labels30 = calc.label_churn(frame, CHURNS, 30)
    assert sorted(frame.loc[labels30, "account_id"]) == [1, 3]
    # a churn on an evaluation day is not "within" the days after it (account 1, 31 March:
    # 28 Feb + 30 = 30 March falls short too); one on the horizon's last day is (2: 28 Feb
    # + 30 = 30 March; 3: 31 March + 30 = 30 April)
    edge = pd.DataFrame({"account_id": [1, 2, 3], "churned_on": pd.to_datetime(["2026-03-31", "2026-03-30",
                                                                                "2026-04-30"])})  # fmt: skip
    assert frame.loc[calc.label_churn(frame, edge, 30), ["account_id", "day"]].values.tolist() == [
        [2, date(2026, 2, 28)], [3, date(2026, 3, 31)]]  # fmt: skip


def test_backtest_metrics_and_lead_days_by_hand() -> None:
    result = calc.backtest_metrics(scored(), CHURNS, 60)
    assert (result.evaluations, result.samples, result.churned) == (4, 12, 5)
    # AUC: for each churned sample, the share of the 7 others scored higher:
    # 30 → 6, 20 → 7, 35 → 6, 45 → 6, 80 → 3 (95, 90, 85): 28 of 35 pairs
    assert result.auc == pytest.approx(0.8)
    assert result.by_grade == {
        "green": {"accounts": 4, "churned": 1, "rate": 0.25},
        "yellow": {"accounts": 4, "churned": 1, "rate": 0.25},
        "red": {"accounts": 4, "churned": 3, "rate": 0.75},
    }
    assert result.lift_red_over_green == pytest.approx(3.0)
    # account 1 was red from 28 Feb (not from December: yellow in January broke that run)
    # until its churn on 15 April: 46 days; account 3 was yellow at its last month-end and
    # account 2 green, so neither has a lead time
    assert (result.churn_events, result.red_before_churn, result.median_lead_days) == (3, 1, 46.0)
    assert (result.first_day, result.last_day) == (DAYS[0], DAYS[-1])
    assert result.roc[0] == (0.0, 0.0)
    assert result.roc[-1] == (1.0, 1.0)


def test_churn_events_from_lines() -> None:
    ts = pd.Timestamp
    lines = pd.DataFrame({
        "account_id": [1, 1, 2, 2, 3, 4, 4, 5, 5],
        "started_on": [ts("2025-01-01"), ts("2025-06-01"), ts("2025-01-01"), ts("2025-05-01"), ts("2025-01-01"),
                       ts("2025-01-01"), ts("2025-02-01"), ts("2025-01-01"), ts("2025-05-01")],
        "trial_ends_on": [pd.NaT, pd.NaT, pd.NaT, pd.NaT, ts("2025-02-01"), pd.NaT, pd.NaT, pd.NaT, pd.NaT],
        "ended_on": [ts("2025-06-01"), ts("2026-01-10"), ts("2025-03-01"), pd.NaT, ts("2025-02-01"),
                     pd.NaT, ts("2025-06-01"), ts("2025-03-01"), ts("2025-08-01")],
    })  # fmt: skip
    # 1: an upgrade without a gap, then the end: one churn; 2: left, came back, still here;
    # 3: a trial that ended unpaid is no churn; 4: an add-on ended under a plan that goes on:
    # no churn; 5: left, came back, left again: two churns
    events = calc.churn_events(lines)
    assert [(int(a), d.date()) for a, d in zip(events["account_id"], events["churned_on"], strict=True)] == [
        (1, date(2026, 1, 10)), (2, date(2025, 3, 1)), (5, date(2025, 3, 1)), (5, date(2025, 8, 1))]  # fmt: skip


def test_month_ends_between_two_days() -> None:
    assert calc.month_ends(date(2025, 12, 15), date(2026, 3, 31)) == [
        date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]  # fmt: skip
    assert calc.month_ends(date(2026, 1, 31), date(2026, 2, 27)) == [date(2026, 1, 31)]
    assert calc.month_ends(date(2026, 2, 1), date(2026, 2, 27)) == []
    assert calc.month_ends(date(2024, 2, 29), date(2024, 2, 29)) == [date(2024, 2, 29)]


def test_explanations_by_hand() -> None:
    now = {
        "a": {"value": 1.0, "weight": 0.5, "points": 40.0},  # costs 0.5 × 60 = 30 points
        "b": {"value": 2.0, "weight": 0.25, "points": 96.0},  # costs 1.0: just worth saying
        "c": {"value": 3.0, "weight": 0.25, "points": 96.5},  # costs 0.875: too small
        "d": {"value": None, "weight": 0.0, "points": None},  # missing
        "e": {"value": 0.0, "weight": 0.0, "points": 0.0},  # no weight
    }
    assert calc.explain(now, None) == [
        {"kind": "level", "measure": "a", "value": 1.0, "points": -30.0, "measure_points": 40.0},
        {"kind": "level", "measure": "b", "value": 2.0, "points": -1.0, "measure_points": 96.0},
    ]
    assert [i["measure"] for i in calc.explain(now, None, top=1)] == ["a"]
    before = {
        "a": {"value": 0.5, "weight": 0.5, "points": 42.0},  # −1.0: just worth saying
        "b": {"value": 2.0, "weight": 0.25, "points": 100.0},  # −1.0
        "c": {"value": 3.0, "weight": 0.25, "points": 90.0},  # +1.625
        "f": {"value": 9.0, "weight": 0.5, "points": 50.0},  # gone: −25
    }
    assert calc.explain(now, before) == [
        {"kind": "change", "measure": "f", "value": None, "before": 9.0, "points": -25.0},
        {"kind": "change", "measure": "c", "value": 3.0, "before": 3.0, "points": 1.6},
        {"kind": "change", "measure": "a", "value": 1.0, "before": 0.5, "points": -1.0},
    ]


def test_points_of_below_between_and_above_the_breakpoints() -> None:
    values = pd.Series([-5.0, 0.0, 1.5, 3.0, 9.0, float("nan")], index=list("abcdef"))
    steps = calc.points_of(values, ((0.0, 100.0), (1.0, 50.0), (3.0, 0.0)), Scoring.STEPS)
    # below the first breakpoint: the first step's points; missing stays missing
    assert steps.iloc[:5].tolist() == [100.0, 100.0, 50.0, 0.0, 0.0]
    assert steps.dtype == "float64"
    assert math.isnan(steps["f"])
    linear = calc.points_of(values, ((0, 0), (2, 100)), Scoring.LINEAR)
    assert linear.iloc[:5].tolist() == [0.0, 0.0, 75.0, 100.0, 100.0]
    assert math.isnan(linear["f"])


def test_vectorised_scores_with_groups_missing_and_grades_at_their_thresholds() -> None:
    card = health_service.parse_toml(CARD, "card.toml").default
    values = pd.DataFrame({"logins_vs_baseline": [0.5, float("nan"), float("nan")],
                           "login_days": [10.0, float("nan"), 5.0],
                           "days_to_renewal": [float("nan"), float("nan"), float("nan")]},
                          index=[1, 2, 3])  # fmt: skip
    scores = calc.score_accounts(values, card)
    # 1: only the usage group has data and it scores 100 → 100; 2: nothing → no score;
    # 3: login days 5 → 50, the baseline's weight goes to it → 50
    assert scores.score.iloc[[0, 2]].tolist() == [100.0, 50.0]
    assert math.isnan(scores.score.iloc[1])
    assert scores.weights.loc[3].tolist() == [0.0, 1.0, 0.0]
    colour, letter = calc.grades(pd.Series([90.0, 89.9, 70.0, 69.9, 40.0, 39.9, float("nan")]),
                                 health_service.parse_toml(CARD, "card.toml").default.bands)  # fmt: skip
    assert colour.tolist() == ["green", "green", "green", "yellow", "yellow", "red", "red"]
    assert letter.tolist() == ["A", "B", "C", "C", "D", "F", "F"]


def test_points_weights_and_half_lives_by_hand() -> None:
    """domain/health.py's arithmetic on breakpoints worked out here: linear between the
    breakpoints and flat beyond, a vertical step, steps taking the highest breakpoint
    reached; a missing measure's weight shared within its group, a group without data
    shared among the groups; the half-life of each survey kind."""
    from kizuna.domain.health import MeasureGroup, MeasureRule, Scorecard, Scoring, ScoringOptions

    line = MeasureRule("m", 1.0, Scoring.LINEAR, ((0.0, 20.0), (10.0, 60.0), (10.0, 70.0), (20.0, 100.0)))
    got = [line.to_points(v) for v in (-5.0, 0.0, 2.5, 9.0, 10.0, 15.0, 20.0, 30.0)]
    # 2.5: 20 + 40 × 2.5/10 = 30; 9: 20 + 40 × 0.9 = 56; 10 sits on the vertical step: the lower piece's 60;
    # 15: 70 + 30 × 5/10 = 85
    assert got == [20.0, 20.0, 30.0, 56.0, 60.0, 85.0, 100.0, 100.0]
    steps = MeasureRule("s", 1.0, Scoring.STEPS, ((1.0, 10.0), (3.0, 50.0), (5.0, 90.0)))
    assert MeasureRule("v", 1.0, Scoring.LINEAR, ((0.0, 0.0), (10.0, 60.0), (10.0, 70.0))).to_points(10.0) == 70.0
    assert [steps.to_points(v) for v in (0.0, 1.0, 2.9, 3.0, 4.0, 5.0, 9.0)] == [10.0, 10.0, 10.0, 50.0, 50.0, 90.0, 90.0]

    flat = ((0.0, 0.0), (1.0, 100.0))
    card = Scorecard("c", "C", (
        MeasureGroup("use", "Use", 3.0, (MeasureRule("a", 1.0, Scoring.LINEAR, flat),
                                          MeasureRule("b", 3.0, Scoring.LINEAR, flat))),
        MeasureGroup("voice", "Voice", 1.0, (MeasureRule("c", 2.0, Scoring.LINEAR, flat),)),
    ))  # fmt: skip
    assert card.effective_weights({"a": True, "b": True, "c": True}) == {"a": 0.1875, "b": 0.5625, "c": 0.25}
    # b missing: a takes its group's whole 3/4
    assert card.effective_weights({"a": True, "b": False, "c": True}) == {"a": 0.75, "b": 0.0, "c": 0.25}
    # the voice group without data: use takes it all, 1:3 inside
    assert card.effective_weights({"a": True, "b": True}) == {"a": 0.25, "b": 0.75, "c": 0.0}
    assert card.effective_weights({}) == {"a": 0.0, "b": 0.0, "c": 0.0}
    assert card.effective_weights({"a": True}) == {"a": 1.0, "b": 0.0, "c": 0.0}  # not named: no data
    result = card.score({"a": 1.0, "b": 0.5, "c": None})
    assert result is not None
    assert (result.score, result.points) == (62.5, {"a": 100.0, "b": 50.0})  # 0.25 × 100 + 0.75 × 50
    assert card.score({"c": float("nan")}) is None

    options = ScoringOptions(nps_half_life_days=90.0, csat_half_life_days=30.0)
    assert (options.half_life("nps"), options.half_life("csat"), options.half_life("ces")) == (90.0, 30.0, 30.0)


def test_decayed_survey_answers_by_hand() -> None:
    """NPS with a 100-day half-life (answers count for 6 half-lives: under 600 days), CSAT
    without one (plain average over 180 days); CES is no measure."""
    from kizuna.domain.health import ScoringOptions

    answers = pd.DataFrame({
        "account_id": [1, 1, 2, 2, 1, 1, 1, 3, 3],
        "kind": ["nps", "nps", "nps", "nps", "csat", "csat", "csat", "csat", "ces"],
        "score": [10, 0, 8, 2, 5, 3, 1, 2, 7],
        "age_days": [0.0, 100.0, 200.0, 600.0, 179.0, 10.0, 180.0, 0.0, 0.0],
    })  # fmt: skip
    options = ScoringOptions(nps_half_life_days=100.0, csat_half_life_days=0.0)
    got = calc.decayed_surveys(answers, options)
    rows = {int(r["account_id"]): [None if pd.isna(r[c]) else round(float(r[c]), 6)
                                   for c in ("nps", "nps:confidence", "csat", "csat:confidence")]
            for _i, r in got.iterrows()}  # fmt: skip
    # 1: NPS 10 (weight 1) and 0 (100 days: ½) → 10 ÷ 1.5, confidence 1.5 capped at 1; CSAT (5 + 3) ÷ 2
    #    (the 180-day-old 1 is out); 2: NPS 8 at 200 days (¼); the 600-day-old 2 is out; 3: CSAT only
    assert rows == {1: [round(10 / 1.5, 6), 1.0, 4.0, 1.0], 2: [8.0, 0.25, None, 1.0], 3: [None, None, 2.0, 1.0]}
    assert list(got.columns) == ["account_id", "nps", "nps:confidence", "csat", "csat:confidence"]
    # a half-life under a day: a day-old answer weighs ¼ (4: alone, confidence ¼; 5: 10 and 0 → 10 ÷ 1.25)
    short = pd.DataFrame({"account_id": [4, 5, 5], "kind": ["nps"] * 3, "score": [6, 10, 0],
                          "age_days": [1.0, 0.0, 1.0]})  # fmt: skip
    got = calc.decayed_surveys(short, ScoringOptions(nps_half_life_days=0.5))
    assert got[["nps", "nps:confidence"]].to_numpy().tolist() == [[6.0, 0.25], [8.0, 1.0]]


def test_one_metric_s_window_total_per_account() -> None:
    usage = pd.DataFrame({"account_id": [1, 1, 2, 2], "metric": ["events", "logins", "events", "events"],
                          "last30": [42, 7, 60, 5], "base90": [1, 2, 3, 4]})  # fmt: skip
    # account 2 has two events rows (e.g. two sources): their sum
    assert calc.usage_total(usage, "events", "last30").to_dict() == {1: 42.0, 2: 65.0}
    assert calc.usage_total(usage, "logins", "base90").to_dict() == {1: 2.0}


def test_explanations_at_their_edges_by_hand() -> None:
    """Zero weights and zero points count as nothing (not as 1), ties go by the measure's
    name, a per-seat measure taken per tracked user says so, points round to one decimal."""
    basis = {"tracked_users": 3, "seats": 50}
    now = {
        "m": {"value": 1.0, "weight": 0.5, "points": 60.0},  # +5 (from 50)
        "n": {"value": 2.0, "weight": 0.5, "points": 40.0},  # −5 (from 50)
        "z": {"value": 0.0, "weight": 1.0, "points": 0.0, "basis": basis},  # −50: 0 points count as 0
        "w": {"value": 9.0, "weight": 0.0, "points": 80.0},  # −40: no weight now
    }
    before = {
        "m": {"value": 1.0, "weight": 0.5, "points": 50.0},
        "n": {"value": 2.0, "weight": 0.5, "points": 50.0},
        "z": {"value": 3.0, "weight": 1.0, "points": 50.0},
        "w": {"value": 8.0, "weight": 0.5, "points": 80.0},
        "v": {"value": 7.0, "weight": 0.0, "points": 80.0},  # had no weight then, none now: no change
    }
    got = calc.explain(now, before, top=4)
    assert [(i["measure"], i["points"]) for i in got] == [("z", -50.0), ("w", -40.0), ("m", 5.0), ("n", -5.0)]
    assert got[0]["basis"] == basis
    assert "basis" not in got[1]
    # back up from 0 points and from no weight
    up = calc.explain({"z": {"value": 3.0, "weight": 1.0, "points": 50.0},
                       "v": {"value": 7.0, "weight": 0.5, "points": 80.0}},
                      {"z": {"value": 0.0, "weight": 1.0, "points": 0.0},
                       "v": {"value": 7.0, "weight": 0.0, "points": 80.0}})  # fmt: skip
    assert [(i["measure"], i["points"]) for i in up] == [("z", 50.0), ("v", 40.0)]
    # levels: a missing measure first does not end the list; equal costs go by name; one decimal
    level = {
        "a": {"value": None, "weight": 0.5, "points": None},
        "q": {"value": 1.0, "weight": 0.5, "points": 80.0},  # costs 10
        "p": {"value": 9.0, "weight": 0.5, "points": 80.0},  # costs 10
        "r": {"value": 5.0, "weight": 0.5, "points": 42.25, "basis": basis},  # costs 28.875
    }
    got = calc.explain(level, None)
    assert [(i["measure"], i["points"]) for i in got] == [("r", -28.9), ("p", -10.0), ("q", -10.0)]
    assert (got[0]["basis"], "basis" in got[1]) == (basis, False)


def test_grade_changes_per_1000_and_auc_without_both_outcomes() -> None:
    # one change in four pairs of consecutive days → 250; days given as text are read as days
    daily = pd.DataFrame({"day": ["2026-06-01", "2026-06-02", "2026-06-03", "2026-06-01", "2026-06-02", "2026-06-03"],
                          "account_id": [1, 1, 1, 2, 2, 2],
                          "grade": ["green", "green", "yellow", "red", "red", "red"]})  # fmt: skip
    assert calc.grade_changes_per_1000(daily) == 250.0
    risk = np.array([0.1, 0.5, 0.9])
    assert calc.signal_auc(np.array([False, False, False]), risk) is None
    assert calc.signal_auc(np.array([True, True, True]), risk) is None
    assert calc.signal_auc(np.array([False, True, True]), risk) == 1.0


def test_held_grades_without_yesterday_s_grades_are_the_scored_ones() -> None:
    card = health_service.parse_toml(CARD, "card.toml").default
    score = pd.Series([95.0, 69.0, 10.0], index=[1, 2, 3])
    colour, letter = calc.held_grades(score, pd.DataFrame(index=pd.Index([], name="account_id")),
                                      pd.DataFrame(index=score.index), card.bands,
                                      ScoringOptions(grade_margin=3, grade_confirm_days=3))  # fmt: skip
    assert (colour.tolist(), letter.tolist()) == (["green", "yellow", "red"], ["A", "C", "F"])


def test_a_measure_s_confidence_scales_its_weight_by_hand() -> None:
    """``a:confidence`` 0.5, missing (counts in full), 1.5 (capped at 1) and −0.2 (at 0).
    Groups: use (weight 3: a 1, b 3), voice (weight 1: c 2); a and c at 100 points, b at 0."""
    from kizuna.domain.health import MeasureGroup, MeasureRule, Scorecard

    flat = ((0.0, 0.0), (1.0, 100.0))
    card = Scorecard("c", "C", (
        MeasureGroup("use", "Use", 3.0, (MeasureRule("a", 1.0, Scoring.LINEAR, flat),
                                          MeasureRule("b", 3.0, Scoring.LINEAR, flat))),
        MeasureGroup("voice", "Voice", 1.0, (MeasureRule("c", 2.0, Scoring.LINEAR, flat),)),
    ))  # fmt: skip
    nan = float("nan")
    values = pd.DataFrame({"a": [1.0] * 5 + [nan], "b": [0.0] * 4 + [nan, nan], "c": [1.0] * 4 + [0.0, nan],
                           "a:confidence": [0.5, nan, 1.5, -0.2, 0.5, nan]}, index=[1, 2, 3, 4, 5, 6])  # fmt: skip
    scores = calc.score_accounts(values, card)
    # 1: a 0.5 of 3.5 in use (¾ of the total: b's full confidence keeps the group's) → 0.75 ÷ 7 × 100 + 25;
    # 2, 3: a 1 of 4 → 0.1875 × 100 + 25 = 43.75; 4: a weighs nothing → b and c: 25;
    # 5: b missing, so use's confidence is a's ½: 3 × ½ against 1 → a 0.6 × 100, c 0.4 × 0 = 60; 6: no data
    assert scores.score.round(6).tolist()[:5] == [round(75 / 7 + 25, 6), 43.75, 43.75, 25.0, 60.0]
    assert math.isnan(scores.score.loc[6])
    assert scores.weights.loc[4].tolist() == [0.0, 0.75, 0.25]
    assert scores.weights.loc[5].round(6).tolist() == [0.6, 0.0, 0.4]
    assert scores.weights.loc[6].tolist() == [0.0, 0.0, 0.0]


def test_grades_keep_the_accounts_index() -> None:
    card = health_service.parse_toml(CARD, "card.toml").default
    colour, letter = calc.grades(pd.Series([95.0, 50.0], index=[10, 20]), card.bands)
    assert (colour.to_dict(), letter.to_dict()) == ({10: "green", 20: "yellow"}, {10: "A", 20: "D"})


def test_hold_grades_by_hand() -> None:
    """Margin 3, 3 days to confirm; red below 40, yellow from 40, green from 70. The frames
    come in other orders than the scores (aligned by account)."""
    score = pd.Series([71.0, 71.0, 66.0], index=[7, 8, 9])
    previous = pd.Series(["yellow", "green", "yellow"], index=[8, 9, 7])
    recent = pd.DataFrame({"yesterday": [80.0, 72.0, 65.0], "before": [80.0, 73.0, 75.0]}, index=[9, 8, 7])
    held = calc.hold_grades(score, previous, recent, [40.0, 70.0], ["red", "yellow", "green"], 3.0, 3)
    # 7: above 70 today and the day before, not yesterday (65): not confirmed; 71 − 3 is under 70 → yellow
    # 8: above 70 three days running → green; 9: 66 + 3 is under 70 → down to yellow at once
    assert held.to_dict() == {7: "yellow", 8: "green", 9: "yellow"}


def test_churn_labels_keep_the_rows_order_and_index() -> None:
    # account 3 on 31 Jan (+100 days: 11 May, its churn 10 April is within), account 1 on 31 Dec
    # (+100: 10 April, its churn 15 April is not), account 2 on 31 Jan (its churn 20 May is not)
    frame = scored().iloc[[9, 0, 5]].set_axis([5, 3, 9])
    labels = calc.label_churn(frame, CHURNS, 100)
    assert (list(labels.index), labels.tolist()) == ([5, 3, 9], [True, False, False])
    no_churn = calc.label_churn(frame, CHURNS.iloc[:0], 100)
    assert (list(no_churn.index), no_churn.tolist()) == ([5, 3, 9], [False, False, False])


def test_days_existed_after_the_window_and_percentiles_within_each_day() -> None:
    ts = pd.Timestamp
    # started 5 days after the window: none (not −4); the day before it: the whole 30
    start = pd.Series([ts("2026-07-05"), ts("2026-05-30")])
    assert calc.days_existed(start, date(2026, 5, 31), AS_OF).tolist() == [0.0, 30.0]
    # ranked within each day (no peer groups: among all accounts of that day)
    values = pd.Series([1.0, 2.0, 3.0, 4.0], index=[1, 2, 3, 4])
    by = pd.Series([ts("2026-06-01"), ts("2026-06-01"), ts("2026-06-02"), ts("2026-06-02")], index=[1, 2, 3, 4])
    got = calc.peer_percentile(values, pd.Series([None] * 4, index=[1, 2, 3, 4], dtype=object), by=by)
    assert got.tolist() == [0.25, 0.75, 0.25, 0.75]


def test_a_peer_group_of_exactly_the_minimum_ranks_within_itself() -> None:
    # P1 has five accounts with data (the default minimum): ranked among themselves, 1.0 is the
    # lowest of five → 0.5 ÷ 5; P2's single account is ranked among all six
    values = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 0.5], index=[1, 2, 3, 4, 5, 6])
    peers = pd.Series(["P1"] * 5 + ["P2"], index=[1, 2, 3, 4, 5, 6])
    got = calc.peer_percentile(values, peers)
    assert got.tolist() == [0.1, 0.3, 0.5, 0.7, 0.9, 0.5 / 6]
