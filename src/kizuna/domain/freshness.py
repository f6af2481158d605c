"""Freshness of the data feeds (鮮度): when each source last brought data, how long it is
normally silent, and whether it is late ("stale").

A source is **stale** on a day when the days since its last data exceed its expected
gap: set per source (``KIZUNA_FRESHNESS_GAPS``, e.g. ``usage=2,tickets=7``), else derived
from its own history — the 95th percentile of the gaps between consecutive days with
data over the :data:`HISTORY_DAYS` days up to its last day with data, never below
:data:`FLOOR_DAYS`. A source with no data at all, or with fewer than
:data:`MIN_HISTORY_DAYS` days with data in that window and no gap set, is not judged
(there is no feed to be late, or too little to know its rhythm).

While a source is stale the health measures that read it count as **missing** (their
weight is shared out among the others, as for an account without that data) instead of
as zero activity: a broken feed must not turn the whole book red. An account whose own
usage stopped while the feed is alive still scores zero activity — a real risk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _

#: The sources, in the order they are shown, with their labels (English msgids).
SOURCES: dict[str, str] = {
    "usage": N_("Product usage"),
    "tickets": N_("Support tickets"),
    "surveys": N_("Survey answers"),
    "subscriptions": N_("Subscriptions"),
    "activities": N_("Activities"),
}

#: The health measures (``kizuna.domain.health.MEASURES``) that read each source.
SOURCE_MEASURES: dict[str, tuple[str, ...]] = {
    "usage": ("logins_vs_baseline", "login_trend", "login_days", "active_users_per_seat", "feature_breadth",
              "usage_minutes_per_seat"),
    "tickets": ("open_tickets", "escalated_tickets"),
    "surveys": ("nps", "csat"),
    "subscriptions": (),  # renewal dates come from the contract, not from a feed's recent rows
    "activities": (),
}  # fmt: skip

#: How far back the gaps between days with data are read.
HISTORY_DAYS = 180
#: The expected gap is never below this many days (a feed a day late is not yet stale).
FLOOR_DAYS = 3
#: The share of past gaps the expected gap covers.
QUANTILE = 0.95
#: Fewer days with data than this in the history: the rhythm is unknown, nothing is judged.
MIN_HISTORY_DAYS = 5


@dataclass(frozen=True)
class Freshness:
    """One source on one day."""

    source: str
    last_day: date | None  # the last day with data up to the day (None: never)
    expected_gap_days: int | None  # None: too little history to know (not judged)
    gap_is_set: bool  # set by the configuration (else derived from the history)
    as_of: date

    @property
    def silent_days(self) -> int | None:
        return None if self.last_day is None else (self.as_of - self.last_day).days

    @property
    def stale(self) -> bool:
        silent = self.silent_days
        return silent is not None and self.expected_gap_days is not None and silent > self.expected_gap_days

    @property
    def late_since(self) -> date | None:
        """The first day without data (shown as "late since")."""
        return None if self.last_day is None else self.last_day + timedelta(days=1)


def expected_gap(days: Iterable[date], *, floor: int = FLOOR_DAYS, quantile: float = QUANTILE) -> int | None:
    """The gap (in days) that ``quantile`` of the gaps between consecutive days with data
    do not exceed (nearest rank), at least ``floor``. Fewer than ``MIN_HISTORY_DAYS``
    days: None (unknown)."""
    ordered = sorted(set(days))
    if len(ordered) < MIN_HISTORY_DAYS:
        return None
    gaps = sorted((b - a).days for a, b in pairwise(ordered))
    rank = max(1, math.ceil(quantile * len(gaps)))
    return max(floor, gaps[rank - 1])


def freshness(
    source: str, days_with_data: Sequence[date], last_day: date | None, as_of: date, set_gap: int | None = None
) -> Freshness:
    """The freshness of ``source`` on ``as_of`` from its days with data (the history
    window up to its last day with data) and that last day."""
    gap = set_gap if set_gap is not None else expected_gap(days_with_data)
    return Freshness(source, last_day, gap, set_gap is not None, as_of)


def stale_measures(stale_sources: Iterable[str]) -> frozenset[str]:
    """The health measures to count as missing while these sources are stale."""
    return frozenset(m for s in stale_sources for m in SOURCE_MEASURES.get(s, ()))


def parse_gaps(text: str) -> dict[str, int]:
    """``usage=2,tickets=7`` → ``{"usage": 2, "tickets": 7}``; a bad entry raises
    :class:`InvalidInput` naming it."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in SOURCES:
            raise InvalidInput(
                _("freshness gaps: {entry!r} must be SOURCE=DAYS with SOURCE one of: {sources}").format(
                    entry=part[:40], sources=", ".join(SOURCES)
                ),
                field="freshness_gaps",
            )
        value = value.strip()
        # isdigit() alone lets '²' through to int(), which refuses it with its own message
        if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 3650:
            raise InvalidInput(
                _("freshness gaps: {source}: days must be a whole number from 1 to 3650, not {value!r}").format(
                    source=name, value=value[:20]
                ),
                field="freshness_gaps",
            )
        out[name] = int(value)
    return out


def gaps_text(gaps: Mapping[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in gaps.items())
