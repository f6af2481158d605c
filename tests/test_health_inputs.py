"""The Ibis reader of the health aggregates (``analytics/health_inputs.py``), worked out by
hand on a tiny SQLite store: each window's edges, each count's condition. Fast (no demo):
the parity suite holds it to the store's own queries on a 30-account demo; this test is
what its mutation run reruns (docs/testing.md, "Mutation testing").

As of 2026-06-30, the end of the day 2026-07-01 00:00 UTC. Usage windows ``(after, up to]``:
last 30 days (05-31, 06-30], the 30 before (05-01, 05-31], the 120 days (03-02, 06-30].

- I1: plan "team" (10 seats) × 2, yearly from 2025-09-15; tier high; 2 contacts.
  Logins: 03-02 1,000 (outside), 03-03 7, 05-01 3, 05-02 4, 05-31 5, 06-01 10, 06-15 0,
  06-30 20, 07-01 99 (after the day) → last30 30 on 2 days (the 0 is no day), max 20;
  prev30 4 + 5 = 9; base90 7 + 3 + 4 + 5 = 19. Active users (a recent metric: only the last
  30 days) 05-31 50 (left out), 06-01 3, 06-20 6 → 9, max 6. feature.reports 06-10 2;
  feature.exports 04-01 1 (in the 120 days, not the last 30: a feature to adopt, no row).
- I2: a per-seat plan × 4, monthly from 2026-01-01, trial to 2026-01-15. Events 04-10 6,
  05-20 30, 06-05 12, 06-06 1 → last30 12 + 1 = 13 on 2 days (a 1 is a day), max 12 (not the
  30 of the month before); prev30 30; base90 6 + 30 = 36. feature.old 03-01 (the first day of
  usage).
- I3: no lines; a milestone not done nor due; sentiments 5 (02-01) then 3 (04-01): the
  latest, 3, counts (not the highest), and one too old to count.

SQLite stores timestamps as text ("… 00:00:00.000000") which Ibis compares with its literal
("… 00:00:00"): an instant exactly on a window's edge falls the same side with < or <=, so the
edges are checked again on an in-memory DuckDB copy, whose timestamps are real.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
import pytest
from sqlalchemy import text

from kizuna.analytics import backend as analytics_backend
from kizuna.analytics import health_inputs as hi
from kizuna.db import make_engine, session_scope
from kizuna.db.queries import health as q
from kizuna.domain.health import ScoringOptions
from kizuna.services.imports import ParseContext, import_file
from tests.conftest import migrated_sqlite

AS_OF = date(2026, 6, 30)
T = pd.Timestamp

FILES = {
    "products": """code,name,kind,rank,currency,list_price,seats_included
team,Team,plan,1,JPY,50000,10
seat,Per seat,plan,1,JPY,3000,
""",
    "accounts": "external_id,name\nI1,Eye One\nI2,Eye Two\nI3,Eye Three\n",
    "contacts": "external_id,account_external_id,name\nC1,I1,A\nC2,I1,B\nC3,I2,C\n",
    "subscriptions": """external_id,account_external_id,product_code,quantity,currency,monthly_amount,billing_interval,status,started_on,trial_ends_on,ended_on
S1,I1,team,2,JPY,100000,year,active,2025-09-15,,
S2,I2,seat,4,JPY,12000,month,active,2026-01-01,2026-01-15,
""",
    "usage_daily": "account_external_id,day,metric,value\n" + "".join(f"{a},{d},{m},{v}\n" for a, d, m, v in (
        ("I1", "2026-03-02", "logins", 1000), ("I1", "2026-03-03", "logins", 7), ("I1", "2026-05-01", "logins", 3),
        ("I1", "2026-05-02", "logins", 4), ("I1", "2026-05-31", "logins", 5), ("I1", "2026-06-01", "logins", 10),
        ("I1", "2026-06-15", "logins", 0), ("I1", "2026-06-30", "logins", 20), ("I1", "2026-07-01", "logins", 99),
        ("I1", "2026-05-31", "active_users", 50), ("I1", "2026-06-01", "active_users", 3),
        ("I1", "2026-06-20", "active_users", 6), ("I1", "2026-06-10", "feature.reports", 2),
        ("I1", "2026-04-01", "feature.exports", 1),
        ("I2", "2026-04-10", "events", 6), ("I2", "2026-05-20", "events", 30), ("I2", "2026-06-05", "events", 12),
        ("I2", "2026-06-06", "events", 1), ("I2", "2026-03-01", "feature.old", 1),
    )),
    # answered at the end of the day's last minute, at its end, exactly 365 days before it, a minute earlier
    "survey_responses": """external_id,account_external_id,kind,score,answered_at
