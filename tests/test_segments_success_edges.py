"""Segments as they were and the customer-success KPIs, against values worked out by hand on
in-memory DuckDB tables (no store, no report, no demo): a tier period that begins on the
day before a month (the month's ``start_day``), tied periods of one day (the later id wins;
the plan: the larger amount, then the lower product id), a new customer taking its first
value, owners shown by name; onboarding started on the first reported day and on
``as_of``, completions at the end of ``as_of`` (not counted), upsell and cross-sell against
the start, tickets per paying account and its trend, NPS at 6/7 and 8/9, usage at zero.

As of 2026-03-15 (Tokyo), months January (mi 0, the look-back), February (1), March (2);
each month's ``start_day`` is the previous snapshot: 2025-12-31, 2026-01-31, 2026-02-28.

Each test builds its own tables: the mutation run (``scripts/mutate.py``) credits a call
made while a shared fixture is built to the first test only.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import ibis
import pandas as pd
import pytest

from kizuna.analytics import revenue, segments, success
from kizuna.analytics.periods import MonthGrid
from tests.test_revenue_edges import store

D = date
T = datetime
AS_OF = D(2026, 3, 15)
GRID = MonthGrid(AS_OF, months=2, lookback=1)

ACCOUNTS = {1: "A1", 2: "A2", 3: "A3", 4: "A4", 5: "A5", 6: "A6", 7: "A7"}
# id, account, dimension, value, from_on, to_on
CHANGES = [
    # A1: high, then low from Jan 31 (the start_day of February itself)
    (1, 1, "tier", "high", D(2025, 6, 1), D(2026, 1, 31)),
    (2, 1, "tier", "low", D(2026, 1, 31), None),
    (3, 1, "stage", "adopting", D(2025, 6, 1), None),  # another dimension: not a tier
    # A2: a new customer whose first tier begins on Feb 10: tech in every month
    (4, 2, "tier", "tech", D(2026, 2, 10), None),
    # A3: low, then two periods beginning Feb 1: the later id (high) wins from March
    (5, 3, "tier", "low", D(2025, 1, 1), D(2026, 2, 1)),
    (6, 3, "tier", "tech", D(2026, 2, 1), D(2026, 2, 1)),
    (7, 3, "tier", "high", D(2026, 2, 1), None),
    # A4: first periods tied on Mar 1: the later id (low) is the one held before them too
    (8, 4, "tier", "high", D(2026, 3, 1), D(2026, 3, 1)),
    (9, 4, "tier", "low", D(2026, 3, 1), None),
    # A5: churned in January, its period closed: it keeps high
    (10, 5, "tier", "high", D(2025, 1, 1), D(2026, 1, 15)),
    # A6: a new customer with two periods (low from Feb 10, high from Feb 20): its first value
    # (low) before them, then high
    (14, 6, "tier", "low", D(2026, 2, 10), D(2026, 2, 20)),
    (15, 6, "tier", "high", D(2026, 2, 20), None),
    # A7: its first period begins on Jan 31 (February's start_day itself)
    (16, 7, "tier", "tech", D(2026, 1, 31), None),
    # owners: A1 by user 7 (Sato), then user 8 (Ito) from Feb 28; A2 by a user id no longer there
    (11, 1, "owner", "7", D(2025, 6, 1), D(2026, 2, 28)),
    (12, 1, "owner", "8", D(2026, 2, 28), None),
    (13, 2, "owner", "99", D(2026, 1, 1), None),
]
USERS = [(7, "Sato"), (8, "Ito"), (9, "Kato")]


def _by(frame: pd.DataFrame) -> dict[tuple[str, int], str]:
    got: dict[tuple[str, int], str] = {}
    for a, mi, seg in frame[["account_id", "mi", "segment"]].itertuples(index=False):
        key = (ACCOUNTS[int(a)], int(mi))
        assert key not in got, f"two segments for {key}"
        got[key] = seg
    return got


def test_tiers_and_owners_as_they_were_at_each_month_start() -> None:
    t = store(ACCOUNTS, [], segment_changes=CHANGES, users=USERS)
    tiers = _by(segments.history_segments(t, GRID, "tier").execute())
    assert tiers == {
        ("A1", 0): "high", ("A1", 1): "low", ("A1", 2): "low",
        ("A2", 0): "tech", ("A2", 1): "tech", ("A2", 2): "tech",
        ("A3", 0): "low", ("A3", 1): "low", ("A3", 2): "high",
        ("A4", 0): "low", ("A4", 1): "low", ("A4", 2): "low",
        ("A5", 0): "high", ("A5", 1): "high", ("A5", 2): "high",
        ("A6", 0): "low", ("A6", 1): "low", ("A6", 2): "high",
        ("A7", 0): "tech", ("A7", 1): "tech", ("A7", 2): "tech",
    }  # fmt: skip
    assert _by(segments.segments_for(t, GRID, "touch_tier", "JPY").execute()) == tiers
    owners = _by(segments.segments_for(t, GRID, "owner_id", "JPY").execute())
    assert owners == {
        ("A1", 0): "Sato", ("A1", 1): "Sato", ("A1", 2): "Ito",
        ("A2", 0): "99", ("A2", 1): "99", ("A2", 2): "99",
    }  # fmt: skip
    stages = _by(segments.segments_for(t, GRID, "lifecycle_stage", "JPY").execute())
    assert stages == {("A1", 0): "adopting", ("A1", 1): "adopting", ("A1", 2): "adopting"}
    assert segments.history_segments(t, GRID, "fit").execute().empty


def test_the_plan_on_tied_start_days_and_an_accounts_column() -> None:
    lines = [
        # A1: Basic 10,000 and Pro 100,000 both from Jan 1: the larger amount (Pro)
        (1, 1, 1, 10_000, "JPY", "active", D(2026, 1, 1), None, None),
        (2, 1, 2, 100_000, "JPY", "active", D(2026, 1, 1), None, None),
        # A2: Pro and Basic, 5,000 each, from Feb 1: the lower product id (Basic)
        (3, 2, 2, 5_000, "JPY", "active", D(2026, 2, 1), None, None),
        (4, 2, 1, 5_000, "JPY", "active", D(2026, 2, 1), None, None),
        # A3: a USD line is not a yen plan; A4: Pro earning from Jan 31 (February's start_day)
        (5, 3, 3, 100, "USD", "active", D(2025, 1, 1), None, None),
        (6, 4, 1, 1_000, "JPY", "canceled", D(2025, 1, 1), None, D(2026, 1, 31)),
        (7, 4, 2, 9_000, "JPY", "active", D(2026, 1, 1), D(2026, 1, 31), None),
        # A5: a trial that ended when it did (never earned), a line ended on its first day: no plan
        (8, 5, 2, 9_000, "JPY", "trial", D(2026, 1, 10), D(2026, 1, 31), D(2026, 1, 31)),
        (9, 5, 1, 1_000, "JPY", "canceled", D(2026, 2, 5), None, D(2026, 2, 5)),
    ]
    t = store(ACCOUNTS, lines)
    plans = _by(segments.segments_for(t, GRID, "plan", "JPY").execute())
    assert plans == {
        ("A1", 0): "Pro", ("A1", 1): "Pro", ("A1", 2): "Pro",
        ("A2", 0): "Basic", ("A2", 1): "Basic", ("A2", 2): "Basic",
        ("A4", 0): "Basic", ("A4", 1): "Pro", ("A4", 2): "Pro",
    }  # fmt: skip
    assert _by(segments.segments_for(t, GRID, "plan", "USD").execute()) == {(("A3", mi)): "USD plan" for mi in range(3)}
    names = segments.segments_for(t, GRID, "name", "JPY").execute()
    assert list(names.columns) == ["account_id", "segment"]
    assert dict(zip(names["account_id"].map(ACCOUNTS), names["segment"], strict=True)) == {
        v: v for v in ACCOUNTS.values()
    }
    assert segments.canonical("fit_band") == "fit"
    assert segments.canonical("industry") == "industry"


# --- customer-success KPIs -------------------------------------------------------------------

TOKYO = ZoneInfo("Asia/Tokyo")


def _utc(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A naive UTC time (as the store holds it)."""
    return datetime(y, m, d, h, mi, s)


