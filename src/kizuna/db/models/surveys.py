"""Survey answers: NPS (0–10) and CSAT (1–5), tied to a contact and an account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
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


class SurveyProgramme(Timestamped, Base):
    """A survey that Kizuna sends (アンケート): NPS, CSAT or CES, its question in both languages."""

    __tablename__ = "survey_programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[SurveyKind] = mapped_column(str_enum(SurveyKind, "survey_kind"))
    question_ja: Mapped[str | None] = mapped_column(String(500))  # None: the kind's standard question
    question_en: Mapped[str | None] = mapped_column(String(500))


class SurveyInvitation(Base):
    """One contact asked once: the emailed link names this row; answered once (single use)."""

    __tablename__ = "survey_invitations"
    __table_args__ = (Index("ix_survey_invitations_contact_sent", "contact_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("survey_programmes.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(100))  # playbook:<key> or manual:<user email>
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the answer: unique, so an invitation can never be recorded twice (even by two requests at once)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("survey_responses.id", ondelete="SET NULL"),
                                                    unique=True)  # fmt: skip
