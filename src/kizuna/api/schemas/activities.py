"""Activities: the meetings, calls, emails and notes on an account's timeline."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from kizuna.api.schemas.common import (
    ExternalId,
    Id,
    InputModel,
    OccurredAt,
    OutputModel,
    PageOut,
    PatchModel,
    Text500,
    Text20000,
)
from kizuna.domain.enums import ActivityKind

ActivitySort = Literal["-occurred_at", "occurred_at", "id", "-id"]


class ActivityCreate(InputModel):
    """An activity says something: `subject`, `summary` or both (else 422 `activity_empty`)."""

    external_id: ExternalId | None = Field(None, description="Your system's id for it; Kizuna makes one if omitted.")
    account_id: Id
    contact_id: Id | None = Field(None, description="Who it was with (a contact of the same account).")
    author_id: Id | None = Field(None, description="The user who logged it; default: the signed-in user.")
    kind: ActivityKind
    occurred_at: OccurredAt
    subject: Text500 | None = None
    summary: Text20000 | None = None


class ActivityUpdate(PatchModel):
    not_null: ClassVar[frozenset[str]] = frozenset({"external_id", "account_id", "kind", "occurred_at"})

    external_id: ExternalId | None = None
    account_id: Id | None = None
    contact_id: Id | None = None
    author_id: Id | None = None
    kind: ActivityKind | None = None
    occurred_at: OccurredAt | None = None
    subject: Text500 | None = None
    summary: Text20000 | None = None


class ActivityOut(OutputModel):
    id: int
    external_id: str
    account_id: int
    contact_id: int | None
    author_id: int | None
    kind: ActivityKind
    occurred_at: datetime
    subject: str | None
    summary: str | None
    created_at: datetime
    updated_at: datetime


class ActivityPage(PageOut[ActivityOut]):
    pass
