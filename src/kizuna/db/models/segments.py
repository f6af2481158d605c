"""Segment overrides and history: touch tiers and lifecycle stages over time.

The current tier, stage, at-risk flag and fit live on ``accounts`` (indexed, for the
list); these tables keep what a lead set by hand and every change with its dates.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BoundedDate, UTCDateTime, str_enum, utcnow
from kizuna.domain.segments import Dimension


class SegmentOverride(Base):
    """A tier or stage set by hand; it wins over the rules until it is removed."""

    __tablename__ = "segment_overrides"
    __table_args__ = (UniqueConstraint("account_id", "dimension"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    dimension: Mapped[Dimension] = mapped_column(str_enum(Dimension, "segment_dimension"))
    value: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SegmentChange(Base):
    """One period of an account's tier or stage: ``from_on`` until ``to_on`` (exclusive;
    NULL while current), why it changed and who changed it (NULL: the rules)."""

    __tablename__ = "segment_changes"
    __table_args__ = (
        Index("ix_segment_changes_account", "account_id", "dimension", "from_on"),
        Index("ix_segment_changes_open", "dimension", "to_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    dimension: Mapped[Dimension] = mapped_column(str_enum(Dimension, "segment_dimension"))
    value: Mapped[str] = mapped_column(String(20))
    from_on: Mapped[date] = mapped_column(BoundedDate)
    to_on: Mapped[date | None] = mapped_column(BoundedDate)
    reason: Mapped[str] = mapped_column(Text, default="")
    set_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
