"""Lifetime value per account (顧客生涯価値, issue 21): the retention fit of each segment
and each running account's residual value, written by the daily job's ``ltv`` step."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import JsonDoc, UTCDateTime, utcnow


class LtvSegmentFit(Base):
    """The sBG fit of one segment (its label and contract term) as of a day: α, β, its
    contracts, start cohorts and churned contracts, whether it borrows the pooled fit of
    its term (``pooled``, with ``reason``), and the observed survival at each renewal."""

    __tablename__ = "ltv_segment_fits"

    segment: Mapped[str] = mapped_column(String(200), primary_key=True)  # "*": every segment of the term
    term_months: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    contracts: Mapped[int] = mapped_column(Integer)
    cohorts: Mapped[int] = mapped_column(Integer)
    churned: Mapped[int] = mapped_column(Integer)
    alpha: Mapped[float | None] = mapped_column(Float)
    beta: Mapped[float | None] = mapped_column(Float)
    log_likelihood: Mapped[float | None] = mapped_column(Float)
    pooled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(200))  # an English catalogue message
    observed: Mapped[list[float]] = mapped_column(JsonDoc, default=list)
    fitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountLtv(Base):
    """One running account's lifetime value and how it was found: segment, term, renewals
    made, the fit used, the next renewal's probability, DERL, payment per term, discount
    rate and margin; ``residual_value`` = DERL × payment × margin, ``ltv`` = the margin on
    revenue to date + the residual value (minor units of ``currency``)."""

    __tablename__ = "account_ltv"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    segment: Mapped[str] = mapped_column(String(200))
    term_months: Mapped[int] = mapped_column(Integer)
    renewals: Mapped[int] = mapped_column(Integer)
    pooled: Mapped[bool] = mapped_column(Boolean, default=False)
    alpha: Mapped[float | None] = mapped_column(Float)
    beta: Mapped[float | None] = mapped_column(Float)
    retention: Mapped[float | None] = mapped_column(Float)
    derl: Mapped[float | None] = mapped_column(Float)
    payment: Mapped[int] = mapped_column(BigInteger)
    mrr: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    discount_rate: Mapped[float] = mapped_column(Float)  # per term
    margin: Mapped[float] = mapped_column(Float)
    revenue_to_date: Mapped[int] = mapped_column(BigInteger)
    residual_value: Mapped[int | None] = mapped_column(BigInteger, index=True)
    ltv: Mapped[int | None] = mapped_column(BigInteger, index=True)
