"""The account timeline's human touches: meetings, calls, emails, notes (活動履歴)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import UTCDateTime, str_enum
from kizuna.domain.enums import ActivityKind


class Activity(Timestamped, Base):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_account_time", "account_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[ActivityKind] = mapped_column(str_enum(ActivityKind, "activity_kind"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