def _epoch(at: datetime) -> int:
    return int(at.replace(tzinfo=UTC).timestamp())


def test_onboarding_accounts_started_in_the_window_and_their_completion() -> None:
    lines = [
        (1, 1, 1, 1_000, "JPY", "active", D(2026, 2, 1), None, None),  # the first reported day: in
        (2, 2, 1, 1_000, "JPY", "active", D(2026, 1, 31), None, None),  # the day before: out
        (3, 3, 1, 1_000, "JPY", "active", AS_OF, None, None),  # on as_of: in
        (4, 4, 1, 1_000, "JPY", "active", D(2026, 3, 16), None, None),  # after as_of: out
        (5, 5, 1, 1_000, "JPY", "active", D(2026, 2, 20), None, None),
        (6, 5, 2, 1_000, "JPY", "active", D(2025, 12, 1), None, None),  # A5's first line: out
        (7, 6, 1, 1_000, "JPY", "active", D(2026, 2, 20), None, None),
        (8, 7, 1, 1_000, "JPY", "trial", D(2026, 2, 2), D(2026, 2, 16), None),
    ]
    milestones = [
        (1, 1, _utc(2026, 2, 5, 3)),
        (2, 1, _utc(2026, 2, 10, 15)),  # A1: both; last = Feb 11 in Tokyo
        (3, 2, _utc(2026, 2, 1)),
        (4, 3, _utc(2026, 3, 15, 15)),
        (5, 3, None),  # A3: done exactly at the end of as_of: not yet
        (6, 4, _utc(2026, 3, 17)),
        (7, 6, _utc(2026, 3, 15, 14, 59, 59)),  # A6: done in the last second of as_of
        (8, 7, _utc(2026, 2, 1, 3)),  # A7: ticked before its start (Feb 2 00:00 in Tokyo)
    ]
    accounts = {i: f"A{i}" for i in range(1, 8)}
    t = store(accounts, lines, onboarding_milestones=milestones)
    frame = success.onboarding_accounts(t, GRID).execute().sort_values("account_id")
    assert list(frame.columns) == ["account_id", "started_on", "milestones", "completed", "last_completed_epoch"]
    got = [(int(a), pd.Timestamp(s).date(), int(m), int(c), None if pd.isna(e) else int(e))
           for a, s, m, c, e in frame.itertuples(index=False)]  # fmt: skip
    assert got == [
        (1, D(2026, 2, 1), 2, 2, _epoch(_utc(2026, 2, 10, 15))),
        (3, AS_OF, 2, 0, None),
        (6, D(2026, 2, 20), 1, 1, _epoch(_utc(2026, 3, 15, 14, 59, 59))),
        (7, D(2026, 2, 2), 1, 1, _epoch(_utc(2026, 2, 1, 3))),
    ]
    # 3 of 4 complete; days in Tokyo: A1 Feb 1 00:00 → Feb 11 00:00 = 10; A6 Feb 20 00:00 →
    # Mar 16 00:00 less a second = 24 − 1/86,400; A7 before its start: 0
    summary = success.onboarding_summary(frame, "Asia/Tokyo")
    a6 = 24 - 1 / 86400
    assert summary == {"accounts": 4, "completed": 3, "completion_rate": 0.75,
                       "mean_days_to_complete": pytest.approx((10 + a6 + 0) / 3), "median_days_to_complete": 10.0}  # fmt: skip
    # in UTC each start is 9 hours later: A1 9.625 days (Feb 1 00:00 → Feb 10 15:00)
    assert success.onboarding_summary(frame[frame["account_id"] == 1], "UTC")["median_days_to_complete"] == 9.625
    # starts read in nanoseconds (as another backend gives them): half a day; a tick before the start: 0
    ns = pd.DataFrame({"account_id": [1, 2], "milestones": [1, 1], "completed": [1, 1],
                       "started_on": pd.to_datetime(["2026-03-01", "2026-03-02"]).astype("datetime64[ns]"),
                       "last_completed_epoch": [_epoch(_utc(2026, 3, 1, 12)), _epoch(_utc(2026, 3, 1))]})  # fmt: skip
    half = success.onboarding_summary(ns, "UTC")
    assert (half["mean_days_to_complete"], half["median_days_to_complete"]) == (0.25, 0.25)
    assert success.onboarding_summary(ns.iloc[:1], "UTC")["median_days_to_complete"] == 0.5
    assert success.onboarding_summary(frame.iloc[0:0], "UTC") == {
        "accounts": 0, "completed": 0, "completion_rate": None, "mean_days_to_complete": None,
        "median_days_to_complete": None,
    }  # fmt: skip


