"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from kizuna.db.models.accounts import Account, AccountBigram, Contact, SearchPosition
from kizuna.db.models.activities import Activity
from kizuna.db.models.auth import ApiKey, WebSession
from kizuna.db.models.churn import ChurnModelRecord, ChurnScore
from kizuna.db.models.freshness import SourceFreshness
from kizuna.db.models.health import HealthScorecardVersion, HealthSentiment, HealthSnapshot
from kizuna.db.models.imports import ImportMapping
from kizuna.db.models.ingest import IngestCount, ParkedEvent
from kizuna.db.models.jobs import JobLease, JobRun
from kizuna.db.models.kb import KbArticle, KbArticleBigram, KbSend, KbView
from kizuna.db.models.ltv import AccountLtv, LtvSegmentFit
from kizuna.db.models.opportunities import Opportunity
from kizuna.db.models.outbox import OutboxMessage
from kizuna.db.models.playbooks import AppSecret, PlaybookEnrollment, PlaybookRotation, PlaybookVersion
from kizuna.db.models.renewals import Renewal, RenewalChange
from kizuna.db.models.segments import SegmentChange, SegmentOverride
from kizuna.db.models.subscriptions import Product, Subscription
from kizuna.db.models.success import OnboardingMilestone, OnboardingTemplate, SuccessGoal, SuccessMilestone, Task
from kizuna.db.models.surveys import SurveyInvitation, SurveyProgramme, SurveyResponse
from kizuna.db.models.tickets import Ticket
from kizuna.db.models.usage import (
    UsageDaily,
    UsageDailyPending,
    UsageDailyUser,
    UsageDailyUserPending,
    UsageEvent,
    UsageMonthly,
)
from kizuna.db.models.users import SavedView, User

__all__ = [
    "Account",
    "AccountBigram",
    "AccountLtv",
    "Activity",
    "ApiKey",
    "AppSecret",
    "ChurnModelRecord",
    "ChurnScore",
    "Contact",
    "HealthScorecardVersion",
    "HealthSentiment",
    "HealthSnapshot",
    "ImportMapping",
    "IngestCount",
    "JobLease",
    "JobRun",
    "KbArticle",
    "KbArticleBigram",
    "KbSend",
    "KbView",
    "LtvSegmentFit",
    "OnboardingMilestone",
    "OnboardingTemplate",
    "Opportunity",
    "OutboxMessage",
    "ParkedEvent",
    "PlaybookEnrollment",
    "PlaybookRotation",
    "PlaybookVersion",
    "Product",
    "Renewal",
    "RenewalChange",
    "SavedView",
    "SearchPosition",
    "SegmentChange",
    "SegmentOverride",
    "SourceFreshness",
    "Subscription",
    "SuccessGoal",
    "SuccessMilestone",
    "SurveyInvitation",
    "SurveyProgramme",
    "SurveyResponse",
    "Task",
    "Ticket",
    "UsageDaily",
    "UsageDailyPending",
    "UsageDailyUser",
    "UsageDailyUserPending",
    "UsageEvent",
    "UsageMonthly",
    "User",
    "WebSession",
]
