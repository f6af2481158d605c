"""Daily usage rollups (account × day × metric) from raw product events.

Two ways to the same figures:

- **incremental** (:func:`roll_up`): the ingestion writer adds each newly stored event's
  contribution in the transaction that stores it (a retried event is not new, so it adds
  nothing); distinct users go through ``usage_daily_users``, so ``active_users`` is
  incremental too, and a late event corrects its own day;
- **rebuild** (:func:`rebuild`): recompute the (account, day) pairs that have raw events
  from those events. Days without raw events (history loaded as rollups, e.g. by an
  import or the demo) are left as they are.

Both use :func:`contributions` under a :class:`~kizuna.domain.usage.UsageMapping`, and
days are local days in the configured time zone (passed in as a value), so an
incremental rollup and a rebuild agree exactly (``tests/test_usage_rollups.py``).

Events written without a rollup (``kizuna import usage-events``, the demo) are
*pending* until the daily pipeline's usage step (:func:`roll_up_pending`) or a rebuild
counts them; the writer also rebuilds a touched day that still has pending events.

Under load the ingestion writer defers the incremental step: a commit appends its sums
to two journals, and :func:`apply_deferred` adds them to the rollups about a second
later (see there why, and why the figures are the same).
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from kizuna.db import Session
from kizuna.db import usage as q
from kizuna.domain.usage import (
    DEFAULT_MAPPING,
    METRIC_ACTIVE_USERS,
    METRIC_EVENTS,
    METRIC_LOGINS,
    METRIC_SESSION_MINUTES,
    UsageMapping,
    feature_metric,
    session_minutes,
)
from kizuna.errors import ConfigurationError
from kizuna.i18n import _

DEFAULT_ZONE = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class RollupConfig:
    """What a rollup needs to know: the local time zone of days and the event mapping."""

    zone: ZoneInfo = DEFAULT_ZONE
    mapping: UsageMapping = DEFAULT_MAPPING


# --- the mapping file ---------------------------------------------------------------------


def load_mapping(path: Path | None) -> UsageMapping:
    """Read a mapping file (TOML), or the default mapping when ``path`` is None.

    ```toml
    [login]
    events = ["Signed In"]            # or event = "Signed In"
    session_minutes_property = "session_minutes"
    any_activity = false              # true: every event counts as a login (no sign-in event)

    [features]                        # feature key = event name (or a list of names)
    reports = "Report Created"
    dashboards = ["Dashboard Viewed", "Dashboard Shared"]
    ```
    Raises :class:`ConfigurationError` naming the file and the key at fault.
    """
    if path is None:
        return DEFAULT_MAPPING
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(_("{path}: no such mapping file").format(path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(_("{path}: cannot read the file: {reason}").format(path=path, reason=exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(_("{path}: not valid TOML: {reason}").format(path=path, reason=exc)) from None
    return mapping_from_dict(data, str(path))


def _names(value: Any, where: str, key: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigurationError(
            _("{path}: {key}: expected an event name or a list of event names").format(path=where, key=key)
        )
    return [v.strip() for v in values]


def mapping_from_dict(data: Mapping[str, Any], where: str) -> UsageMapping:
    unknown = sorted(set(data) - {"login", "features"})
    if unknown:
        raise ConfigurationError(
            _("{path}: {key}: unknown section (use [login] and [features])").format(path=where, key=unknown[0])
        )
    login = data.get("login", {})
    if not isinstance(login, dict):
        raise ConfigurationError(_("{path}: {key}: expected a table").format(path=where, key="login"))
    extra = sorted(set(login) - {"event", "events", "session_minutes_property", "any_activity"})
    if extra:
        raise ConfigurationError(_("{path}: {key}: unknown key").format(path=where, key=f"login.{extra[0]}"))
    if "event" in login and "events" in login:
        raise ConfigurationError(
            _("{path}: {key}: give either event or events, not both").format(path=where, key="login")
        )
    login_events = DEFAULT_MAPPING.login_events
    for key in ("event", "events"):
        if key in login:
            login_events = frozenset(_names(login[key], where, f"login.{key}"))
    prop = login.get("session_minutes_property", DEFAULT_MAPPING.session_minutes_property)
    if not isinstance(prop, str) or not prop.strip():
        raise ConfigurationError(
            _("{path}: {key}: expected a property name").format(path=where, key="login.session_minutes_property")
        )
    features: dict[str, str] = dict(DEFAULT_MAPPING.features)
    if "features" in data:
        table = data["features"]
        if not isinstance(table, dict):
            raise ConfigurationError(_("{path}: {key}: expected a table").format(path=where, key="features"))
        features = {}
        for feature, events in table.items():
            if not feature.replace("_", "").replace("-", "").isalnum() or len(feature) > 90:
                raise ConfigurationError(
                    _("{path}: {key}: a feature key is letters, digits, - and _ (at most 90)").format(
                        path=where, key=f"features.{feature}"
                    )
                )
            for event in _names(events, where, f"features.{feature}"):
                if event in features:
                    raise ConfigurationError(
                        _("{path}: {key}: event {event!r} already counts for feature {other!r}").format(
                            path=where, key=f"features.{feature}", event=event, other=features[event]
                        )
                    )
                features[event] = feature
    any_activity = login.get("any_activity", False)
    if not isinstance(any_activity, bool):
        raise ConfigurationError(
            _("{path}: {key}: expected true or false").format(path=where, key="login.any_activity")
        )
    return UsageMapping(frozenset(login_events), prop.strip(), MappingProxyType(features), any_activity)


# --- what one event adds ----------------------------------------------------------------------


def contributions(mapping: UsageMapping, event: str, properties: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The metrics one event adds to its account's day (``active_users`` aside)."""
    out: list[tuple[str, float]] = [(METRIC_EVENTS, 1.0)]
    if mapping.counts_as_login(event):
        out.append((METRIC_LOGINS, 1.0))
        minutes = session_minutes(properties.get(mapping.session_minutes_property))
        if minutes:
            out.append((METRIC_SESSION_MINUTES, minutes))
    feature = mapping.features.get(event)
    if feature is not None:
        out.append((feature_metric(feature), 1.0))
    return out