PRODUCTS = [(1, "basic", "Basic", "plan", 1), (2, "pro", "Pro", "plan", 2), (3, "usd", "USD plan", "plan", 3),
            (4, "x", "Add-on X", "addon", 0), (5, "y", "Add-on Y", "addon", 0)]  # fmt: skip


def test_upsell_and_cross_sell_against_the_start_of_the_window() -> None:
    # the window's start is the snapshot before February: 2026-01-31; its end is as_of
    old = D(2025, 1, 1)
    lines = [
        (1, 1, 1, 10_000, "JPY", "canceled", old, None, D(2026, 2, 10)),  # E1: Basic → Pro: upsold
        (2, 1, 2, 30_000, "JPY", "active", D(2026, 2, 10), None, None),
        (3, 2, 2, 30_000, "JPY", "canceled", old, None, D(2026, 2, 10)),  # E2: Pro → Basic: not
        (4, 2, 1, 10_000, "JPY", "active", D(2026, 2, 10), None, None),
        (5, 3, 1, 10_000, "JPY", "active", old, None, None),  # E3: a new add-on Y: cross-sold
        (6, 3, 4, 1_000, "JPY", "active", old, None, None),
        (7, 3, 5, 1_000, "JPY", "active", D(2026, 3, 1), None, None),
        (8, 4, 1, 10_000, "JPY", "active", old, None, None),  # E4: add-on X again (a new line): not
        (9, 4, 4, 1_000, "JPY", "canceled", old, None, D(2026, 2, 1)),
        (10, 4, 4, 1_000, "JPY", "active", D(2026, 3, 1), None, None),
        (11, 5, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),  # E5: not paying at the start
        (12, 5, 5, 1_000, "JPY", "active", D(2026, 2, 1), None, None),
        (13, 6, 1, 10_000, "JPY", "canceled", D(2026, 1, 31), None, AS_OF),  # E6: from the start day,
        (14, 6, 2, 30_000, "JPY", "active", AS_OF, None, None),  # Pro from as_of: upsold
        (15, 7, 4, 1_000, "JPY", "active", old, None, None),  # E7: only an add-on at the start
        (16, 7, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),
        (17, 8, 1, 0, "JPY", "active", old, None, None),  # E8: a free plan at the start: not paying
        (18, 8, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),
        # E9: Basic and Pro at the start (its plan: Pro, the highest rank), Pro only at the end: not
        (19, 9, 1, 10_000, "JPY", "canceled", old, None, D(2026, 3, 1)),
        (20, 9, 2, 30_000, "JPY", "active", old, None, None),
        (21, 9, 4, 1_000, "JPY", "active", old, None, None),
        (22, 10, 3, 100, "USD", "active", old, None, D(2026, 2, 1)),  # E10: dollars only
        (23, 10, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),
        (24, 11, 1, 10_000, "JPY", "active", old, None, None),  # E11: a trial of add-on Y ends after as_of
        (25, 11, 5, 1_000, "JPY", "active", D(2026, 3, 1), D(2026, 3, 31), None),
        (26, 12, 1, 10_000, "JPY", "active", old, None, None),  # E12: add-on X (others had it): cross-sold
        (27, 12, 4, 1_000, "JPY", "active", D(2026, 3, 1), None, None),
        (28, 13, 1, 1, "JPY", "active", old, None, None),  # E13: paying ¥1 at the start
    ]
    accounts = {i: f"E{i}" for i in range(1, 14)}
    t = store(accounts, lines, products=PRODUCTS)
    base, upsold, cross = success.expansion_accounts(t, GRID, "JPY")

    def ids(table: ibis.Table) -> list[str]:
        return sorted(f"E{int(a)}" for a in table.execute()["account_id"])

    assert ids(base) == ["E1", "E11", "E12", "E13", "E2", "E3", "E4", "E6", "E7", "E9"]
    assert ids(upsold) == ["E1", "E6"]
    assert ids(cross) == ["E12", "E3"]


