"""The transactional outbox: side effects (emails, webhooks) written in the same
transaction as the change that causes them, and delivered after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BigId, JsonDoc, UTCDateTime, utcnow


class OutboxMessage(Base):
    """One side effect to deliver.

    ``kind`` names the sender (``email``, ``webhook``); ``idempotency_key`` is unique, so
    the same effect queued twice is stored once, and it travels to the receiver
    (``Idempotency-Key`` header, the email's ``Message-ID``) so a delivery repeated after a
    crash between sending and marking is recognised there. ``status``: ``pending``
    (waiting for ``next_attempt_at``), ``sending`` (claimed until ``claimed_until``),
    ``sent``, ``failed`` (parked after the last attempt; ``last_error`` says why).
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)  # for the account's timeline
