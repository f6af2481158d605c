"""The churn model (解約予測, issue 16): each trained model with its feature schema, and
each account's probability of churning within the horizon with its drivers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import JsonDoc, UTCDateTime, utcnow


class ChurnModelRecord(Base):
    """One trained churn model: ``version`` (1, 2, …), the trees in LightGBM's text
    format (``booster``), ``spec`` (the feature schema, the calibration and what it was
    trained on, with the library versions), and its evaluation on the later month-ends."""

    __tablename__ = "churn_models"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    as_of: Mapped[date] = mapped_column(Date)
    horizon_days: Mapped[int] = mapped_column(Integer)
    booster: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JsonDoc)


class ChurnScore(Base):
    """An account's probability of churning within ``horizon_days`` after ``as_of``, by
    model ``model_version``, with the features that raised it (``drivers_json``: a list of
    ``{feature, value, contribution}``, the sentences are written when shown)."""

    __tablename__ = "churn_scores"
    __table_args__ = (Index("ix_churn_scores_as_of_probability", "as_of", "probability"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    horizon_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    probability: Mapped[float] = mapped_column(Float)
    model_version: Mapped[int] = mapped_column(Integer)
    drivers_json: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc, default=list)
    scored_by: Mapped[str] = mapped_column(String(40), default="daily")
