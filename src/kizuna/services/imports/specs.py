"""What each importable entity looks like in a file: its columns, their types, which
are required, which reference other records, and the key that makes an import an
upsert. ``docs/import.md`` documents the same tables (a test keeps them in step)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from kizuna.domain.enums import (
    SURVEY_SCALES,
    ActivityKind,
    BillingInterval,
    GoalStatus,
    ProductKind,
    SubscriptionStatus,
    SurveyKind,
    TaskPriority,
    TaskStatus,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    UserRole,
)
from kizuna.domain.money import format_amount
from kizuna.domain.subscriptions import MAX_TERM_MONTHS
from kizuna.i18n import N_, _
from kizuna.services.imports import fields as f

Parser = Callable[[Any, f.ParseContext, dict[str, Any]], Any]


@dataclass(frozen=True)
class Ref:
    """A reference by a natural key: ``account_external_id`` → ``accounts.external_id``."""

    table: str
    key: str
    noun: str  # what the error calls it: "account", "contact", "user", "product"


@dataclass(frozen=True)
class Field:
    column: str
    attr: str
    kind: str
    required: bool = False
    default: Any = None  # a value, or a function of the ParseContext (the default currency)
    parse: Parser | None = None
    ref: Ref | None = None
    help: str = ""


@dataclass(frozen=True)
class EntitySpec:
    name: str
    table: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # columns whose values identify a row within the file
    conflict: tuple[str, ...]  # stored attributes of the unique key
    immutable: bool = False  # events: a re-sent row changes nothing (first one wins)
    custom_fields: bool = False
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None
    summary: str = ""
    order_by: tuple[str, ...] = ("id",)
    self_ref: Field | None = None

    @property
    def columns(self) -> list[str]:
        return [fd.column for fd in self.fields]

    def field_for(self, column: str) -> Field | None:
        for fd in self.fields:
            if fd.column == column:
                return fd
        return None


# --- field constructors -------------------------------------------------------------


def _text(n: int) -> Parser:
    def parse(raw: Any, ctx: f.ParseContext, row: dict[str, Any]) -> str:
        # inlined f.text: this runs for most columns of every row of a large import
        value = (raw if raw.__class__ is str else str(raw)).strip()
        if len(value) > n:
            raise f.FieldError(_("longer than {n} characters").format(n=n))
        return value

    return parse


def _int(lo: int | None = None, hi: int | None = None) -> Parser:
    return lambda raw, ctx, row: f.integer(raw, lo, hi)


def _enum(e: type[StrEnum]) -> Parser:
    return lambda raw, ctx, row: f.choice(raw, e)


def _language(raw: Any) -> str | None:
    value = str(raw).strip().lower()
    aliases = {"ja": "ja", "jp": "ja", "ja-jp": "ja", "ja_jp": "ja", "日本語": "ja", "japanese": "ja",
               "en": "en", "en-us": "en", "en-gb": "en", "en_us": "en", "英語": "en", "english": "en"}  # fmt: skip
    if value not in aliases:
        raise f.FieldError(_("must be ja or en, not {value!r}").format(value=str(raw)[:40]))
    return aliases[value]


def _money(raw: Any, ctx: f.ParseContext, row: dict[str, Any]) -> int:
    return f.money(raw, row.get("currency") or ctx.default_currency)


def text(column: str, n: int, *, required: bool = False, attr: str | None = None, help: str = "") -> Field:
    return Field(column, attr or column, "text", required, parse=_text(n), help=help)


def integer(column: str, *, lo: int | None = None, hi: int | None = None, required: bool = False,
            default: int | None = None, help: str = "") -> Field:  # fmt: skip
    return Field(column, column, "integer", required, default, _int(lo, hi), help=help)


def number(column: str, *, required: bool = False, help: str = "") -> Field:
    return Field(column, column, "number", required, parse=lambda raw, ctx, row: f.number(raw), help=help)


def boolean(column: str, *, default: bool, help: str = "") -> Field:
    return Field(column, column, "boolean", False, default, lambda raw, ctx, row: f.boolean(raw), help=help)


def choice(column: str, enum_cls: type[StrEnum], *, required: bool = False, default: StrEnum | None = None,
           help: str = "") -> Field:  # fmt: skip
    return Field(column, column, "choice", required, default.value if default else None, _enum(enum_cls),
                 help=help or ", ".join(m.value for m in enum_cls))  # fmt: skip


def day(column: str, *, required: bool = False, help: str = "") -> Field:
    return Field(column, column, "date", required, parse=lambda raw, ctx, row: f.day(raw), help=help)


def moment(column: str, *, required: bool = False, help: str = "") -> Field:
    return Field(column, column, "datetime", required, parse=lambda raw, ctx, row: f.moment(raw, ctx.zone), help=help)


def ref(column: str, attr: str, table: str, key: str, noun: str, *, required: bool = False, help: str = "") -> Field:
    parse: Parser = (lambda raw, ctx, row: f.email(raw)) if key == "email" else _text(128)
    return Field(column, attr, "reference", required, parse=parse, ref=Ref(table, key, noun), help=help)


def _default_currency(ctx: f.ParseContext) -> str:
    return ctx.default_currency


def currency_field() -> Field:
    # An empty cell (or no column) takes the configured default, like the API does.
    return Field("currency", "currency", "currency", False, _default_currency, lambda raw, ctx, row: f.currency(raw),
                 help="ISO 4217 code; default KIZUNA_DEFAULT_CURRENCY (JPY)")  # fmt: skip


def money(column: str, *, required: bool = False, help: str = "") -> Field:
    return Field(column, column, "money", required, parse=_money, help=help)


ACCOUNT = ("account_external_id", "account_id", "accounts", "external_id", N_("account"))
CONTACT = ("contact_external_id", "contact_id", "contacts", "external_id", N_("contact"))


def account_ref(*, required: bool = True) -> Field:
    return ref(*ACCOUNT, required=required)


def contact_ref() -> Field:
    return ref(*CONTACT)


def external_id() -> Field:
    return text("external_id", 128, required=True, help="the record's id in your source system")


# --- cross-field checks ---------------------------------------------------------------


def _not_before(values: dict[str, Any], later: str, earlier: str) -> list[tuple[str, str]]:
    a, b = values.get(later), values.get(earlier)
    if a is not None and b is not None and a < b:
        return [(later, _("is before {other}").format(other=earlier))]
    return []


def _check_subscription(values: dict[str, Any]) -> list[tuple[str, str]]:
    problems = _not_before(values, "ended_on", "started_on")
    problems += _not_before(values, "trial_ends_on", "started_on")
    status = values.get("status")
    if status in (SubscriptionStatus.CANCELED, SubscriptionStatus.EXPIRED) and values.get("ended_on") is None:
        problems.append(
            ("ended_on", _("required when status is {status} (the day it stopped earning)").format(status=status))
        )
    if status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIAL) and values.get("ended_on") is not None:
        problems.append(("ended_on", _("must be empty while status is {status}").format(status=status)))
    return problems


def _check_ticket(values: dict[str, Any]) -> list[tuple[str, str]]:
    return _not_before(values, "first_response_at", "opened_at") + _not_before(values, "resolved_at", "opened_at")


def _check_survey(values: dict[str, Any]) -> list[tuple[str, str]]:
    kind = values.get("kind")
    score = values.get("score")
    if kind is None or score is None:
        return []
    lo, hi = SURVEY_SCALES[SurveyKind(kind)]
    if not lo <= score <= hi:
        return [("score", _("a {kind} score must be from {lo} to {hi}").format(kind=kind.upper(), lo=lo, hi=hi))]
    return []


# --- the entities -------------------------------------------------------------------


class _Lang(StrEnum):
    JA = "ja"
    EN = "en"


USERS = EntitySpec(
    "users", "users",
    (
        Field("email", "email", "email", True, parse=lambda raw, ctx, row: f.email(raw), help="sign-in address; the key"),
        text("name", 200, required=True),
        choice("role", UserRole, default=UserRole.CSM),
        Field("locale", "locale", "choice", False, None, lambda raw, ctx, row: f.choice(raw, _Lang), help="ja, en"),
        boolean("is_active", default=True),
    ),
    key=("email",), conflict=("email",), order_by=("id",),
    summary="The CS team: CSMs, leads, admins and viewers.",
)  # fmt: skip


ACCOUNTS = EntitySpec(
    "accounts", "accounts",
    (
        external_id(),
        text("name", 255, required=True),
        Field("domain", "domain", "domain", parse=lambda raw, ctx, row: f.domain_name(raw), help="e.g. example.co.jp"),
        text("industry", 100),
        integer("employee_count", lo=0),
        ref("owner_email", "owner_id", "users", "email", N_("user"), help="the CSM who owns the account"),
    ),
    key=("external_id",), conflict=("external_id",), custom_fields=True,
    self_ref=ref("parent_external_id", "parent_id", "accounts", "external_id", N_("account"),
                 help="the parent company's external_id (may be in the same file)"),
    summary="Customer companies.",
)  # fmt: skip

CONTACTS = EntitySpec(
    "contacts", "contacts",
    (
        external_id(), account_ref(), text("name", 200, required=True),
        Field("email", "email", "email", parse=lambda raw, ctx, row: f.email(raw)),
        text("role", 100, help="e.g. 決裁者 (decision maker), 担当者, admin"),
        boolean("is_champion", default=False, help="the customer's internal champion"),
        Field("language", "language", "choice", parse=lambda raw, ctx, row: _language(raw),
              help="ja or en: the language of the emails Kizuna sends them (empty: the company default)"),
    ),
    key=("external_id",), conflict=("external_id",), summary="People at customer companies.",
)  # fmt: skip

PRODUCTS = EntitySpec(
    "products", "products",
    (
        text("code", 64, required=True, help="the product's key, e.g. plan-pro"),
        text("name", 200, required=True),
        choice("kind", ProductKind, required=True),
        integer("rank", lo=0, default=0, help="upsell order: a higher rank is an upgrade"),
        currency_field(),
        money("list_price", help="monthly list price per unit"),
        integer("seats_included", lo=0),
        text("description", 2000),
        boolean("is_active", default=True),
    ),
    key=("code",), conflict=("code",), summary="Plans and add-ons.",
)  # fmt: skip

SUBSCRIPTIONS = EntitySpec(
    "subscriptions", "subscriptions",
    (
        external_id(), account_ref(),
        ref("product_code", "product_id", "products", "code", N_("product"), required=True),
        integer("quantity", lo=0, default=1, help="seats or units"),
        currency_field(),
        money("monthly_amount", required=True, help="monthly recurring revenue of the line (annual ÷ 12)"),
        choice("billing_interval", BillingInterval, default=BillingInterval.MONTH),
        choice("status", SubscriptionStatus, required=True),
        day("started_on", required=True),
        day("trial_ends_on"),
        day("current_term_end", help="the end of the current term (the renewal date of a committed term)"),
        integer("term_months", lo=1, hi=MAX_TERM_MONTHS,
                help="the contract term in months: 1 monthly evergreen, 12 annual, 36 three years; "
                     "default: 12 for yearly billing, else 1"),
        moment("canceled_at", help="when the customer asked to cancel"),
        day("ended_on", help="the first day the line no longer earns (canceled, expired or replaced)"),
        text("cancel_reason", 255),
    ),
    key=("external_id",), conflict=("external_id",), check=_check_subscription,
    summary="Contract lines with their monthly amounts.",
)  # fmt: skip

USAGE_EVENTS = EntitySpec(
    "usage_events", "usage_events",
    (
        text("message_id", 128, required=True, help="unique per source; a re-sent event is ignored"),
        account_ref(), contact_ref(),
        text("anonymous_id", 128),
        text("event", 200, required=True, help="e.g. Signed In, Report Created"),
        moment("timestamp", required=True),
        Field("properties", "properties", "json", False, None, lambda raw, ctx, row: f.json_object(raw), help="a JSON object"),
        Field("source", "source", "text", False, "import", _text(64), help="where the event came from; default import"),
    ),
    key=("source", "message_id"), conflict=("source", "message_id"), immutable=True,
    summary="Raw product-usage events.",
)  # fmt: skip

USAGE_DAILY = EntitySpec(
    "usage_daily", "usage_daily",
    (
        account_ref(), day("day", required=True),
        text("metric", 100, required=True, help="logins, active_users, session_minutes, events, feature.<key>"),
        number("value", required=True),
    ),
    key=("account_external_id", "day", "metric"), conflict=("account_id", "day", "metric"),
    order_by=("account_id", "day", "metric"), summary="Daily usage figures per account and metric.",
)  # fmt: skip

TICKETS = EntitySpec(
    "tickets", "tickets",
    (
        external_id(), account_ref(), contact_ref(),
        text("subject", 500),
        choice("status", TicketStatus, required=True),
        choice("priority", TicketPriority, default=TicketPriority.NORMAL),
        choice("channel", TicketChannel, default=TicketChannel.EMAIL),
        moment("opened_at", required=True), moment("first_response_at"), moment("resolved_at"),
        integer("message_count", lo=0, default=1, help="messages exchanged"),
        integer("csat", lo=1, hi=5, help="1–5"),
    ),
    key=("external_id",), conflict=("external_id",), check=_check_ticket, summary="Support tickets.",
)  # fmt: skip

SURVEY_RESPONSES = EntitySpec(
    "survey_responses", "survey_responses",
    (
        external_id(), account_ref(), contact_ref(),
        choice("kind", SurveyKind, required=True),
        integer("score", required=True, help="NPS 0–10, CSAT 1–5"),
        text("comment", 10000),
        moment("answered_at", required=True),
    ),
    key=("external_id",), conflict=("external_id",), check=_check_survey, summary="NPS and CSAT answers.",
)  # fmt: skip

ACTIVITIES = EntitySpec(
    "activities", "activities",
    (
        external_id(), account_ref(), contact_ref(),
        ref("author_email", "author_id", "users", "email", N_("user")),
        choice("kind", ActivityKind, required=True),
        moment("occurred_at", required=True),
        text("subject", 500), text("summary", 20000),
    ),
    key=("external_id",), conflict=("external_id",), summary="Meetings, calls, emails and notes.",
)  # fmt: skip

ONBOARDING_MILESTONES = EntitySpec(
    "onboarding_milestones", "onboarding_milestones",
    (
        external_id(), account_ref(), text("name", 200, required=True),
        integer("position", lo=0, default=0, help="order in the checklist"),
        day("due_on"), moment("completed_at"),
    ),
    key=("external_id",), conflict=("external_id",), summary="Onboarding checklist steps per account.",
)  # fmt: skip

SUCCESS_GOALS = EntitySpec(
    "success_goals", "success_goals",
    (
        external_id(), account_ref(), text("title", 300, required=True),
        text("metric", 200, help="the customer's own measure of success"),
        number("baseline_value"), number("target_value"), number("current_value"),
        day("due_on"), choice("status", GoalStatus, default=GoalStatus.NOT_STARTED),
    ),
    key=("external_id",), conflict=("external_id",), summary="Success-plan goals.",
)  # fmt: skip

TASKS = EntitySpec(
    "tasks", "tasks",
    (
        external_id(), account_ref(required=False),
        ref("assignee_email", "assignee_id", "users", "email", N_("user")),
        text("title", 300, required=True), text("description", 20000),
        choice("priority", TaskPriority, default=TaskPriority.NORMAL),
        choice("status", TaskStatus, default=TaskStatus.OPEN),
        day("due_on"), moment("completed_at"),
        text("source", 100, help="manual, or the playbook that made it"),
    ),
    key=("external_id",), conflict=("external_id",), summary="To-dos for the CS team.",
)  # fmt: skip

#: Every importable entity, in the order a full load must follow (references first).
ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec
    for spec in (
        USERS, PRODUCTS, ACCOUNTS, CONTACTS, SUBSCRIPTIONS, USAGE_EVENTS, USAGE_DAILY, TICKETS,
        SURVEY_RESPONSES, ACTIVITIES, ONBOARDING_MILESTONES, SUCCESS_GOALS, TASKS,
    )
}  # fmt: skip


def entity(name: str) -> EntitySpec:
    """Look an entity up by name; ``usage-events`` and ``usage_events`` both work."""
    key = name.strip().lower().replace("-", "_")
    if key in ENTITIES:
        return ENTITIES[key]
    import difflib

    from kizuna.errors import InvalidInput

    names = ", ".join(n.replace("_", "-") for n in ENTITIES)
    close = difflib.get_close_matches(key.rstrip("s"), list(ENTITIES), n=1, cutoff=0.6) or difflib.get_close_matches(
        key, list(ENTITIES), n=1, cutoff=0.6
    )
    if close:
        message = _("unknown entity {name!r}; did you mean {guess}? One of: {names}").format(
            name=name, guess=close[0].replace("_", "-"), names=names
        )
    else:
        message = _("unknown entity {name!r}; one of: {names}").format(name=name, names=names)
    raise InvalidInput(message, field="entity")


# --- writing values back out (exports) ----------------------------------------------


def format_value(fd: Field, value: Any, row: dict[str, Any]) -> str:
    """The text an export writes for ``value``: what the importer reads back unchanged."""
    if value is None:
        return ""
    if fd.kind == "money":
        return format_amount(int(value), row.get("currency") or "JPY")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if isinstance(value, StrEnum):
        return value.value
    return str(value)
