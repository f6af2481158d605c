"""Upsell and cross-sell opportunities (issue 16 item 4), written by the daily job's
``opportunities`` step and worked by the CSM (won, lost, dismissed with a reason)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import JsonDoc, str_enum
from kizuna.domain.opportunities import OpportunityStatus, OpportunityType

_LIVE = "status IN ('open', 'suppressed')"


class Opportunity(Timestamped, Base):
    """One proposal to one account: its ``type``, the product proposed, the ``signal``
    that named the moment and the reason's values (``reason_params``), the MRR uplift
    (``value``, minor units of ``currency``), the owner, and where it stands. At most one
    live (open or suppressed) row per (account, type, product)."""

    __tablename__ = "opportunities"
    __table_args__ = (
        Index("ux_opportunities_live", "account_id", "type", "product_id", unique=True,
              sqlite_where=text(_LIVE), postgresql_where=text(_LIVE)),
        Index("ix_opportunities_status_type", "status", "type"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    type: Mapped[OpportunityType] = mapped_column(str_enum(OpportunityType, "opportunity_type"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    signal: Mapped[str] = mapped_column(String(32))  # kizuna.domain.opportunities.Signal
    reason_params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    score: Mapped[float | None] = mapped_column(Float)  # the recommender's score of the product
    value: Mapped[int | None] = mapped_column(BigInteger)  # MRR uplift; None: priced in another currency
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[OpportunityStatus] = mapped_column(str_enum(OpportunityStatus, "opportunity_status"))
    suppressed_reason: Mapped[str | None] = mapped_column(String(32))  # kizuna.domain.opportunities.Suppression
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    detected_on: Mapped[date] = mapped_column(Date)
    last_seen_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(Text)  # a CSM's words (dismissed) or a catalogue message
    close_params: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    won_mrr: Mapped[int | None] = mapped_column(BigInteger)  # the MRR of the line that won it
