"""Support tickets."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from kizuna.api.schemas.common import (
    Count,
    ExternalId,
    Id,
    InputModel,
    Moment,
    OutputModel,
    PageOut,
    PatchModel,
    Score,
    Text500,
)
from kizuna.domain.enums import TicketChannel, TicketPriority, TicketStatus

TicketSort = Literal["-opened_at", "opened_at", "id", "-id"]


class TicketCreate(InputModel):
    external_id: ExternalId
    account_id: Id
    contact_id: Id | None = Field(None, description="The requester (a contact of the same account).")
    subject: Text500 | None = None
    status: TicketStatus
    priority: TicketPriority = TicketPriority.NORMAL
    channel: TicketChannel = TicketChannel.EMAIL
    opened_at: Moment
    first_response_at: Moment | None = None
    resolved_at: Moment | None = None
    message_count: Count = Field(1, description="Messages exchanged.")
    csat: Score | None = Field(None, ge=1, le=5, description="The requester's satisfaction, 1–5.")


class TicketUpdate(PatchModel):
    not_null: ClassVar[frozenset[str]] = frozenset(
        {"external_id", "account_id", "status", "priority", "channel", "opened_at", "message_count"}
    )

    external_id: ExternalId | None = None
    account_id: Id | None = None
    contact_id: Id | None = None
    subject: Text500 | None = None
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    channel: TicketChannel | None = None
    opened_at: Moment | None = None
    first_response_at: Moment | None = None
    resolved_at: Moment | None = None
    message_count: Count | None = None
    csat: Score | None = Field(None, ge=1, le=5, description="The requester's satisfaction, 1–5.")


class TicketOut(OutputModel):
    id: int
    external_id: str
    account_id: int
    contact_id: int | None
    subject: str | None
    status: TicketStatus
    priority: TicketPriority
    channel: TicketChannel
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    message_count: int
    csat: int | None
    created_at: datetime
    updated_at: datetime


class TicketPage(PageOut[TicketOut]):
    pass
