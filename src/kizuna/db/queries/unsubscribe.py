"""The app's own secrets and contacts' unsubscribe records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kizuna.db.models import AppSecret, Contact


def app_secret(session: Session, name: str, make: Any) -> str:
    """The stored secret ``name``, made with ``make()`` the first time (two racing makers keep the first)."""
    found = session.get(AppSecret, name)
    if found is not None:
        return found.value
    try:
        with session.begin_nested():
            session.add(AppSecret(name=name, value=make()))
    except IntegrityError:
        pass
    row = session.get(AppSecret, name)
    assert row is not None
    return row.value


def contact(session: Session, contact_id: int) -> Any:
    return session.execute(
        select(Contact.id, Contact.email, Contact.unsubscribed_at, Contact.account_id).where(Contact.id == contact_id)
    ).first()


def mark_unsubscribed(session: Session, contact_id: int, now: datetime) -> bool:
    """True when this call unsubscribed them (False: they already were)."""
    result = session.execute(update(Contact).where(Contact.id == contact_id, Contact.unsubscribed_at.is_(None))
                             .values(unsubscribed_at=now))  # fmt: skip
    return bool(getattr(result, "rowcount", 0))
