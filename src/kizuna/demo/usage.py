"""Daily usage rollups and the raw events behind the last 14 days of them.

Per live day, each of the account's tracked users (most of its seats: its contacts,
and colleagues known to the tracking only by an id) is active with a probability that follows the day's engagement and the calendar (weekends, holidays,
Golden Week, Obon, New Year, a busier March). Active users sign in, spend session
minutes and use the features their company adopted. Raw events are drawn for the
last :data:`EVENT_DAYS` days so that they add up exactly to those days' rollups under
the mapping of :mod:`kizuna.domain.usage`: one ``Signed In`` per login (its
``session_minutes`` property summing to the day's minutes), one mapped event per
feature use, ``events`` = all events, ``active_users`` = distinct users (a contact,
else the user's ``anonymous_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from kizuna.demo.names import FEATURE_PROPERTIES
from kizuna.demo.timeline import OPEN, Timeline
from kizuna.domain.usage import (
    FEATURE_EVENTS,
    LOGIN_EVENT,
    METRIC_ACTIVE_USERS,
    METRIC_EVENTS,
    METRIC_LOGINS,
    METRIC_SESSION_MINUTES,
    SESSION_MINUTES_PROPERTY,
    feature_metric,
)

EVENT_DAYS = 14
SOURCE = "demo"
LAST_LOGIN = 17 * 3600 + 1800  # sessions start 09:00–17:30 JST
LAST_EVENT = 19 * 3600 - 1  # and nothing happens after 18:59:59

FEATURES: tuple[str, ...] = tuple(FEATURE_EVENTS)
#: Feature → (chance an account uses it at all, uses per active user per day).
ADOPTION: dict[str, tuple[float, float]] = {
    "reports": (0.75, 0.30),
    "dashboards": (0.85, 0.70),
    "workflows": (0.35, 0.30),
    "integrations": (0.30, 0.20),
    "exports": (0.50, 0.10),
    "api": (0.10, 0.80),
}

# Rows are written in (day, metric) order; metrics sorted by name like the primary key.
_METRICS: tuple[str, ...] = tuple(
    sorted(
        [METRIC_ACTIVE_USERS, METRIC_EVENTS, METRIC_LOGINS, METRIC_SESSION_MINUTES]
        + [feature_metric(k) for k in FEATURES]
    )
)
_ROW_OF = {name: i for i, name in enumerate(_METRICS)}
_KERNEL = 0.75 ** np.arange(20, dtype=np.float64)
_KERNEL *= 0.35 / np.sqrt(np.sum(_KERNEL**2))


def feature_rates(rng: np.random.Generator, rank: int, has_api_addon: bool) -> np.ndarray:
    """Uses per active user per day of each feature for one account (0: not adopted)."""
    rates = np.zeros(len(FEATURES))
    for i, key in enumerate(FEATURES):
        chance, rate = ADOPTION[key]
        if key == "api":
            chance = 0.9 if has_api_addon else (0.25 if rank >= 3 else chance)
        else:
            chance = min(0.98, chance * (0.7 + 0.15 * rank))
        if rng.random() < chance:
            rates[i] = rate * float(rng.lognormal(0.0, 0.4))
    return rates


@dataclass
class DailyUsage:
    """One account's usage on its live days (arrays aligned with ``days``)."""

    days: np.ndarray  # day indices
    active: np.ndarray
    logins: np.ndarray
    halves: np.ndarray  # session minutes × 2
    features: np.ndarray  # (len(FEATURES), n)

    def matrix(self) -> np.ndarray:
        """Values per metric (rows in ``_METRICS`` order) and day."""
        m = np.zeros((len(_METRICS), len(self.days)))
        m[_ROW_OF[METRIC_ACTIVE_USERS]] = self.active
        m[_ROW_OF[METRIC_LOGINS]] = self.logins
        m[_ROW_OF[METRIC_SESSION_MINUTES]] = self.halves * 0.5
        m[_ROW_OF[METRIC_EVENTS]] = self.logins + self.features.sum(axis=0)
        for i, key in enumerate(FEATURES):
            m[_ROW_OF[feature_metric(key)]] = self.features[i]
        return m


def simulate_usage(
    rng: np.random.Generator,
    tl: Timeline,
    level: np.ndarray,
    live: list[tuple[int, int]],
    n_users: int,
    rates: np.ndarray,
) -> DailyUsage:
    days = np.concatenate([np.arange(a, b) for a, b in live]) if live else np.zeros(0, dtype=np.int64)
    n = len(days)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return DailyUsage(days, empty, empty, empty, np.zeros((len(FEATURES), 0), dtype=np.int64))
    first, last = int(days[0]), int(days[-1])
    white = rng.normal(0.0, 1.0, last - first + 1 + len(_KERNEL) - 1)
    noise = np.convolve(white, _KERNEL, mode="valid")[days - first]
    x = level[days] + noise
    sig = 1.0 / (1.0 + np.exp(-x))
    p = np.minimum(0.75 / (1.0 + np.exp(-(1.3 * x + 0.05))) * tl.season[days], 0.95)
    active = rng.binomial(n_users, p)
    logins = active + rng.poisson(active * (0.15 + 0.35 * sig))
    halves = logins + rng.poisson(logins * (2.0 * (4.0 + 12.0 * sig) - 1.0))
    features = rng.poisson(active[None, :] * rates[:, None] * (0.3 + sig)[None, :])
    return DailyUsage(days, active, logins, halves, features)


