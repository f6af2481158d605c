"""Health scores (ヘルススコア): daily snapshots, CSM sentiment entries and the
scorecard versions leads save in the UI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BoundedDate, JsonDoc, UTCDateTime, str_enum, utcnow
from kizuna.domain.health import HealthGrade, LetterGrade


class HealthSnapshot(Base):
    """One account's health on one day: the score, both grades, the scorecard used,
    each measure's value/points/weight (``measures``: ``{key: {"value", "points",
    "weight"}}``, value None when missing), the 7- and 30-day change, and the
    explanation (``[{"kind", "measure", "value", "before", "points"}]``: structured,
    rendered in the reader's language)."""

    __tablename__ = "health_snapshots"
    __table_args__ = (Index("ix_health_snapshots_day_grade", "day", "grade"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(BoundedDate, primary_key=True)
    scorecard: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    grade: Mapped[HealthGrade] = mapped_column(str_enum(HealthGrade, "health_snapshot_grade"))
    letter: Mapped[LetterGrade] = mapped_column(str_enum(LetterGrade, "health_snapshot_letter"))
    change_7d: Mapped[float | None] = mapped_column(Float)
    change_30d: Mapped[float | None] = mapped_column(Float)
    measures: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    explanation: Mapped[list[Any]] = mapped_column(JsonDoc, default=list)


class HealthSentiment(Base):
    """A CSM's sentiment about an account (1 very negative … 5 very positive), with
    who entered it, when, and why."""

    __tablename__ = "health_sentiments"
    __table_args__ = (
        CheckConstraint("value >= 1 AND value <= 5", name="value_1_to_5"),
        Index("ix_health_sentiments_account_time", "account_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    value: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HealthScorecardVersion(Base):
    """A version of the scorecards (TOML) saved by a lead; the newest one is in force
    (it wins over the configured file)."""

    __tablename__ = "health_scorecard_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
