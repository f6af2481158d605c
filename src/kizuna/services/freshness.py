"""Freshness of the data feeds (see :mod:`kizuna.domain.freshness` and
``docs/health.md#stale-feeds``).

    from kizuna.services import freshness
    freshness.check(session, as_of, zone, gaps)       # -> list[Freshness], one per source
    freshness.record_step(session, as_of, context)    # the daily job's step: check and store
    freshness.late_measures(session, as_of, context)  # health measures to count as missing, since when
    freshness.late_feeds(session)                     # what the banner shows (stored rows)
    freshness.status_rows(session)                    # kizuna status, /api/status
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kizuna.db import Session
from kizuna.db.queries import freshness as q
from kizuna.domain.freshness import HISTORY_DAYS, SOURCES, Freshness, freshness, stale_measures
from kizuna.services.context import RunContext


def check(session: Session, as_of: date, zone: ZoneInfo, gaps: Mapping[str, int] | None = None) -> list[Freshness]:
    """Each source's freshness on ``as_of``: its last day with data, its expected gap (set
    in ``gaps``, else from its days with data over the ``HISTORY_DAYS`` days up to that last day)."""
    gaps = gaps or {}
    out = []
    for source in SOURCES:
        last = q.last_day(session, source, as_of, zone)
        set_gap = gaps.get(source)
        days: list[date] = []
        if set_gap is None and last is not None:
            days = q.days_with_data(session, source, last - timedelta(days=HISTORY_DAYS), last, zone)
        out.append(freshness(source, days, last, as_of, set_gap))
    return out


def stale_sources(items: list[Freshness]) -> frozenset[str]:
    return frozenset(f.source for f in items if f.stale)


def stale_measures_on(session: Session, as_of: date, context: RunContext) -> frozenset[str]:
    """The health measures to count as missing on ``as_of``: those reading a stale source."""
    return late_measures(session, as_of, context)[0]


def late_measures(session: Session, as_of: date, context: RunContext) -> tuple[frozenset[str], date | None]:
    """The health measures to count as missing on ``as_of`` (those reading a stale
    source) and the first day one of those sources was late (None: none is)."""
    found = [f for f in check(session, as_of, context.zone, dict(context.freshness_gaps)) if f.stale]
    measures = stale_measures(f.source for f in found)
    since = [f.late_since for f in found if f.late_since is not None and stale_measures([f.source])]
    return measures, min(since) if since else None


def usage_is_stale(session: Session, as_of: date, context: RunContext) -> bool:
    """Whether the usage feed is late on ``as_of`` (the at-risk login rule then waits)."""
    found = check(session, as_of, context.zone, dict(context.freshness_gaps))
    return "usage" in stale_sources(found)


def record_step(session: Session, as_of: date, context: RunContext) -> int:
    """The daily job's step: check every source and store the result (what the banner,
    ``kizuna status`` and ``/api/status`` read). Returns the number of stale sources."""
    found = check(session, as_of, context.zone, dict(context.freshness_gaps))
    now = datetime.now(UTC)
    q.save(session, ({"source": f.source, "as_of": f.as_of, "last_day": f.last_day,
                      "expected_gap_days": f.expected_gap_days, "gap_is_set": f.gap_is_set, "stale": f.stale,
                      "checked_at": now} for f in found))  # fmt: skip
    return sum(f.stale for f in found)


def status_rows(session: Session) -> list[dict[str, Any]]:
    """The stored freshness, one row per source in the usual order: ``source, as_of,
    last_day, late_since, silent_days, expected_gap_days, gap_is_set, stale, checked_at``
    (empty before the daily job first ran)."""
    rows = {r["source"]: r for r in q.stored(session)}
    out = []
    for source in SOURCES:
        r = rows.get(source)
        if r is None:
            continue
        last = r["last_day"]
        out.append({
            "source": source, "as_of": r["as_of"], "last_day": last,
            "late_since": None if last is None else last + timedelta(days=1),
            "silent_days": None if last is None else (r["as_of"] - last).days,
            "expected_gap_days": r["expected_gap_days"], "gap_is_set": bool(r["gap_is_set"]),
            "stale": bool(r["stale"]), "checked_at": r["checked_at"],
        })  # fmt: skip
    return out


def late_feeds(session: Session) -> list[dict[str, Any]]:
    """The stale sources the daily job last found: ``source, label (English msgid),
    late_since, last_day`` — what the banner on every page shows."""
    return [{"source": r["source"], "label": SOURCES[r["source"]], "late_since": r["late_since"],
             "last_day": r["last_day"]} for r in status_rows(session) if r["stale"]]  # fmt: skip
