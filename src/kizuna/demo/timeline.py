"""The demo's calendar: the simulated period, Japanese holidays and business hours.

Day ``0`` is the first day of the history and day ``days - 1`` is the day before
``as_of``: the demo shows the company as it stands on the morning of ``as_of`` (00:00
JST), so every timestamp is before that moment and usage covers complete days only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

JST_OFFSET = 9 * 3600
DAY_SECONDS = 86_400
OPEN = 9 * 3600  # 09:00 JST
CLOSE = 18 * 3600  # 18:00 JST


def days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (date(year, month + 1, 1) - date(year, month, 1)).days


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year = day.year + years
    return date(year, month0 + 1, min(day.day, days_in_month(year, month0 + 1)))


def _nth_monday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7 + 7 * (n - 1))


def japanese_holidays(year: int) -> list[date]:
    """Japan's national holidays of ``year`` (rules since 2020), with substitute holidays."""
    offset = year - 1980
    spring = int(20.8431 + 0.242194 * offset - offset // 4)
    autumn = int(23.2488 + 0.242194 * offset - offset // 4)
    days = [
        date(year, 1, 1),
        _nth_monday(year, 1, 2),  # 成人の日
        date(year, 2, 11),
        date(year, 2, 23),
        date(year, 3, spring),
        date(year, 4, 29),
        date(year, 5, 3),
        date(year, 5, 4),
        date(year, 5, 5),
        _nth_monday(year, 7, 3),  # 海の日
        date(year, 8, 11),
        _nth_monday(year, 9, 3),  # 敬老の日
        date(year, 9, autumn),
        _nth_monday(year, 10, 2),  # スポーツの日
        date(year, 11, 3),
        date(year, 11, 23),
    ]
    taken = set(days)
    for holiday in sorted(days):
        if holiday.weekday() == 6:  # a Sunday holiday moves to the next free weekday
            substitute = holiday + timedelta(days=1)
            while substitute in taken:
                substitute += timedelta(days=1)
            taken.add(substitute)
            days.append(substitute)
    return sorted(taken)


def is_long_break(day: date) -> bool:
    """Golden Week, Obon and the New Year break: offices are mostly closed."""
    md = (day.month, day.day)
    return (4, 29) <= md <= (5, 5) or (8, 13) <= md <= (8, 16) or md >= (12, 29) or md <= (1, 3)


def activity_factor(day: date, holidays: set[date]) -> float:
    """How busy a B2B product is on ``day`` relative to an ordinary weekday."""
    weekday = day.weekday()
    if weekday == 5:
        factor = 0.10
    elif weekday == 6:
        factor = 0.06
    elif day in holidays:
        factor = 0.12
    else:
        factor = 1.0
    if is_long_break(day):
        factor = min(factor, 0.15)
    if factor == 1.0 and day.month == 3:
        factor = 1.15  # fiscal year-end: reports, budgets, renewals
    return factor


@dataclass(frozen=True)
class Timeline:
    """The simulated period and its calendar, computed once per run."""

    start: date
    as_of: date
    dates: tuple[date, ...] = field(repr=False)
    season: np.ndarray = field(repr=False)  # activity factor per day
    weekday: np.ndarray = field(repr=False)  # True on ordinary working days

    @classmethod
    def build(cls, as_of: date, months: int) -> Timeline:
        start = add_months(as_of, -months)
        n = (as_of - start).days
        dates = tuple(start + timedelta(days=i) for i in range(n))
        holidays: set[date] = set()
        for year in range(start.year, as_of.year + 1):
            holidays.update(japanese_holidays(year))
        season = np.array([activity_factor(d, holidays) for d in dates], dtype=np.float64)
        working = season >= 1.0
        return cls(start, as_of, dates, season, working)

    @property
    def days(self) -> int:
        return len(self.dates)

    @property
    def cutoff(self) -> datetime:
        """00:00 JST on ``as_of``: everything in the demo happened before it."""
        return self.moment(self.as_of, 0)

    def index(self, day: date) -> int:
        """The day number of ``day`` (negative before the start, ``>= days`` from as_of)."""
        return (day - self.start).days

    def day(self, index: int) -> date:
        if 0 <= index < len(self.dates):
            return self.dates[index]
        return self.start + timedelta(days=index)

    @staticmethod
    def moment(day: date, jst_seconds: int) -> datetime:
        """``day`` at ``jst_seconds`` after midnight JST, as an aware UTC datetime."""
        base = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return base + timedelta(seconds=int(jst_seconds) - JST_OFFSET)

    def business_moment(self, rng: np.random.Generator, day: date) -> datetime:
        """A random moment of office hours (09:00–18:00 JST) on ``day``."""
        return self.moment(day, int(rng.integers(OPEN, CLOSE)))
