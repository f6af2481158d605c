"""The freshness of each data feed as the daily job last found it (鮮度): one row per
source, read by the stale-feed banner, ``kizuna status`` and ``/api/status``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import UTCDateTime, utcnow


class SourceFreshness(Base):
    __tablename__ = "source_freshness"

    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)  # the day the daily job checked it for
    last_day: Mapped[date | None] = mapped_column(Date)  # the last day with data (None: never)
    expected_gap_days: Mapped[int | None] = mapped_column(Integer)  # None: too little history
    gap_is_set: Mapped[bool] = mapped_column(Boolean, default=False)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
