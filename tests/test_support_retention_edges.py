"""Support KPIs, cohort retention and the month grid at their edges, against figures worked
out by hand on in-memory tables (no store, no report): a ticket opened at midnight in
Tokyo on the first of a month (the day before in UTC), a first response or a resolution
exactly at the end of ``as_of`` (not counted), medians of odd and even counts; cohorts
whose first earning day is the first of a month, a snapshot day or ``as_of``, a line
ending on a snapshot day or on ``as_of``, an expansion (revenue retention over 100 %).

Each test builds its own tables: the mutation run (``scripts/mutate.py``) credits a call
made while a shared fixture is built to the first test only.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import periods, retention, revenue, support
from kizuna.analytics.periods import MonthGrid
from kizuna.errors import InvalidInput
from tests.test_revenue_edges import store

D = date
T = datetime
AS_OF = D(2026, 3, 15)  # the end of as_of in Tokyo: 2026-03-15 15:00 UTC
#: months Jan (the look-back month, mi 0), Feb (1) and Mar (2)
GRID = MonthGrid(AS_OF, months=2, lookback=1)

# id, account, opened_at, first_response_at, resolved_at, message_count, csat (times in UTC)
TICKETS = [
    (1, 1, T(2025, 12, 31, 14, 59, 59), T(2025, 12, 31, 16), None, 2, 5),  # 23:59:59 on Dec 31 in Tokyo: out
    (2, 1, T(2025, 12, 31, 15), None, None, 1, None),  # 00:00 on Jan 1 in Tokyo: January, never answered
    (3, 1, T(2026, 2, 28, 14, 59, 59), T(2026, 2, 28, 17, 59, 59), T(2026, 3, 1), 4, 3),  # Feb; 3 h; 4 messages
    (4, 2, T(2026, 2, 10), T(2026, 2, 10, 1), None, 1, None),  # Feb; 1 h; open
    (5, 2, T(2026, 2, 28, 15), T(2026, 2, 28, 15, 20), T(2026, 3, 2), 2, 4),  # Mar 1 00:00 in Tokyo; 20 min
    (6, 2, T(2026, 3, 10), T(2026, 3, 15, 15), None, 1, None),  # answered exactly at the end of as_of: not yet
    (7, 3, T(2026, 3, 11), T(2026, 3, 11, 1, 30), T(2026, 3, 15, 15), 6, 2),  # 1.5 h; resolved at the end: not yet
    (8, 3, T(2026, 3, 12), T(2026, 3, 12, 0, 30), T(2026, 3, 15, 14, 59, 59), 3, 5),  # 30 min; resolved
    (9, 3, T(2026, 3, 15, 15), T(2026, 3, 15, 16), None, 1, 5),  # opened after as_of: out
]
COLUMNS = ["tickets", "answered", "resolved", "answer_rate", "resolution_rate", "mean_frt_hours",
           "median_frt_hours", "exchanges_to_resolve", "csat", "csat_pct"]  # fmt: skip


def values(row: pd.Series) -> list[float]:
    return [float(row[c]) for c in COLUMNS]


def nan_equal(got: list[float], want: list[float]) -> bool:
    return len(got) == len(want) and all(
        (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w) for g, w in zip(got, want, strict=True)
    )


def test_support_by_month_and_over_the_window() -> None:
    t = store({1: "A1", 2: "A2", 3: "A3"}, [], tickets=TICKETS)
    facts = support.ticket_facts(t, GRID)
    got = facts.execute().sort_values("id")
    assert got["id"].tolist() == [2, 3, 4, 5, 6, 7, 8]
    assert got["mi"].tolist() == [0, 1, 1, 2, 2, 2, 2]
    assert got["answered"].tolist() == [False, True, True, True, False, True, True]
    assert got["resolved"].tolist() == [False, True, False, True, False, False, True]
    frt = got["frt_seconds"].tolist()  # seconds from opening to the first response, answered tickets only
    assert [None if math.isnan(v) else v for v in frt] == [None, 10800, 3600, 1200, None, 5400, 1800]
    assert got["account_id"].tolist() == [1, 1, 2, 2, 2, 3, 3]
    sums, medians = support.support_by_month(facts)
    tsums, tmedians = support.support_totals(facts, GRID.first_reported)
    on_backend = (support.support_table(sums.execute(), medians.execute(), GRID.labels()),
                  support.support_table(tsums.execute(), tmedians.execute()))  # fmt: skip
    # the report's way: the facts fetched once, summed in pandas (issue 19): the same figures
    s, m, ts, tm = support.support_frames(got, GRID.first_reported)
    fetched = (support.support_table(s, m, GRID.labels()), support.support_table(ts, tm))
    for table, total in (on_backend, fetched):
        _check_support_tables(table, total)


def test_the_facts_placed_in_their_months_after_fetching_are_the_same() -> None:
    """The report's way (issue 19): the tickets fetched with their epochs and placed in their
    months by a binary search: the same rows, months and values as placed in SQL."""
    t = store({1: "A1", 2: "A2", 3: "A3"}, [], tickets=TICKETS)
    got = support.fetched_ticket_facts(t, GRID).sort_values("id")
    assert got.columns.tolist() == ["id", "account_id", "mi", "answered", "frt_seconds", "resolved", "message_count",
                                    "csat"]  # fmt: skip
    # #1 a second before January in Tokyo and #9 after the end of as_of are out; #2 opens
    # January at its first second, #5 March at its first second, #3 is February's last second
    assert got["id"].tolist() == [2, 3, 4, 5, 6, 7, 8]
    assert got["mi"].tolist() == [0, 1, 1, 2, 2, 2, 2]
    assert got["account_id"].tolist() == [1, 1, 2, 2, 2, 3, 3]
    # #6 answered and #7 resolved exactly at the end of as_of: not yet
    assert got["answered"].tolist() == [False, True, True, True, False, True, True]
    assert got["resolved"].tolist() == [False, True, False, True, False, False, True]
    frt = got["frt_seconds"].tolist()
    assert [None if math.isnan(v) else v for v in frt] == [None, 10800, 3600, 1200, None, 5400, 1800]
    assert got["message_count"].tolist() == [1, 4, 1, 2, 1, 6, 3]
    assert [None if math.isnan(v) else v for v in got["csat"].astype("float64")] == [None, 3, None, 4, None, 2, 5]
    s, m, ts, tm = support.support_frames(got, GRID.first_reported)
    _check_support_tables(support.support_table(s, m, GRID.labels()), support.support_table(ts, tm))
    # a grid of one month (no look-back): only March's tickets, all in month 0
    march = support.fetched_ticket_facts(t, MonthGrid(AS_OF, months=1, lookback=0)).sort_values("id")
    assert (march["id"].tolist(), march["mi"].tolist()) == ([5, 6, 7, 8], [0, 0, 0, 0])


def _check_support_tables(table: pd.DataFrame, total: pd.DataFrame) -> None:
    assert table["month"].tolist() == ["2026-01", "2026-02", "2026-03"]
    counts = ["tickets", "answered", "frt_seconds_sum", "resolved", "resolved_messages", "rated", "csat_sum",
              "satisfied"]  # fmt: skip
    rates = ["answer_rate", "resolution_rate", "mean_frt_hours", "median_frt_hours", "exchanges_to_resolve", "csat",
             "csat_pct"]  # fmt: skip
    assert table.columns.tolist() == ["mi", "month", *counts, *rates]
    assert {c: str(table[c].dtype) for c in counts} == dict.fromkeys(counts, "int64")  # whole numbers, not 1.0
    assert table["mi"].tolist() == [0, 1, 2]
    nan = math.nan
    # January: one ticket, never answered nor resolved nor rated: rates 0, averages missing (not 0)
    assert nan_equal(values(table.iloc[0]), [1, 0, 0, 0.0, 0.0, nan, nan, nan, nan, nan])
    # February: 3 h and 1 h (mean = median of two = 2 h); #3 resolved with 4 messages; CSAT 3 (not satisfied)
    assert nan_equal(values(table.iloc[1]), [2, 2, 1, 1.0, 0.5, 2.0, 2.0, 4.0, 3.0, 0.0])
    # March: 20 min, 1.5 h, 30 min answered (#6 not yet): mean 8,400 s / 3, median 30 min;
    # #5 and #8 resolved with 2 + 3 messages; CSAT 4, 2, 5 → 11 / 3, 2 of 3 satisfied
    assert nan_equal(values(table.iloc[2]), [4, 3, 2, 0.75, 0.5, 8400 / 3 / 3600, 0.5, 2.5, 11 / 3, 2 / 3])
    assert table["frt_seconds_sum"].tolist() == [0, 14400, 8400]
    assert table["resolved_messages"].tolist() == [0, 4, 5]
    assert table["rated"].tolist() == [0, 1, 3]
    assert (table["csat_sum"].tolist(), table["satisfied"].tolist()) == ([0, 3, 11], [0, 0, 2])
    # the reported window (February and March): six tickets, five answered after
    # 3 h, 1 h, 20 min, 1.5 h and 30 min (median: the third of 1,200 1,800 3,600 5,400 10,800 s)
    assert len(total) == 1
    assert total.columns.tolist() == [*counts, *rates]
    assert {c: str(total[c].dtype) for c in counts} == dict.fromkeys(counts, "int64")
    assert "month" not in total.columns
    assert nan_equal(values(total.iloc[0]), [6, 5, 3, 5 / 6, 0.5, 22800 / 5 / 3600, 1.0, 3.0, 3.5, 0.5])


def test_the_median_of_an_even_count_and_ties() -> None:
    """Four answered tickets in one month: the median is the mean of the 2nd and 3rd
    (ties broken by id, the same value); the window's median of five is the 3rd."""
    tickets = [
        (1, 1, T(2026, 3, 1), T(2026, 3, 1, 4), None, 1, None),  # 4 h
        (2, 1, T(2026, 3, 2), T(2026, 3, 2, 1), None, 1, None),  # 1 h
        (3, 1, T(2026, 3, 3), T(2026, 3, 3, 2), None, 1, None),  # 2 h
        (4, 1, T(2026, 3, 4), T(2026, 3, 4, 10), None, 1, None),  # 10 h
        (5, 1, T(2026, 2, 4), T(2026, 2, 4, 2), None, 1, None),  # February: 2 h
    ]
    t = store({1: "A1"}, [], tickets=tickets)
    facts = support.ticket_facts(t, GRID)
    sums, medians = support.support_by_month(facts)
    fetched = facts.execute()
    s, m, _ts, _tm = support.support_frames(fetched, 2)
    for table in (support.support_table(sums.execute(), medians.execute(), GRID.labels()),
                  support.support_table(s, m, GRID.labels())):  # fmt: skip
        assert table["median_frt_hours"].tolist() == [2.0, 3.0]  # Feb: 2; Mar: (2 + 4) / 2
        assert table["mean_frt_hours"].tolist() == [2.0, 4.25]
    tsums, tmedians = support.support_totals(facts, 2)  # March alone
    assert support.support_table(tsums.execute(), tmedians.execute())["median_frt_hours"].tolist() == [3.0]
    assert support.support_table(*support.support_frames(fetched, 2)[2:])["median_frt_hours"].tolist() == [3.0]
    tsums, tmedians = support.support_totals(facts, 1)
    assert support.support_table(tsums.execute(), tmedians.execute())["median_frt_hours"].tolist() == [2.0]
    assert support.support_table(*support.support_frames(fetched, 1)[2:])["median_frt_hours"].tolist() == [2.0]
    # no answered ticket in the window: no median (missing, not 0), still one row of totals
    assert support.support_table(*support.support_frames(fetched, 3)[2:])[["tickets", "median_frt_hours"]].to_dict(
        "records") == [{"tickets": 0, "median_frt_hours": pytest.approx(math.nan, nan_ok=True)}]  # fmt: skip


