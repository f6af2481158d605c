"""Health that holds still (issue 14, item 4), worked out by hand: survey answers that fade
by a half-life instead of falling off a window edge, grade hysteresis, the onboarding and
renewal scorecards, and seat measures that know when the tracking is partial.

The store (as of 2026-06-30):

- S1: a team plan (10 seats); CSAT 4 answered 2026-01-01 (180 days before the day) and
  CSAT 2 answered 2026-05-01 (60 days before).
- S2: 522 seats (per-seat plan), 20 contacts, at most 14 users active on a day.
- S3: 522 seats, 20 contacts, 25 users active on a day (more than its contacts: the
  tracking is not limited to them).
- O1: a team plan since 2026-06-20; milestones due 06-25 (done 06-24), due 06-28 (done
  06-29, late), due 07-15 (open).
"""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import text

from kizuna.analytics import health as calc
from kizuna.db import Session, ensure_schema, make_engine, session_scope
from kizuna.db.queries import health as q
from kizuna.domain.health import GradeBands, ScorecardInvalid, ScoringOptions
from kizuna.i18n import language
from kizuna.services import health as health_service
from kizuna.services.imports import ParseContext, import_file

AS_OF = date(2026, 6, 30)

PRODUCTS = """code,name,kind,rank,currency,list_price,seats_included
team,Team,plan,1,JPY,50000,10
seat,Per seat,plan,1,JPY,3000,
"""
ACCOUNTS = "external_id,name\nS1,Survey One\nS2,Seats Two\nS3,Seats Three\nO1,Onboarding One\n"
SUBSCRIPTIONS = """external_id,account_external_id,product_code,quantity,currency,monthly_amount,billing_interval,status,started_on,trial_ends_on,ended_on
L1,S1,team,1,JPY,50000,month,active,2025-01-01,,
L2,S2,seat,522,JPY,1566000,month,active,2025-01-01,,
L3,S3,seat,522,JPY,1566000,month,active,2025-01-01,,
L4,O1,team,1,JPY,50000,month,active,2026-06-20,,
"""
CONTACTS = "external_id,account_external_id,name\n" + "".join(
    f"C{a}{i},{a},Person {i}\n" for a in ("S2", "S3") for i in range(20)
)
SURVEYS = """external_id,account_external_id,kind,score,answered_at
V1,S1,csat,4,2026-01-01T12:00:00+09:00
V2,S1,csat,2,2026-05-01T12:00:00+09:00
"""
MILESTONES = """external_id,account_external_id,name,due_on,completed_at
M1,O1,Kickoff,2026-06-25,2026-06-24T12:00:00+09:00
M2,O1,Setup,2026-06-28,2026-06-29T12:00:00+09:00
M3,O1,Training,2026-07-15,
"""
USAGE = [
    ("S2", "2026-06-10", "active_users", 14), ("S2", "2026-06-11", "active_users", 9),
    ("S2", "2026-06-10", "session_minutes", 700),
    ("S3", "2026-06-10", "active_users", 25),
    *[("O1", f"2026-06-{d}", "logins", 2) for d in (21, 22, 24, 27, 29)],
]  # fmt: skip


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Session:
    folder = tmp_path_factory.mktemp("stability")
    engine = make_engine(f"sqlite:///{folder / 'kizuna.db'}")
    ensure_schema(engine)
    usage = "account_external_id,day,metric,value\n" + "".join(f"{a},{d},{m},{v}\n" for a, d, m, v in USAGE)
    files = {"products": PRODUCTS, "accounts": ACCOUNTS, "subscriptions": SUBSCRIPTIONS, "contacts": CONTACTS,
             "survey_responses": SURVEYS, "onboarding_milestones": MILESTONES, "usage_daily": usage}  # fmt: skip
    with session_scope(engine) as session:
        ctx = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
        for name, content in files.items():
            path = folder / f"{name}.csv"
            path.write_text(content, encoding="utf-8")
            import_file(session, name, Path(path), ctx=ctx)
    with session_scope(engine) as session:
        yield session
    engine.dispose()


def ids(store: Session) -> dict[str, int]:
    return {ext: int(i) for i, ext in store.execute(text("SELECT id, external_id FROM accounts"))}


