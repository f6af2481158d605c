"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from kizuna.db.models.accounts import Account, Contact
from kizuna.db.models.activities import Activity
from kizuna.db.models.auth import ApiKey, WebSession
from kizuna.db.models.subscriptions import Product, Subscription
from kizuna.db.models.success import OnboardingMilestone, SuccessGoal, Task
from kizuna.db.models.surveys import SurveyResponse
from kizuna.db.models.tickets import Ticket
from kizuna.db.models.usage import UsageDaily, UsageEvent
from kizuna.db.models.users import User

__all__ = [
    "Account",
    "Activity",
    "ApiKey",
    "Contact",
    "OnboardingMilestone",
    "Product",
    "Subscription",
    "SuccessGoal",
    "SurveyResponse",
    "Task",
    "Ticket",
    "UsageDaily",
    "UsageEvent",
    "User",
    "WebSession",
]