R1,I1,nps,9,2026-06-30T23:59:00Z
R2,I1,nps,7,2026-07-01T00:00:00Z
R3,I1,csat,4,2026-06-20T10:00:00Z
R4,I2,nps,3,2025-07-01T00:00:00Z
R5,I2,nps,5,2025-06-30T23:59:00Z
R6,I2,ces,2,2026-06-30T10:00:00Z
""",
    # open at the end of the day: opened before it and not resolved before it
    "tickets": """external_id,account_external_id,status,priority,opened_at,resolved_at
T1,I1,open,high,2026-06-01T00:00:00Z,
T2,I1,solved,urgent,2026-05-01T00:00:00Z,2026-07-01T00:00:00Z
T3,I1,solved,urgent,2026-05-01T00:00:00Z,2026-06-30T23:59:00Z
T4,I1,open,high,2026-07-01T00:00:00Z,
T5,I1,open,normal,2026-06-10T00:00:00Z,
T6,I2,open,low,2026-06-30T23:00:00Z,
""",
    "onboarding_milestones": """external_id,account_external_id,name,due_on,completed_at
M1,I1,Kick-off,2026-06-30,2026-06-30T23:00:00Z
M2,I1,Import,2026-06-01,2026-06-02T01:00:00Z
M3,I1,Training,2026-07-01,
M4,I1,Review,,2026-07-01T00:00:00Z
M5,I1,Launch,2026-06-15,
M6,I2,Kick-off,,2026-01-10T00:00:00Z
M7,I3,Kick-off,2026-07-10,
""",
}
# (account, value, entered at): the latest in the 180 days up to the day's end counts
SENTIMENTS = (("I1", 2, datetime(2026, 3, 1, 9, tzinfo=UTC)), ("I1", 4, datetime(2026, 6, 30, 23, 59, tzinfo=UTC)),
              ("I1", 5, datetime(2026, 7, 1, 0, 0, tzinfo=UTC)), ("I2", 1, datetime(2026, 1, 2, 0, 0, tzinfo=UTC)),
              ("I3", 2, datetime(2026, 1, 1, 23, 59, tzinfo=UTC)), ("I3", 5, datetime(2026, 2, 1, 9, tzinfo=UTC)),
              ("I3", 3, datetime(2026, 4, 1, 9, tzinfo=UTC)))  # fmt: skip


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory,
           sqlite_template: Path) -> tuple[str, dict[int, str]]:  # fmt: skip
    folder = tmp_path_factory.mktemp("health-inputs")
    engine = make_engine(migrated_sqlite(sqlite_template, folder / "kizuna.db"))
    with session_scope(engine) as session:
        ctx = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
        for name, content in FILES.items():
            path = folder / f"{name}.csv"
            path.write_text(content, encoding="utf-8")
            import_file(session, name, Path(path), ctx=ctx)
    with session_scope(engine) as session:
        ids = {str(e): int(i) for i, e in session.execute(text("SELECT id, external_id FROM accounts"))}
        session.execute(text("UPDATE accounts SET touch_tier = 'high' WHERE external_id = 'I1'"))
        for account, value, at in SENTIMENTS:
            q.add_sentiment(session, ids[account], None, value, "", at)
    engine.dispose()
    # each test opens the tables itself: a mutant of health_tables then meets every test, not
    # only the first one (whose setup built the fixture)
    return f"sqlite:///{folder / 'kizuna.db'}", {i: e for e, i in ids.items()}


def opened(store: tuple[str, dict[int, str]]) -> tuple[hi.HealthTables, dict[int, str]]:
    return hi.health_tables(analytics_backend.connect(store[0])), store[1]


def named(frame: pd.DataFrame, names: dict[int, str], cols: list[str]) -> list[tuple[Any, ...]]:
    rows = [(names[int(r["account_id"])], *(r[c] for c in cols)) for _i, r in frame.iterrows()]
    return sorted(rows, key=str)


def test_the_usage_windows_and_the_features_to_adopt(tables: tuple[str, dict[int, str]]) -> None:
    t, names = opened(tables)
    usage = hi.usage_windows(t, AS_OF)
    cols = ["metric", "last30", "prev30", "base90", "days30", "max30"]
    assert named(usage, names, cols) == sorted([
        ("I1", "active_users", 9.0, 0.0, 0.0, 2.0, 6.0),
        ("I1", "feature.reports", 2.0, 0.0, 0.0, 1.0, 2.0),
        ("I1", "logins", 30.0, 9.0, 19.0, 2.0, 20.0),
        ("I2", "events", 13.0, 30.0, 36.0, 2.0, 12.0),
    ], key=str)  # fmt: skip
    # sorted by metric, then account; plain dtypes
    assert usage["metric"].tolist() == ["active_users", "events", "feature.reports", "logins"]
    assert (str(usage["account_id"].dtype), str(usage["last30"].dtype)) == ("int64", "float64")
    assert usage.attrs["features"] == ["feature.exports", "feature.reports"]
    assert hi.history_from(t) == date(2026, 3, 1)


def test_the_lines_answers_tickets_milestones_sentiments_contacts_and_tiers(
    tables: tuple[str, dict[int, str]],
) -> None:
    t, names = opened(tables)
    lines = hi.subscription_lines(t)
    cols = ["started_on", "trial_ends_on", "ended_on", "interval", "quantity", "seats_included", "kind"]
    got = [(a, s, None if pd.isna(tr) else tr, None if pd.isna(e) else e, i, int(qn),
            None if pd.isna(seats) else int(seats), k) for a, s, tr, e, i, qn, seats, k in named(lines, names, cols)]  # fmt: skip
    assert got == [("I1", T("2025-09-15"), None, None, "year", 2, 10, "plan"),
                   ("I2", T("2026-01-01"), T("2026-01-15"), None, "month", 4, None, "plan")]  # fmt: skip
    assert lines["product_id"].notna().all()
    # NPS and CSAT only (not CES), answered before the day's end and at most 365 days before it
    answers = hi.survey_answers(t, AS_OF, 365)
    assert named(answers, names, ["kind", "score", "age_days"]) == [
        ("I1", "csat", 4, 10.0), ("I1", "nps", 9, 0.0), ("I2", "nps", 3, 364.0)]  # fmt: skip
    # I1: T1, T2 (resolved at the day's end: still open then), T5 open; T2 and T1 high or urgent
    tickets = hi.ticket_counts(t, AS_OF)
    assert named(tickets, names, ["open_tickets", "escalated_tickets"]) == [("I1", 3, 2), ("I2", 1, 0)]
    # I1: 5 milestones; done by the day's end M1, M2; due by the day M1, M2, M5; on time M1
    onboarding = hi.onboarding_counts(t, AS_OF)
    assert named(onboarding, names, ["milestones", "milestones_done", "milestones_due", "milestones_on_time"]) == [
        ("I1", 5, 2, 3, 1), ("I2", 1, 1, 0, 0), ("I3", 1, 0, 0, 0)]  # fmt: skip
    # the latest in the 180 days before the day's end (from 2026-01-02 00:00, inclusive)
    assert named(hi.latest_sentiments(t, AS_OF), names, ["csm_sentiment"]) == [("I1", 4), ("I2", 1), ("I3", 3)]
    # over 60 days (from 2026-05-02 00:00): only I1's 4 of 06-30; I3's 3 (04-01) and I2's 1 are older
    assert named(hi.latest_sentiments(t, AS_OF, 60), names, ["csm_sentiment"]) == [("I1", 4)]
    assert named(hi.contact_counts(t), names, ["contacts"]) == [("I1", 2), ("I2", 1)]
    tiers = hi.account_tiers(t)
    assert {names[int(a)]: None if pd.isna(v) else v for a, v in tiers.items()} == {"I1": "high", "I2": None,
                                                                                   "I3": None}  # fmt: skip


def test_the_measures_from_the_engine_s_aggregates(tables: tuple[str, dict[int, str]]) -> None:
    t, names = opened(tables)
    values = hi.measures_on(t, [AS_OF])
    assert list(values.index.names) == ["day", "account_id"]
    one = values.xs(T(AS_OF), level="day").rename(index=names)
    assert sorted(one.index) == ["I1", "I2"]  # I3 has no line
    i1 = one.loc["I1"]
    # 1 login a day vs 19 ÷ 90 → 90/19 − 1; vs 9 ÷ 30 → 30/9 − 1; 2 login days; peak 6 users ÷ 20 seats;
    # reports used of the 6 features; 3 open, 2 escalated; 2 of 5 milestones, 1 of 3 due on time
    got = [round(float(i1[c]), 6) for c in ("logins_vs_baseline", "login_trend", "login_days", "active_users_per_seat",
                                            "feature_breadth", "open_tickets", "escalated_tickets",
                                            "onboarding_progress", "milestones_on_time", "csm_sentiment", "nps",
                                            "days_to_renewal", "seats")]  # fmt: skip
    assert got == [round(90 / 19 - 1, 6), round(30 / 9 - 1, 6), 2.0, 0.3, round(1 / 6, 6), 3.0, 2.0, 0.4,
                   round(1 / 3, 6), 4.0, 9.0, 77.0, 20.0]  # fmt: skip
    assert math.isnan(one.loc["I2", "days_to_renewal"])
    # paying only: on 2026-01-10 I2 is in its trial
    early = hi.measures_on(t, [date(2026, 1, 10)], paying_only=True)
    assert sorted(names[int(a)] for a in early.index.get_level_values("account_id")) == ["I1"]
    # by default every live line counts, a trial too
    assert sorted(names[int(a)] for a in hi.measures_on(t, [date(2026, 1, 10)]).index.get_level_values(
        "account_id")) == ["I1", "I2"]  # fmt: skip
    # what the measures are computed from, the lines read when not given
    inputs = hi.measure_inputs(t, AS_OF)
    assert (len(inputs.lines), inputs.history_from, inputs.features) == (2, date(2026, 3, 1),
                                                                         ("feature.exports", "feature.reports"))  # fmt: skip
    assert named(inputs.contacts, names, ["contacts"]) == [("I1", 2), ("I2", 1)]
    assert names[int(inputs.tiers[inputs.tiers == "high"].index[0])] == "I1"
    empty = hi.measures_on(t, [])
    assert (len(empty), "logins_vs_baseline" in empty.columns) == (0, True)


def on_duckdb(store: tuple[str, dict[int, str]]) -> tuple[Any, hi.HealthTables]:
    """An in-memory DuckDB copy of the store: real timestamps, so a window's edge is exact."""
    con = ibis.duckdb.connect()
    analytics_backend.copy_tables(analytics_backend.connect(store[0]), con)
    return con, hi.health_tables(con)