def user_key(contact_id: int | None, anonymous_id: str | None) -> str | None:
    """Who counts as one active user: the contact, else the anonymous id."""
    if contact_id is not None:
        return f"c:{contact_id}"
    return f"a:{anonymous_id}" if anonymous_id else None


class NewEvent(NamedTuple):
    """A stored event as the rollup sees it (a tuple: the writer makes thousands a second)."""

    account_id: int
    timestamp: datetime
    contact_id: int | None
    anonymous_id: str | None
    event: str
    properties: Mapping[str, Any]


class KnownUsers:
    """``(account, day, user)`` triples known to be in ``usage_daily_users`` already, so
    that the writer does not ask again for a user's every event. Only committed triples
    go in (see :meth:`commit`); rows of that table are only ever added or rewritten."""

    def __init__(self, limit: int = 1_000_000) -> None:
        self.known: set[tuple[int, date, str]] = set()
        self.pending: set[tuple[int, date, str]] = set()
        self.limit = limit

    def commit(self) -> None:
        if len(self.known) + len(self.pending) > self.limit:
            self.known.clear()
        self.known.update(self.pending)
        self.pending = set()

    def forget(self) -> None:
        self.known.clear()
        self.pending = set()


def _metrics_of(mapping: UsageMapping, event: str) -> tuple[bool, str | None]:
    """``(counts as a login, feature metric or None)``: the part of :func:`contributions`
    that depends on the event name only."""
    feature = mapping.features.get(event)
    return mapping.counts_as_login(event), feature_metric(feature) if feature is not None else None


