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
    """NPS (0–10: promoters 9–10, passives 7–8, detractors 0–6), CSAT (1–5) or CES (customer
    effort, 1–7: 7 the least effort)."""

    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


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


class TaskKind(StrEnum):
    """What a task asks the CSM to do."""

    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    REVIEW = "review"
    RENEWAL_PREP = "renewal_prep"
    OTHER = "other"


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
SURVEY_SCALES: dict[SurveyKind, tuple[int, int]] = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5),
                                                     SurveyKind.CES: (1, 7)}


def _labels() -> dict[str, str]:
    """English labels of enum values shown to users (translated at display time)."""
    from kizuna.i18n import N_

    return {
        "admin": N_("admin"), "lead": N_("lead"), "csm": N_("CSM"), "viewer": N_("viewer"),
        "prospect": N_("prospect"), "trial": N_("trial"), "active": N_("active"), "churned": N_("churned"),
        "canceled": N_("canceled"), "expired": N_("expired"),
        "meeting": N_("meeting"), "call": N_("call"), "email": N_("email"), "note": N_("note"),
        "open": N_("open"), "pending": N_("pending"), "solved": N_("solved"), "closed": N_("closed"),
        "low": N_("low"), "normal": N_("normal"), "high": N_("high"), "urgent": N_("urgent"),
        "chat": N_("chat"), "phone": N_("phone"), "web": N_("web"),
        "nps": N_("NPS"), "csat": N_("CSAT"), "ces": N_("CES"), "plan": N_("plan"), "addon": N_("add-on"),
        "month": N_("monthly"), "year": N_("yearly"), "done": N_("done"),
        "not_started": N_("not started"), "on_track": N_("on track"), "at_risk": N_("at risk"),
        "achieved": N_("achieved"), "missed": N_("missed"),
        "review": N_("review"), "renewal_prep": N_("renewal preparation"), "other": N_("other"),
        "health_red": N_("health is red"), "renewal": N_("renewal coming"),
        "completed": N_("completed"), "exited": N_("exited"), "holdout": N_("held out"),
    }  # fmt: skip


#: value → English label, for display; pass through ``gettext`` when showing.
LABELS: dict[str, str] = _labels()
