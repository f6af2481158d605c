"""Customer records one at a time — the REST API's use cases: get, list, create,
update (partial) and delete accounts, contacts, products, subscriptions, tickets,
survey responses and activities.

Every write goes through the importer's own rules (``services.imports.specs``): the
same field parsers (text limits, emails, domains, currencies, ranges, dates and times
read in the configured zone) and the same cross-field checks (a subscription that ends
before it starts, an NPS of 11), so a record the API accepts is one ``kizuna import``
accepts, and the other way round. References are by id and must exist; keys
(``external_id``, a product's ``code``) are unique. Writing a subscription refreshes its
account's summary (status, MRR, plan, renewal).

The caller owns the transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import records as q
from kizuna.domain.enums import ActivityKind
from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.i18n import N_, _
from kizuna.services import activities as timeline
from kizuna.services import segments
from kizuna.services.accounts import (
    MAX_PER_PAGE,
    AccountQuery,
    AccountRow,
    Page,
    RiskItem,
    list_accounts,
    refresh_account_summaries,
    row_values,
)
from kizuna.services.health import explanation_lines
from kizuna.services.imports import specs
from kizuna.services.imports.fields import FieldError, ParseContext


@dataclass(frozen=True)
class Kind:
    """One kind of record: its importer spec, its key, what its ids refer to."""

    name: str
    spec: specs.EntitySpec
    key: str
    refs: Mapping[str, str]  # column → the kind of record it refers to

    @property
    def has_contact(self) -> bool:
        return "contact_id" in self.refs and "account_id" in self.refs


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("account", specs.ACCOUNTS, "external_id", {"owner_id": "user", "parent_id": "account"}),
        Kind("contact", specs.CONTACTS, "external_id", {"account_id": "account"}),
        Kind("product", specs.PRODUCTS, "code", {}),
        Kind("subscription", specs.SUBSCRIPTIONS, "external_id", {"account_id": "account", "product_id": "product"}),
        Kind("ticket", specs.TICKETS, "external_id", {"account_id": "account", "contact_id": "contact"}),
        Kind("survey_response", specs.SURVEY_RESPONSES, "external_id", {"account_id": "account", "contact_id": "contact"}),
        Kind("activity", specs.ACTIVITIES, "external_id",
             {"account_id": "account", "contact_id": "contact", "author_id": "user"}),
    )
}  # fmt: skip

#: What the messages call each kind (translated when shown).
NOUNS: dict[str, str] = {
    "account": N_("account"),
    "contact": N_("contact"),
    "product": N_("product"),
    "subscription": N_("subscription"),
    "ticket": N_("ticket"),
    "survey_response": N_("survey response"),
    "activity": N_("activity"),
    "user": N_("user"),
}

#: Field kinds whose importer parser reads text as written in files, not API values:
#: money (major units there, minor units here) and references (by key there, by id here).
_NOT_REPARSED = frozenset({"money", "reference"})


def sorts(kind: str) -> tuple[str, ...]:
    """The sorts a list of ``kind`` accepts (``-``: descending)."""
    return tuple(q.SORTS[kind])


def _no_such(kind: str, record_id: int) -> str:
    return _("no {noun} with id {id}").format(noun=_(NOUNS[kind]), id=record_id)


# --- reading -----------------------------------------------------------------------------


def get_record(session: Session, kind: str, record_id: int) -> Any:
    """The record, or :class:`NotFound` with code ``<kind>_not_found``."""
    record = q.get(session, kind, record_id)
    if record is None:
        raise NotFound(_no_such(kind, record_id), code=f"{kind}_not_found")
    return record


def _check_page(page: int, per_page: int) -> None:
    if page < 1:
        raise InvalidInput(_("page must be 1 or more"), field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(_("per_page must be from 1 to {n}").format(n=MAX_PER_PAGE), field="per_page")


def list_records(
    session: Session, kind: str, *, filters: Mapping[str, Any], sort: str, page: int = 1, per_page: int = 50
) -> Page[Any]:
    """One page of ``kind``'s records matching every filter (column equalities)."""
    if sort not in q.SORTS[kind]:
        raise InvalidInput(
            _("unknown sort {sort!r}; one of: {sorts}").format(sort=sort, sorts=", ".join(q.SORTS[kind])), field="sort"
        )
    _check_page(page, per_page)
    total, rows = q.page(session, kind, filters=filters, sort=sort, offset=(page - 1) * per_page, limit=per_page)
    return Page(rows, total, page, per_page)


