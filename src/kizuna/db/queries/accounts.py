"""The accounts list: search, filters, sorting, pages — on indexed summary columns."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kizuna.db.models import Account, Product, User

SORTS: dict[str, tuple[Any, ...]] = {
    "name": (Account.name.asc(), Account.id.asc()),
    "-name": (Account.name.desc(), Account.id.desc()),
    "mrr": (Account.mrr.asc(), Account.id.asc()),
    "-mrr": (Account.mrr.desc(), Account.id.desc()),
    "renewal": (Account.renewal_on.is_(None), Account.renewal_on.asc(), Account.id.asc()),
    "-renewal": (Account.renewal_on.is_(None), Account.renewal_on.desc(), Account.id.desc()),
    "-churned": (Account.churned_on.is_(None), Account.churned_on.desc(), Account.id.desc()),
    "newest": (Account.customer_since.is_(None), Account.customer_since.desc(), Account.id.desc()),
    # segments (issue 6): accounts without a score last, both ways
    "health": (Account.health_score.is_(None), Account.health_score.asc(), Account.id.asc()),
    "-health": (Account.health_score.is_(None), Account.health_score.desc(), Account.id.desc()),
    "fit": (Account.fit_score.is_(None), Account.fit_score.asc(), Account.id.asc()),
    "-fit": (Account.fit_score.is_(None), Account.fit_score.desc(), Account.id.desc()),
}

#: The segment columns the list filters on by equality (issue 6), all indexed.
SEGMENT_FILTERS = ("touch_tier", "lifecycle_stage", "at_risk", "fit_band", "health_grade")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_accounts(
    session: Session,
    *,
    search: str | None,
    owner_id: int | None,
    unowned: bool,
    plan_id: int | None,
    status: str | None,
    renewal_within_days: int | None,
    as_of: date,
    sort: str,
    offset: int,
    limit: int,
    segments: dict[str, Any] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total matching, the page's rows)``."""
    conditions = []
    if search:
        pattern = f"%{_escape_like(search.strip().lower())}%"
        # SQLite's LIKE already ignores ASCII case (and lower() on every row doubles the
        # scan's cost); PostgreSQL needs ILIKE.
        postgres = session.get_bind().dialect.name == "postgresql"
        name_match = Account.name.ilike(pattern, escape="\\") if postgres else Account.name.like(pattern, escape="\\")
        conditions.append(or_(name_match, Account.domain.like(pattern, escape="\\"),
                              Account.external_id == search.strip()))  # fmt: skip
    if owner_id is not None:
        conditions.append(Account.owner_id == owner_id)
    if unowned:
        conditions.append(Account.owner_id.is_(None))
    if plan_id is not None:
        conditions.append(Account.plan_id == plan_id)
    if status:
        conditions.append(Account.status == status)
    if renewal_within_days is not None:
        conditions.append(Account.renewal_on.between(as_of, as_of + timedelta(days=renewal_within_days)))
    for column, value in (segments or {}).items():
        if column in SEGMENT_FILTERS:
            conditions.append(Account.__table__.c[column] == value)
    total = int(session.scalar(select(func.count()).select_from(Account).where(*conditions)) or 0)
    page_ids = select(Account.id).where(*conditions).order_by(*SORTS[sort]).offset(offset).limit(limit).subquery()
    rows = session.execute(
        select(
            Account.id, Account.external_id, Account.name, Account.domain, Account.industry, Account.employee_count,
            Account.status, Account.mrr, Account.currency, Account.renewal_on, Account.customer_since,
            Account.churned_on, Account.owner_id, User.name.label("owner_name"), Account.plan_id,
            Product.name.label("plan_name"), Account.touch_tier, Account.lifecycle_stage, Account.at_risk,
            Account.fit_score, Account.fit_band, Account.health_score, Account.health_grade, Account.health_as_of,
        )
        .join(page_ids, page_ids.c.id == Account.id)
        .outerjoin(User, User.id == Account.owner_id)
        .outerjoin(Product, Product.id == Account.plan_id)
        .order_by(*SORTS[sort])
    ).mappings()  # fmt: skip
    return total, [dict(r) for r in rows]


def at_risk_totals(session: Session, currency: str) -> tuple[int, int]:
    """(accounts flagged at risk, their MRR in ``currency``) — on the indexed flag."""
    count, mrr = session.execute(
        select(func.count(), func.coalesce(func.sum(Account.mrr).filter(Account.currency == currency), 0))
        .where(Account.at_risk.is_(True))
    ).one()  # fmt: skip
    return int(count or 0), int(mrr or 0)


def owners(session: Session) -> list[dict[str, Any]]:
    """Users who own at least one account (the owner filter's choices)."""
    # Count on the owner_id index alone (no join over 100,000 accounts), then name them.
    counts = dict(
        session.execute(
            select(Account.owner_id, func.count()).where(Account.owner_id.is_not(None)).group_by(Account.owner_id)
        ).all()
    )
    if not counts:
        return []
    names = session.execute(select(User.id, User.name).where(User.id.in_(list(counts))).order_by(User.name, User.id))
    return [{"id": uid, "name": name, "accounts": counts[uid]} for uid, name in names]


def plans(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Product.id, Product.name, Product.code)
        .where(Product.kind == "plan")
        .order_by(Product.rank, Product.name)
    ).mappings()
    return [dict(r) for r in rows]