def test_tickets_by_month_at_each_tokyo_month_edge() -> None:
    grid = MonthGrid(AS_OF, months=5, lookback=1)  # Oct (mi 0) … Mar (mi 5)
    months = [(2025, 10), (2025, 11), (2025, 12), (2026, 1), (2026, 2), (2026, 3)]
    opened: list[datetime] = []
    for mi, (y, m) in enumerate(months):
        first = datetime(y, m, 1, tzinfo=TOKYO).astimezone(UTC).replace(tzinfo=None)
        opened.append(first)  # the month's first second in Tokyo
        nxt = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=TOKYO).astimezone(UTC).replace(tzinfo=None)
        last = min(nxt, _utc(2026, 3, 15, 15)) - timedelta(seconds=1)  # its last second (March: as_of's)
        opened.extend([last] * mi)  # mi more: 1 + mi in month mi
    opened += [_utc(2025, 9, 30, 14, 59, 59), _utc(2026, 3, 15, 15)]  # Sep 30 and Mar 16 in Tokyo: out
    tickets = [(i, 1, at, None, None, 1, None) for i, at in enumerate(opened, 1)]
    t = store({1: "A1"}, [], tickets=tickets)
    got = success.tickets_by_month(t, grid).execute()
    assert str(got["mi"].dtype) == "int64"  # as the grid's month index, which it is joined with
    assert dict(zip(got["mi"].astype(int), got["tickets"].astype(int), strict=True)) == {mi: 1 + mi for mi in range(6)}