def measures(store: Session, options: ScoringOptions | None = None) -> pd.DataFrame:
    lines = q.subscription_lines(store)
    accounts = calc.live_accounts(lines, AS_OF, paying_only=False)
    inputs = health_service._inputs(store, AS_OF, lines, None, options)
    names = {v: k for k, v in ids(store).items()}
    return calc.compute_measures(accounts, inputs, AS_OF).rename(index=names)


# --- 1. survey answers fade ------------------------------------------------------------------


def test_survey_answers_are_weighted_by_their_age(store: Session) -> None:
    values = measures(store)
    # half-life 60 days: the 180-day-old 4 weighs 0.5³ = 0.125, the 60-day-old 2 weighs 0.5;
    # average (4 × 0.125 + 2 × 0.5) ÷ 0.625 = 2.4; confidence 0.625 (the weights' sum, at most 1)
    assert values.loc["S1", "csat"] == pytest.approx(2.4)
    assert values.loc["S1", "csat" + calc.CONFIDENCE] == pytest.approx(0.625)
    assert math.isnan(values.loc["S2", "csat"])
    # half-life 0: the plain average over the last 180 days, where the 4 no longer counts
    old = measures(store, ScoringOptions(csat_half_life_days=0))
    assert old.loc["S1", "csat"] == pytest.approx(2.0)
    assert old.loc["S1", "csat" + calc.CONFIDENCE] == 1.0


VOICE = """
[scoring]
csat_half_life_days = {half_life}

[scorecards.main]
name = "Main"
default = true

[scorecards.main.groups.usage]
label = "Usage"
weight = 1

[scorecards.main.groups.usage.measures]
login_days = {{ weight = 1, scoring = "linear", points = [[0, 0], [30, 100]] }}

[scorecards.main.groups.voice]
label = "Voice"
weight = 1

[scorecards.main.groups.voice.measures]
csat = {{ weight = 1, scoring = "linear", points = [[1, 0], [3, 40], [4, 75], [5, 100]] }}
"""


def day_series(half_life: int, ages: list[int]) -> list[float]:
    """The score of one account with 12 login days (40 points) and one CSAT 4 (75 points)
    answered ``age`` days before each day."""
    cards = health_service.parse_toml(VOICE.format(half_life=half_life), "voice.toml")
    scores = []
    for age in ages:
        answers = pd.DataFrame({"account_id": [1], "kind": ["csat"], "score": [4], "age_days": [float(age)]})
        surveys = calc.decayed_surveys(answers, cards.options).set_index("account_id")
        values = pd.DataFrame({"login_days": [12.0]}, index=pd.Index([1], name="account_id")).join(surveys)
        scores.append(round(float(calc.score_accounts(values, cards.default).score.iloc[0]), 4))
    return scores


def test_a_csat_answer_fades_out_instead_of_falling_off_the_window_edge() -> None:
    # before: a plain average over 180 days; (40 + 75) ÷ 2 = 57.5 until the answer is 179
    # days old, then the voice group has no data and the score is the usage group's 40
    assert day_series(0, [178, 179, 180, 181]) == [57.5, 57.5, 40.0, 40.0]
    # after: weight c = 0.5 ** (age ÷ 60) in the voice group's share: (40 + 75c) ÷ (1 + c);
    # age 180: c = 0.125 → 49.375 ÷ 1.125 = 43.8889; a day moves it by 0.04 points
    ages = [150, 178, 179, 180, 181, 182]
    assert day_series(60, ages) == [45.2577, 43.9695, 43.929, 43.8889, 43.8491, 43.8097]
    # six half-lives (360 days): the answer, weighing 1/64, is left out: 40.5446 → 40
    assert day_series(60, [359, 360]) == [40.5446, 40.0]
    series = day_series(60, list(range(1, 400)))
    assert max(abs(b - a) for a, b in itertools.pairwise(series)) < 1.0


# --- 2. grade hysteresis ---------------------------------------------------------------------

OSCILLATING = [72, 69, 71, 68, 71, 69, 66, 66, 67, 73, 71, 69, 68, 68, 74]


