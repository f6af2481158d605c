"""``kizuna demo``: the generated company is deterministic, realistic and importable.

One company of 300 accounts × 24 months is generated once into an SQLite file and
checked for what a user of the demo would notice: revenue concentration, churn that
is announced by falling usage, NPS that follows usage, subscriptions that obey the
importer's rules, raw events that add up to the daily rollups.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.db.bulk import table as model_table
from kizuna.demo import DemoSummary, generate_demo
from kizuna.demo import company as company_module
from kizuna.demo.lifecycle import Engagement, Profile, draw_survivor, survival_to_history
from kizuna.demo.timeline import Timeline
from kizuna.domain.usage import FEATURE_EVENTS, LOGIN_EVENT, SESSION_MINUTES_PROPERTY
from kizuna.errors import Conflict, InvalidInput
from kizuna.services.context import RunContext
from kizuna.services.imports import ENTITIES
from kizuna.services.imports import fields as parse
from kizuna.services.ltv_accounts import history_start
from kizuna.services.pipeline import run_daily

AS_OF = date(2025, 3, 31)
AS_OF_TS = pd.Timestamp(AS_OF)
CUTOFF = datetime(2025, 3, 30, 15, 0, tzinfo=UTC)  # 00:00 JST on AS_OF
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@dataclass
class Company:
    engine: sa.Engine
    summary: DemoSummary

    def frame(self, sql: str) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return pd.read_sql(sql, conn)


def _generate(path: Path, *, accounts: int, months: int, seed: int) -> tuple[sa.Engine, DemoSummary]:
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    with session_scope(engine) as session:
        summary = generate_demo(session, accounts=accounts, months=months, seed=seed, as_of=AS_OF)
    return engine, summary


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Company]:
    engine, summary = _generate(tmp_path_factory.mktemp("demo") / "demo.db", accounts=300, months=24, seed=7)
    yield Company(engine, summary)
    engine.dispose()


@pytest.fixture(scope="module")
def subscriptions(company: Company) -> pd.DataFrame:
    subs = company.frame(
        "SELECT s.*, p.code, p.kind FROM subscriptions s JOIN products p ON p.id = s.product_id ORDER BY s.id"
    )
    for column in ("started_on", "trial_ends_on", "ended_on", "current_term_end"):
        subs[column] = pd.to_datetime(subs[column])
    return subs


@pytest.fixture(scope="module")
def logins(company: Company) -> pd.DataFrame:
    frame = company.frame("SELECT account_id, day, value FROM usage_daily WHERE metric = 'logins'")
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


def _earning(subs: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    begins = subs["trial_ends_on"].fillna(subs["started_on"])
    paid = ~subs["status"].isin(["trial", "expired"])
    return paid & (begins <= day) & (subs["ended_on"].isna() | (subs["ended_on"] > day))


def _churns(subs: pd.DataFrame) -> pd.DataFrame:
    """Plan lines the customer ended (not replaced by another plan), by as_of."""
    plans = subs[subs["kind"] == "plan"]
    churned = (plans["status"] == "canceled") & (plans["cancel_reason"] != "plan_change")
    return plans[churned & (plans["ended_on"] <= AS_OF_TS)]


# --- the whole store ------------------------------------------------------------------


def test_the_summary_counts_what_is_in_the_store(company: Company, subscriptions: pd.DataFrame) -> None:
    for table, n in company.summary.counts.items():
        assert int(company.frame(f"SELECT count(*) AS n FROM {table}")["n"][0]) == n, table
    assert company.summary.accounts == 300
    assert company.summary.mrr == int(subscriptions[_earning(subscriptions, AS_OF_TS)]["monthly_amount"].sum())
    assert company.summary.usage_daily > 50 * company.summary.accounts
    # the accounts list shows the same MRR, and statuses as of as_of
    accounts = company.frame("SELECT status, mrr, summary_as_of FROM accounts")
    assert int(accounts["mrr"].sum()) == company.summary.mrr
    assert int((accounts["mrr"] > 0).sum()) == company.summary.paying_accounts
    assert {"active", "churned", "prospect"} <= set(accounts["status"])
    assert (accounts["summary_as_of"] == AS_OF.isoformat()).all()


def test_account_summaries_are_what_the_daily_pipeline_computes(tmp_path: Path) -> None:
    engine, _ = _generate(tmp_path / "p.db", accounts=60, months=12, seed=5)
    columns = "id, status, mrr, currency, plan_id, renewal_on, customer_since, churned_on, summary_as_of"
    try:
        with engine.connect() as conn:
            before = pd.read_sql(f"SELECT {columns} FROM accounts ORDER BY id", conn)
        with session_scope(engine) as session:
            run_daily(session, AS_OF, RunContext())
        with engine.connect() as conn:
            after = pd.read_sql(f"SELECT {columns} FROM accounts ORDER BY id", conn)
    finally:
        engine.dispose()
    pd.testing.assert_frame_equal(before, after)
    assert set(before["status"]) >= {"active", "churned"}


def test_the_same_options_give_the_same_company_and_another_seed_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = _generate(tmp_path / "a.db", accounts=40, months=6, seed=3)
    monkeypatch.setattr(company_module, "CHUNK_ACCOUNTS", 7)  # chunking must not matter
    again, _ = _generate(tmp_path / "b.db", accounts=40, months=6, seed=3)
    other, _ = _generate(tmp_path / "c.db", accounts=40, months=6, seed=4)
    order = {"usage_daily": "account_id, day, metric"}
    try:
        for table in company_module.TABLES:
            sql = f"SELECT * FROM {table} ORDER BY {order.get(table, 'id')}"
            with first.connect() as a, again.connect() as b:
                pd.testing.assert_frame_equal(pd.read_sql(sql, a), pd.read_sql(sql, b), obj=table)
        sql = "SELECT name, domain FROM accounts ORDER BY id"
        with first.connect() as a, other.connect() as c:
            assert not pd.read_sql(sql, a).equals(pd.read_sql(sql, c))
    finally:
        for engine in (first, again, other):
            engine.dispose()


def test_a_demo_needs_an_empty_store(company: Company) -> None:
    with session_scope(company.engine) as session, pytest.raises(Conflict):
        generate_demo(session, accounts=5, as_of=AS_OF)
    with session_scope(company.engine) as session, pytest.raises(InvalidInput):
        generate_demo(session, accounts=0, as_of=AS_OF)


def test_every_timestamp_is_utc_in_whole_seconds_before_as_of(company: Company) -> None:
    columns = {
        "subscriptions": ["canceled_at", "created_at"], "tickets": ["opened_at", "first_response_at", "resolved_at"],
        "survey_responses": ["answered_at"], "activities": ["occurred_at"], "usage_events": ["timestamp"],
        "onboarding_milestones": ["completed_at"], "tasks": ["completed_at", "created_at"],
        "users": ["last_login_at"], "accounts": ["created_at"], "contacts": ["created_at"],
    }  # fmt: skip
    with session_scope(company.engine) as session:
        for table, names in columns.items():
            model = model_table(table)
            for name in names:
                values = [v for v in session.scalars(sa.select(model.c[name])) if v is not None]
                assert values, (table, name)
                assert all(v.tzinfo is UTC and v.microsecond == 0 for v in values), (table, name)
                assert max(values) < CUTOFF, (table, name)


# --- revenue and customers ------------------------------------------------------------


def test_a_few_accounts_bring_most_of_the_revenue(subscriptions: pd.DataFrame) -> None:
    mrr = subscriptions[_earning(subscriptions, AS_OF_TS)].groupby("account_id")["monthly_amount"].sum()
    mrr = mrr.sort_values(ascending=False)
    top = int(np.ceil(len(mrr) * 0.2))
    share = mrr.iloc[:top].sum() / mrr.sum()
    assert 0.60 <= share <= 0.85
    assert mrr.max() >= 500_000  # big customers on enterprise contracts
    assert (mrr <= 15_000).mean() >= 0.15  # many small ones on the starter plan
    assert (subscriptions["currency"] == "JPY").all()


def test_monthly_logo_churn_is_between_one_and_three_percent(subscriptions: pd.DataFrame) -> None:
    plans = subscriptions[subscriptions["kind"] == "plan"]
    churns = _churns(subscriptions)
    rates = []
    for month in pd.date_range(AS_OF_TS - pd.DateOffset(months=12), periods=12, freq="MS"):
        live = plans[_earning(plans, month)]["account_id"].nunique()
        ended = churns[(churns["ended_on"] > month) & (churns["ended_on"] <= month + pd.DateOffset(months=1))]
        rates.append(ended["account_id"].nunique() / live)
    assert 0.01 <= float(np.mean(rates)) <= 0.03


def _old_customer(tl: Timeline, fit: float, days_before: int = 900, annual: bool = False) -> Profile:
    return Profile(index=0, id=1, started_on=tl.start - timedelta(days=days_before), preexisting=True, seats=3,
                   rank=1, annual=annual, discount=0.0, trial_days=0, tier=0, fit=fit, n_contacts=1, n_users=2)  # fmt: skip


def test_customers_from_before_the_history_are_the_survivors_of_its_churn() -> None:
    # A real book holds only the old customers who did not leave before its records begin:
    # each kept draw follows the survivors' distribution, the prior weighted by the chance of
    # surviving every renewal to the history's start (checked by importance weighting).
    tl = Timeline.build(AS_OF, 24)
    prior = np.random.default_rng(11)
    kept, fits, weights = [], [], []
    for k in range(1500):
        fit = float(prior.normal())
        profile = _old_customer(tl, fit)
        eng = Engagement.draw(np.random.default_rng([12, k]), tl, fit)
        weights.append(survival_to_history(tl, profile, eng.at(0)))
        fits.append(fit)
        survivor, _eng = draw_survivor(np.random.default_rng([13, k]), tl, profile, eng)
        kept.append(survivor.fit)
    posterior = float(np.average(fits, weights=weights))
    assert posterior > 0.3  # the flighty (low fit) left before the history: the survivors fit better
    assert np.mean(kept) == pytest.approx(posterior, abs=0.08)
    assert np.mean(fits) < 0.1
    # the chance of surviving 29 monthly renewals is that of each renewal, multiplied
    good, poor = _old_customer(tl, 1.5), _old_customer(tl, -1.5)
    assert survival_to_history(tl, poor, -1.0) < 0.05 < 0.5 < survival_to_history(tl, good, 1.0)
    assert survival_to_history(tl, _old_customer(tl, 0.0, annual=True), 0.0) > survival_to_history(tl, poor, 0.0)
    # a customer who started inside the history, or whose own draw survives, is unchanged
    young = replace(good, started_on=tl.start + timedelta(days=3), preexisting=False)
    eng = Engagement.draw(np.random.default_rng(1), tl, young.fit)
    assert draw_survivor(np.random.default_rng(2), tl, young, eng) == (young, eng)
    assert survival_to_history(tl, young, -3.0) == 1.0


def test_the_store_knows_where_the_demo_history_begins(company: Company, subscriptions: pd.DataFrame) -> None:
    # usage begins on the history's first day and no contract ended before it, so the LTV
    # fit takes the older customers as survivors to that day without any setting
    with session_scope(company.engine) as session:
        start = history_start(session)
    assert (start.day, start.inferred) == (company.summary.start, True)
    assert (_churns(subscriptions)["ended_on"] > pd.Timestamp(company.summary.start)).all()
    assert (subscriptions["started_on"] < pd.Timestamp(company.summary.start)).sum() > 20


def test_churn_is_preceded_by_falling_usage(subscriptions: pd.DataFrame, logins: pd.DataFrame) -> None:
    first_day = logins.groupby("account_id")["day"].min()
    by_account = dict(tuple(logins.groupby("account_id")))
    checked = declined = 0
    for row in _churns(subscriptions).itertuples():
        end = row.ended_on
        if row.account_id not in first_day or first_day[row.account_id] > end - pd.Timedelta(days=120):
            continue
        usage = by_account[row.account_id]
        last = usage[(usage["day"] >= end - pd.Timedelta(days=30)) & (usage["day"] < end)]["value"].sum() / 30
        window = (usage["day"] >= end - pd.Timedelta(days=120)) & (usage["day"] < end - pd.Timedelta(days=60))
        before = usage[window]["value"].sum() / 60
        checked += 1
        declined += last < 0.6 * before
    assert checked >= 20
    assert declined >= 0.7 * checked


def test_promoters_use_the_product_more_than_detractors(company: Company, logins: pd.DataFrame) -> None:
    nps = company.frame("SELECT account_id, score, answered_at FROM survey_responses WHERE kind = 'nps'")
    contacts = company.frame("SELECT account_id, count(*) AS n FROM contacts GROUP BY account_id")
    per_contact = dict(zip(contacts["account_id"], contacts["n"], strict=True))
    by_account = dict(tuple(logins.groupby("account_id")))
    usage = []
    for row in nps.itertuples():
        day = pd.Timestamp(row.answered_at).normalize()
        frame = by_account.get(row.account_id)
        recent = (
            0.0
            if frame is None
            else frame[(frame["day"] < day) & (frame["day"] >= day - pd.Timedelta(days=30))]["value"].sum()
        )
        usage.append(recent / 30 / per_contact[row.account_id])
    nps["usage"] = usage
    promoters, detractors = nps[nps["score"] >= 9], nps[nps["score"] <= 6]
    assert len(promoters) > 50
    assert len(detractors) > 30
    assert promoters["usage"].mean() > 1.5 * detractors["usage"].mean()
    assert nps["score"].between(0, 10).all()


# --- subscriptions --------------------------------------------------------------------


def test_every_subscription_obeys_the_import_rules(subscriptions: pd.DataFrame) -> None:
    check = ENTITIES["subscriptions"].check
    assert check is not None
    for row in subscriptions.to_dict("records"):
        values = {k: (None if pd.isna(v) else v) for k, v in row.items()}
        assert check(values) == [], row
        assert values["quantity"] >= 0
        assert values["monthly_amount"] >= 0
        if values["ended_on"] is not None and values["ended_on"] > AS_OF_TS:
            assert values["status"] == "canceled", row
        if values["status"] == "canceled":
            assert values["canceled_at"] is not None, row
            assert values["cancel_reason"], row
        assert values["current_term_end"] is not None
        assert re.fullmatch(r"SUB-\d{7}", values["external_id"])


def test_plan_changes_replace_a_line_on_the_same_day(subscriptions: pd.DataFrame) -> None:
    changes = subscriptions[subscriptions["cancel_reason"] == "plan_change"]
    assert len(changes) >= 10
    plans = subscriptions[subscriptions["kind"] == "plan"]
    for row in changes.itertuples():
        after = plans[(plans["account_id"] == row.account_id) & (plans["started_on"] == row.ended_on)]
        assert len(after) == 1, row
        new = after.iloc[0]
        assert (new["product_id"], new["quantity"]) != (row.product_id, row.quantity)
    upgrades = changes.merge(plans, left_on=["account_id", "ended_on"], right_on=["account_id", "started_on"])
    assert (upgrades["monthly_amount_y"] > upgrades["monthly_amount_x"]).any()
    assert (upgrades["monthly_amount_y"] < upgrades["monthly_amount_x"]).any()


def test_trials_convert_or_expire(subscriptions: pd.DataFrame) -> None:
    trials = subscriptions[subscriptions["trial_ends_on"].notna()]
    converted = trials[trials["status"].isin(["active", "canceled"])]
    expired = trials[trials["status"] == "expired"]
    assert len(converted) >= 10
    assert len(expired) >= 10
    assert (expired["ended_on"] == expired["trial_ends_on"]).all()
    lines_per_account = subscriptions.groupby("account_id").size()
    assert (lines_per_account[expired["account_id"]] == 1).all()  # an expired trial never paid
    ongoing = trials[trials["status"] == "trial"]
    assert (ongoing["trial_ends_on"] > AS_OF_TS).all()
    assert ongoing["ended_on"].isna().all()


def test_some_churned_customers_come_back(subscriptions: pd.DataFrame) -> None:
    plans = subscriptions[subscriptions["kind"] == "plan"]
    churns = _churns(subscriptions)
    back = 0
    for account, ends in churns.groupby("account_id")["ended_on"]:
        later = plans[(plans["account_id"] == account) & (plans["started_on"] >= ends.min() + pd.Timedelta(days=30))]
        back += not later.empty
    assert back >= 2
    assert (subscriptions["kind"] == "addon").sum() >= 10  # cross-sell


# --- usage ----------------------------------------------------------------------------


def test_raw_events_of_the_last_14_days_reproduce_the_rollups(company: Company) -> None:
    events = company.frame(
        "SELECT e.*, c.account_id AS contact_account FROM usage_events e LEFT JOIN contacts c ON c.id = e.contact_id"
    )
    assert len(events) > 1000
    assert events["message_id"].is_unique
    assert (events["source"] == "demo").all()
    known = events["contact_id"].notna()
    assert (events[known]["contact_account"] == events[known]["account_id"]).all()
    # users beyond the contacts are known to the tracking by an id of their account
    assert known.any()
    assert (~known).any()
    assert (events["anonymous_id"].isna() == known).all()
    keys = events["account_id"].map(lambda a: f"demo-ACC-{a:06d}-u")
    assert all(anon.startswith(k) for anon, k in zip(events[~known]["anonymous_id"], keys[~known], strict=True))
    events["user"] = events["contact_id"].map(lambda c: None if pd.isna(c) else f"c:{int(c)}").fillna(
        "a:" + events["anonymous_id"].fillna("")
    )
    moments = pd.to_datetime(events["timestamp"])
    assert (moments == pd.to_datetime(events["received_at"])).all()
    local = moments + pd.Timedelta(hours=9)
    events["day"] = local.dt.date
    assert events["day"].min() == AS_OF - timedelta(days=14)
    assert events["day"].max() == AS_OF - timedelta(days=1)
    assert local.dt.hour.between(9, 18).all()  # office hours in Japan
    props = events["properties"].map(json.loads)
    events["minutes"] = [p.get(SESSION_MINUTES_PROPERTY, 0.0) for p in props]
    signed_in = events["event"] == LOGIN_EVENT
    keys = ["account_id", "day"]
    logins = events[signed_in]
    per_metric = {
        "logins": logins.groupby(keys).size(),
        "session_minutes": logins.groupby(keys)["minutes"].sum(),
        "events": events.groupby(keys).size(),
        "active_users": events.groupby(keys)["user"].nunique(),
    }
    for key, name in FEATURE_EVENTS.items():
        per_metric[f"feature.{key}"] = events[events["event"] == name].groupby(keys).size()
    expected = {
        (account, day, metric): float(value)
        for metric, series in per_metric.items()
        for (account, day), value in series.items()
    }
    assert (events[~signed_in]["event"].isin(list(FEATURE_EVENTS.values()))).all()
    daily = company.frame(
        f"SELECT account_id, day, metric, value FROM usage_daily WHERE day >= '{AS_OF - timedelta(days=14)}'"
    )
    stored = {(r.account_id, date.fromisoformat(r.day), r.metric): r.value for r in daily.itertuples()}
    assert stored == expected


def test_usage_is_sparse_whole_and_bounded_by_the_users(company: Company) -> None:
    daily = company.frame("SELECT account_id, metric, value FROM usage_daily")
    assert (daily["value"] > 0).all()
    whole = daily[daily["metric"] != "session_minutes"]["value"]
    assert (whole == whole.round()).all()
    assert (daily[daily["metric"] == "session_minutes"]["value"] % 1 != 0).any()
    seats = _max_seats(company)
    active = daily[daily["metric"] == "active_users"]
    assert (active["value"].to_numpy() <= seats[active["account_id"]].to_numpy()).all()
    assert set(daily["metric"]) >= {"logins", "active_users", "session_minutes", "events", "feature.reports"}


def _max_seats(company: Company) -> pd.Series:
    """The most seats each account's plan lines ever gave (quantity × included seats)."""
    return company.frame(
        "SELECT s.account_id, max(s.quantity * coalesce(p.seats_included, 1)) AS seats FROM subscriptions s "
        "JOIN products p ON p.id = s.product_id WHERE p.kind = 'plan' GROUP BY s.account_id"
    ).set_index("account_id")["seats"]


