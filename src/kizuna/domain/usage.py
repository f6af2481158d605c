"""How product events count toward the daily usage metrics (the default mapping).

The names follow Segment's B2B SaaS spec where it has one (``Signed In``,
``Account Created``, ``Invite Sent``, ``Trial Started``); feature events are the
product's own. Ingestion and the demo company both use this mapping, so rolled-up
figures mean the same thing wherever they came from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
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
#: The health measures read these over the whole baseline window (the last 30 days, the 30
#: before, the 90 before the last 30) …
BASELINE_METRICS = (METRIC_LOGINS, METRIC_EVENTS)
#: … and these (with the ``feature.*`` metrics) over the last 30 days only.
RECENT_METRICS = (METRIC_ACTIVE_USERS, METRIC_SESSION_MINUTES)
#: The usage the health measures read: the last 30 days and the 90-day baseline before them.
USAGE_WINDOW_DAYS = 120


def feature_metric(key: str) -> str:
    return FEATURE_PREFIX + key


@dataclass(frozen=True)
class UsageMapping:
    """Which events count toward which daily metrics (``docs/usage.md``, mapping file).

    ``login_events`` each count one login, and their ``session_minutes_property`` (a
    number, when present) adds to the day's session minutes; ``features`` maps an event
    name to the feature key it counts for (metric ``feature.<key>``). Every event counts
    in ``events``; every distinct user (contact, else anonymous id) in ``active_users``.
    ``any_activity``: for a product with no sign-in event, every event counts as a login,
    so a day with any activity is an active day ("days with logins").
    """

    login_events: frozenset[str] = frozenset({LOGIN_EVENT})
    session_minutes_property: str = SESSION_MINUTES_PROPERTY
    features: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({event: key for key, event in FEATURE_EVENTS.items()})
    )

    any_activity: bool = False

    def counts_as_login(self, event: str) -> bool:
        return self.any_activity or event in self.login_events

    def feature_of(self, event: str) -> str | None:
        return self.features.get(event)


#: The mapping used when no mapping file is configured.
DEFAULT_MAPPING = UsageMapping()

#: Rollup metrics that a rebuild recomputes from raw events (plus every ``feature.*``).
CORE_METRICS = (METRIC_ACTIVE_USERS, METRIC_EVENTS, METRIC_LOGINS, METRIC_SESSION_MINUTES)

#: Session minutes are rounded per event to a multiple of 1/64 minute (under a second),
#: so that their sums are exact whatever order events arrive in: an incremental rollup
#: and a rebuild then agree to the last bit.
SESSION_MINUTE_STEP = 1 / 64


def session_minutes(value: object) -> float:
    """The session minutes one login event carries (0 for a missing or non-numeric value)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    if not math.isfinite(value) or value <= 0 or value > 1_000_000:
        return 0.0
    return round(value / SESSION_MINUTE_STEP) * SESSION_MINUTE_STEP