def held_series(scores: list[float], options: ScoringOptions) -> tuple[list[str], list[str]]:
    bands = GradeBands()  # green ≥ 70, yellow ≥ 45; B ≥ 70, C ≥ 55
    grades: list[str] = []
    letters: list[str] = []
    index = pd.Index([7])
    for i, s in enumerate(scores):
        previous = pd.DataFrame({"grade": grades[-1:], "letter": letters[-1:]}, index=index[: min(i, 1)])
        recent = pd.DataFrame({k: [scores[i - 1 - k]] for k in range(min(i, 2))}, index=index)
        g, letter = calc.held_grades(pd.Series([float(s)], index=index), previous, recent, bands, options)
        grades.append(g.iloc[0])
        letters.append(letter.iloc[0])
    return grades, letters


def test_grades_hold_still_around_70() -> None:
    raw, _raw_letters = held_series(OSCILLATING, ScoringOptions(grade_margin=0, grade_confirm_days=1))
    G, Y = "green", "yellow"
    assert raw == [G, Y, G, Y, G, Y, Y, Y, Y, G, G, Y, Y, Y, G]
    held, letters = held_series(OSCILLATING, ScoringOptions(grade_margin=3, grade_confirm_days=3))
    # 69, 68, 69 stay green (within 3 points, not 3 days); 66 + 3 is still below 70 → yellow;
    # 73 is 3 above 70 → green; 69, 68 hold; the third day below (68) → yellow; 74 → green
    assert held == [G, G, G, G, G, G, Y, Y, Y, G, G, G, G, Y, G]
    assert letters == ["B" if g == G else "C" for g in held]  # B starts at 70 too
    changes = [sum(a != b for a, b in itertools.pairwise(s)) for s in (raw, held)]
    assert changes == [8, 4]


def test_a_grade_moves_at_once_when_far_past_the_edge() -> None:
    held, letters = held_series([90, 30, 95], ScoringOptions(grade_margin=3, grade_confirm_days=3))
    assert held == ["green", "red", "green"]
    assert letters == ["A", "F", "A"]


def test_day_to_day_grade_changes_per_1000_accounts() -> None:
    daily = pd.DataFrame({
        "day": [date(2026, 6, d) for d in (1, 2, 3, 4, 1, 2, 1, 3)],
        "account_id": [1, 1, 1, 1, 2, 2, 3, 3],
        "grade": ["green", "yellow", "yellow", "green", "green", "green", "red", "green"],
    })  # fmt: skip
    # pairs of consecutive days: account 1 three (two changes), account 2 one, account 3
    # none (06-02 missing): 2 changes of 4 → 500 per 1,000
    assert calc.grade_changes_per_1000(daily) == 500.0
    assert calc.grade_changes_per_1000(daily.iloc[:1]) is None


HOLD_CARD = """
[scoring]
grade_margin = 3
grade_confirm_days = 3

[scorecards.main]
name = "Main"
default = true
min_history_days = 7

[scorecards.main.groups.usage]
label = "Usage"
weight = 1

[scorecards.main.groups.usage.measures]
logins_vs_baseline = { weight = 1, scoring = "linear", points = [[-1, 0], [1, 100]] }
login_days = { weight = 1, scoring = "linear", points = [[0, 0], [5, 68]] }
"""


def stored_grade(store: Session, day: date, account: int) -> tuple[str, str, float]:
    row = q.snapshot_grades(store, day, day).set_index("account_id").loc[account]
    return row["grade"], row["letter"], row["score"]


def put_snapshot(store: Session, day: date, account: int, score: float, grade: str, letter: str) -> None:
    q.replace_snapshots(store, day, [{
        "account_id": account, "day": day, "scorecard": "main", "score": score, "grade": grade, "letter": letter,
        "change_7d": None, "change_30d": None, "measures": {}, "explanation": [],
    }])  # fmt: skip


def test_stored_grades_start_from_the_previous_days_grade(store: Session, tmp_path: Path) -> None:
    card = tmp_path / "hold.toml"
    card.write_text(HOLD_CARD, encoding="utf-8")
    o1 = ids(store)["O1"]
    # O1 (11 days old, over the card's 7-day minimum history): 5 login days, 13.6 scaled to
    # 30 days → 68 points; no baseline → the score is 68: yellow as scored
    yesterday, before = AS_OF - timedelta(days=1), AS_OF - timedelta(days=2)
    put_snapshot(store, before, o1, 72.0, "green", "B")
    put_snapshot(store, yesterday, o1, 71.0, "green", "B")
    health_service.recompute(store, AS_OF, path=card)
    assert stored_grade(store, AS_OF, o1) == ("green", "B", 68.0)  # 2 points below 70: held
    # yesterday yellow: stays yellow
    put_snapshot(store, yesterday, o1, 69.0, "yellow", "C")
    health_service.recompute(store, AS_OF, path=card)
    assert stored_grade(store, AS_OF, o1) == ("yellow", "C", 68.0)
    # green yesterday but below 70 the two days before today as well: the third day turns it
    put_snapshot(store, before, o1, 69.5, "green", "B")
    put_snapshot(store, yesterday, o1, 69.0, "green", "B")
    health_service.recompute(store, AS_OF, path=card)
    assert stored_grade(store, AS_OF, o1) == ("yellow", "C", 68.0)