def test_tickets_per_paying_account_and_its_trend() -> None:
    grid = MonthGrid(AS_OF, months=5, lookback=1)  # reported: Nov (mi 1) … Mar (mi 5)
    tickets = pd.DataFrame({"mi": [0, 1, 2, 4, 5], "tickets": [9, 4, 3, 6, 2]})
    paying = pd.DataFrame({"mi": [0, 1, 2, 3, 4, 5], "accounts": [1, 2, 3, 4, 0, 4], "mrr": [0] * 6})
    out, trend = success.effort_table(grid, tickets, paying)
    assert list(out.columns) == ["mi", "month", "tickets", "accounts", "tickets_per_account"]
    assert out["mi"].tolist() == [1, 2, 3, 4, 5]
    assert out["month"].tolist() == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert out["tickets"].tolist() == [4, 3, 0, 6, 2]
    assert str(out["tickets"].dtype) == "int64"
    assert out["accounts"].tolist() == [2, 3, 4, 0, 4]
    assert str(out["accounts"].dtype) == "int64"
    ratio = out["tickets_per_account"].tolist()
    assert ratio[:3] == [2.0, 1.0, 0.0]
    assert math.isnan(ratio[3])
    assert ratio[4] == 0.5
    # least squares over (1, 2), (2, 1), (3, 0), (5, 0.5) (no paying account in February: left
    # out): x̄ = 2.75, ȳ = 0.875, Sxy = −3.125, Sxx = 8.75 → −5/14 a month
    assert trend == pytest.approx(-5 / 14)
    # one month with a figure: no trend
    one, none = success.effort_table(grid, tickets, paying.assign(accounts=[1, 0, 0, 0, 0, 3]))
    assert none is None
    assert one["tickets_per_account"].iloc[4] == pytest.approx(2 / 3)
    # no paying row at all for a month: 0 accounts, the month still shown
    gap, _trend = success.effort_table(grid, tickets, paying[paying["mi"] != 4])
    assert gap["accounts"].tolist() == [2, 3, 4, 0, 4]
    assert gap["month"].tolist() == out["month"].tolist()
    _two, slope = success.effort_table(grid, tickets, paying.assign(accounts=[1, 0, 0, 0, 3, 2]))
    assert slope == pytest.approx(1 - 2)  # (4, 2) and (5, 1)


def test_nps_by_month_at_each_score_edge_and_by_segment() -> None:
    answers = [
        (1, 1, "nps", 10, _utc(2026, 1, 15)),  # January: the look-back month
        (2, 1, "nps", 10, _utc(2026, 2, 2)),
        (3, 1, "nps", 9, _utc(2026, 2, 3)),
        (4, 1, "nps", 8, _utc(2026, 2, 4)),
        (5, 1, "nps", 6, _utc(2026, 2, 5)),
        (6, 2, "nps", 9, _utc(2026, 2, 6)),
        (7, 2, "nps", 7, _utc(2026, 2, 7)),
        (8, 2, "nps", 0, _utc(2026, 2, 28, 14, 59, 59)),  # Feb 28 23:59:59 in Tokyo
        (9, 2, "csat", 10, _utc(2026, 2, 8)),  # not an NPS answer
        (10, 3, "nps", 9, _utc(2026, 2, 28, 15)),  # March 1 in Tokyo
        (11, 1, "nps", 9, _utc(2026, 3, 2)),
        (12, 1, "nps", 6, _utc(2026, 3, 3)),
        (13, 1, "nps", 0, _utc(2026, 3, 15, 15)),  # after as_of
    ]
    t = store(ACCOUNTS, [], survey_responses=answers, segment_changes=CHANGES, users=USERS)
    counts = success.nps_by_month(t, GRID).execute()
    got = {int(r.mi): (int(r.responses), int(r.promoters), int(r.passives), int(r.detractors))
           for r in counts.itertuples()}  # fmt: skip
    assert got == {0: (1, 1, 0, 0), 1: (7, 3, 2, 2), 2: (3, 2, 0, 1)}
    table = success.nps_table(GRID, counts)
    assert list(table.columns) == ["mi", "month", "responses", "promoters", "passives", "detractors", "nps"]
    # February: 100 × (3 − 2) ÷ 7; March: 100 × (2 − 1) ÷ 3
    assert [(r.month, int(r.responses), r.nps) for r in table.itertuples()] == [
        ("2026-02", 7, pytest.approx(100 / 7)),
        ("2026-03", 3, pytest.approx(100 / 3)),
    ]
    assert str(table["promoters"].dtype) == "int64"
    # by the tier at each month's start: A1 low, A2 tech (February); A1 low, A3 high (March)
    tiers = segments.history_segments(t, GRID, "tier")
    by = success.nps_table(GRID, success.nps_by_month(t, GRID, tiers).execute(), ["segment"])
    assert list(by.columns) == ["mi", "month", "segment", "responses", "promoters", "passives", "detractors", "nps"]
    assert [(r.month, r.segment, int(r.responses), int(r.promoters), int(r.passives), int(r.detractors), r.nps)
            for r in by.itertuples()] == [
        ("2026-02", "low", 4, 2, 1, 1, 25.0), ("2026-02", "tech", 3, 1, 1, 1, 0.0),
        ("2026-03", "high", 1, 1, 0, 0, 100.0), ("2026-03", "low", 2, 1, 0, 1, 0.0),
    ]  # fmt: skip
    assert list(by.index) == [0, 1, 2, 3]


