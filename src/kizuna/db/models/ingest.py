"""Product-event ingestion: events waiting for their account or user, and counters of
what the tracking API accepted, parked and rejected (per hour, source and reason)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BigId, JsonDoc, UTCDateTime, utcnow


class ParkedEvent(Base):
    """A tracking-API message kept until its account or user exists (the quarantine).

    ``reason`` says what is missing: ``unknown_account`` (``context.groupId`` names no
    account), ``unknown_user`` (``userId`` names no contact), ``no_account`` (neither
    says which account). ``payload`` holds the message's ``properties`` (track, page)
    or ``traits`` (identify).
    """

    __tablename__ = "ingest_parked"
    __table_args__ = (
        UniqueConstraint("source", "message_id"),
        Index("ix_ingest_parked_reason_id", "reason", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    group_id: Mapped[str | None] = mapped_column(String(128), index=True)
    user_id: Mapped[str | None] = mapped_column(String(128), index=True)
    anonymous_id: Mapped[str | None] = mapped_column(String(128))
    event: Mapped[str | None] = mapped_column(String(200))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class IngestCount(Base):
    """How many messages one source sent in one hour (UTC), by outcome: ``stored``,
    ``duplicate`` (a retry: already stored), ``parked``, ``attached`` (a parked event
    that found its account), ``rejected`` (with the error code as ``reason``)."""

    __tablename__ = "ingest_counts"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
