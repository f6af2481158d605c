"""Raw product-usage events and their daily rollups (account × day × metric)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BigId, JsonDoc, UTCDateTime, utcnow


class UsageEvent(Base):
    """One product event (Segment's track/page), unique by ``message_id`` within a source."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("source", "message_id"),
        Index("ix_usage_events_account_time", "account_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), default="import")
    message_id: Mapped[str] = mapped_column(String(128))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    anonymous_id: Mapped[str | None] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(200))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    properties: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class UsageDaily(Base):
    """A daily usage figure: e.g. ``logins``, ``active_users``, ``session_minutes``,
    ``events``, or ``feature.<key>`` (uses of one feature) for one account on one day
    (in the configured time zone)."""

    __tablename__ = "usage_daily"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