def test_on_duckdb_an_instant_on_the_day_s_edge_falls_on_the_right_side(
    tables: tuple[str, dict[int, str]],
) -> None:
    _con, t = on_duckdb(tables)
    names = tables[1]
    # end of the day 2026-07-01 00:00 (left out: R2), 365 days before it 2025-07-01 00:00 (in: R4)
    assert named(hi.survey_answers(t, AS_OF, 365), names, ["kind", "score", "age_days"]) == [
        ("I1", "csat", 4, 10.0), ("I1", "nps", 9, 0.0), ("I2", "nps", 3, 364.0)]  # fmt: skip
    # T2 resolved at the day's end: open then; T4 opened at the day's end: not yet → I1 3 open, 2 escalated
    assert named(hi.ticket_counts(t, AS_OF), names, ["open_tickets", "escalated_tickets"]) == [
        ("I1", 3, 2), ("I2", 1, 0)]  # fmt: skip
    # M4 completed at the day's end: not done by the day → I1 done M1, M2 only
    assert named(hi.onboarding_counts(t, AS_OF), names, ["milestones_done"]) == [("I1", 2), ("I2", 1), ("I3", 0)]
    # I1's 5 entered at the day's end is left out (4 counts); I2's 1 entered exactly 180 days
    # before it (2026-01-02 00:00) is in
    assert named(hi.latest_sentiments(t, AS_OF), names, ["csm_sentiment"]) == [("I1", 4), ("I2", 1), ("I3", 3)]


