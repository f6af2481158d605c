"""Playbook versions and enrollments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kizuna.db.models import Contact, PlaybookEnrollment, PlaybookVersion


def latest_versions(session: Session) -> list[PlaybookVersion]:
    """The newest version of each playbook, by key."""
    newest = select(PlaybookVersion.key, func.max(PlaybookVersion.version).label("v")).group_by(PlaybookVersion.key)
    sub = newest.subquery()
    return list(session.scalars(
        select(PlaybookVersion).join(sub, (sub.c.key == PlaybookVersion.key) & (sub.c.v == PlaybookVersion.version))
        .order_by(PlaybookVersion.key)
    ))  # fmt: skip


def version(session: Session, key: str, number: int) -> PlaybookVersion | None:
    return session.scalar(select(PlaybookVersion).where(PlaybookVersion.key == key, PlaybookVersion.version == number))


def add_version(session: Session, **values: Any) -> PlaybookVersion:
    row = PlaybookVersion(**values)
    session.add(row)
    session.flush()
    return row


def enrollments(session: Session, key: str, states: Sequence[str] | None = None) -> list[PlaybookEnrollment]:
    query = select(PlaybookEnrollment).where(PlaybookEnrollment.playbook_key == key)
    if states is not None:
        query = query.where(PlaybookEnrollment.state.in_(list(states)))
    return list(session.scalars(query.order_by(PlaybookEnrollment.id)))


def last_finished(session: Session, key: str) -> dict[int, date]:
    """Per account, the day its last enrollment in this playbook ended (for the cooldown)."""
    rows = session.execute(
        select(PlaybookEnrollment.account_id, func.max(PlaybookEnrollment.finished_on))
        .where(PlaybookEnrollment.playbook_key == key, PlaybookEnrollment.finished_on.is_not(None))
        .group_by(PlaybookEnrollment.account_id)
    )
    return {int(a): d for a, d in rows if d is not None}


def add_enrollment(session: Session, **values: Any) -> PlaybookEnrollment:
    row = PlaybookEnrollment(**values)
    session.add(row)
    session.flush()
    return row


def save_enrollment(session: Session, row: PlaybookEnrollment, **values: Any) -> None:
    session.execute(update(PlaybookEnrollment).where(PlaybookEnrollment.id == row.id).values(**values))


def account_enrollments(session: Session, account_id: int) -> list[PlaybookEnrollment]:
    return list(session.scalars(
        select(PlaybookEnrollment).where(PlaybookEnrollment.account_id == account_id)
        .order_by(PlaybookEnrollment.entered_on.desc(), PlaybookEnrollment.id.desc())
    ))  # fmt: skip


def contact_emails(session: Session, account_id: int, *, champions_only: bool) -> list[str]:
    query = select(Contact.email).where(Contact.account_id == account_id, Contact.email.is_not(None))
    if champions_only:
        query = query.where(Contact.is_champion.is_(True))
    return [str(e) for e in session.scalars(query.order_by(Contact.id)) if e]