def test_usage_by_month_counts_accounts_above_zero_and_sums_events() -> None:
    usage = [
        (1, D(2026, 1, 31), "events", 100.0),  # January: the look-back month
        (1, D(2026, 2, 1), "events", 5.0),
        (1, D(2026, 2, 28), "logins", 3.0),
        (1, D(2026, 3, 15), "events", 7.0),
        (1, D(2026, 3, 16), "events", 1000.0),  # as_of; after it
        (2, D(2026, 2, 10), "events", 0.0),
        (2, D(2026, 2, 11), "logins", 0.0),  # A2: nothing in February
        (2, D(2026, 3, 2), "logins", 2.0),
        (2, D(2026, 3, 3), "events", -4.0),
        (3, D(2026, 2, 3), "events", 2.5),
        (3, D(2026, 2, 4), "events", 1.5),
        (3, D(2026, 3, 1), "events", 1.0),
    ]
    t = store(ACCOUNTS, [], usage_daily=usage)
    got = success.usage_by_month(t, GRID).execute()
    assert {int(r.mi): (int(r.active_accounts), float(r.events)) for r in got.itertuples()} == {
        1: (2, 9.0),
        2: (3, 8.0),
    }
    # a month with logins only: 0 events, not missing
    logins = success.usage_by_month(store(ACCOUNTS, [], usage_daily=usage[2:3]), GRID).execute()
    assert [(int(r.mi), int(r.active_accounts), float(r.events)) for r in logins.itertuples()] == [(1, 1, 0.0)]


# --- the report's way since issue 19's fixed part: periods, lines and answers fetched ---------


def test_tiers_and_owners_from_the_fetched_periods() -> None:
    t = store(ACCOUNTS, [], segment_changes=CHANGES, users=USERS)
    tiers = segments.segments_frame(t, GRID, "tier", pd.DataFrame())
    assert tiers.columns.tolist() == ["account_id", "mi", "segment"]
    # the values of test_tiers_and_owners_as_they_were_at_each_month_start
    assert _by(tiers) == {
        ("A1", 0): "high", ("A1", 1): "low", ("A1", 2): "low",
        ("A2", 0): "tech", ("A2", 1): "tech", ("A2", 2): "tech",
        ("A3", 0): "low", ("A3", 1): "low", ("A3", 2): "high",
        ("A4", 0): "low", ("A4", 1): "low", ("A4", 2): "low",
        ("A5", 0): "high", ("A5", 1): "high", ("A5", 2): "high",
        ("A6", 0): "low", ("A6", 1): "low", ("A6", 2): "high",
        ("A7", 0): "tech", ("A7", 1): "tech", ("A7", 2): "tech",
    }  # fmt: skip
    assert _by(segments.segments_frame(t, GRID, "touch_tier", pd.DataFrame())) == _by(tiers)
    assert _by(segments.segments_frame(t, GRID, "owner_id", pd.DataFrame())) == {
        ("A1", 0): "Sato", ("A1", 1): "Sato", ("A1", 2): "Ito",
        ("A2", 0): "99", ("A2", 1): "99", ("A2", 2): "99",
    }  # fmt: skip
    assert _by(segments.segments_frame(t, GRID, "stage", pd.DataFrame())) == {
        ("A1", 0): "adopting", ("A1", 1): "adopting", ("A1", 2): "adopting"}  # fmt: skip
    assert segments.segments_frame(t, GRID, "fit", pd.DataFrame()).empty
    # no owner yet: still texts
    assert str(segments.segments_frame(store(ACCOUNTS, []), GRID, "owner", pd.DataFrame())["segment"].dtype) == "str"
    names = segments.segments_frame(t, GRID, "name", pd.DataFrame())
    assert names.columns.tolist() == ["account_id", "segment"]
    assert dict(zip(names["account_id"].map(ACCOUNTS), names["segment"], strict=True)) == {v: v for v in ACCOUNTS.values()}


def test_periods_as_they_were_ordered_by_every_column() -> None:
    # fetched periods in no order: A1 low (id 2) and high (id 1) from one day, the later id wins;
    # A2 from a day before 1970 and a period without a start (it never holds); A3 ties on the
    # first column of the order, the second decides
    periods = pd.DataFrame({
        "account_id": [1, 2, 1, 3, 3, 2],
        "value": ["low", "old", "high", "x", "y", "none"],
        "from_on": [D(2026, 2, 1), D(1960, 5, 1), D(2026, 2, 1), D(2026, 1, 1), D(2026, 1, 1), None],
        "id": [2, 5, 1, 6, 7, 8],
        "rank": [0, 0, 0, 1, 1, 0],
    })  # fmt: skip
    got = _by(segments.as_was_frame(GRID, periods, ["rank", "id"]))
    assert got == {
        ("A1", 0): "low", ("A1", 1): "low", ("A1", 2): "low",
        ("A2", 0): "old", ("A2", 1): "old", ("A2", 2): "old",
        ("A3", 0): "y", ("A3", 1): "y", ("A3", 2): "y",
    }  # fmt: skip
    flipped = periods.assign(rank=[0, 0, 0, 2, 1, 0])  # A3: x ranks last now
    assert [got_x for (a, _mi), got_x in _by(segments.as_was_frame(GRID, flipped, ["rank", "id"])).items() if a == "A3"] == ["x"] * 3
    empty = segments.as_was_frame(GRID, periods.iloc[:0], ["id"])
    assert empty.columns.tolist() == ["account_id", "mi", "segment"]
    assert empty.empty
    assert str(empty["segment"].dtype) == "str"  # texts, as the SQL form's, even without a row
    assert str(segments.as_was_frame(GRID, periods, ["id"])["segment"].dtype) == "str"