def test_an_answer_without_a_score_is_left_out(tables: tuple[str, dict[int, str]]) -> None:
    con, t = on_duckdb(tables)
    # the store refuses it; a warehouse's table or Parquet file may hold one
    con.raw_sql("ALTER TABLE survey_responses ALTER COLUMN score DROP NOT NULL")
    con.raw_sql("UPDATE survey_responses SET score = NULL WHERE kind = 'csat'")
    answers = hi.survey_answers(t, AS_OF, 365)
    # R3 (I1's CSAT) has no score now: I1's NPS 9 and I2's NPS 3 are left; the frame's columns exactly
    assert list(answers.columns) == ["account_id", "kind", "score", "age_days"]
    assert named(answers, tables[1], ["kind", "score"]) == [("I1", "nps", 9), ("I2", "nps", 3)]


def test_the_usage_frame_is_indexed_from_0_and_history_is_unknown_without_usage(
    tables: tuple[str, dict[int, str]],
) -> None:
    t, _names = opened(tables)
    usage = hi.usage_windows(t, AS_OF)
    # 4 rows (see above), numbered 0–3 in their sorted order
    assert (usage.index.tolist(), list(usage.columns)) == (
        [0, 1, 2, 3], ["account_id", "metric", "last30", "prev30", "base90", "days30", "max30"])  # fmt: skip
    for store in (t, on_duckdb(tables)[1]):
        u = store.store.usage_daily
        empty = replace(store, store=replace(store.store, usage_daily=u.filter(u.day < date(2000, 1, 1))))
        assert hi.history_from(empty) is None