def rollup_rows(tl: Timeline, account_id: int, usage: DailyUsage) -> list[dict[str, Any]]:
    """The sparse ``usage_daily`` rows (values > 0 only) in key order."""
    if len(usage.days) == 0:
        return []
    m = usage.matrix().T  # (day, metric)
    day_pos, metric_pos = np.nonzero(m > 0)
    values = m[day_pos, metric_pos].tolist()
    dates = tl.dates
    day_index = usage.days[day_pos].tolist()
    metrics = _METRICS
    return [
        {"account_id": account_id, "day": dates[d], "metric": metrics[k], "value": v}
        for d, k, v in zip(day_index, metric_pos.tolist(), values, strict=True)
    ]


def event_rows(
    rng: np.random.Generator,
    tl: Timeline,
    account_id: int,
    account_key: str,
    contact_ids: list[int],
    usage: DailyUsage,
    n_users: int | None = None,
) -> list[dict[str, Any]]:
    """Raw events of the last :data:`EVENT_DAYS` days, consistent with the rollups.

    The account has ``n_users`` tracked users (default: its contacts): the first are
    its contacts, the others carry an ``anonymous_id`` (``demo-ACC-000123-u45``).
    Each day, the active users are a random subset of the users; each of them signs
    in once, further logins go to any of them. Every login gets at least half a minute
    and the day's remaining half-minutes are spread over the logins at random. Feature
    events happen during a random login of the day, by that login's user.
    """
    sel = np.nonzero((usage.days >= tl.days - EVENT_DAYS) & (usage.active > 0))[0]
    if len(sel) == 0:
        return []
    n_days = len(sel)
    active, logins = usage.active[sel], usage.logins[sel]
    extra = usage.halves[sel] - logins
    users_n = max(n_users or 0, len(contact_ids))
    order = np.argsort(rng.random((n_days, users_n)), axis=1)
    login_day = np.repeat(np.arange(n_days), logins)
    first_login = np.concatenate([[0], np.cumsum(logins)[:-1]])
    nth = np.arange(len(login_day)) - first_login[login_day]
    spare = (rng.random(len(login_day)) * active[login_day]).astype(np.int64)
    owners = order[login_day, np.where(nth < active[login_day], nth, spare)]
    extra_day = np.repeat(np.arange(n_days), extra)
    extra_login = first_login[extra_day] + (rng.random(len(extra_day)) * logins[extra_day]).astype(np.int64)
    parts = 1 + np.bincount(extra_login, minlength=len(login_day))
    starts = rng.integers(OPEN, LAST_LOGIN, len(login_day))
    days, seconds, kinds, users, values = [login_day], [starts], [np.zeros(len(login_day), np.int64)], [owners], [parts]
    for i, key in enumerate(FEATURES):
        counts = usage.features[i, sel]
        total = int(counts.sum())
        if total == 0:
            continue
        event_day = np.repeat(np.arange(n_days), counts)
        session = first_login[event_day] + (rng.random(total) * logins[event_day]).astype(np.int64)
        offset = (rng.random(total) * parts[session] * 30.0).astype(np.int64)
        days.append(event_day)
        seconds.append(np.minimum(starts[session] + offset, LAST_EVENT))
        kinds.append(np.full(total, i + 1, np.int64))
        users.append(owners[session])
        values.append(rng.integers(0, len(FEATURE_PROPERTIES[key][1]), total))
    day_a, sec_a = np.concatenate(days), np.concatenate(seconds)
    ranked = np.lexsort((np.arange(len(day_a)), sec_a, day_a)).tolist()
    day_l, sec_l = day_a.tolist(), sec_a.tolist()
    kind_l, user_l, value_l = (
        np.concatenate(kinds).tolist(),
        np.concatenate(users).tolist(),
        np.concatenate(values).tolist(),
    )
    midnight = [tl.moment(tl.dates[int(usage.days[s])], 0) for s in sel.tolist()]
    props_of = [FEATURE_PROPERTIES[key] for key in FEATURES]
    names = [FEATURE_EVENTS[key] for key in FEATURES]
    n_contacts = len(contact_ids)
    rows: list[dict[str, Any]] = []
    for serial, j in enumerate(ranked, start=1):
        moment = midnight[day_l[j]] + timedelta(seconds=sec_l[j])
        kind = kind_l[j]
        if kind == 0:
            event, props = LOGIN_EVENT, {SESSION_MINUTES_PROPERTY: value_l[j] * 0.5}
        else:
            prop, choices = props_of[kind - 1]
            event, props = names[kind - 1], {prop: choices[value_l[j]]}
        user = user_l[j]
        known = user < n_contacts
        rows.append({
            "source": SOURCE, "message_id": f"demo-{account_key}-{serial}", "account_id": account_id,
            "contact_id": contact_ids[user] if known else None,
            "anonymous_id": None if known else f"demo-{account_key}-u{user + 1}", "event": event,
            "timestamp": moment, "received_at": moment, "properties": props,
        })  # fmt: skip
    return rows