def test_the_plan_from_the_fetched_lines_on_tied_start_days() -> None:
    lines = [
        (1, 1, 1, 10_000, "JPY", "active", D(2026, 1, 1), None, None),
        (2, 1, 2, 100_000, "JPY", "active", D(2026, 1, 1), None, None),
        (3, 2, 2, 5_000, "JPY", "active", D(2026, 2, 1), None, None),
        (4, 2, 1, 5_000, "JPY", "active", D(2026, 2, 1), None, None),
        (5, 3, 3, 100, "USD", "active", D(2025, 1, 1), None, None),
        (6, 4, 1, 1_000, "JPY", "canceled", D(2025, 1, 1), None, D(2026, 1, 31)),
        (7, 4, 2, 9_000, "JPY", "active", D(2026, 1, 1), D(2026, 1, 31), None),
        (8, 5, 2, 9_000, "JPY", "trial", D(2026, 1, 10), D(2026, 1, 31), D(2026, 1, 31)),
        (9, 5, 1, 1_000, "JPY", "canceled", D(2026, 2, 5), None, D(2026, 2, 5)),
        # A6: an add-on is no plan
        (10, 6, 4, 1_000, "JPY", "active", D(2025, 1, 1), None, None),
    ]
    t = store(ACCOUNTS, lines, products=PRODUCTS)

    def plans(currency: str) -> dict[tuple[str, int], str]:
        return _by(segments.segments_frame(t, GRID, "plan", revenue.line_facts(t, currency).execute()))

    # the values of test_the_plan_on_tied_start_days_and_an_accounts_column: the larger amount,
    # then the lower product id; A4's Pro earns from Jan 31; A5 never had an earning plan
    assert plans("JPY") == {
        ("A1", 0): "Pro", ("A1", 1): "Pro", ("A1", 2): "Pro",
        ("A2", 0): "Basic", ("A2", 1): "Basic", ("A2", 2): "Basic",
        ("A4", 0): "Basic", ("A4", 1): "Pro", ("A4", 2): "Pro",
    }  # fmt: skip
    assert plans("USD") == {("A3", mi): "USD plan" for mi in range(3)}


def test_upsell_and_cross_sell_counts_from_the_fetched_lines() -> None:
    old = D(2025, 1, 1)
    lines = [  # the lines of test_upsell_and_cross_sell_against_the_start_of_the_window
        (1, 1, 1, 10_000, "JPY", "canceled", old, None, D(2026, 2, 10)),
        (2, 1, 2, 30_000, "JPY", "active", D(2026, 2, 10), None, None),
        (3, 2, 2, 30_000, "JPY", "canceled", old, None, D(2026, 2, 10)),
        (4, 2, 1, 10_000, "JPY", "active", D(2026, 2, 10), None, None),
        (5, 3, 1, 10_000, "JPY", "active", old, None, None),
        (6, 3, 4, 1_000, "JPY", "active", old, None, None),
        (7, 3, 5, 1_000, "JPY", "active", D(2026, 3, 1), None, None),
        (8, 4, 1, 10_000, "JPY", "active", old, None, None),
        (9, 4, 4, 1_000, "JPY", "canceled", old, None, D(2026, 2, 1)),
        (10, 4, 4, 1_000, "JPY", "active", D(2026, 3, 1), None, None),
        (11, 5, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),
        (12, 5, 5, 1_000, "JPY", "active", D(2026, 2, 1), None, None),
        (13, 6, 1, 10_000, "JPY", "canceled", D(2026, 1, 31), None, AS_OF),
        (14, 6, 2, 30_000, "JPY", "active", AS_OF, None, None),
        (15, 7, 4, 1_000, "JPY", "active", old, None, None),
        (16, 7, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),
        (17, 8, 1, 0, "JPY", "active", old, None, None),
        (18, 8, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),
        (19, 9, 1, 10_000, "JPY", "canceled", old, None, D(2026, 3, 1)),
        (20, 9, 2, 30_000, "JPY", "active", old, None, None),
        (21, 9, 4, 1_000, "JPY", "active", old, None, None),
        (22, 10, 3, 100, "USD", "active", old, None, D(2026, 2, 1)),
        (23, 10, 2, 30_000, "JPY", "active", D(2026, 2, 1), None, None),
        (24, 11, 1, 10_000, "JPY", "active", old, None, None),
        (25, 11, 5, 1_000, "JPY", "active", D(2026, 3, 1), D(2026, 3, 31), None),
        (26, 12, 1, 10_000, "JPY", "active", old, None, None),
        (27, 12, 4, 1_000, "JPY", "active", D(2026, 3, 1), None, None),
        (28, 13, 1, 1, "JPY", "active", old, None, None),
        # E14: a line of a product no longer in the catalogue counts nowhere (the SQL form joins)
        (29, 14, 9, 50_000, "JPY", "active", old, None, None),
        # E15: add-on Y ended on the start day (not earning then), again from March: cross-sold
        (30, 15, 1, 10_000, "JPY", "active", old, None, None),
        (31, 15, 5, 1_000, "JPY", "canceled", old, None, D(2026, 1, 31)),
        (32, 15, 5, 1_000, "JPY", "active", D(2026, 3, 1), None, None),
        # E16: Basic ended on as_of, Pro from March: no plan at the end, not upsold
        (33, 16, 1, 10_000, "JPY", "canceled", old, None, AS_OF),
        (34, 16, 2, 30_000, "JPY", "canceled", D(2026, 3, 1), None, AS_OF),
    ]
    t = store({i: f"E{i}" for i in range(1, 17)}, lines, products=PRODUCTS)
    # base: E1 E2 E3 E4 E6 E7 E9 E11 E12 E13 E15 E16; upsold: E1 E6; cross-sold: E3 E12 E15
    assert success.expansion_counts(GRID, revenue.line_facts(t, "JPY").execute()) == (12, 2, 3)
    base, upsold, cross = success.expansion_accounts(t, GRID, "JPY")
    assert [int(x.count().execute()) for x in (base, upsold, cross)] == [12, 2, 3]