def roll_up(
    session: Session, events: Iterable[NewEvent], config: RollupConfig, known: KnownUsers | None = None, *,
    defer: bool = False,
) -> int:  # fmt: skip
    """Add newly stored events to the rollups (same transaction). A touched account-day
    that still has pending (not rolled-up) events is rebuilt from its raw events instead,
    which counts the new ones too. Returns the number of account-days touched.

    The events' contributions are summed in memory first (what :func:`contributions`
    gives, per event name once), so each (account, day, metric) is one upsert however
    many events it has. With ``defer`` the sums and user keys are appended to the
    journals instead, in the same transaction, and :func:`apply_deferred` adds them to
    the rollups later (the ingestion writer under load, see :func:`apply_deferred`)."""
    zone, mapping = config.zone, config.mapping
    prop = mapping.session_minutes_property
    kinds: dict[str, tuple[bool, str | None]] = {}
    days: dict[int, date] = {}  # per quarter hour: every zone's offset is a multiple of 15 minutes
    sums: dict[tuple[int, date, str], float] = defaultdict(float)
    users: set[tuple[int, date, str]] = set()
    pairs: set[tuple[int, date]] = set()
    for account_id, timestamp, contact_id, anonymous_id, event, properties in events:
        slot = int(timestamp.timestamp()) // 900
        day = days.get(slot)
        if day is None:
            day = days[slot] = timestamp.astimezone(zone).date()
        pairs.add((account_id, day))
        kind = kinds.get(event)
        if kind is None:
            kind = kinds[event] = _metrics_of(mapping, event)
        sums[(account_id, day, METRIC_EVENTS)] += 1.0
        if kind[0]:
            sums[(account_id, day, METRIC_LOGINS)] += 1.0
            minutes = session_minutes(properties.get(prop))
            if minutes:
                sums[(account_id, day, METRIC_SESSION_MINUTES)] += minutes
        if kind[1] is not None:
            sums[(account_id, day, kind[1])] += 1.0
        if contact_id is not None:
            users.add((account_id, day, f"c:{contact_id}"))
        elif anonymous_id:
            users.add((account_id, day, f"a:{anonymous_id}"))
    if not pairs:
        return 0
    pending = q.pending_days(session, {a for a, _d in pairs}, zone)
    stale = [pair for pair in pairs if pair in pending]
    if stale:
        _rebuild_pairs(session, config, stale)  # counts this transaction's new events of those days too
        sums = defaultdict(float, {k: v for k, v in sums.items() if (k[0], k[1]) not in pending})
        users = {u for u in users if (u[0], u[1]) not in pending}
    if known is not None:
        seen = known.known
        users = {u for u in users if u not in seen}  # not `users -= seen`: that walks all of `seen`
        known.pending |= users
    if defer:
        q.defer_daily(session, [(a, d, m, v) for (a, d, m), v in sums.items()], sorted(users))
        return len(pairs)
    for account_id, day in q.add_daily_users(session, sorted(users)):
        sums[(account_id, day, METRIC_ACTIVE_USERS)] += 1.0
    q.add_daily(session, [(a, d, m, v) for (a, d, m), v in sums.items()])
    return len(pairs)


def apply_deferred(session: Session) -> int:
    """Add the journals' contributions to the rollups (same transaction) and empty them;
    returns how many journal rows were applied.

    Why a journal: ``usage_daily`` is keyed by account, so an ingestion commit of a few
    hundred events rewrites a page of it (and of its two covering indexes, and of
    ``usage_daily_users``) per account touched. Under load the writer appends the
    commit's sums to the journals instead (a few contiguous pages) and applies them
    about once a second: each (account, day, metric) is then updated once per second
    rather than once per commit. Sums commute, and a user key counts only when its
    insert into ``usage_daily_users`` is new, so applying late gives the same rollups;
    :func:`rebuild` and every day rebuild apply the journals first so that nothing is
    counted twice. Contributions of an account deleted meanwhile are dropped with it.
    On PostgreSQL all of it runs on the server, in one statement (:func:`kizuna.db.usage.apply_journals`)."""
    applied = q.apply_journals(session, METRIC_ACTIVE_USERS)
    if applied is not None:
        return applied
    daily, users = q.take_deferred(session)
    if not daily and not users:
        return 0
    sums: dict[tuple[int, date, str], float] = defaultdict(float)
    for account_id, day, metric, value in daily:
        sums[(account_id, day, metric)] += value
    for account_id, day in q.add_daily_users(session, sorted(users)):
        sums[(account_id, day, METRIC_ACTIVE_USERS)] += 1.0
    q.add_daily(session, [(a, d, m, v) for (a, d, m), v in sums.items()])
    return len(daily) + len(users)