# --- accounts ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AccountDetail(AccountRow):
    """An account as the accounts list shows it, plus its parent, custom fields and timestamps."""

    parent_id: int | None
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    # issue 18: the list's columns (None outside the list)
    days_to_renewal: int | None = None
    top_risk: RiskItem | None = None
    top_risk_reason: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> AccountDetail:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row_values(values).items() if k in names})


def get_account(session: Session, account_id: int) -> AccountDetail:
    row = q.account_details(session, account_id)
    if row is None:
        raise NotFound(_no_such("account", account_id), code="account_not_found")
    return AccountDetail.of({**row, "custom_fields": row["custom_fields"] or {}})


def find_accounts(
    session: Session, query: AccountQuery, *, as_of: date, external_id: str | None = None
) -> Page[AccountDetail]:
    """The accounts list (``services.accounts.list_accounts``: the same filters, sorts and
    pages as the web page), or the one account whose ``external_id`` is given."""
    if external_id is not None:
        if query != AccountQuery(sort=query.sort, page=query.page, per_page=query.per_page):
            raise InvalidInput(_("external_id cannot be combined with other filters"), field="external_id")
        found = q.id_by_key(session, "account", "external_id", external_id)
        items = [get_account(session, found)] if found is not None and query.page == 1 else []
        return Page(items, 0 if found is None else 1, query.page, query.per_page)
    result = list_accounts(session, query, as_of=as_of)
    extras = q.account_extras(session, [row.id for row in result.items])
    items = []
    for row in result.items:
        risk = row.worst_risk
        columns = {"days_to_renewal": row.days_until_renewal(as_of), "top_risk": risk,
                   "top_risk_reason": explanation_lines([risk.as_dict()])[0] if risk else None}  # fmt: skip
        items.append(AccountDetail.of({**asdict(row), **extras[row.id], **columns}))
    return Page(items, result.total, result.page, result.per_page)


# --- writing -------------------------------------------------------------------------------


def _normalize(kind: Kind, values: Mapping[str, Any], ctx: ParseContext) -> dict[str, Any]:
    """Each value through the importer's parser for its column; empty text is no value."""
    out: dict[str, Any] = {}
    for column, raw in values.items():
        value = None if isinstance(raw, str) and raw.strip() == "" else raw
        field = kind.spec.field_for(column)
        if value is not None and field is not None and field.parse is not None and field.kind not in _NOT_REPARSED:
            try:
                value = field.parse(value, ctx, out)
            except FieldError as exc:
                raise InvalidInput(str(exc), field=column) from None
            except OverflowError:
                raise InvalidInput(_("out of range"), field=column) from None
        out[column] = value
    return out


def _check_references(session: Session, kind: Kind, changes: Mapping[str, Any]) -> None:
    for column, target in kind.refs.items():
        ref = changes.get(column)
        if ref is not None and not q.exists(session, target, ref):
            raise InvalidInput(_no_such(target, ref), code=f"unknown_{target}", field=column)


def _check_key(session: Session, kind: Kind, changes: Mapping[str, Any], record_id: int | None) -> None:
    value = changes.get(kind.key)
    if value is None:
        return
    holder = q.id_by_key(session, kind.name, kind.key, value)
    if holder is not None and holder != record_id:
        raise Conflict(_("{field} {value!r} is already in use").format(field=kind.key, value=value), field=kind.key)


def _check_contact(session: Session, merged: Mapping[str, Any]) -> None:
    contact_id = merged.get("contact_id")
    if contact_id is not None and q.account_of_contact(session, contact_id) != merged.get("account_id"):
        raise InvalidInput(
            _("contact {id} belongs to another account").format(id=contact_id),
            code="contact_not_on_account",
            field="contact_id",
        )


def _check_parent(session: Session, account_id: int, parent_id: int | None) -> None:
    """An account may not be its own ancestor."""
    seen: set[int] = set()
    ancestor = parent_id
    while ancestor is not None and ancestor not in seen:
        if ancestor == account_id:
            raise InvalidInput(
                _("an account cannot be its own parent, directly or through its parents"), field="parent_id"
            )
        seen.add(ancestor)
        ancestor = q.parent_of_account(session, ancestor)


def _stored(kind: Kind, record: Any) -> dict[str, Any]:
    columns = [f.attr for f in kind.spec.fields] + list(kind.refs)
    return {c: getattr(record, c) for c in dict.fromkeys(columns) if hasattr(record, c)}


