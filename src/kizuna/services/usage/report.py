"""What came in through the tracking API: for the ingestion page, its JSON twin and
``kizuna ingest stats``/``quarantine``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kizuna.db import Session
from kizuna.db import usage as q

OUTCOMES = ("stored", "duplicate", "parked", "attached", "rejected")


@dataclass(frozen=True)
class KeyUse:
    name: str
    scope: str
    prefix: str
    source: str
    last_used_at: datetime | None
    revoked: bool


@dataclass(frozen=True)
class IngestionSummary:
    hours: list[datetime]  # the start of each hour (UTC), oldest first
    per_hour: dict[str, list[int]]  # outcome → count per hour
    totals: dict[str, int]  # outcome → count in the window
    rejected_by_reason: list[tuple[str, int]]
    parked_by_reason: list[tuple[str, int, datetime | None]]  # the quarantine now
    keys: list[KeyUse]

    def as_json(self) -> dict[str, Any]:
        return {
            "hours": [h.isoformat() for h in self.hours],
            "per_hour": self.per_hour,
            "totals": self.totals,
            "rejected_by_reason": [{"reason": r, "count": n} for r, n in self.rejected_by_reason],
            "parked_by_reason": [
                {"reason": r, "count": n, "oldest": first.isoformat() if first else None}
                for r, n, first in self.parked_by_reason
            ],
            "keys": [
                {
                    "name": k.name,
                    "scope": k.scope,
                    "prefix": k.prefix,
                    "source": k.source,
                    "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                    "revoked": k.revoked,
                }
                for k in self.keys
            ],
        }


def summary(session: Session, *, now: datetime | None = None, hours: int = 48) -> IngestionSummary:
    """Counts per hour over the last ``hours`` hours, the quarantine, the keys in use."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    last = now.replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(hours=hours - 1)
    slots = [first + timedelta(hours=i) for i in range(hours)]
    index = {h: i for i, h in enumerate(slots)}
    per_hour = {o: [0] * hours for o in OUTCOMES}
    rejected: dict[str, int] = defaultdict(int)
    for hour, _source, outcome, reason, n in q.counts_since(session, first):
        i = index.get(hour.astimezone(UTC))
        if i is not None and outcome in per_hour:
            per_hour[outcome][i] += n
        if outcome == "rejected":
            rejected[reason or "?"] += n
    keys = [
        KeyUse(k.name, str(k.scope), k.prefix, f"key:{k.id}", k.last_used_at, k.revoked_at is not None)
        for k in q.api_keys(session)
        if str(k.scope) in ("ingest", "write")
    ]
    return IngestionSummary(
        hours=slots,
        per_hour=per_hour,
        totals={o: sum(v) for o, v in per_hour.items()},
        rejected_by_reason=sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0])),
        parked_by_reason=q.parked_by_reason(session),
        keys=keys,
    )


@dataclass(frozen=True)
class ParkedRow:
    id: int
    reason: str
    kind: str
    source: str
    message_id: str
    group_id: str | None
    user_id: str | None
    event: str | None
    timestamp: datetime
    received_at: datetime


def quarantine(session: Session, *, reason: str | None = None, limit: int = 50) -> list[ParkedRow]:
    """Parked messages, oldest first."""
    return [
        ParkedRow(
            p.id, p.reason, p.kind, p.source, p.message_id, p.group_id, p.user_id, p.event, p.timestamp, p.received_at
        )
        for p in q.parked_list(session, reason, limit)
    ]
