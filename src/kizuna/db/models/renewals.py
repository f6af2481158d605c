"""Renewals (契約更新, issue 16 item 3): one row per (account, term end) of the main
committed term, written by the daily job's ``renewals`` step; the CSM's stage and call on
it; and every change a person made to one (who, when, why)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import UTCDateTime, utcnow


class Renewal(Base):
    """One renewal: the ARR due (minor units of ``currency`` per year), the owner and tier
    when it was last open (frozen once its outcome is detected), its stage and where that
    came from (``detected``, ``csm`` or ``default``), the ARR kept on the term end day, and
    the CSM's call (probability and reason, who and when)."""

    __tablename__ = "renewals"
    __table_args__ = (UniqueConstraint("account_id", "term_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    term_end: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    arr_due: Mapped[int] = mapped_column(BigInteger)
    arr_after: Mapped[int | None] = mapped_column(BigInteger)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    touch_tier: Mapped[str | None] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(20), index=True)
    stage_source: Mapped[str] = mapped_column(String(10))
    detected_on: Mapped[date | None] = mapped_column(Date)
    stage_by: Mapped[str | None] = mapped_column(String(254))
    stage_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_probability: Mapped[float | None] = mapped_column(Float)
    call_reason: Mapped[str | None] = mapped_column(String(1000))
    call_by: Mapped[str | None] = mapped_column(String(254))
    call_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_on: Mapped[date] = mapped_column(Date)


class RenewalChange(Base):
    """The audit of what people set on renewals: a stage or a call (probability, reason),
    by whom and when. Kept by account and term end, so it outlives a re-keyed row."""

    __tablename__ = "renewal_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    term_end: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))  # stage | call
    stage: Mapped[str | None] = mapped_column(String(20))
    probability: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(String(1000))
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