def test_tracked_users_follow_the_seats_not_the_contacts(company: Company) -> None:
    """A 500-seat customer has hundreds of users signing in, not at most 20 contacts."""
    peak = company.frame(
        "SELECT account_id, max(value) AS peak FROM usage_daily WHERE metric = 'active_users' GROUP BY account_id"
    ).set_index("account_id")["peak"]
    seats = _max_seats(company).reindex(peak.index)
    big = seats >= 100
    assert big.sum() >= 5
    assert (peak[big] > 20).mean() >= 0.8  # contacts are capped at 20; users are not
    assert (peak[big] >= 0.2 * seats[big]).mean() >= 0.8  # a busy day sees a good part of the seats
    assert float(np.corrcoef(np.log(seats), np.log(peak))[0, 1]) > 0.8


def test_support_is_not_perfect(company: Company) -> None:
    """Some first answers breach a one-business-day SLA, some tickets were never
    answered, and some answered ones stay open for months."""
    tickets = company.frame("SELECT opened_at, first_response_at, resolved_at, status FROM tickets")
    for column in ("opened_at", "first_response_at", "resolved_at"):
        tickets[column] = pd.to_datetime(tickets[column], utc=True)
    old = tickets[tickets["opened_at"] < pd.Timestamp(CUTOFF) - pd.Timedelta(days=60)]
    assert len(old) > 300
    wait = (old["first_response_at"] - old["opened_at"]).dt.total_seconds() / 3600
    late = (wait > 24).mean()
    unanswered = old["first_response_at"].isna().mean()
    unresolved = (old["first_response_at"].notna() & old["resolved_at"].isna()).mean()
    assert 0.04 <= late <= 0.15
    assert 0.003 <= unanswered <= 0.04
    assert 0.01 <= unresolved <= 0.08
    assert set(old[old["resolved_at"].isna()]["status"]) <= {"open", "pending"}
    assert (old["resolved_at"].notna() | old["status"].isin(["open", "pending"])).all()