# --- 3. onboarding and renewal scorecards ----------------------------------------------------


def test_onboarding_measures_over_the_days_the_account_exists(store: Session) -> None:
    values = measures(store)
    # due by the day: M1 (done on time) and M2 (done a day late) → 1 of 2 on time; 2 of 3 done
    assert values.loc["O1", "milestones_on_time"] == 0.5
    assert values.loc["O1", "onboarding_progress"] == pytest.approx(2 / 3)
    assert math.isnan(values.loc["S1", "milestones_on_time"])  # no milestones
    # no feature events anywhere in the store: first value is missing, not 0
    assert values["first_value"].isna().all()


def test_early_activation_against_the_tiers_established_accounts() -> None:
    ts = pd.Timestamp
    accounts = pd.Index([1, 2, 3, 4, 5], name="account_id")
    lines = pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5],
        "started_on": [ts("2026-06-20"), ts("2025-01-01"), ts("2025-06-01"), ts("2026-01-01"), ts("2026-06-30")],
        "trial_ends_on": [pd.NaT] * 5, "ended_on": [pd.NaT] * 5, "interval": ["month"] * 5,
        "quantity": [1] * 5, "seats_included": [10] * 5, "kind": ["plan"] * 5,
    })  # fmt: skip
    usage = pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5], "metric": ["logins"] * 5, "last30": [9.0, 30.0, 20.0, 5.0, 1.0],
        "prev30": [0.0] * 5, "base90": [0.0] * 5, "days30": [5.0, 15.0, 9.0, 6.0, 1.0], "max30": [3.0] * 5,
    })  # fmt: skip
    empty = pd.DataFrame({"account_id": pd.Series(dtype="int64")})
    inputs = calc.MeasureInputs(
        lines=lines, usage=usage, surveys=empty.assign(nps=[], csat=[]),
        tickets=empty.assign(open_tickets=[], escalated_tickets=[]),
        onboarding=empty.assign(milestones=[], milestones_done=[]), sentiment=empty.assign(csm_sentiment=[]),
        tiers=pd.Series(["tech", "tech", "tech", "high", "high"], index=accounts),
    )  # fmt: skip
    got = calc.compute_measures(accounts, inputs, AS_OF)["activation_vs_tier"].round(6).to_dict()
    # established (≥ 90 days): tech 2 (15 of 30 days = 0.5) and 3 (9 of 30 = 0.3) → median
    # 0.4; high 4 (6 of 30 = 0.2). Account 1, 10 days old: 5 login days in its 11 days
    # (06-20 … 06-30) = 0.4545 → +13.6 %; account 5, on its first day: 1 of 1 → 1 ÷ 0.2 − 1
    assert got == {1: round(5 / 11 / 0.4 - 1, 6), 2: 0.25, 3: -0.25, 4: 0.0, 5: 4.0}


def test_the_shipped_scorecards_follow_the_lifecycle_stage() -> None:
    text_, name = health_service.file_source(None)
    cards = health_service.parse_toml(text_, name)
    assert cards.for_account("onboarding", "tech").key == "onboarding"
    assert cards.for_account("renewal", "high").key == "renewal"
    assert cards.for_account("adoption", "high").key == "default"
    onboarding = cards.get("onboarding")
    assert onboarding is not None
    assert "logins_vs_baseline" not in onboarding.measure_keys  # no 90-day baseline to compare with
    assert {"activation_vs_tier", "first_value", "milestones_on_time"} <= set(onboarding.measure_keys)
    renewal = cards.get("renewal")
    assert renewal is not None
    assert {"days_to_renewal", "csm_sentiment", "nps"} <= set(renewal.measure_keys)
    assert cards.options == ScoringOptions(120, 60, 3, 3, 2)
    # the weights form keeps the [scoring] table
    assert health_service.parse_toml(health_service.to_toml(cards), "saved").options == cards.options


