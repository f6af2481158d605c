"""Accounts (customer companies) and their contacts (people)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import BoundedDate, JsonDoc, UTCDateTime, str_enum
from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import FitBand, LifecycleStage, TouchTier
from kizuna.domain.subscriptions import AccountStatus


class Account(Timestamped, Base):
    """A customer company (取引先). ``external_id`` is the key in the source system."""

    __tablename__ = "accounts"
    # "active accounts renewing in the next N days, soonest first": the CSM's daily filter.
    __table_args__ = (Index("ix_accounts_status_renewal_on", "status", "renewal_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)

    # Derived from the subscriptions by ``refresh_account_summaries`` (after every
    # import and in the daily pipeline), so that the accounts list can filter and sort
    # 100,000 accounts by MRR, plan, status and renewal date with plain indexes.
    status: Mapped[AccountStatus] = mapped_column(
        str_enum(AccountStatus, "account_status"), default=AccountStatus.PROSPECT, index=True
    )
    mrr: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    currency: Mapped[str | None] = mapped_column(String(3))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    renewal_on: Mapped[date | None] = mapped_column(BoundedDate, index=True)  # end of the main committed term
    contract_term_months: Mapped[int | None] = mapped_column(Integer)  # the main line's term; 1: renews monthly
    customer_since: Mapped[date | None] = mapped_column(BoundedDate)
    churned_on: Mapped[date | None] = mapped_column(BoundedDate)
    summary_as_of: Mapped[date | None] = mapped_column(BoundedDate)

    # Segments (issue 6), written by the daily pipeline so that the accounts list can
    # filter and sort by them with plain indexes. ``touch_tier`` and ``lifecycle_stage``
    # are the effective values (a lead's override wins); ``*_rule`` are what the rules
    # say, kept so that removing an override restores the rule's value at once.
    touch_tier: Mapped[TouchTier | None] = mapped_column(str_enum(TouchTier, "touch_tier"), index=True)
    touch_tier_rule: Mapped[TouchTier | None] = mapped_column(str_enum(TouchTier, "touch_tier_rule"))
    lifecycle_stage: Mapped[LifecycleStage | None] = mapped_column(
        str_enum(LifecycleStage, "lifecycle_stage"), index=True
    )
    lifecycle_stage_rule: Mapped[LifecycleStage | None] = mapped_column(
        str_enum(LifecycleStage, "lifecycle_stage_rule")
    )
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    fit_score: Mapped[float | None] = mapped_column(Float)
    fit_band: Mapped[FitBand | None] = mapped_column(str_enum(FitBand, "fit_band"), index=True)
    # Written by the health scores step (services.health); read here for the list.
    health_score: Mapped[float | None] = mapped_column(Float, index=True)
    health_grade: Mapped[HealthGrade | None] = mapped_column(str_enum(HealthGrade, "health_grade"), index=True)
    health_as_of: Mapped[date | None] = mapped_column(BoundedDate)


class Contact(Timestamped, Base):
    """A person at an account; the champion (推進者) is flagged."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    role: Mapped[str | None] = mapped_column(String(100))
    is_champion: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str | None] = mapped_column(String(8))  # ja or en: the language of the emails sent to them
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # no more non-transactional email


class AccountBigram(Base):
    """The search index of account names and domains: every two-character piece of
    ``lower(name)`` and ``lower(domain)`` (a bigram: catches two-character Japanese
    words, which a trigram index misses) with the account it came from. Kept in step by
    database triggers on ``accounts`` (see :mod:`kizuna.db.bigrams`), whatever writes
    the accounts; no foreign key (the delete trigger removes an account's rows)."""

    __tablename__ = "account_bigrams"
    __table_args__ = (Index("ix_account_bigrams_account_id", "account_id"), {"sqlite_with_rowid": False})

    bigram: Mapped[str] = mapped_column(String(2), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class SearchPosition(Base):
    """The numbers 1 … :data:`kizuna.db.bigrams.POSITIONS`: the character positions the
    bigram triggers cut a name at (SQLite triggers cannot generate a series)."""

    __tablename__ = "search_positions"

    i: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
