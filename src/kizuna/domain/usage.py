"""How product events count toward the daily usage metrics (the default mapping).

The names follow Segment's B2B SaaS spec where it has one (``Signed In``,
``Account Created``, ``Invite Sent``, ``Trial Started``); feature events are the
product's own. Ingestion and the demo company both use this mapping, so rolled-up
figures mean the same thing wherever they came from.
"""

from __future__ import annotations

from types import MappingProxyType

#: The event that counts as one login. Its ``session_minutes`` property, when
#: present, is added to the day's ``session_minutes``.
LOGIN_EVENT = "Signed In"
SESSION_MINUTES_PROPERTY = "session_minutes"

#: Feature key → the event that counts as one use of it (metric ``feature.<key>``).
FEATURE_EVENTS: MappingProxyType[str, str] = MappingProxyType(
    {
        "reports": "Report Created",
        "dashboards": "Dashboard Viewed",
        "workflows": "Workflow Run",
        "integrations": "Integration Synced",
        "exports": "Data Exported",
        "api": "API Called",
    }
)

#: Lifecycle events from Segment's B2B SaaS spec: stored, not counted as features.
LIFECYCLE_EVENTS = ("Account Created", "Invite Sent", "Trial Started", "Trial Ended", "Account Deleted")

#: The core daily metrics every account has.
METRIC_LOGINS = "logins"
METRIC_ACTIVE_USERS = "active_users"
METRIC_SESSION_MINUTES = "session_minutes"
METRIC_EVENTS = "events"
FEATURE_PREFIX = "feature."


def feature_metric(key: str) -> str:
    return FEATURE_PREFIX + key