def _prepare(
    session: Session, kind: Kind, changes: Mapping[str, Any], ctx: ParseContext, record: Any | None
) -> dict[str, Any]:
    """Parse and check the values a create or update writes; raise on the first problem."""
    values = _normalize(kind, changes, ctx)
    if record is None and "currency" in values and values["currency"] is None:
        values["currency"] = ctx.default_currency
    _check_references(session, kind, values)
    _check_key(session, kind, values, record.id if record is not None else None)
    merged = {**(_stored(kind, record) if record is not None else {}), **values}
    if kind.has_contact and ("contact_id" in values or "account_id" in values):
        _check_contact(session, merged)
    if kind.name == "account" and record is not None and values.get("parent_id") is not None:
        _check_parent(session, record.id, values["parent_id"])
    if kind.spec.check is not None:
        for column, reason in kind.spec.check(merged):
            raise InvalidInput(reason, field=column)
    if kind.name == "activity":
        _check_activity(merged)
    return values


def _check_activity(merged: Mapping[str, Any]) -> None:
    """The timeline's rules (``services.activities.log_activity``), for updates too."""
    if merged.get("subject") is None and merged.get("summary") is None:
        raise InvalidInput(_("write a subject or a summary"), code="activity_empty", field="summary")
    occurred_at = merged.get("occurred_at")
    if occurred_at is not None:
        timeline.check_occurred_at(occurred_at)


def _refresh(session: Session, account_ids: set[int | None], as_of: date) -> None:
    ids = sorted(i for i in account_ids if i is not None)
    if ids:
        refresh_account_summaries(session, as_of, only=ids)


def create_record(session: Session, kind: str, values: Mapping[str, Any], ctx: ParseContext, *, as_of: date) -> Any:
    """Add one record (its id is set); returns it."""
    spec = KINDS[kind]
    prepared = _prepare(session, spec, values, ctx, None)
    record = q.insert(session, kind, prepared)
    if kind == "subscription":
        _refresh(session, {record.account_id}, as_of)
    elif kind == "account":
        _refresh(session, {record.id}, as_of)
        segments.record_owners(session, as_of, [record.id])
    return record


def update_record(
    session: Session, kind: str, record_id: int, changes: Mapping[str, Any], ctx: ParseContext, *, as_of: date
) -> Any:
    """Change the given fields of one record (a partial update); returns it."""
    spec = KINDS[kind]
    record = get_record(session, kind, record_id)
    before_account = getattr(record, "account_id", None)
    before_kind = getattr(record, "kind", None)
    prepared = _prepare(session, spec, changes, ctx, record)
    q.update(session, record, prepared)
    if kind == "subscription":
        _refresh(session, {before_account, record.account_id}, as_of)
    elif kind == "product" and record.kind != before_kind:
        # a plan that became an add-on (or back) changes which plan its accounts show
        _refresh(session, set(q.accounts_with_product(session, record_id)), as_of)
    elif kind == "account" and "owner_id" in prepared:
        segments.record_owners(session, as_of, [record.id])
    return record


def delete_record(session: Session, kind: str, record_id: int, *, as_of: date) -> None:
    """Delete one record. An account takes its contacts, subscriptions, tickets, … with
    it; a product still subscribed to is refused (``product_in_use``)."""
    record = get_record(session, kind, record_id)
    if kind == "product" and q.subscription_count(session, record_id):
        raise Conflict(
            _("product {code} still has subscriptions; delete them or move them to another product first").format(
                code=record.code
            ),
            code="product_in_use",
        )
    account_id = getattr(record, "account_id", None)
    q.remove(session, kind, record_id)
    if kind == "subscription":
        _refresh(session, {account_id}, as_of)


def log_activity(session: Session, values: Mapping[str, Any], ctx: ParseContext, *, author_id: int | None) -> Any:
    """Log an activity through ``services.activities.log_activity`` (the timeline's own
    use case), after the same checks as every other write. ``author_id`` is the default
    author (the signed-in user) when the values name none."""
    given = dict(values)
    if given.get("author_id") is None:
        given["author_id"] = author_id
    prepared = _prepare(session, KINDS["activity"], given, ctx, None)
    activity = timeline.log_activity(
        session,
        account_id=prepared["account_id"],
        kind=ActivityKind(prepared["kind"]),
        occurred_at=prepared["occurred_at"],
        subject=prepared.get("subject"),
        summary=prepared.get("summary"),
        author_id=prepared.get("author_id"),
        contact_id=prepared.get("contact_id"),
    )
    if prepared.get("external_id") is not None:
        q.update(session, activity, {"external_id": prepared["external_id"]})
    return activity


__all__ = [
    "KINDS",
    "AccountDetail",
    "AccountQuery",
    "Page",
    "ParseContext",
    "create_record",
    "delete_record",
    "find_accounts",
    "get_account",
    "get_record",
    "list_records",
    "log_activity",
    "sorts",
    "update_record",
]
