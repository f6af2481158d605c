"""Survey answers: NPS (0–10) and CSAT (1–5), tied to a contact and an account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import UTCDateTime, str_enum
from kizuna.domain.enums import SurveyKind


class SurveyResponse(Timestamped, Base):
    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    kind: Mapped[SurveyKind] = mapped_column(str_enum(SurveyKind, "survey_kind"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
