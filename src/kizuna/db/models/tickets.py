"""Support tickets (問い合わせ): the raw material of the support KPIs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import UTCDateTime, str_enum
from kizuna.domain.enums import TicketChannel, TicketPriority, TicketStatus


class Ticket(Timestamped, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("message_count >= 0", name="message_count_not_negative"),
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat_1_to_5"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    subject: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[TicketStatus] = mapped_column(str_enum(TicketStatus, "ticket_status"))
    priority: Mapped[TicketPriority] = mapped_column(
        str_enum(TicketPriority, "ticket_priority"), default=TicketPriority.NORMAL
    )
    channel: Mapped[TicketChannel] = mapped_column(
        str_enum(TicketChannel, "ticket_channel"), default=TicketChannel.EMAIL
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=1)
    csat: Mapped[int | None] = mapped_column(Integer)
