"""Survey answers: NPS (0–10) and CSAT (1–5)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from kizuna.api.schemas.common import (
    ExternalId,
    Id,
    InputModel,
    Moment,
    OutputModel,
    PageOut,
    PatchModel,
    Score,
    Text10000,
)
from kizuna.domain.enums import SurveyKind

SurveyResponseSort = Literal["-answered_at", "answered_at", "score", "-score", "id", "-id"]


class SurveyResponseCreate(InputModel):
    external_id: ExternalId
    account_id: Id
    contact_id: Id | None = Field(None, description="Who answered (a contact of the same account).")
    kind: SurveyKind
    score: Score = Field(ge=0, le=10, description="NPS 0–10, CSAT 1–5.")
    comment: Text10000 | None = None
    answered_at: Moment


class SurveyResponseUpdate(PatchModel):
    not_null: ClassVar[frozenset[str]] = frozenset({"external_id", "account_id", "kind", "score", "answered_at"})

    external_id: ExternalId | None = None
    account_id: Id | None = None
    contact_id: Id | None = None
    kind: SurveyKind | None = None
    score: Score | None = Field(None, ge=0, le=10, description="NPS 0–10, CSAT 1–5.")
    comment: Text10000 | None = None
    answered_at: Moment | None = None


class SurveyResponseOut(OutputModel):
    id: int
    external_id: str
    account_id: int
    contact_id: int | None
    kind: SurveyKind
    score: int
    comment: str | None
    answered_at: datetime
    created_at: datetime
    updated_at: datetime


class SurveyResponsePage(PageOut[SurveyResponseOut]):
    pass
