"""The month grid every KPI is computed on (月次).

A month's figures are taken at its *snapshot* day: the month's last day, or ``as_of``
for the month that contains it. Events with a time (tickets, survey answers) fall in
the month whose local midnights (in the reporting time zone) bound them, given here
as UTC epoch seconds so that every backend compares plain integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import ibis
import pandas as pd

from kizuna.errors import InvalidInput
from kizuna.i18n import _

MAX_MONTHS = 120
#: The days a report may be asked for: the grid reaches MAX_MONTHS + lookback months back,
#: and epochs must fit every backend's timestamps.
FIRST_AS_OF = date(1970, 1, 1)
LAST_AS_OF = date(9998, 12, 31)


def month_start(day: date, back: int = 0) -> date:
    """The first day of the month ``back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _epoch(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(), tzinfo=zone).timestamp())


@dataclass(frozen=True)
class MonthGrid:
    """``months`` reported months ending with ``as_of``'s month, plus ``lookback``
    earlier months (for the month before the first, and trailing-12-month figures).

    Index ``mi`` runs from 0 (the oldest month) to :attr:`last`; reported months are
    ``first_reported … last``.
    """

    as_of: date
    months: int = 12
    zone: str = "Asia/Tokyo"
    lookback: int = 13

    def __post_init__(self) -> None:
        if not 1 <= self.months <= MAX_MONTHS:
            raise InvalidInput(_("months must be from 1 to {n}").format(n=MAX_MONTHS), field="months")
        if not FIRST_AS_OF <= self.as_of <= LAST_AS_OF:
            raise InvalidInput(
                _("the report day must be from {first} to {last}").format(first=FIRST_AS_OF, last=LAST_AS_OF),
                field="as_of",
            )

    @property
    def size(self) -> int:
        return self.months + self.lookback

    @property
    def last(self) -> int:
        return self.size - 1

    @property
    def first_reported(self) -> int:
        return self.lookback

    def frame(self) -> pd.DataFrame:
        zone = ZoneInfo(self.zone)
        rows = []
        for mi in range(self.size):
            first = month_start(self.as_of, self.last - mi)
            following = month_start(self.as_of, self.last - mi - 1)
            snapshot = min(following - timedelta(days=1), self.as_of)
            end = snapshot + timedelta(days=1)  # exclusive: events up to the end of the snapshot day
            rows.append({
                "mi": mi, "month": first, "first_day": first, "start_day": first - timedelta(days=1),
                "snapshot": snapshot, "end_day": end,
                "start_epoch": _epoch(first, zone), "end_epoch": _epoch(end, zone),
            })  # fmt: skip
        return pd.DataFrame(rows)

    def table(self) -> ibis.Table:
        """The grid as a small in-memory Ibis table (created on the backend that uses it)."""
        frame = self.frame()
        # equivalent mutants: type names are read case-insensitively, and without a schema Ibis
        # infers the same types from this frame; the schema pins them
        return ibis.memtable(
            frame,
            schema={"mi": "int64", "month": "date", "first_day": "date", "start_day": "date", "snapshot": "date",  # pragma: no mutate
                    "end_day": "date",  # pragma: no mutate
                    "start_epoch": "int64", "end_epoch": "int64"},  # pragma: no mutate
        )  # fmt: skip

    def label(self, mi: int) -> str:
        return month_start(self.as_of, self.last - mi).strftime("%Y-%m")

    def labels(self) -> list[str]:
        return [self.label(mi) for mi in range(self.size)]

    def end_epoch(self) -> int:
        """UTC epoch second at which ``as_of`` ends in the reporting zone."""
        return _epoch(self.as_of + timedelta(days=1), ZoneInfo(self.zone))
