"""The English labels of the closed vocabularies (translated when shown), by hand."""

from __future__ import annotations

from enum import StrEnum

from kizuna.domain import enums
from kizuna.domain.enums import LABELS, SURVEY_SCALES, SurveyKind, _labels

EXPECTED = {
    "admin": "admin", "lead": "lead", "csm": "CSM", "viewer": "viewer",
    "prospect": "prospect", "trial": "trial", "active": "active", "churned": "churned",
    "canceled": "canceled", "expired": "expired",
    "meeting": "meeting", "call": "call", "email": "email", "note": "note",
    "open": "open", "pending": "pending", "solved": "solved", "closed": "closed",
    "low": "low", "normal": "normal", "high": "high", "urgent": "urgent",
    "chat": "chat", "phone": "phone", "web": "web",
    "nps": "NPS", "csat": "CSAT", "ces": "CES", "plan": "plan", "addon": "add-on",
    "month": "monthly", "year": "yearly", "done": "done",
    "not_started": "not started", "on_track": "on track", "at_risk": "at risk",
    "achieved": "achieved", "missed": "missed",
    "review": "review", "renewal_prep": "renewal preparation", "other": "other",
    "health_red": "health is red", "renewal": "renewal coming",
    "completed": "completed", "exited": "exited", "holdout": "held out",
}  # fmt: skip


def test_each_value_shown_has_its_english_label() -> None:
    assert _labels() == EXPECTED
    assert LABELS == EXPECTED


def test_every_value_of_every_vocabulary_has_a_label() -> None:
    vocabularies = [v for v in vars(enums).values() if isinstance(v, type) and issubclass(v, StrEnum) and v is not StrEnum]
    assert len(vocabularies) == 13  # UserRole … GoalStatus
    assert sorted(m.value for v in vocabularies for m in v if m.value not in LABELS) == []


def test_the_survey_scales() -> None:
    assert SURVEY_SCALES == {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5), SurveyKind.CES: (1, 7)}
