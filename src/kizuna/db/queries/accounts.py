"""The accounts list: search, filters, sorting, pages — on indexed summary columns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, union, update
from sqlalchemy.orm import Session

from kizuna.db import bigrams
from kizuna.db.models import Account, AccountBigram, AccountLtv, Activity, HealthSnapshot, Product, SavedView, User
from kizuna.db.queries.churn import CHURN_RISK, churn_risk_at_least
from kizuna.domain.enums import UserRole

#: The last touch (the newest activity) and the health trend (the latest snapshot's
#: 30-day change) of the account in the outer query: index seeks per account.
LAST_TOUCH = (
    select(func.max(Activity.occurred_at)).where(Activity.account_id == Account.id).correlate(Account).scalar_subquery()
)
HEALTH_TREND = (
    select(HealthSnapshot.change_30d)
    .where(HealthSnapshot.account_id == Account.id, HealthSnapshot.day == Account.health_as_of)
    .correlate(Account)
    .scalar_subquery()
)

#: The account's lifetime value from the daily ltv step (issue 21): a primary-key seek per account.
LTV = select(AccountLtv.ltv).where(AccountLtv.account_id == Account.id).correlate(Account).scalar_subquery()

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
    # issue 18: the last touch and the health trend, accounts without one last both ways
    "touch": (LAST_TOUCH.is_(None), LAST_TOUCH.asc(), Account.id.asc()),
    "-touch": (LAST_TOUCH.is_(None), LAST_TOUCH.desc(), Account.id.desc()),
    "trend": (HEALTH_TREND.is_(None), HEALTH_TREND.asc(), Account.id.asc()),
    "-trend": (HEALTH_TREND.is_(None), HEALTH_TREND.desc(), Account.id.desc()),
    # issue 21: lifetime value, accounts without one last both ways
    "ltv": (LTV.is_(None), LTV.asc(), Account.id.asc()),
    "-ltv": (LTV.is_(None), LTV.desc(), Account.id.desc()),
    # issue 16: churn probability on the newest scored day, accounts without one last both ways
    "churn": (CHURN_RISK.is_(None), CHURN_RISK.asc(), Account.id.asc()),
    "-churn": (CHURN_RISK.is_(None), CHURN_RISK.desc(), Account.id.desc()),
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
    min_ltv: int | None = None,
    min_churn_risk: float | None = None,
    keep_count: Callable[[Callable[[], int]], int] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """``(total matching, the page's rows)``. ``keep_count``: given how to count the
    matches, the count (e.g. one kept while the store is unchanged, else counted)."""
    conditions = _conditions(session, search=search, owner_id=owner_id, unowned=unowned, plan_id=plan_id, status=status,
                             renewal_within_days=renewal_within_days, as_of=as_of, segments=segments, min_ltv=min_ltv,
                             min_churn_risk=min_churn_risk)  # fmt: skip

    def count() -> int:
        return int(session.scalar(select(func.count()).select_from(Account).where(*conditions)) or 0)

    total = keep_count(count) if keep_count is not None else count()  # pragma: no mutate  (kept or counted: the same number)
    return total, page_rows(session, conditions, sort, offset, limit)


def _conditions(session: Session, *, search: str | None, **filters: Any) -> list[Any]:
    return matching_conditions(
        search=search, **filters,
        # ILIKE or LIKE: on SQLite both ignore ASCII case alike; the PostgreSQL runs of
        # test_account_search.py (not part of the mutation runs) tell them apart
        postgres=session.get_bind().dialect.name == "postgresql",  # pragma: no mutate
        # the bigram only narrows which names are tested: the same accounts either way
        # (test_account_search.py; search_bigrams lowers the text in the database itself)
        bigram=bigrams.narrowest(session, search.strip().lower()) if search and search.strip() else None,  # pragma: no mutate
    )  # fmt: skip


def page_rows(session: Session, conditions: list[Any], sort: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """One page of the list's rows, with the last touch and the latest snapshot's 30-day
    change and explanation."""
    page_ids = select(Account.id).where(*conditions).order_by(*SORTS[sort]).offset(offset).limit(limit).subquery()
    rows = session.execute(
        select(
            Account.id, Account.external_id, Account.name, Account.domain, Account.industry, Account.employee_count,
            Account.status, Account.mrr, Account.currency, Account.renewal_on, Account.contract_term_months,
            Account.customer_since,
            Account.churned_on, Account.owner_id, User.name.label("owner_name"), Account.plan_id,
            Product.name.label("plan_name"), Account.touch_tier, Account.lifecycle_stage, Account.at_risk,
            Account.fit_score, Account.fit_band, Account.health_score, Account.health_grade, Account.health_as_of,
            LAST_TOUCH.label("last_touch_at"), HealthSnapshot.change_30d.label("health_change_30d"),
            HealthSnapshot.explanation.label("health_explanation"), AccountLtv.ltv, AccountLtv.residual_value,
            CHURN_RISK.label("churn_risk"),
        )
        .join(page_ids, page_ids.c.id == Account.id)
        .outerjoin(User, User.id == Account.owner_id)
        .outerjoin(Product, Product.id == Account.plan_id)
        .outerjoin(HealthSnapshot, (HealthSnapshot.account_id == Account.id) & (HealthSnapshot.day == Account.health_as_of))
        .outerjoin(AccountLtv, AccountLtv.account_id == Account.id)
        .order_by(*SORTS[sort])
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def matching_conditions(
    *, search: str | None, owner_id: int | None, unowned: bool, plan_id: int | None, status: str | None,
    renewal_within_days: int | None, as_of: date, segments: dict[str, Any] | None, postgres: bool,
    min_ltv: int | None = None,
    min_churn_risk: float | None = None,
    bigram: str | None = None,
) -> list[Any]:  # fmt: skip
    """The WHERE conditions of the list's filters. ``bigram``: the search's narrowest
    bigram (:func:`kizuna.db.bigrams.narrowest`); the search then reads the accounts
    under it in the bigram index (and the one whose external id is the text) and checks
    only those, instead of testing every name."""
    conditions: list[Any] = []
    if search:
        pattern = f"%{_escape_like(search.strip().lower())}%"
        # SQLite's LIKE already ignores ASCII case (and lower() on every row doubles the
        # scan's cost); PostgreSQL needs ILIKE.
        name_match = Account.name.ilike(pattern, escape="\\") if postgres else Account.name.like(pattern, escape="\\")
        matches = or_(name_match, Account.domain.like(pattern, escape="\\"), Account.external_id == search.strip())
        if bigram is not None:
            candidates = union(
                select(AccountBigram.account_id).where(AccountBigram.bigram == bigram),
                select(Account.id).where(Account.external_id == search.strip()),
            )
            conditions.append(Account.id.in_(candidates))
        conditions.append(matches)
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
    if min_ltv is not None:
        conditions.append(Account.id.in_(select(AccountLtv.account_id).where(AccountLtv.ltv >= min_ltv)))
    if min_churn_risk is not None:
        conditions.append(churn_risk_at_least(min_churn_risk))
    return conditions


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


def account_by_exact_key(session: Session, key: str) -> int | None:
    """An account by its external id, its id (digits) or its exact name."""
    found = session.scalar(select(Account.id).where(Account.external_id == key).limit(1))
    if found is None and key.isdecimal() and int(key) < 2**31:
        found = session.scalar(select(Account.id).where(Account.id == int(key)))
    if found is None:
        found = session.scalar(select(Account.id).where(Account.name == key).order_by(Account.id).limit(1))
    return None if found is None else int(found)


def accounts_named_like(session: Session, text: str, limit: int) -> list[tuple[int, str, str]]:
    """``(id, external_id, name)`` of accounts whose name contains ``text`` (any case)."""
    pattern = f"%{_escape_like(text.lower())}%"
    postgres = session.get_bind().dialect.name == "postgresql"
    match = Account.name.ilike(pattern, escape="\\") if postgres else Account.name.like(pattern, escape="\\")
    rows = session.execute(
        select(Account.id, Account.external_id, Account.name).where(match).order_by(Account.name, Account.id).limit(limit)
    )
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def account_names(session: Session, limit: int) -> list[tuple[int, str, str]]:
    """``(id, external_id, name)`` of up to ``limit`` accounts (for "did you mean")."""
    rows = session.execute(select(Account.id, Account.external_id, Account.name).order_by(Account.id).limit(limit))
    return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def names_of(session: Session, ids: list[int]) -> dict[int, str]:
    """Account id → name for the given ids (in chunks: SQLite binds at most 32,766)."""
    names: dict[int, str] = {}
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        names.update((int(i), str(n)) for i, n in session.execute(select(Account.id, Account.name).where(Account.id.in_(chunk))))
    return names


# --- bulk owner assignment (issue 18) ----------------------------------------------------


def active_user_exists(session: Session, user_id: int) -> bool:
    return session.scalar(select(User.id).where(User.id == user_id, User.is_active.is_(True))) is not None


def existing_ids(session: Session, ids: list[int]) -> list[int]:
    return list(session.scalars(select(Account.id).where(Account.id.in_(ids))))


def set_owner(session: Session, ids: list[int], owner_id: int | None) -> int:
    result = session.execute(update(Account).where(Account.id.in_(ids)).values(owner_id=owner_id))
    return int(getattr(result, "rowcount", 0) or 0)


def assignable_users(session: Session) -> list[dict[str, Any]]:
    """Active users who can own accounts (not viewers), by name."""
    rows = session.execute(
        select(User.id, User.name, User.role)
        .where(User.is_active.is_(True), User.role != UserRole.VIEWER)
        .order_by(User.name, User.id)
    ).mappings()
    return [dict(r) for r in rows]


# --- saved views (issue 18) --------------------------------------------------------------


def saved_views(session: Session, user_id: int, page: str) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SavedView.id, SavedView.name, SavedView.query)
        .where(SavedView.user_id == user_id, SavedView.page == page)
        .order_by(SavedView.name, SavedView.id)
    ).mappings()
    return [dict(r) for r in rows]


def save_view(session: Session, user_id: int, page: str, name: str, query: str) -> int:
    """Create the view, or replace the query of the user's view of that name."""
    found = session.scalar(
        select(SavedView).where(SavedView.user_id == user_id, SavedView.page == page, SavedView.name == name)
    )
    if found is None:
        found = SavedView(user_id=user_id, page=page, name=name, query=query)
        session.add(found)
    else:
        found.query = query
    session.flush()
    return found.id


def delete_view(session: Session, user_id: int, view_id: int) -> bool:
    result = session.execute(delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == user_id))
    return bool(getattr(result, "rowcount", 0))


def account_row(session: Session, account_id: int) -> dict[str, Any] | None:
    """The accounts list's row of one account."""
    rows = page_rows(session, [Account.id == account_id], "name", 0, 1)
    return rows[0] if rows else None


def paying_mrrs(session: Session) -> list[int]:
    """The MRR of every account paying today (for medians and weights)."""
    return [int(v) for v in session.scalars(select(Account.mrr).where(Account.mrr > 0))]
