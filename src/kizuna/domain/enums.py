"""The closed vocabularies of the customer data model.

Values are stable lower-case strings: they are what CSV files and the API carry.
"""

from __future__ import annotations

from enum import StrEnum


class UserRole(StrEnum):
    """Roles of the CS team's users (who may see and change what)."""

    ADMIN = "admin"
    LEAD = "lead"
    CSM = "csm"
    VIEWER = "viewer"


class ProductKind(StrEnum):
    """A plan is the base subscription; an add-on is sold on top of a plan (cross-sell)."""

    PLAN = "plan"
    ADDON = "addon"


class SubscriptionStatus(StrEnum):
    """Trial (not yet paying), active, canceled (ended by the customer), expired (lapsed)."""

    TRIAL = "trial"
    ACTIVE = "active"
    CANCELED = "canceled"
    EXPIRED = "expired"


class BillingInterval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketChannel(StrEnum):
    EMAIL = "email"
    CHAT = "chat"
    PHONE = "phone"
    WEB = "web"


class SurveyKind(StrEnum):
    """NPS (0–10: promoters 9–10, passives 7–8, detractors 0–6) or CSAT (1–5)."""

    NPS = "nps"
    CSAT = "csat"


class ActivityKind(StrEnum):
    """What a CSM logs on the account timeline (活動履歴)."""

    MEETING = "meeting"
    CALL = "call"
    EMAIL = "email"
    NOTE = "note"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELED = "canceled"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class GoalStatus(StrEnum):
    """Progress of a success-plan goal (the customer's own definition of success)."""

    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    ACHIEVED = "achieved"
    MISSED = "missed"


#: Score ranges of each survey kind, inclusive.
SURVEY_SCALES: dict[SurveyKind, tuple[int, int]] = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}