# --- cohorts and survival ------------------------------------------------------------------

#: months Dec (the look-back month, mi 0), Jan (1), Feb (2) and Mar (3); reported cohorts Jan–Mar
GRID3 = MonthGrid(AS_OF, months=3, lookback=1)
ACCOUNTS = {1: "C1", 2: "C2", 3: "C3", 4: "C4", 5: "C5", 6: "C6", 7: "C7", 8: "C8", 9: "C9"}
# id, account, product, amount, currency, status, started_on, trial_ends_on, ended_on (exclusive)
LINES = [
    (1, 1, 1, 10_000, "JPY", "active", D(2025, 12, 31), None, None),  # December's cohort (look-back)
    (2, 2, 1, 20_000, "JPY", "canceled", D(2026, 1, 1), None, D(2026, 3, 15)),  # Jan; ends on as_of
    (3, 3, 2, 30_000, "JPY", "canceled", D(2026, 1, 31), None, D(2026, 2, 28)),  # Jan; ends on Feb's snapshot
    (4, 4, 2, 40_000, "JPY", "active", D(2026, 1, 15), None, None),  # Jan, and from Feb 1 …
    (5, 4, 1, 10_000, "JPY", "active", D(2026, 2, 1), None, None),  # … 10,000 more: an expansion
    (6, 5, 2, 50_000, "JPY", "active", D(2026, 2, 28), None, None),  # Feb: first earns on its snapshot
    (7, 6, 2, 60_000, "JPY", "active", D(2026, 3, 15), None, None),  # Mar: first earns on as_of
    (8, 7, 2, 70_000, "JPY", "active", D(2026, 3, 16), None, None),  # after as_of: no cohort
    (9, 8, 2, 30_000, "JPY", "trial", D(2026, 1, 10), D(2026, 1, 31), D(2026, 1, 31)),  # never earns
    (10, 9, 1, 10_000, "JPY", "active", D(2025, 11, 1), None, None),  # before the grid
    (11, 9, 3, 10_000, "USD", "active", D(2026, 1, 1), None, None),  # another currency: not in yen figures
]