# --- rebuild -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildSummary:
    account_days: int
    events: int
    rows: int


def _compute(
    config: RollupConfig, rows: Iterable[tuple[int, date, int | None, str | None, str, Any]]
) -> tuple[dict[tuple[int, date], dict[str, float]], dict[tuple[int, date], set[str]], int]:
    figures: dict[tuple[int, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    users: dict[tuple[int, date], set[str]] = defaultdict(set)
    mapping = config.mapping
    n = 0
    for account_id, day, contact_id, anonymous_id, event, properties in rows:
        n += 1
        pair = (account_id, day)
        target = figures[pair]
        props = (q.json_value(properties) or {}) if mapping.counts_as_login(event) else {}
        for metric, value in contributions(mapping, event, props):
            target[metric] += value
        key = user_key(contact_id, anonymous_id)
        if key is not None:
            users[pair].add(key)
    return figures, users, n


def _write(
    session: Session,
    pairs: list[tuple[int, date]],
    figures: Mapping[tuple[int, date], Mapping[str, float]],
    users: Mapping[tuple[int, date], set[str]],
) -> int:
    daily = []
    user_rows = []
    for pair in pairs:
        values = dict(figures.get(pair, {}))
        who = users.get(pair, set())
        if who:
            values[METRIC_ACTIVE_USERS] = float(len(who))
        daily += [(pair[0], pair[1], m, v) for m, v in sorted(values.items()) if v > 0]
        user_rows += [(pair[0], pair[1], u) for u in sorted(who)]
    q.replace_daily(session, pairs, daily, user_rows)
    return len(daily)


def _rebuild_pairs(session: Session, config: RollupConfig, pairs: list[tuple[int, date]]) -> RebuildSummary:
    apply_deferred(session)  # or a deferred sum of these days would count their events a second time
    figures, users, n = _compute(config, q.events_of_days(session, pairs, config.zone))
    rows = _write(session, pairs, figures, users)
    q.mark_rolled_up_days(session, pairs, config.zone)
    return RebuildSummary(len(pairs), n, rows)


def rebuild(
    session: Session, config: RollupConfig, *, account_ids: list[int] | None = None, since: date | None = None
) -> RebuildSummary:
    """Recompute the rollups of every (account, day) that has raw events, optionally only
    for some accounts and from a day on. Other days' rollups are not touched."""
    apply_deferred(session)
    figures, users, n = _compute(config, q.events_for_rebuild(session, config.zone, account_ids, since))
    pairs = sorted(figures)
    rows = _write(session, pairs, figures, users)
    q.mark_rolled_up(session, config.zone, account_ids, since)
    return RebuildSummary(len(pairs), n, rows)


def roll_up_pending(session: Session, config: RollupConfig) -> int:
    """Rebuild the account-days that have events not yet in the rollups (imported or
    generated ones), after applying any deferred contributions; returns how many events
    were pending."""
    apply_deferred(session)
    pairs = sorted(q.pending_days(session, None, config.zone))
    if not pairs:
        return 0
    return _rebuild_pairs(session, config, pairs).events


def account_ids(session: Session, external_ids: Sequence[str]) -> dict[str, int]:
    """The ids of the accounts with these external ids (those that exist)."""
    return q.account_ids(session, list(external_ids))