def test_accounts_without_a_touch_tier_give_an_empty_tier_series(tables: tuple[str, dict[int, str]]) -> None:
    t, _names = opened(tables)
    no_tier = replace(t, store=replace(t.store, accounts=t.store.accounts.drop("touch_tier")))
    tiers = hi.account_tiers(no_tier)
    assert (tiers.name, str(tiers.dtype), len(tiers)) == ("tier", "object", 0)


def test_the_options_lines_and_minimum_history_given_are_the_ones_used(
    tables: tuple[str, dict[int, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    t, names = opened(tables)
    options = ScoringOptions(nps_half_life_days=30.0)
    lines = hi.subscription_lines(t)
    inputs = hi.measure_inputs(t, AS_OF, options, lines=lines.iloc[:1])
    assert (inputs.options, len(inputs.lines)) == (options, 1)
    # NPS half-life 30 days: answers count for 6 × 30 = 180 days; I2's, 364 and 365 days old,
    # no longer (NaN). By default (6 × 120 = 720 days) both count, the 3 weighing 0.5 ** (364/120)
    # and the 5 0.5 ** (365/120), that is 0.5 ** (1/120) as much: (3 + 5 w) / (1 + w)
    default = hi.measures_on(t, [AS_OF]).xs(T(AS_OF), level="day").rename(index=names)
    short = hi.measures_on(t, [AS_OF], options).xs(T(AS_OF), level="day").rename(index=names)
    w = 0.5 ** (1 / 120)
    assert (round(float(default.loc["I2", "nps"]), 9), math.isnan(short.loc["I2", "nps"])) == (
        round((3 + 5 * w) / (1 + w), 9), True)  # fmt: skip
    # I1's history starts 03-01: 30 days in the last 30; a minimum of 31 makes its login trend
    # missing, 30 keeps it (30/9 − 1)
    for minimum, want in ((30, round(30 / 9 - 1, 6)), (31, None)):
        got = hi.measures_on(t, [AS_OF], min_history_days=minimum).xs(T(AS_OF), level="day").rename(index=names)
        trend = float(got.loc["I1", "login_trend"])
        assert (None if math.isnan(trend) else round(trend, 6)) == want
    # the lines are read once for all the days, not once a day
    calls = []
    read = hi.subscription_lines

    def counted(tables: hi.HealthTables) -> pd.DataFrame:
        calls.append(1)
        return read(tables)

    monkeypatch.setattr(hi, "subscription_lines", counted)
    assert len(hi.measures_on(t, [AS_OF, date(2026, 6, 29)])) == 4  # I1, I2 on each of the 2 days
    assert len(calls) == 1