def test_churns_come_in_several_shapes(subscriptions: pd.DataFrame, logins: pd.DataFrame) -> None:
    """Most churns are announced by falling usage, some by a slow slide over months,
    and some come without warning (usage as usual until the end)."""
    by_account = dict(tuple(logins.groupby("account_id")))
    checked = announced = slow = sudden = 0
    for row in _churns(subscriptions).itertuples():
        usage = by_account.get(row.account_id)
        end = row.ended_on
        if usage is None or usage["day"].min() > end - pd.Timedelta(days=300):
            continue

        def rate(lo: int, hi: int, usage: pd.DataFrame = usage, end: pd.Timestamp = end) -> float:
            sel = (usage["day"] >= end - pd.Timedelta(days=lo)) & (usage["day"] < end - pd.Timedelta(days=hi))
            return float(usage[sel]["value"].sum()) / (lo - hi)

        last, before, long_before = rate(30, 0), rate(120, 60), rate(300, 240)
        if long_before < 1.5:  # too few logins to see a shape
            continue
        checked += 1
        announced += last < 0.6 * before
        sudden += last >= 0.7 * before
        slow += before < 0.6 * long_before and last < before
    # 5 of the 47 churns have 300 days of usage before them (6 before the customers from before
    # the history were survivors: the old ones now churn less)
    assert checked >= 5
    assert announced >= 0.6 * checked
    assert sudden >= 1
    assert slow >= 1


