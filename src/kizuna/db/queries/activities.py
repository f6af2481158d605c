"""Writing activities (meetings, calls, emails, notes) on an account's timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from kizuna.db.models import Activity
from kizuna.domain.enums import ActivityKind


def insert_activity(
    session: Session,
    *,
    external_id: str,
    account_id: int,
    kind: ActivityKind,
    occurred_at: datetime,
    subject: str | None,
    summary: str | None,
    author_id: int | None,
    contact_id: int | None,
) -> Activity:
    """Add one activity and flush, so that it has its id (the caller commits)."""
    activity = Activity(
        external_id=external_id, account_id=account_id, kind=kind, occurred_at=occurred_at, subject=subject,
        summary=summary, author_id=author_id, contact_id=contact_id,
    )  # fmt: skip
    session.add(activity)
    session.flush()
    return activity