def test_nps_answers_fetched_and_counted_by_month_and_segment() -> None:
    answers = [  # the answers of test_nps_by_month_at_each_score_edge_and_by_segment
        (1, 1, "nps", 10, _utc(2026, 1, 15)),
        (2, 1, "nps", 10, _utc(2026, 2, 2)),
        (3, 1, "nps", 9, _utc(2026, 2, 3)),
        (4, 1, "nps", 8, _utc(2026, 2, 4)),
        (5, 1, "nps", 6, _utc(2026, 2, 5)),
        (6, 2, "nps", 9, _utc(2026, 2, 6)),
        (7, 2, "nps", 7, _utc(2026, 2, 7)),
        (8, 2, "nps", 0, _utc(2026, 2, 28, 14, 59, 59)),
        (9, 2, "csat", 10, _utc(2026, 2, 8)),
        (10, 3, "nps", 9, _utc(2026, 2, 28, 15)),
        (11, 1, "nps", 9, _utc(2026, 3, 2)),
        (12, 1, "nps", 6, _utc(2026, 3, 3)),
        (13, 1, "nps", 0, _utc(2026, 3, 15, 15)),
        (14, 1, "nps", 10, _utc(2025, 12, 31, 14, 59, 59)),  # Dec 31 23:59:59 in Tokyo: before the grid
        (15, 2, "nps", 5, _utc(2025, 12, 31, 15)),  # Jan 1 00:00 in Tokyo: the grid's first second
    ]
    t = store(ACCOUNTS, [], survey_responses=answers, segment_changes=CHANGES, users=USERS)
    fetched = success.nps_answers(t, GRID)
    assert sorted(zip(fetched["mi"].tolist(), fetched["score"].tolist(), strict=True)) == [
        (0, 5), (0, 10), (1, 0), (1, 6), (1, 7), (1, 8), (1, 9), (1, 9), (1, 10), (2, 6), (2, 9), (2, 9)]  # fmt: skip
    counts = success.nps_counts(fetched)
    assert counts.columns.tolist() == ["mi", "responses", "promoters", "passives", "detractors"]
    assert counts.values.tolist() == [[0, 2, 1, 0, 1], [1, 7, 3, 2, 2], [2, 3, 2, 0, 1]]
    assert [str(counts[c].dtype) for c in counts.columns] == ["int64"] * 5
    tiers = segments.segments_frame(t, GRID, "tier", pd.DataFrame())
    by = success.nps_table(GRID, success.nps_counts(fetched, tiers), ["segment"])
    assert [(r.month, r.segment, int(r.responses), int(r.promoters), int(r.passives), int(r.detractors), r.nps)
            for r in by.itertuples()] == [
        ("2026-02", "low", 4, 2, 1, 1, 25.0), ("2026-02", "tech", 3, 1, 1, 1, 0.0),
        ("2026-03", "high", 1, 1, 0, 0, 100.0), ("2026-03", "low", 2, 1, 0, 1, 0.0),
    ]  # fmt: skip
    # an answer of an account without a segment: "(none)"
    lone = success.nps_counts(fetched, tiers[tiers["account_id"] != 3])
    assert lone.loc[lone["mi"] == 2, ["segment", "responses"]].values.tolist() == [["(none)", 1], ["low", 2]]
