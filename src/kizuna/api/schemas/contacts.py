"""Contacts: people at customer companies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from kizuna.api.schemas.common import (
    Email,
    ExternalId,
    Id,
    InputModel,
    Name200,
    OutputModel,
    PageOut,
    PatchModel,
    Text100,
)

#: ja or en (the column holds up to 8 characters)
Language = Annotated[str, StringConstraints(max_length=8, pattern=r"^(ja|en)$")]
ContactSort = Literal["id", "-id", "name", "-name"]


class ContactCreate(InputModel):
    external_id: ExternalId
    account_id: Id
    name: Name200
    email: Email | None = None
    role: Text100 | None = Field(None, description="e.g. 決裁者 (decision maker), 担当者, admin")
    is_champion: bool = Field(False, description="The customer's internal champion.")
    language: Language | None = Field(None, description="ja or en: the language of the emails Kizuna sends them.")


class ContactUpdate(PatchModel):
    not_null: ClassVar[frozenset[str]] = frozenset({"external_id", "account_id", "name", "is_champion"})

    external_id: ExternalId | None = None
    account_id: Id | None = None
    name: Name200 | None = None
    email: Email | None = None
    role: Text100 | None = None
    is_champion: bool | None = None
    language: Language | None = None


class ContactOut(OutputModel):
    id: int
    external_id: str
    account_id: int
    name: str
    email: str | None
    role: str | None
    is_champion: bool
    language: str | None
    unsubscribed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactPage(PageOut[ContactOut]):
    pass
