"""Products (plans and add-ons) and subscriptions (contract lines carrying MRR)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import BoundedDate, UTCDateTime, str_enum
from kizuna.domain.enums import BillingInterval, ProductKind, SubscriptionStatus


class Product(Timestamped, Base):
    """A plan or add-on. ``rank`` orders plans for upsell (a higher rank is an upgrade)."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("list_price >= 0", name="list_price_not_negative"),
        CheckConstraint("seats_included IS NULL OR seats_included >= 0", name="seats_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProductKind] = mapped_column(str_enum(ProductKind, "product_kind"))
    rank: Mapped[int] = mapped_column(Integer, default=0)
    list_price: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    seats_included: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Subscription(Timestamped, Base):
    """One contract line: an account's subscription to one product.

    A line earns MRR (``monthly_amount``, in minor units of ``currency``) from the
    later of ``started_on`` and ``trial_ends_on`` until ``ended_on`` (exclusive) or,
    while it has none, for as long as it is active. A plan change closes one line
    (``ended_on``) and opens another, so history is never overwritten.
    ``current_term_end`` is the end of the current term. ``term_months`` is the contract
    term (1: monthly evergreen, 12: annual, 36: three years); None: inferred from
    ``billing_interval`` (``kizuna.domain.subscriptions.term_months``). Only a committed
    term (12 months or more) makes the end of the term a renewal.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("monthly_amount >= 0", name="monthly_amount_not_negative"),
        CheckConstraint("ended_on IS NULL OR ended_on >= started_on", name="ends_after_start"),
        CheckConstraint("term_months IS NULL OR (term_months >= 1 AND term_months <= 120)", name="term_months_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    monthly_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    billing_interval: Mapped[BillingInterval] = mapped_column(
        str_enum(BillingInterval, "billing_interval"), default=BillingInterval.MONTH
    )
    status: Mapped[SubscriptionStatus] = mapped_column(str_enum(SubscriptionStatus, "subscription_status"), index=True)
    started_on: Mapped[date] = mapped_column(BoundedDate)
    trial_ends_on: Mapped[date | None] = mapped_column(BoundedDate)
    current_term_end: Mapped[date | None] = mapped_column(BoundedDate, index=True)
    term_months: Mapped[int | None] = mapped_column(Integer)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_on: Mapped[date | None] = mapped_column(BoundedDate)
    cancel_reason: Mapped[str | None] = mapped_column(String(255))