def test_some_accounts_dip_and_recover(subscriptions: pd.DataFrame, logins: pd.DataFrame) -> None:
    """Accounts that stay go through months of low usage and come back."""
    churned = set(_churns(subscriptions)["account_id"])
    monthly = logins.assign(month=logins["day"].dt.to_period("M")).groupby(["account_id", "month"])["value"].sum()
    recovered = 0
    for account, series in monthly.groupby(level=0):
        if account in churned or len(series) < 9:
            continue
        v = series.to_numpy(dtype="float64")[1:-1]  # whole months only
        for i in range(2, len(v) - 2):
            before, low, after = v[i - 2 : i].mean(), v[i], v[i + 1 : i + 3].max()
            if before > 20 and low < 0.4 * before and after > 0.8 * before:
                recovered += 1
                break
    assert recovered >= 9  # without dips that recover (the engagement's own drift only): 4


def test_usage_stops_when_a_customer_leaves(subscriptions: pd.DataFrame, logins: pd.DataFrame) -> None:
    last_day = logins.groupby("account_id")["day"].max()
    plans = subscriptions[subscriptions["kind"] == "plan"]
    gone = plans.groupby("account_id").filter(lambda g: g["ended_on"].notna().all())
    final_end = gone.groupby("account_id")["ended_on"].max()
    final_end = final_end[final_end <= AS_OF_TS]
    assert len(final_end) >= 20
    for account, end in final_end.items():
        if account in last_day:
            assert last_day[account] < end


