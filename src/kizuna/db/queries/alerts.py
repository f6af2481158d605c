"""What the alerts read: the accounts whose health grade turned red on a day."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from kizuna.db.models import Account, HealthSnapshot, User


def turned_red(session: Session, day: date) -> list[Any]:
    """(id, name, score, previous grade, owner name) of each account red on ``day`` whose snapshot
    before it (the latest earlier one) was not red; an account scored for the first time is not
    counted (it did not turn, it started)."""
    before = (select(HealthSnapshot.account_id, func.max(HealthSnapshot.day).label("day"))
              .where(HealthSnapshot.day < day).group_by(HealthSnapshot.account_id).subquery())  # fmt: skip
    prev = aliased(HealthSnapshot)
    today = aliased(HealthSnapshot)
    query = (
        select(Account.id, Account.name, today.score, prev.grade.label("was"), User.name.label("owner"))
        .join(today, and_(today.account_id == Account.id, today.day == day))
        .join(before, before.c.account_id == Account.id)
        .join(prev, and_(prev.account_id == Account.id, prev.day == before.c.day))
        .outerjoin(User, User.id == Account.owner_id)
        .where(today.grade == "red", prev.grade != "red")
        .order_by(Account.id)
    )
    return list(session.execute(query))
