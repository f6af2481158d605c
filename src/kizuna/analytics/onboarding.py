"""Onboarding KPIs: time to first value and time to complete onboarding, by touch tier and
by cohort (the month the plan started).

- **Time to complete** = days from the plan's start to the day its last milestone was
  ticked, for accounts whose every milestone is ticked.
- **Time to first value** = days from the start to the day the template's first-value
  milestone (``first_value = true``) was ticked; accounts whose plan has no such milestone
  are left out.

Accounts still onboarding are **censored**, not dropped and not counted as done: they are
known to take *at least* the days since their start. The median is the Kaplan–Meier median
(the first day the estimated share still onboarding falls to one half or below), so a
slow cohort is not made to look fast by leaving out those still going; None when fewer
than half have finished so far. The plain median of the finished accounts is given beside
it, with the counts (started, finished, still going).

Pure: the rows come in (one per account with a plan), ``as_of`` is passed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

ALL = "all"
NO_TIER = "none"
#: The order of the tier groups (a tier not named here comes after them).
TIER_ORDER = ("high", "low", "tech", NO_TIER)


@dataclass(frozen=True)
class Durations:
    """One group's figures for one measure (days)."""

    started: int
    finished: int
    censored: int
    km_median: float | None  # Kaplan–Meier median, still-going accounts censored
    median_finished: float | None  # the plain median of the finished only


@dataclass(frozen=True)
class GroupKpis:
    group: str  # a tier, a month (YYYY-MM) or "all"
    complete: Durations
    first_value: Durations


@dataclass(frozen=True)
class OnboardingKpis:
    as_of: date
    overall: GroupKpis
    by_tier: tuple[GroupKpis, ...]
    by_cohort: tuple[GroupKpis, ...]


def km_median(durations: Sequence[float], observed: Sequence[bool]) -> float | None:
    """The Kaplan–Meier median: the first time at which S(t) ≤ 0.5 (None if never)."""
    pairs = sorted(zip(durations, observed, strict=True))
    survival = 1.0
    at_risk = len(pairs)
    i = 0
    while i < len(pairs):
        t = pairs[i][0]
        events = leaving = 0
        while i < len(pairs) and pairs[i][0] == t:
            events += pairs[i][1]
            leaving += 1
            i += 1
        if events:
            survival *= 1 - events / at_risk
            # `<` would be the same: a product of fractions never lands on 0.5 + 1e-12 exactly
            if survival <= 0.5 + 1e-12:  # pragma: no mutate
                return float(t)
        at_risk -= leaving
    return None


def durations(items: Iterable[tuple[float, bool]]) -> Durations:
    pairs = list(items)
    finished = [d for d, seen in pairs if seen]
    return Durations(
        started=len(pairs), finished=len(finished), censored=len(pairs) - len(finished),
        km_median=km_median([d for d, _s in pairs], [s for _d, s in pairs]),
        median_finished=float(statistics.median(finished)) if finished else None,
    )  # fmt: skip


def _day(value: datetime, zone: tzinfo) -> date:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone).date()


def _measures(row: Mapping[str, Any], as_of: date, zone: tzinfo) -> tuple[tuple[float, bool], tuple[float, bool] | None]:
    start: date = row["started_on"]
    still = float(max(0, (as_of - start).days))
    done = row["milestones"] and row["completed"] >= row["milestones"] and row["last_done"] is not None
    complete = (float(max(0, (_day(row["last_done"], zone) - start).days)), True) if done else (still, False)
    first: tuple[float, bool] | None = None
    if row.get("has_first_value"):
        at = row.get("first_value_at")
        first = (float(max(0, (_day(at, zone) - start).days)), True) if at is not None else (still, False)
    return complete, first


def onboarding_kpis(rows: Iterable[Mapping[str, Any]], as_of: date, zone: tzinfo = UTC) -> OnboardingKpis:
    """The KPIs of the module docstring over ``rows`` (``started_on``, ``tier``, ``milestones``,
    ``completed``, ``last_done``, ``has_first_value``, ``first_value_at``); plans starting
    after ``as_of`` are left out."""
    groups: dict[tuple[str, str], tuple[list[tuple[float, bool]], list[tuple[float, bool]]]] = {}
    for row in rows:
        if row["started_on"] is None or row["started_on"] > as_of:
            continue
        complete, first = _measures(row, as_of, zone)
        keys = [("all", ALL), ("tier", row["tier"] or NO_TIER), ("cohort", row["started_on"].strftime("%Y-%m"))]
        for key in keys:
            c, f = groups.setdefault(key, ([], []))
            c.append(complete)
            if first is not None:
                f.append(first)

    def kpi(key: tuple[str, str]) -> GroupKpis:
        c, f = groups.get(key, ([], []))
        return GroupKpis(key[1], durations(c), durations(f))

    def tier_rank(key: tuple[str, str]) -> int:  # high, low, tech, none, then any other tier
        return TIER_ORDER.index(key[1]) if key[1] in TIER_ORDER else len(TIER_ORDER)

    tiers = sorted((k for k in groups if k[0] == "tier"), key=tier_rank)
    cohorts = sorted(k for k in groups if k[0] == "cohort")
    return OnboardingKpis(as_of, kpi(("all", ALL)), tuple(kpi(k) for k in tiers), tuple(kpi(k) for k in cohorts))