def test_usage_is_low_on_weekends_and_in_golden_week(logins: pd.DataFrame) -> None:
    per_day = logins.groupby("day")["value"].sum()
    per_day = per_day[per_day.index >= AS_OF_TS - pd.DateOffset(months=18)]
    weekday = per_day[per_day.index.day_of_week < 5]
    weekend = per_day[per_day.index.day_of_week >= 5]
    assert weekend.mean() < 0.25 * weekday.mean()
    golden = per_day[(per_day.index >= "2024-04-30") & (per_day.index <= "2024-05-02")]
    ordinary = per_day[((per_day.index >= "2024-04-15") & (per_day.index <= "2024-04-26"))
                       | ((per_day.index >= "2024-05-07") & (per_day.index <= "2024-05-17"))]  # fmt: skip
    ordinary = ordinary[ordinary.index.day_of_week < 5]
    assert golden.mean() < 0.4 * ordinary.mean()


# --- people and names -----------------------------------------------------------------


def test_names_are_japanese_and_addresses_valid(company: Company) -> None:
    accounts = company.frame("SELECT * FROM accounts")
    assert accounts["name"].is_unique
    assert accounts["domain"].is_unique
    assert accounts["name"].str.contains("株式会社|合同会社|有限会社|法人").all()
    assert all(parse.domain_name(d) == d and d.isascii() for d in accounts["domain"])
    assert accounts["external_id"].str.fullmatch(r"ACC-\d{6}").all()
    fields = accounts["custom_fields"].map(json.loads)
    assert all(
        set(f) == {"prefecture", "region", "source"} and all(isinstance(v, str) for v in f.values()) for f in fields
    )
    assert accounts["parent_id"].notna().sum() >= 1
    assert accounts["industry"].isin(["製造業", "IT・通信", "小売・EC"]).any()

    contacts = company.frame("SELECT c.*, a.domain FROM contacts c JOIN accounts a ON a.id = c.account_id")
    assert contacts["name"].map(lambda n: bool(JAPANESE.search(n))).all()
    assert all(
        parse.email(e) == e and e.endswith("@" + d) for e, d in zip(contacts["email"], contacts["domain"], strict=True)
    )
    assert contacts["email"].is_unique
    champions = contacts.groupby("account_id")["is_champion"].sum()
    assert champions.max() == 1
    assert champions.mean() > 0.7
    assert contacts.groupby("account_id").size().between(1, 20).all()

    users = company.frame("SELECT * FROM users")
    assert users["email"].str.endswith("@kizuna-demo.example").all()
    assert users["email"].is_unique
    assert all(parse.email(e) == e for e in users["email"])
    assert set(users["role"]) == {"admin", "lead", "csm", "viewer"}
    assert set(users["locale"]) == {"ja", "en"}
    assert users["name"].map(lambda n: bool(JAPANESE.search(n))).all()
    owned = accounts["owner_id"].notna()
    assert owned.any()
    assert (~owned).any()
    assert set(accounts.loc[owned, "owner_id"]) <= set(users.loc[users["role"] == "csm", "id"])