def test_the_backtest_replays_the_stage_of_each_day() -> None:
    ts = pd.Timestamp
    lines = pd.DataFrame({
        "account_id": [1, 2, 3, 4, 5],
        "started_on": [ts("2026-05-01"), ts("2026-05-01"), ts("2025-08-01"), ts("2025-01-01"), ts("2026-06-01")],
        "trial_ends_on": [ts("2026-05-15"), pd.NaT, pd.NaT, pd.NaT, pd.NaT],
    })  # fmt: skip
    nan = float("nan")
    values = pd.DataFrame({"onboarding_progress": [0.5, 1.0, nan, 1.0, nan],
                           "days_to_renewal": [nan, 30.0, 32.0, 120.0, nan]}, index=[1, 2, 3, 4, 5])  # fmt: skip
    # 1: paid from 05-15, 46 days, milestones half done → onboarding; 2: all done, renews in 30
    # days → renewal; 3: 333 days old, no milestones → renewal; 4: neither; 5: 29 days old
    # without milestones (none done, as the segment rule reads it) → onboarding
    assert calc.replay_stages(lines, values, AS_OF).tolist() == ["onboarding", "renewal", "renewal", None,
                                                                 "onboarding"]  # fmt: skip


# --- 4. seats and tracked users --------------------------------------------------------------


def test_seat_measures_per_tracked_user_when_the_tracking_is_partial(store: Session) -> None:
    values = measures(store)
    # S2: 522 seats, 20 contacts, at most 14 active: partial → 14 ÷ 20, 700 min ÷ 20
    assert values.loc["S2", ["active_users_per_seat", "usage_minutes_per_seat"]].tolist() == [0.7, 35.0]
    assert values.loc["S2", ["seats", "tracked_users"]].tolist() == [522.0, 20.0]
    # S3: 25 users active, more than its 20 contacts: the tracking is not limited to them
    assert values.loc["S3", "active_users_per_seat"] == pytest.approx(25 / 522)
    assert math.isnan(values.loc["S3", "tracked_users"])
    off = measures(store, ScoringOptions(partial_tracking_ratio=0))
    assert off.loc["S2", "active_users_per_seat"] == pytest.approx(14 / 522)


def test_the_reason_says_the_seats_were_taken_per_tracked_user(store: Session) -> None:
    cards = health_service.active_scorecards(store).cards
    day = health_service.score_day(store, AS_OF, cards)
    s2 = list(day.score.index).index(ids(store)["S2"])
    row = day.measures[s2]
    assert row["active_users_per_seat"]["basis"] == {"tracked_users": 20, "seats": 522}
    items = calc.explain(row, None, top=10)
    # 35 minutes per tracked user → 40 + (5 ÷ 120) × 40 = 41.67 points: it costs points, so it is listed
    item = next(i for i in items if i["measure"] == "usage_minutes_per_seat")
    assert row["usage_minutes_per_seat"]["points"] == pytest.approx(41.67)
    assert item["basis"] == {"tracked_users": 20, "seats": 522}
    lines = health_service.explanation_lines([item])
    assert lines[0].endswith("(per tracked user: the data tracks 20 users of 522 seats)")
    with language("ja"):
        assert "追跡" in health_service.explanation_lines([item])[0]


# --- the [scoring] table ---------------------------------------------------------------------


def test_bad_scoring_options_are_named() -> None:
    bad = VOICE.format(half_life=-5) + "\n"
    with pytest.raises(ScorecardInvalid) as err:
        health_service.parse_toml(bad.replace("[scoring]", "[scoring]\ngrade_confirm_days = 2.5\nspeed = 1"), "c.toml")
    assert [str(p) for p in err.value.problems] == [
        "c.toml: scoring.speed: unknown key (expected one of: nps_half_life_days, csat_half_life_days, "
        "grade_margin, grade_confirm_days, partial_tracking_ratio)",
        "c.toml: scoring.csat_half_life_days: must be a number from 0 to 3650",
        "c.toml: scoring.grade_confirm_days: must be a whole number from 1 to 90",
    ]
