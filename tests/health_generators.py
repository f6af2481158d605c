"""Companies that are not the demo, written straight into a store, for the health
backtest (issue 20): each has its own shape of usage and its own causes of churn.

- :func:`consumer`: a consumer-style subscription (1–5 seats), daily activity and **no
  sign-in event** (no ``logins`` or ``session_minutes`` metric at all); accounts differ
  a lot in how much they use it; young accounts ramp up over their first weeks and churn
  more; churners fade (fewer active days, fewer events) over one to three months.
- :func:`b2b`: a B2B product on two plans (a 10-seat team plan and a per-seat business
  plan of 20–200 seats), users who log in about weekly, seat-based usage; churners lose
  users (seat use falls) and log in less over the months before they leave.
- :func:`causes`: churn from causes the demo does not use: never activated (little use
  from the start, gone within a few months), a sudden stop (usage ends, the contract
  weeks later), and a slow decline in volume while logins hold.

Every company also has what makes a backtest honest: accounts of very different sizes,
healthy accounts with a passing dip that recovers, and churners who leave without
warning. Seeded: the same seed gives the same store.

``build(session, name, accounts=…, seed=…)`` writes products, accounts, subscription
lines (a churner's line ends on its churn day) and daily usage rollups, and returns the
:class:`Generated` summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from kizuna.db import Session, bulk

AS_OF = date(2026, 11, 20)
DAYS = 365  # twelve months of usage up to AS_OF
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Account:
    """One simulated account: its plan, seats, start, churn day and daily usage."""

    plan: int  # product id
    quantity: int
    seats: int
    started: date
    churned: date | None
    usage: dict[str, np.ndarray]  # metric → value per day of the window (index 0 = first day)


@dataclass(frozen=True)
class Generated:
    name: str
    accounts: int
    churned: int
    usage_rows: int
    first_day: date
    last_day: date


def _days() -> list[date]:
    first = AS_OF - timedelta(days=DAYS - 1)
    return [first + timedelta(days=d) for d in range(DAYS)]


def _start(rng: np.random.Generator) -> int:
    """The start day relative to the window: 40 % before it (up to two years), the rest
    joining during its first ten months."""
    if rng.random() < 0.4:
        return -int(rng.integers(30, 730))
    return int(rng.integers(0, 300))


def _ramp(n: int, start: int, days: int, low: float) -> np.ndarray:
    """1.0 everywhere, rising from ``low`` over the first ``days`` after ``start``."""
    t = np.arange(n) - start
    return np.where(t < days, low + (1.0 - low) * np.clip(t, 0, days) / days, 1.0)


def _fade(n: int, end: int, days: int, floor: float) -> np.ndarray:
    """1.0 until ``days`` before ``end``, then falling linearly to ``floor`` at ``end``."""
    t = np.arange(n)
    return np.where(t < end - days, 1.0, 1.0 - (1.0 - floor) * np.clip(t - (end - days), 0, days) / days)


def _dip(rng: np.random.Generator, n: int) -> np.ndarray:
    """A passing dip (holidays, a busy quarter): 30–60 days at 40–70 %, then back."""
    at, length = int(rng.integers(0, n - 30)), int(rng.integers(30, 60))
    out = np.ones(n)
    out[at : at + length] = rng.uniform(0.4, 0.7)
    return out


def _churn_day(rng: np.random.Generator, start: int, hazard: float, young: float) -> int | None:
    """A churn day inside the window (after at least 45 days of life), or None."""
    risk = hazard + (young if start > 120 else 0.0)
    if rng.random() >= risk:
        return None
    lo = max(start + 45, 60)
    return int(rng.integers(lo, DAYS + 60)) if lo < DAYS else None


def _alive(n: int, start: int, churn: int | None) -> np.ndarray:
    t = np.arange(n)
    return (t >= start) & (t < (churn if churn is not None else n + 1))


def consumer(rng: np.random.Generator, n: int) -> list[Account]:
    out = []
    for _i in range(n):
        seats = int(rng.integers(1, 6))
        start = _start(rng)
        churn = _churn_day(rng, start, 0.22, 0.18)
        level = float(rng.lognormal(0.0, 0.9))  # how much this household uses the product
        m = _ramp(DAYS, start, int(rng.integers(14, 45)), 0.3)
        if rng.random() < 0.25:
            m = m * _dip(rng, DAYS)
        if churn is not None and rng.random() < 0.8:  # most fade first; the rest leave without warning
            m = m * _fade(DAYS, churn, int(rng.integers(30, 100)), float(rng.uniform(0.05, 0.4)))
        alive = _alive(DAYS, start, churn)
        p_day = np.clip(0.55 * m, 0, 1) * alive
        users = rng.binomial(seats, p_day)
        events = rng.poisson(users * 12.0 * level * np.clip(0.5 + 0.5 * m, 0, 1))
        usage = {
            "active_users": users.astype(float), "events": events.astype(float),
            "feature.reports": rng.binomial(events, 0.1).astype(float),
            "feature.exports": rng.binomial(events, 0.03 * np.clip(m, 0, 1)).astype(float),
        }  # fmt: skip
        out.append(Account(1, 1, seats, _day(start), _day(churn), usage))
    return out


def b2b(rng: np.random.Generator, n: int) -> list[Account]:
    out = []
    for _i in range(n):
        business = rng.random() < 0.5
        quantity = int(rng.integers(20, 201)) if business else int(rng.integers(1, 4))
        seats = quantity if business else quantity * 10
        start = _start(rng)
        churn = _churn_day(rng, start, 0.2, 0.1)
        adoption = float(rng.beta(4, 2))  # the share of seats that are real users
        m = _ramp(DAYS, start, int(rng.integers(30, 90)), 0.2)
        if rng.random() < 0.25:
            m = m * _dip(rng, DAYS)
        if churn is not None and rng.random() < 0.75:
            m = m * _fade(DAYS, churn, int(rng.integers(45, 120)), float(rng.uniform(0.05, 0.35)))
        alive = _alive(DAYS, start, churn)
        weekday = (np.arange(DAYS) % 7 < 5).astype(float)
        p_day = np.clip(0.28 * adoption * m * weekday, 0, 1) * alive  # about weekly per user
        users = rng.binomial(seats, p_day)
        logins = users + rng.binomial(users, 0.3)
        events = rng.poisson(users * float(rng.uniform(5, 25)))
        usage = {
            "active_users": users.astype(float), "logins": logins.astype(float),
            "session_minutes": (logins * rng.uniform(8, 30)).round(), "events": (events + logins).astype(float),
            "feature.dashboards": rng.binomial(events, 0.3).astype(float),
            "feature.workflows": rng.binomial(events, 0.05 * np.clip(m, 0, 1)).astype(float),
            "feature.api": rng.binomial(events, 0.1 * float(rng.random() < 0.4)).astype(float),
        }  # fmt: skip
        out.append(Account(2 if business else 1, quantity, seats, _day(start), _day(churn), usage))
    return out


def _latest(day: int) -> int:
    """A churn day drawn from ``day`` on: at most the last day of the draws (an account that
    starts late churns at the end, not a failed draw)."""
    return min(day, DAYS + 59)


def causes(rng: np.random.Generator, n: int) -> list[Account]:
    out = []
    for _i in range(n):
        seats = int(rng.integers(3, 40))
        start = _start(rng)
        cause = rng.choice(["none", "never", "stop", "volume", "silent"], p=[0.72, 0.07, 0.08, 0.08, 0.05])
        churn: int | None = None
        m_users, m_volume = _ramp(DAYS, start, 30, 0.4), np.ones(DAYS)
        if rng.random() < 0.25:
            m_users = m_users * _dip(rng, DAYS)
        if cause == "never":  # never activated: a trickle from the start, gone in two to five months
            start = int(rng.integers(0, 250))
            churn = start + int(rng.integers(60, 150))
            m_users = np.full(DAYS, float(rng.uniform(0.03, 0.15)))
        elif cause == "stop":  # a sudden stop, the contract ends three to eight weeks later
            churn = int(rng.integers(_latest(max(start, 0) + 90), DAYS + 60))
            stop = churn - int(rng.integers(20, 56))
            m_users = m_users * np.where(np.arange(DAYS) < stop, 1.0, 0.02)
        elif cause == "volume":  # logins hold, the work done in the product declines
            churn = int(rng.integers(_latest(max(start, 0) + 150), DAYS + 60))
            m_volume = _fade(DAYS, churn, int(rng.integers(60, 120)), float(rng.uniform(0.05, 0.3)))
        elif cause == "silent":  # no warning at all
            churn = int(rng.integers(_latest(max(start, 0) + 60), DAYS + 60))
        alive = _alive(DAYS, start, churn)
        adoption = float(rng.beta(5, 2))
        p_day = np.clip(0.5 * adoption * m_users, 0, 1) * alive
        users = rng.binomial(seats, p_day)
        logins = users.copy()
        events = rng.poisson(users * float(rng.lognormal(2.5, 0.6)) * m_volume)
        usage = {
            "active_users": users.astype(float), "logins": logins.astype(float),
            "session_minutes": (logins * 15.0 * (0.3 + 0.7 * m_volume)).round(),
            "events": (events + logins).astype(float),
            "feature.reports": rng.binomial(events, 0.2).astype(float),
            "feature.dashboards": rng.binomial(events, 0.2).astype(float),
        }  # fmt: skip
        out.append(Account(1, seats, seats, _day(start), _day(churn), usage))
    return out


def _day(offset: int | None) -> date | None:
    return None if offset is None else AS_OF - timedelta(days=DAYS - 1) + timedelta(days=offset)


GENERATORS: dict[str, Callable[[np.random.Generator, int], list[Account]]] = {
    "consumer": consumer, "b2b": b2b, "causes": causes,
}  # fmt: skip

PRODUCTS = {
    "consumer": [(1, "plus", "Plus", 1)],
    "b2b": [(1, "team", "Team", 10), (2, "business", "Business (per seat)", None)],
    "causes": [(1, "seat", "Per seat", None)],
}


def build(session: Session, name: str, *, accounts: int = 300, seed: int = 7) -> Generated:
    """Write the company ``name`` (see :data:`GENERATORS`) into an empty store."""
    rng = np.random.default_rng(seed)
    made = GENERATORS[name](rng, accounts)
    bulk.insert_many(session, "products", [
        {"id": pid, "code": code, "name": label, "kind": "plan", "rank": 1, "list_price": 1000, "currency": "JPY",
         "is_active": True, "seats_included": included, "created_at": STAMP, "updated_at": STAMP}
        for pid, code, label, included in PRODUCTS[name]
    ])  # fmt: skip
    bulk.insert_many(session, "accounts", [
        {"id": i, "external_id": f"{name[:3].upper()}{i}", "name": f"{name} {i}", "custom_fields": {},
         "status": "churned" if a.churned and a.churned <= AS_OF else "active", "mrr": 0,
         "created_at": STAMP, "updated_at": STAMP}
        for i, a in enumerate(made, start=1)
    ])  # fmt: skip
    bulk.insert_many(session, "subscriptions", [
        {"id": i, "external_id": f"S{i}", "account_id": i, "product_id": a.plan, "quantity": a.quantity,
         "monthly_amount": 1000 * a.quantity, "currency": "JPY", "billing_interval": "month",
         "status": "canceled" if a.churned and a.churned <= AS_OF else "active", "started_on": a.started,
         "ended_on": a.churned if a.churned and a.churned <= AS_OF else None,
         "created_at": STAMP, "updated_at": STAMP}
        for i, a in enumerate(made, start=1)
    ])  # fmt: skip
    days = _days()
    rows = 0
    for i, a in enumerate(made, start=1):
        batch = [
            {"account_id": i, "day": days[d], "metric": metric, "value": float(values[d])}
            for metric, values in sorted(a.usage.items())
            for d in np.nonzero(values > 0)[0].tolist()
        ]
        bulk.insert_many(session, "usage_daily", batch)
        rows += len(batch)
    churned = sum(1 for a in made if a.churned and a.churned <= AS_OF)
    return Generated(name, len(made), churned, rows, days[0], days[-1])
