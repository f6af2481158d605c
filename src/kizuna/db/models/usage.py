"""Raw product-usage events and their daily rollups (account × day × metric)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BigId, BoundedDate, JsonDoc, UTCDateTime, utcnow


class UsageEvent(Base):
    """One product event (Segment's track/page), unique by ``message_id`` within a source."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("source", "message_id"),
        Index("ix_usage_events_account_time", "account_id", "timestamp"),
        # Events not yet in the rollups (imported or generated rather than ingested):
        # a small partial index, so finding them costs nothing when there are none.
        Index(
            "ix_usage_events_pending",
            "account_id",
            sqlite_where=text("NOT rolled_up"),
            postgresql_where=text("NOT rolled_up"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), default="import")
    message_id: Mapped[str] = mapped_column(String(128))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    #: The contact who sent it, as it was: history, not a reference kept in step (no
    #: foreign key, no index — each would cost every ingested event; see docs/usage.md).
    contact_id: Mapped[int | None] = mapped_column(Integer)
    anonymous_id: Mapped[str | None] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(200))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    properties: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    #: Counted in ``usage_daily`` already (ingested events are, in the same transaction);
    #: imported ones wait for the daily pipeline's usage step or ``kizuna usage rebuild``.
    rolled_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class UsageDaily(Base):
    """A daily usage figure: e.g. ``logins``, ``active_users``, ``session_minutes``,
    ``events``, or ``feature.<key>`` (uses of one feature) for one account on one day
    (in the configured time zone)."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        # Covering index for reads by period (the KPI engine's monthly usage figures):
        # a range of days is an index range scan that never touches the table.
        Index("ix_usage_daily_day", "day", "account_id", "metric", "value"),
        # Health scores (issue 6): one metric over a range of days (the logins of the
        # last 120 days) is an index range scan, and the metrics are listed by seeks.
        Index("ix_usage_daily_metric_day", "metric", "day", "account_id", "value"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(BoundedDate, primary_key=True)
    metric: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class UsageMonthly(Base):
    """Each account's calendar months of ``usage_daily``, kept by the database
    (:mod:`kizuna.db.usage_months`: triggers on ``usage_daily``, whatever writes it):
    ``active_rows`` counts the month's daily figures above zero (any metric) and
    ``events`` sums its ``events`` figures above zero. What the KPI report's monthly
    usage reads instead of every day of every account (issue 19). A month whose
    figures are all zero or gone has no row."""

    __tablename__ = "usage_monthly"
    __table_args__ = (
        # the KPI report reads a range of months for every account: a range scan that
        # never touches the table
        Index("ix_usage_monthly_month", "month", "account_id", "active_rows", "events"),
    )

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(BoundedDate, primary_key=True)  # the month's first day
    active_rows: Mapped[int] = mapped_column(Integer)
    events: Mapped[float] = mapped_column(Float)


class UsageDailyUser(Base):
    """Who was active on an account's day (``c:<contact id>`` or ``a:<anonymous id>``):
    what makes ``active_users`` incremental — a user counts once however many events
    they send, in whatever order they arrive."""

    __tablename__ = "usage_daily_users"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(BoundedDate, primary_key=True)
    user_key: Mapped[str] = mapped_column(String(140), primary_key=True)


class UsageDailyPending(Base):
    """Rollup contributions committed by the ingestion writer under load but not yet
    added to ``usage_daily`` (at most about a second; see ``services/usage/rollups.py``). An
    append-only journal: no index but its key, so a group commit writes a few
    contiguous pages instead of rewriting one ``usage_daily`` page per account."""

    __tablename__ = "usage_daily_pending"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(BoundedDate)
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)


class UsageDailyUserPending(Base):
    """Active users waiting, like :class:`UsageDailyPending`, to go into ``usage_daily_users``."""

    __tablename__ = "usage_daily_users_pending"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(BoundedDate)
    user_key: Mapped[str] = mapped_column(String(140))