def test_the_cs_team_has_a_timeline_of_work(company: Company) -> None:
    activities = company.frame("SELECT kind, subject, author_id FROM activities")
    assert set(activities["kind"]) == {"meeting", "call", "email", "note"}
    assert activities["subject"].str.contains("QBR").any()
    assert activities["author_id"].notna().all()
    milestones = company.frame("SELECT name, due_on, completed_at FROM onboarding_milestones")
    assert milestones["completed_at"].notna().mean() > 0.6
    overdue = milestones[milestones["completed_at"].isna() & (pd.to_datetime(milestones["due_on"]) < AS_OF_TS)]
    assert len(overdue) > 0
    tickets = company.frame("SELECT status, csat, first_response_at, resolved_at FROM tickets")
    assert {"open", "solved", "closed"} <= set(tickets["status"])
    assert tickets["csat"].dropna().between(1, 5).all()
    tasks = company.frame("SELECT title, status, due_on FROM tasks")
    assert {"open", "done"} <= set(tasks["status"])
    assert tasks["title"].str.contains("更新前の利用状況レビュー").any()
    goals = company.frame("SELECT status FROM success_goals")
    assert goals["status"].nunique() >= 3


# --- the command ----------------------------------------------------------------------


def test_the_command_refuses_a_store_with_data_unless_reset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", url)
    runner = CliRunner()
    args = ["demo", "--accounts", "8", "--months", "2", "--as-of", "2025-03-31", "--no-serve"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "usage_daily" in first.output
    assert "MRR on 2025-03-31" in first.output

    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert isinstance(again.exception, InvalidInput)
    assert "--reset" in again.exception.message

    reset = runner.invoke(app, [*args, "--reset", "--seed", "9"])
    assert reset.exit_code == 0, reset.output
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM accounts")).scalar_one() == 8
    finally:
        engine.dispose()

    bad = runner.invoke(app, [*args, "--reset", "--as-of", "31/03/2025"])
    assert isinstance(bad.exception, InvalidInput)
    assert "--as-of" in bad.exception.message
