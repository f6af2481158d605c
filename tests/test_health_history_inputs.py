"""The history's aggregates (``analytics/health_history.py``: every day's usage windows,
tickets open, milestones and CSM sentiment from the raw rows read once) on three days and
a handful of rows worked out by hand — each row placed on a window's edge: the first day
in and the first day out of ``(d − 30, d]``, ``(d − 60, d − 30]``, ``(d − 120, d − 30]``,
a 30-day maximum leaving the window, rows before the grid (dropped, or counted on its first
day for "by the day" counts), after it, of accounts not in it, a ticket resolved the day it
opened or "before" it, a milestone completed on its due day, sentiments older than 180
days and tied in time.

Each test builds its own rows: the mutation run (``scripts/mutate.py``) credits a call
made in a shared fixture to the first test only.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from kizuna.analytics import health as calc
from kizuna.analytics import health_history as hh
from kizuna.domain.health import ScoringOptions

D0 = date(2026, 6, 10)
DAYS = [D0, D0 + timedelta(days=1), D0 + timedelta(days=2)]
T0, T1, T2 = (pd.Timestamp(d) for d in DAYS)
NAT = pd.NaT


def _ago(n: int) -> pd.Timestamp:
    """``n`` days before D0 (negative: after)."""
    return T0 - pd.Timedelta(days=n)


def _inputs(usage: list[tuple[int, pd.Timestamp, str, float]] | None = None, *,
            tickets: list[tuple[int, pd.Timestamp, pd.Timestamp, bool]] | None = None,
            milestones: list[tuple[int, pd.Timestamp, pd.Timestamp]] | None = None,
            sentiments: list[tuple[int, pd.Timestamp, int]] | None = None) -> hh.HistoryInputs:  # fmt: skip
    u = pd.DataFrame(usage or [], columns=["account_id", "day", "metric", "value"])
    u = u.astype({"account_id": "int64", "day": "datetime64[ns]", "value": "float64"})
    t = pd.DataFrame(tickets or [], columns=["account_id", "opened", "resolved", "escalated"])
    t = t.astype({"account_id": "int64", "opened": "datetime64[ns]", "resolved": "datetime64[ns]", "escalated": bool})
    m = pd.DataFrame(milestones or [], columns=["account_id", "completed", "due"])
    m = m.astype({"account_id": "int64", "completed": "datetime64[ns]", "due": "datetime64[ns]"})
    s = pd.DataFrame(sentiments or [], columns=["account_id", "entered_at", "value"])
    s["entered_at"] = pd.to_datetime(s["entered_at"], utc=True)
    s["day"] = s["entered_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    s = s.astype({"account_id": "int64"})
    surveys = pd.DataFrame({"account_id": pd.Series(dtype="int64"), "kind": pd.Series(dtype="str"),
                            "score": pd.Series(dtype="int64"), "day": pd.Series(dtype="datetime64[ns]")})  # fmt: skip
    lines = pd.DataFrame({"account_id": [1, 2, 4]})  # account 4: lines only
    return hh.HistoryInputs(lines=lines, usage=u, surveys=surveys, tickets=t, milestones=m, sentiments=s)


def _day_inputs(raw: hh.HistoryInputs, **kw: object) -> object:
    return hh.day_inputs(raw, DAYS, options=ScoringOptions(), contacts=None, tiers=None, history_from=None, **kw)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{k: (float(v) if isinstance(v, float | np.floating) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]  # fmt: skip


def test_usage_windows_of_each_day_on_their_edges() -> None:
    raw = _inputs([
        (1, T0, "logins", 5.0),
        (1, _ago(29), "logins", 20.0),  # in D0's last 30 days (and its maximum), D1's previous 30
        (1, _ago(30), "logins", 7.0),  # D0's previous 30 days
        (1, _ago(60), "logins", 100.0),  # D0's baseline, not its previous 30 days; D1's and D2's both
        (1, _ago(119), "logins", 2.0),  # D0's baseline (d − 120, d − 30] only
        (1, _ago(120), "logins", 50.0),  # the grid's first day: in no window
        (1, _ago(150), "logins", 11.0),  # before the grid: dropped
        (1, T1, "logins", 0.0),  # a row of 0: present, not a day with use
        (1, T2 + pd.Timedelta(days=1), "logins", 99.0),  # after the last day: dropped
        (2, _ago(30), "active_users", 4.0),  # not a baseline metric: 30 days only
        (2, _ago(29), "active_users", 6.0),
        (2, T2, "active_users", 1.0),  # a day with use (> 0), not only above 1
        (3, _ago(100), "feature.export", 1.0),  # seen in the 120-day window of all three days
        (3, _ago(119), "feature.import", 1.0),  # of D0 only
        (1, T1, "feature.export", 3.0),
    ])  # fmt: skip
    got = _day_inputs(raw)
    assert got.lines is raw.lines  # type: ignore[attr-defined]
    usage = got.usage  # type: ignore[attr-defined]
    assert list(usage.columns) == ["day", "account_id", *hh.WINDOW_COLUMNS, "metric"]
    # account ids stay whole numbers (the rows compare 1.0 == 1 below, so say it here)
    assert str(usage["account_id"].dtype) == "int64"
    assert str(got.tickets["account_id"].dtype) == "int64"  # type: ignore[attr-defined]
    want = [
        # active_users: D0 (6 on D0 − 29), D2 (9); D1 has none in its 30 days
        (T0, 2, 6, 0, 0, 1, 6, "active_users"), (T2, 2, 1, 0, 0, 1, 1, "active_users"),
        # feature.export of account 1 from D1: present in the 30 days; none of account 3's
        (T1, 1, 3, 0, 0, 1, 3, "feature.export"), (T2, 1, 3, 0, 0, 1, 3, "feature.export"),
        # logins: D0 last 5 + 20, previous 7, baseline 7 + 100 + 2, 2 days, max 20;
        # D1 and D2: last 5 + 0, previous 20 + 7, baseline 20 + 7 + 100, 1 day, max 5
        (T0, 1, 25, 7, 109, 2, 20, "logins"), (T1, 1, 5, 27, 127, 1, 5, "logins"),
        (T2, 1, 5, 27, 127, 1, 5, "logins"),
    ]  # fmt: skip
    cols = ["day", "account_id", *hh.WINDOW_COLUMNS, "metric"]
    assert _records(usage) == [dict(zip(cols, (*w[:2], *(float(x) for x in w[2:7]), w[7]), strict=True))
                               for w in want]  # fmt: skip
    assert usage.index.tolist() == list(range(7))  # one row label each, not one per metric
    assert got.features == {T0: ("feature.export", "feature.import"), T1: ("feature.export",),  # type: ignore[attr-defined]
                            T2: ("feature.export",)}  # fmt: skip
    assert (got.contacts, got.tiers, got.history_from) == (None, None, None)  # type: ignore[attr-defined]


def test_a_baseline_metric_counts_for_120_days_others_for_30() -> None:
    # logins 119 days back: a row (of zeros but the baseline) for D0 only; sessions 30 back: none
    raw = _inputs([(1, _ago(119), "logins", 2.0), (1, _ago(118), "events", 1.0),
                   (2, _ago(30), "session_minutes", 8.0), (2, _ago(29), "session_minutes", 0.0)])  # fmt: skip
    usage = _day_inputs(raw).usage  # type: ignore[attr-defined]
    cols = ["day", "account_id", *hh.WINDOW_COLUMNS, "metric"]
    want = [
        (T0, 1, 0.0, 0.0, 1.0, 0.0, 0.0, "events"), (T1, 1, 0.0, 0.0, 1.0, 0.0, 0.0, "events"),
        (T0, 1, 0.0, 0.0, 2.0, 0.0, 0.0, "logins"),
        (T0, 2, 0.0, 0.0, 0.0, 0.0, 0.0, "session_minutes"),  # a row of 0 on D0 − 29: present
    ]  # fmt: skip
    assert _records(usage) == [dict(zip(cols, w, strict=True)) for w in want]


def test_no_usage_at_all() -> None:
    got = _day_inputs(_inputs([], tickets=[(1, T0, NAT, False)]))
    assert got.usage.empty  # type: ignore[attr-defined]
    assert list(got.usage.columns) == ["day", "account_id", "metric", *hh.WINDOW_COLUMNS]  # type: ignore[attr-defined]
    assert got.features == {T0: (), T1: (), T2: ()}  # type: ignore[attr-defined]
    # the accounts come from the lines too: account 1's ticket is counted
    assert _records(got.tickets)[0] == {"day": T0, "account_id": 1, "open_tickets": 1.0,  # type: ignore[attr-defined]
                                        "escalated_tickets": 0.0}  # fmt: skip


def test_tickets_open_at_the_end_of_each_day() -> None:
    raw = _inputs([(5, T0, "logins", 1.0)], tickets=[
        (1, _ago(5), T1, False),  # open on D0, resolved on D1
        (1, T1, NAT, True),  # open from D1, escalated
        (1, _ago(200), NAT, False),  # opened before the grid: open every day
        (1, T2, T2, True),  # resolved the day it opened: never open at a day's end
        (1, _ago(300), _ago(250), True),  # opened and resolved before the grid
        (1, T2, NAT, True),  # open on D2, escalated
        (2, T1, T0, False),  # "resolved" before it opened: closed on its opening day
        (4, T2 + pd.Timedelta(days=1), NAT, True),  # opened after the last day
        (9, T0, NAT, True),  # an account with no lines and no usage
        (5, T0, _ago(-2), False),  # account 5 (usage only): open D0 and D1, resolved on D2
    ])  # fmt: skip
    got = _records(_day_inputs(raw).tickets)  # type: ignore[attr-defined]
    want = [(T0, 1, 2, 0), (T1, 1, 2, 1), (T2, 1, 3, 2), (T0, 5, 1, 0), (T1, 5, 1, 0)]
    assert got == [{"day": d, "account_id": a, "open_tickets": float(n), "escalated_tickets": float(e)}
                   for d, a, n, e in want]  # fmt: skip


def test_milestones_done_due_and_on_time_by_each_day() -> None:
    raw = _inputs([(5, T0, "logins", 1.0)], milestones=[  # account 5: in the grid, no milestones: no row
        (1, _ago(10), _ago(5)),  # done and due before D0, on time
        (1, T1, T0), # due on D0, done late on D1
        (1, NAT, T2),  # due on D2, not done
        (1, _ago(400), NAT),  # done long before the grid, no due day
        (1, T2, T2 + pd.Timedelta(days=10)),  # done on D2, due after the last day
        (2, NAT, NAT),  # neither done nor due
        (2, T0, T0),  # done on its due day: on time
        (9, T0, T0),  # an account with no lines and no usage
        (4, NAT, T1),  # an account with one milestone, due on D1
    ])  # fmt: skip
    got = _records(_day_inputs(raw).onboarding)  # type: ignore[attr-defined]
    want = [(T0, 1, 5, 2, 2, 1), (T1, 1, 5, 3, 2, 1), (T2, 1, 5, 4, 3, 1),
            (T0, 2, 2, 1, 1, 1), (T1, 2, 2, 1, 1, 1), (T2, 2, 2, 1, 1, 1),
            (T0, 4, 1, 0, 0, 0), (T1, 4, 1, 0, 1, 0), (T2, 4, 1, 0, 1, 0)]  # fmt: skip
    cols = ["day", "account_id", "milestones", "milestones_done", "milestones_due", "milestones_on_time"]
    assert got == [dict(zip(cols, (d, a, *(float(x) for x in rest)), strict=True)) for d, a, *rest in want]


def test_the_latest_sentiment_of_the_last_180_days() -> None:
    at = pd.Timedelta(hours=10)
    raw = _inputs(sentiments=[
        (0, T0, 2),  # an account with no lines and no usage, sorted first: skipped, not the end
        (1, _ago(200), 1),  # too old for every day
        (1, _ago(179) + at, 2),  # D0 only (D1's 180 days start after it)
        (1, T2 + pd.Timedelta(hours=9), 0),
        (1, T2 + at, -1), (1, T2 + at, 1),  # the same time: the highest
        (2, T0 + at, -2),
        (2, T1 + at, 0),  # a 0 is a sentiment, not a missing one
        (2, T2 + pd.Timedelta(days=1), 2),  # after the last day
        (9, T0, 2),  # an account with no lines and no usage
    ])  # fmt: skip
    got = _records(_day_inputs(raw).sentiment)  # type: ignore[attr-defined]
    want = [(T0, 1, 2), (T2, 1, 1), (T0, 2, -2), (T1, 2, 0), (T2, 2, 0)]
    assert got == [{"day": d, "account_id": a, "csm_sentiment": float(v)} for d, a, v in want]


def test_the_surveys_and_options_are_handed_on() -> None:
    raw = _inputs([(1, T0, "logins", 1.0)])
    answers = pd.DataFrame({"account_id": [1, 1], "kind": pd.array(["nps", "csat"], dtype="str"),
                            "score": [10, 4], "day": [T1, T0]})  # fmt: skip
    raw = hh.HistoryInputs(raw.lines, raw.usage, answers, raw.tickets, raw.milestones, raw.sentiments)
    options = ScoringOptions(nps_half_life_days=0, csat_half_life_days=0)
    tiers = pd.Series({1: "high"})
    contacts = pd.DataFrame({"account_id": [1], "contacts": [3]})
    got = hh.day_inputs(raw, DAYS, options=options, contacts=contacts, tiers=tiers, history_from=D0)
    assert (got.options, got.tiers, got.history_from) == (options, tiers, D0)
    assert got.contacts is contacts
    surveys = got.surveys.sort_values(["day", "account_id"])
    # NPS 10 from D1 (a promoter: +100), CSAT 4 from D0 (of 5): no decay at a half-life of 0
    assert surveys["day"].tolist() == [T0, T1, T2]
    assert surveys["account_id"].tolist() == [1, 1, 1]
    assert surveys["nps"].fillna(-1.0).tolist() == [-1.0, 10.0, 10.0]  # the plain average: no half-life
    assert surveys["csat"].tolist() == [4.0, 4.0, 4.0]


def test_a_survey_answer_one_lookback_old_no_longer_counts() -> None:
    options = ScoringOptions()
    lookback = calc.survey_lookback_days(options)
    # account 1 answered exactly `lookback` days before D0 (out), account 2 one day later (in)
    answers = pd.DataFrame({"account_id": [1, 2], "kind": pd.array(["nps", "nps"], dtype="str"), "score": [9, 7],
                            "day": [_ago(lookback), _ago(lookback - 1)]})  # fmt: skip
    got = hh._surveys(answers, pd.DatetimeIndex([T0]), options)
    assert got["account_id"].tolist() == [2]
    # none in the window of a single day: no rows, and a day column of days
    empty = hh._surveys(answers, pd.DatetimeIndex([_ago(lookback + 5)]), options)
    assert empty.empty
    assert str(empty["day"].dtype).startswith("datetime64")


def test_a_single_day() -> None:
    raw = _inputs([(1, T0, "logins", 4.0), (1, _ago(119), "logins", 1.0)], tickets=[(2, _ago(200), NAT, True)])
    got = hh.day_inputs(raw, [D0], options=ScoringOptions(), contacts=None, tiers=None, history_from=None)
    assert _records(got.usage) == [{"day": T0, "account_id": 1, "last30": 4.0, "prev30": 0.0, "base90": 1.0,
                                    "days30": 1.0, "max30": 4.0, "metric": "logins"}]  # fmt: skip
    assert _records(got.tickets) == [{"day": T0, "account_id": 2, "open_tickets": 1.0, "escalated_tickets": 1.0}]


def test_the_grid_columns_and_what_falls_outside() -> None:
    # accounts 3 and 5; 4 days from 2026-01-01: column j + 1 is day j, column 0 stays empty
    grid = hh._Grid(np.array([3, 5]), pd.Timestamp("2026-01-01"), 4)
    ids = pd.Series([3, 5, 5, 3, 9, 5])
    days = pd.Series(pd.to_datetime(["2025-12-30", "2026-01-01", "2026-01-04", "2026-01-05", "2026-01-02", None]))
    plain = grid.dense(ids, days, np.array([1, 2, 3, 4, 5, 6]))
    # before the grid, after it, an unknown account, no day: dropped
    assert plain.tolist() == [[0, 0, 0, 0, 0], [0, 2, 0, 0, 3]]
    # "by the day": a day before the grid counts on its first day (column 1)
    piled = grid.dense(ids, days, np.array([1, 2, 3, 4, 5, 6]), pile=True)
    assert piled.tolist() == [[0, 1, 0, 0, 0], [0, 2, 0, 0, 3]]
    assert grid.cumulative(piled).tolist() == [[0, 1, 1, 1, 1], [0, 2, 2, 2, 5]]
    assert grid.cols(days).tolist()[:5] == [-2.0, 0.0, 3.0, 4.0, 1.0]
    assert np.isnan(grid.cols(days)[5])