def named(frame: pd.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    out = []
    for row in frame.itertuples(index=False):
        r = row._asdict()
        out.append(tuple(ACCOUNTS[int(r[c])] if c == "account_id" else r[c] for c in columns))
    return sorted(out)


def test_cohorts_by_first_earning_month_logo_and_revenue() -> None:
    t = store(ACCOUNTS, LINES)
    members = retention.cohort_members(t, GRID3, "JPY")
    got = [
        (a, int(c), pd.Timestamp(d).date())
        for a, c, d in named(members.execute(), "account_id", "cohort_mi", "first_earned")
    ]
    assert got == [("C1", 0, D(2025, 12, 31)), ("C2", 1, D(2026, 1, 1)), ("C3", 1, D(2026, 1, 31)),
                   ("C4", 1, D(2026, 1, 15)), ("C5", 2, D(2026, 2, 28)), ("C6", 3, AS_OF)]  # fmt: skip
    sizes = retention.cohort_sizes(members).execute()
    assert sorted(zip(sizes["cohort_mi"], sizes["size"], strict=True)) == [(0, 1), (1, 3), (2, 1), (3, 1)]
    amm = revenue.account_mrr(t, GRID3, "JPY")
    cells = retention.cohort_cells(members, amm).execute()
    # January's cohort: Jan 31 C2 + C3 + C4 = 90,000; Feb 28 C2 + C4 (with its expansion) = 70,000
    # (C3 ended that day); Mar 15 C4 alone (C2 ended on as_of)
    assert sorted(zip(cells["cohort_mi"], cells["mi"], cells["accounts"], cells["mrr"], strict=True)) == [
        (0, 0, 1, 10_000), (0, 1, 1, 10_000), (0, 2, 1, 10_000), (0, 3, 1, 10_000),
        (1, 1, 3, 90_000), (1, 2, 2, 70_000), (1, 3, 1, 50_000),
        (2, 2, 1, 50_000), (2, 3, 1, 50_000), (3, 3, 1, 60_000),
    ]  # fmt: skip
    # the report's way (issue 19): from the account-month MRR and the first earning days
    # fetched once; C9 (first earned in November, before the grid) is in no cohort
    fetched_cells, fetched_sizes = retention.cohort_frames(
        GRID3, amm.execute(), revenue.first_earned(t, "JPY", AS_OF).execute()
    )
    assert fetched_sizes.columns.tolist() == ["cohort_mi", "size"]
    assert [str(d) for d in [*fetched_sizes.dtypes, *fetched_cells.dtypes]] == ["int64"] * 6
    assert list(zip(fetched_sizes["cohort_mi"], fetched_sizes["size"], strict=True)) == [(0, 1), (1, 3), (2, 1), (3, 1)]
    assert fetched_cells.columns.tolist() == ["cohort_mi", "mi", "accounts", "mrr"]
    assert list(zip(*(fetched_cells[c] for c in ("cohort_mi", "mi", "accounts", "mrr")), strict=True)) == [
        (0, 0, 1, 10_000), (0, 1, 1, 10_000), (0, 2, 1, 10_000), (0, 3, 1, 10_000),
        (1, 1, 3, 90_000), (1, 2, 2, 70_000), (1, 3, 1, 50_000),
        (2, 2, 1, 50_000), (2, 3, 1, 50_000), (3, 3, 1, 60_000),
    ]  # fmt: skip
    # an account whose first earning day is the first day of the grid is in the first cohort
    # (and one the day after as_of, the end of the last month, in none)
    edge = pd.DataFrame({"account_id": [1, 2, 3],
                         "first_earned": pd.to_datetime(["2025-12-01", "2025-11-30", "2026-03-16"])})  # fmt: skip
    _cells, edge_sizes = retention.cohort_frames(GRID3, amm.execute().iloc[0:0], edge)
    assert edge_sizes.to_dict("records") == [{"cohort_mi": 0, "size": 1}]
    logo, rev = retention.cohort_tables(GRID3, cells, sizes)
    nan = math.nan
    assert logo.index.tolist() == ["2026-01", "2026-02", "2026-03"]
    assert logo.columns.tolist() == ["size", 0, 1, 2]
    assert logo["size"].tolist() == [3, 1, 1]
    assert [str(d) for d in logo.dtypes] == ["int64", "float64", "float64", "float64"]  # fractions, not objects
    assert nan_equal(logo[[0, 1, 2]].to_numpy().ravel().tolist(), [1.0, 2 / 3, 1 / 3, 1.0, 1.0, nan, 1.0, nan, nan])
    assert rev.columns.tolist() == ["mrr0", 0, 1, 2]
    assert rev["mrr0"].tolist() == [90_000, 50_000, 60_000]
    assert [str(d) for d in rev.dtypes] == ["int64", "float64", "float64", "float64"]
    assert nan_equal(rev[[0, 1, 2]].to_numpy().ravel().tolist(), [1.0, 70 / 90, 50 / 90, 1.0, 1.0, nan, 1.0, nan, nan])


def test_a_cohort_without_accounts_or_revenue_is_missing_not_zero() -> None:
    cells = pd.DataFrame({"cohort_mi": [1, 1, 3], "mi": [1, 2, 3], "accounts": [2, 1, 1], "mrr": [0, 5_000, 7_000]})
    sizes = pd.DataFrame({"cohort_mi": [1, 3], "size": [2, 1]})
    logo, rev = retention.cohort_tables(GRID3, cells, sizes)
    nan = math.nan
    # January: two accounts first earning on a free line (MRR 0 at age 0): revenue retention missing
    assert nan_equal(logo.loc["2026-01", [0, 1, 2]].tolist(), [1.0, 0.5, 0.0])
    assert nan_equal(rev.loc["2026-01", [0, 1, 2]].tolist(), [nan, nan, nan])
    # February: no cohort at all
    assert (logo.loc["2026-02", "size"], rev.loc["2026-02", "mrr0"]) == (0, 0)
    assert nan_equal(logo.loc["2026-02", [0, 1, 2]].tolist(), [nan, nan, nan])
    assert nan_equal(rev.loc["2026-03", [0, 1, 2]].tolist(), [1.0, nan, nan])
    # a cohort that lost its only account after age 0: 0 % from then on, logo and revenue
    one = pd.DataFrame({"cohort_mi": [1], "mi": [1], "accounts": [1], "mrr": [9_000]})
    logo, rev = retention.cohort_tables(GRID3, one, pd.DataFrame({"cohort_mi": [1], "size": [1]}))
    assert (logo.loc["2026-01", [0, 1, 2]].tolist(), rev.loc["2026-01", [0, 1, 2]].tolist()) == (
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
    )


def greenwood(s: float, terms: list[tuple[int, int]]) -> tuple[float, float]:
    """The 95 % band of a Kaplan–Meier estimate ``s`` (exponential Greenwood, as lifelines
    computes it): ``terms`` are the (deaths, at risk) of each event time so far."""
    z = 1.959963984540054
    v = sum(d / (n * (n - d)) for d, n in terms) / math.log(s) ** 2
    return s ** math.exp(z * math.sqrt(v)), s ** math.exp(-z * math.sqrt(v))


def test_lifetimes_and_the_kaplan_meier_curves_by_segment() -> None:
    t = store(ACCOUNTS, LINES)
    amm = revenue.account_mrr(t, GRID3, "JPY")
    now = amm.filter(amm.mi == GRID3.last).select("account_id")
    life = retention.lifetimes(t, "JPY", AS_OF, now).execute()
    assert str(life["paying"].dtype) == "bool"  # False for the churned, not missing
    got = [(a, pd.Timestamp(f).date(), None if pd.isna(e) else pd.Timestamp(e).date(), bool(p))
           for a, f, e, p in named(life, "account_id", "first_earned", "last_end", "paying")]  # fmt: skip
    assert got == [
        ("C1", D(2025, 12, 31), None, True), ("C2", D(2026, 1, 1), AS_OF, False),
        ("C3", D(2026, 1, 31), D(2026, 2, 28), False), ("C4", D(2026, 1, 15), None, True),
        ("C5", D(2026, 2, 28), None, True), ("C6", AS_OF, None, True), ("C9", D(2025, 11, 1), None, True),
    ]  # fmt: skip
    # the report's way: the spans fetched, paying from the accounts with MRR at as_of
    spans = retention.lifetime_spans(t, "JPY", AS_OF).execute()
    paying = amm.filter(amm.mi == GRID3.last).execute()["account_id"]
    assert str(retention.with_paying(spans, paying)["paying"].dtype) == "bool"
    assert retention.with_paying(spans, paying)[["account_id", "paying"]].sort_values("account_id").values.tolist() == [
        [1, True], [2, False], [3, False], [4, True], [5, True], [6, True], [9, True]]  # fmt: skip
    # months of 30.4375 days: C3 churns after 28 days (0.92) with 5 at risk (C5 and C6 were
    # censored before), C2 after 73 days (2.40) with 3 at risk (C1 2.43 and C9 4.40)
    curve = retention.kaplan_meier(life, AS_OF, 3)
    assert curve.columns.tolist() == ["segment", "month", "survival", "lower", "upper", "at_risk"]
    assert curve["segment"].tolist() == ["all"] * 4
    assert curve["month"].tolist() == [0, 1, 2, 3]
    assert curve["survival"].tolist() == pytest.approx([1.0, 0.8, 0.8, 0.8 * 2 / 3])
    assert curve["at_risk"].tolist() == [7, 4, 3, 1]
    lower, upper = greenwood(0.8, [(1, 5)])
    assert (curve["lower"].iloc[1], curve["upper"].iloc[1]) == (pytest.approx(lower), pytest.approx(upper))
    assert (curve["lower"].iloc[2], curve["upper"].iloc[2]) == (pytest.approx(lower), pytest.approx(upper))
    lower, upper = greenwood(0.8 * 2 / 3, [(1, 5), (1, 3)])
    assert (curve["lower"].iloc[3], curve["upper"].iloc[3]) == (pytest.approx(lower), pytest.approx(upper))
    segments = pd.DataFrame({"account_id": [1, 2, 3, 4, 5, 6], "segment": ["Basic"] * 4 + ["Pro"] * 2})
    by = retention.kaplan_meier(life, AS_OF, 2, segments)
    assert by["segment"].tolist() == ["(none)"] * 3 + ["Basic"] * 3 + ["Pro"] * 3  # C9 has no segment
    basic = by[by["segment"] == "Basic"]
    # Basic: C3 churns with 4 at risk, C2 (2.40) later than month 2
    assert basic["survival"].tolist() == pytest.approx([1.0, 0.75, 0.75])
    assert basic["at_risk"].tolist() == [4, 3, 2]
    assert by[by["segment"] == "Pro"]["survival"].tolist() == [1.0, 1.0, 1.0]
    assert by[by["segment"] == "Pro"]["at_risk"].tolist() == [2, 0, 0]


def test_a_free_line_still_running_is_no_churn() -> None:
    # PAY pays ¥10,000 from Jan 1; FREE has a ¥0 line from Jan 1, still running: it never paid,
    # so it has no first earning day and is in no survival curve (it was once counted as a
    # churn at as_of: survival 0.5 at month 3 with nobody gone). PAY is censored at as_of
    # after 73 days (2.40 months): survival 1 at every month
    t = store({1: "PAY", 2: "FREE"}, [(1, 1, 1, 10_000, "JPY", "active", D(2026, 1, 1), None, None),
                                      (2, 2, 1, 0, "JPY", "active", D(2026, 1, 1), None, None)])  # fmt: skip
    amm = revenue.account_mrr(t, GRID3, "JPY")
    life = retention.lifetimes(t, "JPY", AS_OF, amm.filter(amm.mi == GRID3.last).select("account_id")).execute()
    assert sorted(zip(life["account_id"], life["paying"], strict=True)) == [(1, True)]
    curve = retention.kaplan_meier(life, AS_OF, 3)
    assert curve["survival"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert curve["at_risk"].tolist() == [1, 1, 1, 0]
    # the same account after its paid line ended on Feb 1 and the free one began: churned on Feb 1
    t = store({2: "FREE"}, [(1, 2, 1, 10_000, "JPY", "canceled", D(2026, 1, 1), None, D(2026, 2, 1)),
                            (2, 2, 1, 0, "JPY", "active", D(2026, 2, 1), None, None)])  # fmt: skip
    amm = revenue.account_mrr(t, GRID3, "JPY")
    life = retention.lifetimes(t, "JPY", AS_OF, amm.filter(amm.mi == GRID3.last).select("account_id")).execute()
    # 31 days = 1.02 months: an event between month 1 and 2
    assert retention.kaplan_meier(life, AS_OF, 2)["survival"].tolist() == [1.0, 1.0, 0.0]


def test_no_lifetimes_no_curve() -> None:
    empty = pd.DataFrame(columns=["account_id", "first_earned", "last_end", "paying"])
    curve = retention.kaplan_meier(empty, AS_OF, 3)
    assert curve.empty
    assert curve.columns.tolist() == ["segment", "month", "survival", "lower", "upper", "at_risk"]


# --- the month grid -------------------------------------------------------------------------


def test_month_start_back_across_years() -> None:
    assert periods.month_start(D(2026, 3, 15)) == D(2026, 3, 1)
    assert periods.month_start(D(2026, 3, 31), 2) == D(2026, 1, 1)
    assert periods.month_start(D(2026, 3, 1), 3) == D(2025, 12, 1)
    assert periods.month_start(D(2026, 1, 31), 13) == D(2024, 12, 1)
    assert periods.month_start(D(2026, 12, 5), -1) == D(2027, 1, 1)


def test_the_grid_in_tokyo_its_edges_and_labels() -> None:
    grid = MonthGrid(D(2026, 3, 15), months=2, lookback=1)
    assert (grid.size, grid.last, grid.first_reported) == (3, 2, 1)
    f = grid.frame()
    assert f.columns.tolist() == ["mi", "month", "first_day", "start_day", "snapshot", "end_day", "start_epoch",
                                  "end_epoch"]  # fmt: skip
    assert f["mi"].tolist() == [0, 1, 2]
    assert f["month"].tolist() == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    assert f["first_day"].tolist() == f["month"].tolist()
    assert f["start_day"].tolist() == [D(2025, 12, 31), D(2026, 1, 31), D(2026, 2, 28)]
    assert f["snapshot"].tolist() == [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 15)]
    assert f["end_day"].tolist() == [D(2026, 2, 1), D(2026, 3, 1), D(2026, 3, 16)]
    # midnight in Tokyo is 15:00 UTC the day before
    utc = [int(datetime(*d, 15, tzinfo=UTC).timestamp()) for d in [(2025, 12, 31), (2026, 1, 31), (2026, 2, 28),
                                                                    (2026, 3, 15)]]  # fmt: skip
    assert f["start_epoch"].tolist() == utc[:3]
    assert f["end_epoch"].tolist() == utc[1:]
    assert grid.end_epoch() == utc[3]
    assert grid.labels() == ["2026-01", "2026-02", "2026-03"]
    assert grid.label(0) == "2026-01"
    table = grid.table()
    assert dict(table.schema().items()) == {
        "mi": dt.int64, "month": dt.date, "first_day": dt.date, "start_day": dt.date, "snapshot": dt.date,
        "end_day": dt.date, "start_epoch": dt.int64, "end_epoch": dt.int64,
    }  # fmt: skip
    assert table.execute()["end_epoch"].tolist() == utc[1:]
    # another zone, a report day at a month's end (its snapshot is the month's last day), the defaults
    utc_grid = MonthGrid(D(2026, 2, 28), months=1, zone="UTC", lookback=0)
    assert utc_grid.frame()[["snapshot", "start_epoch"]].values.tolist() == [
        [D(2026, 2, 28), int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())]
    ]
    assert utc_grid.end_epoch() == int(datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    default = MonthGrid(D(2026, 3, 15))
    assert (default.months, default.lookback, default.zone, default.size) == (12, 13, "Asia/Tokyo", 25)
    assert default.labels()[0] == "2024-03"


@pytest.mark.parametrize("months", [1, 120])
def test_a_grid_of_1_to_120_months(months: int) -> None:
    assert MonthGrid(AS_OF, months=months).size == months + 13


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"months": 0}, "months", "months must be from 1 to 120"),
        ({"months": 121}, "months", "months must be from 1 to 120"),
        ({"as_of": D(1969, 12, 31)}, "as_of", "the report day must be from 1970-01-01 to 9998-12-31"),
        ({"as_of": D(9999, 1, 1)}, "as_of", "the report day must be from 1970-01-01 to 9998-12-31"),
    ],
)
def test_a_grid_out_of_range_names_its_field(options: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        MonthGrid(**{"as_of": AS_OF, **options})  # type: ignore[arg-type]
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_the_first_and_last_report_days() -> None:
    assert MonthGrid(D(1970, 1, 1)).as_of == D(1970, 1, 1)
    assert MonthGrid(D(9998, 12, 31), months=1, lookback=0).labels() == ["9998-12"]


def test_kaplan_meier_curve_by_hand_and_as_lifelines_computes_it() -> None:
    # 8 accounts: censored at 0; events at 1, 2, 3, 5, 6; censored at 2 and 5. At risk just
    # before each time: 7 at 1, 6 at 2, 4 at 3, 3 at 5, 1 at 6 (S reaches 0 there)
    durations = np.array([0.0, 1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 6.0])
    events = np.array([False, True, True, False, True, False, True, True])
    times = np.arange(8, dtype="float64")
    surv, lower, upper = retention.km_curve(durations, events, times)
    assert surv.tolist() == pytest.approx([1.0, 6 / 7, 5 / 7, 15 / 28, 15 / 28, 5 / 14, 0.0, 0.0], rel=1e-15)
    assert (lower[0], upper[0]) == (1.0, 1.0)  # no event yet: the band is the point
    assert (lower[6], upper[6], lower[7], upper[7]) == (0.0, 0.0, 0.0, 0.0)  # nobody left
    assert (lower[2], upper[2]) == pytest.approx(greenwood(5 / 7, [(1, 7), (1, 6)]), rel=1e-12)
    assert (lower[4], upper[4]) == pytest.approx(greenwood(15 / 28, [(1, 7), (1, 6), (1, 4)]), rel=1e-12)
    # nobody at 0 (the curve still starts at 1 there) and a time after the last duration
    s2, l2, u2 = retention.km_curve(np.array([2.5, 3.0]), np.array([True, False]), np.arange(5, dtype="float64"))
    assert (s2.tolist(), l2.tolist()[:2], u2.tolist()[:2]) == ([1.0, 1.0, 1.0, 0.5, 0.5], [1.0, 1.0], [1.0, 1.0])

    # the same figures as lifelines' KaplanMeierFitter, to the last digit (issue 19 dropped the
    # import: a second of every report), and the same 95 % quantile as scipy
    from lifelines import KaplanMeierFitter
    from scipy.stats import norm

    assert norm.ppf(0.975) == retention.Z_95
    for d, e in ((durations, events), (np.array([2.5, 3.0]), np.array([True, False])),
                 (np.array([0.0, 0.0, 1.5, 1.5, 4.0]), np.array([True, False, True, True, False]))):  # fmt: skip
        kmf = KaplanMeierFitter().fit(d, event_observed=e)
        ci = kmf.confidence_interval_survival_function_
        ci = ci.reindex(ci.index.union(times)).ffill().loc[times]
        got = retention.km_curve(d, e, times)
        assert got[0].tolist() == kmf.survival_function_at_times(times).tolist()
        assert (got[1].tolist(), got[2].tolist()) == (ci.iloc[:, 0].tolist(), ci.iloc[:, 1].tolist())


def test_kaplan_meier_censors_a_paying_account_with_an_ended_line_and_clips_at_zero() -> None:
    # A pays at as_of (an earlier line ended: no event, censored at 74 days); B stopped the
    # day before its first earning day counted (a negative span: an event at 0 months); C
    # churned after 31 days (1.02 months)
    frame = pd.DataFrame({
        "account_id": [1, 2, 3],
        "first_earned": pd.to_datetime(["2026-01-01", "2026-02-10", "2026-01-01"]),
        "last_end": pd.to_datetime(["2026-02-01", "2026-02-09", "2026-02-01"]),
        "paying": [True, False, False],
    })  # fmt: skip
    curve = retention.kaplan_meier(frame, AS_OF, 3)
    # month 0: B gone at once (2 of 3 left); month 2: C gone too (1 of 2 left of those at risk)
    assert curve["survival"].tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3, 1 / 3], rel=1e-15)
    assert curve["at_risk"].tolist() == [3, 2, 1, 0]
