"""Reading and writing single customer records for the REST API: get by id, find by
key, filtered and sorted pages, insert, update, delete. Nothing here commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kizuna.db.models import Account, Activity, Contact, Product, Subscription, SurveyResponse, Ticket, User
from kizuna.errors import Conflict
from kizuna.i18n import _

#: The record kinds the API serves, by the name the services use.
MODELS: dict[str, Any] = {
    "account": Account,
    "contact": Contact,
    "product": Product,
    "subscription": Subscription,
    "ticket": Ticket,
    "survey_response": SurveyResponse,
    "activity": Activity,
    "user": User,
}


def _by(column: Any, model: Any, *, nulls_last: bool = False) -> dict[str, tuple[Any, ...]]:
    """``name`` ascending and ``-name`` descending, ties broken by id (a stable order);
    NULLs last both ways, the same on SQLite and PostgreSQL."""
    name = column.key
    head: tuple[Any, ...] = (column.is_(None),) if nulls_last else ()
    return {
        name: (*head, column.asc(), model.id.asc()),
        f"-{name}": (*head, column.desc(), model.id.desc()),
    }


def _ids(model: Any) -> dict[str, tuple[Any, ...]]:
    return {"id": (model.id.asc(),), "-id": (model.id.desc(),)}


#: Each kind's sorts: the API documents exactly these names.
SORTS: dict[str, dict[str, tuple[Any, ...]]] = {
    "contact": {**_ids(Contact), **_by(Contact.name, Contact)},
    "product": {**_by(Product.rank, Product), **_by(Product.name, Product), **_by(Product.code, Product),
                **_ids(Product)},
    "subscription": {
        **_ids(Subscription), **_by(Subscription.started_on, Subscription),
        **_by(Subscription.current_term_end, Subscription, nulls_last=True),
        **_by(Subscription.monthly_amount, Subscription),
    },
    "ticket": {**_by(Ticket.opened_at, Ticket), **_ids(Ticket)},
    "survey_response": {**_by(SurveyResponse.answered_at, SurveyResponse), **_by(SurveyResponse.score, SurveyResponse),
                        **_ids(SurveyResponse)},
    "activity": {**_by(Activity.occurred_at, Activity), **_ids(Activity)},
}  # fmt: skip


def get(session: Session, kind: str, record_id: int) -> Any | None:
    return session.get(MODELS[kind], record_id)


def exists(session: Session, kind: str, record_id: int) -> bool:
    model = MODELS[kind]
    return session.scalar(select(model.id).where(model.id == record_id)) is not None


def id_by_key(session: Session, kind: str, key: str, value: Any) -> int | None:
    """The id of the record whose unique ``key`` (external_id, code) is ``value``."""
    model = MODELS[kind]
    found = session.scalar(select(model.id).where(getattr(model, key) == value))
    return int(found) if found is not None else None


def account_of_contact(session: Session, contact_id: int) -> int | None:
    found = session.scalar(select(Contact.account_id).where(Contact.id == contact_id))
    return int(found) if found is not None else None


def parent_of_account(session: Session, account_id: int) -> int | None:
    found = session.scalar(select(Account.parent_id).where(Account.id == account_id))
    return int(found) if found is not None else None


def page(
    session: Session, kind: str, *, filters: Mapping[str, Any], sort: str, offset: int, limit: int
) -> tuple[int, list[Any]]:
    """``(total matching, the page's records)``; ``filters`` are equalities on columns
    (``None`` values are left out), ``email`` compares lower-case."""
    model = MODELS[kind]
    conditions = []
    for column, value in filters.items():
        if value is None:
            continue
        attr = getattr(model, column)
        conditions.append(func.lower(attr) == value.lower() if column == "email" else attr == value)
    total = int(session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0)
    rows = session.scalars(select(model).where(*conditions).order_by(*SORTS[kind][sort]).offset(offset).limit(limit))
    return total, list(rows)


def insert(session: Session, kind: str, values: Mapping[str, Any]) -> Any:
    record = MODELS[kind](**values)
    session.add(record)
    flush(session)
    return record


def update(session: Session, record: Any, values: Mapping[str, Any]) -> Any:
    for column, value in values.items():
        setattr(record, column, value)
    flush(session)
    return record


def remove(session: Session, kind: str, record_id: int) -> None:
    """Delete one record; the foreign keys cascade to its dependants (or set them null)."""
    model = MODELS[kind]
    record = session.get(model, record_id)
    if record is not None:
        session.expunge(record)
    session.execute(delete(model).where(model.id == record_id))
    flush(session)


def flush(session: Session) -> None:
    """Flush; a clash with a stored row (a race the services' checks could not see) is a Conflict."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(_("the change clashes with a stored record; reload it and try again")) from exc


def subscription_count(session: Session, product_id: int) -> int:
    return int(session.scalar(select(func.count()).where(Subscription.product_id == product_id)) or 0)


def accounts_with_product(session: Session, product_id: int) -> list[int]:
    return list(
        session.scalars(select(Subscription.account_id).where(Subscription.product_id == product_id).distinct())
    )


_ACCOUNT_COLUMNS = (
    Account.id, Account.external_id, Account.name, Account.domain, Account.industry, Account.employee_count,
    Account.status, Account.mrr, Account.currency, Account.renewal_on, Account.contract_term_months,
    Account.customer_since, Account.churned_on,
    Account.owner_id, User.name.label("owner_name"), Account.plan_id, Product.name.label("plan_name"),
    Account.touch_tier, Account.lifecycle_stage, Account.at_risk, Account.fit_score, Account.fit_band,
    Account.health_score, Account.health_grade, Account.health_as_of,
)  # fmt: skip
_ACCOUNT_EXTRAS = (Account.id, Account.parent_id, Account.custom_fields, Account.created_at, Account.updated_at)


def account_details(session: Session, account_id: int) -> dict[str, Any] | None:
    """One account as the accounts list shows it, plus what only the record has."""
    row = session.execute(
        select(*_ACCOUNT_COLUMNS, *_ACCOUNT_EXTRAS[1:])
        .outerjoin(User, User.id == Account.owner_id)
        .outerjoin(Product, Product.id == Account.plan_id)
        .where(Account.id == account_id)
    ).mappings().first()  # fmt: skip
    return dict(row) if row is not None else None


def account_extras(session: Session, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What the accounts list's rows lack (parent, custom fields, timestamps), by id."""
    if not ids:
        return {}
    rows = session.execute(select(*_ACCOUNT_EXTRAS).where(Account.id.in_(list(ids)))).mappings()
    return {r["id"]: {k: v for k, v in r.items() if k != "id"} for r in rows}
