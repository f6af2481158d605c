"""The customer 360 (一元化): everything about one account, for one page.

``account_360`` gathers the header figures, contacts, subscription lines, the usage
series, onboarding, goals, open tasks and the first page of the timeline.

The **timeline** merges several sources, newest first: activities (meetings, calls,
emails, notes), tickets, survey answers and subscription changes. Each source is a
function registered with :func:`timeline_source` under its ``kind``; later features
(tasks, playbook actions) register their own and the page, the JSON API and the
paging keep working. Items are ordered by ``(at, kind, seq)`` descending, and the
cursor (``?before=``) is that key of the last item shown, so equal timestamps never
make an item appear twice or vanish between pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import partial
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import customer360 as q
from kizuna.domain.dates import DATE_OUT_OF_RANGE, in_range, out_of_range_message
from kizuna.domain.enums import (
    ActivityKind,
    BillingInterval,
    GoalStatus,
    ProductKind,
    SubscriptionStatus,
    SurveyKind,
    TaskPriority,
    TaskStatus,
    TicketStatus,
)
from kizuna.domain.subscriptions import AccountStatus
from kizuna.domain.usage import METRIC_ACTIVE_USERS, METRIC_LOGINS
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _
from kizuna.services.accounts import AccountHeader, row_values
from kizuna.services.segments import AccountSegments, account_segments

#: The usage chart's metrics, in the order they are drawn.
USAGE_METRICS: tuple[str, ...] = (METRIC_ACTIVE_USERS, METRIC_LOGINS)
MAX_TIMELINE_LIMIT = 200
MAX_USAGE_DAYS = 731
#: Ids beyond a 32-bit integer cannot exist (and would overflow some drivers).
_MAX_ID = 2**31 - 1


# --- what the page shows ----------------------------------------------------------------


@dataclass(frozen=True)
class Account360Header(AccountHeader):
    """The 360 page's header: the account header, its owner's email, its parent, and the
    day its summary (status, MRR, plan, renewal) was computed for."""

    summary_as_of: date | None
    owner_email: str | None
    parent_id: int | None
    parent_name: str | None


@dataclass(frozen=True)
class AccountRef:
    id: int
    name: str
    status: AccountStatus
    mrr: int
    currency: str | None


@dataclass(frozen=True)
class ContactInfo:
    id: int
    external_id: str
    name: str
    email: str | None
    role: str | None
    is_champion: bool


@dataclass(frozen=True)
class SubscriptionLine:
    id: int
    external_id: str
    product_id: int
    product_name: str
    product_code: str
    product_kind: ProductKind
    quantity: int
    monthly_amount: int
    currency: str
    billing_interval: BillingInterval
    status: SubscriptionStatus
    started_on: date
    trial_ends_on: date | None
    current_term_end: date | None
    canceled_at: datetime | None
    ended_on: date | None
    cancel_reason: str | None
    is_current: bool


@dataclass(frozen=True)
class Milestone:
    id: int
    name: str
    position: int
    due_on: date | None
    completed_at: datetime | None

    @property
    def done(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class Goal:
    id: int
    title: str
    metric: str | None
    baseline_value: float | None
    target_value: float | None
    current_value: float | None
    due_on: date | None
    status: GoalStatus

    @property
    def progress(self) -> float | None:
        """How far from the baseline to the target the current value is, 0–1."""
        b, t, c = self.baseline_value, self.target_value, self.current_value
        if b is None or t is None or c is None or t == b:
            return None
        return min(1.0, max(0.0, (c - b) / (t - b)))


@dataclass(frozen=True)
class OpenTask:
    id: int
    title: str
    priority: TaskPriority
    due_on: date | None
    assignee_id: int | None
    assignee_name: str | None
    overdue: bool


@dataclass(frozen=True)
class Signals:
    open_tickets: int
    last_nps: int | None
    last_nps_at: datetime | None
    last_touch_at: datetime | None


@dataclass(frozen=True)
class UsageSeries:
    """One value per day and metric, ``first_day`` … ``last_day``; days without a row are 0."""

    first_day: date
    last_day: date
    days: tuple[date, ...]
    series: Mapping[str, tuple[float, ...]]
    has_data: bool


@dataclass(frozen=True)
class Cursor:
    """Where a timeline page ends: items strictly after this key (newest first) follow."""

    at: datetime
    kind: str = ""
    seq: int = 0

    def __str__(self) -> str:
        stamp = self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{stamp}~{self.kind}~{self.seq}" if self.kind else stamp

    @property
    def key(self) -> tuple[datetime, str, int]:
        return (self.at, self.kind, self.seq)


@dataclass(frozen=True)
class TimelineItem:
    """One thing that happened to the account.

    ``kind`` is the source (``activity``, ``ticket``, ``survey``, ``subscription``, …),
    ``type`` what happened within it (``meeting``, ``opened``, ``nps``, ``plan_change``…),
    ``seq`` orders items of one kind at the same instant. ``details`` holds the
    kind's own fields (JSON-safe).
    """

    kind: str
    type: str
    at: datetime
    seq: int
    subject: str | None = None
    body: str | None = None
    actor: str | None = None
    contact: str | None = None
    all_day: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.seq}"

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, self.kind, self.seq)


@dataclass(frozen=True)
class TimelinePage:
    items: tuple[TimelineItem, ...]
    next_before: str | None  # pass as ``before`` for the next page; None: nothing older


@dataclass(frozen=True)
class Account360:
    as_of: date
    account: Account360Header
    children: tuple[AccountRef, ...]
    signals: Signals
    contacts: tuple[ContactInfo, ...]
    subscriptions: tuple[SubscriptionLine, ...]
    usage: UsageSeries
    timeline: TimelinePage
    milestones: tuple[Milestone, ...]
    goals: tuple[Goal, ...]
    open_tasks: tuple[OpenTask, ...]
    segments: AccountSegments | None = None  # tier, stage, fit, at-risk and their history (issue 6)


# --- cursors ---------------------------------------------------------------------------


def parse_cursor(text: str, zone: tzinfo = UTC) -> Cursor:
    """``2026-11-20T09:00:00Z`` (everything before that instant), ``2026-11-20`` (before
    that day began in ``zone``), or a cursor from ``next_before`` (``…Z~kind~seq``)."""
    raw = text.strip()
    stamp, _sep, rest = raw.partition("~")
    kind, _sep2, seq_text = rest.partition("~")
    problem = InvalidInput(
        _("before must be a timestamp such as 2026-11-20T09:00:00Z or a next_before cursor, not {value!r}").format(
            value=text[:80]
        ),
        code="invalid_cursor",
        field="before",
    )
    try:
        if len(stamp) == 10:
            at = datetime.combine(date.fromisoformat(stamp), time.min, tzinfo=zone)
        else:
            at = datetime.fromisoformat(stamp)
            if at.tzinfo is None:
                at = at.replace(tzinfo=zone)
        seq = int(seq_text) if rest else 0
    except ValueError:
        raise problem from None
    if not in_range(at):
        raise InvalidInput(out_of_range_message(at), code=DATE_OUT_OF_RANGE, field="before")
    if rest and (not kind or not kind.replace("_", "").isalnum() or not 0 <= seq <= 2**62):
        raise problem
    return Cursor(at.astimezone(UTC), kind if rest else "", seq)


# --- the timeline's sources ------------------------------------------------------------

#: ``(session, account_id, cursor, limit, zone)`` → up to ``limit`` items of one kind
#: after ``cursor``, newest first.
TimelineSource = Callable[[Session, int, Cursor | None, int, tzinfo], list[TimelineItem]]
_SOURCES: dict[str, TimelineSource] = {}


def timeline_source(kind: str) -> Callable[[TimelineSource], TimelineSource]:
    """Register a timeline source: ``@timeline_source("task") def tasks(session, …)``.

    Its items must carry ``kind`` and be ordered newest first by ``(at, seq)``.
    """

    def register(source: TimelineSource) -> TimelineSource:
        _SOURCES[kind] = source
        return source

    return register


def timeline_kinds() -> tuple[str, ...]:
    return tuple(sorted(_SOURCES))


def _key(cursor: Cursor | None) -> q.CursorKey:
    return cursor.key if cursor is not None else None


def _activity(r: Mapping[str, Any]) -> TimelineItem:
    return TimelineItem(
        kind="activity", type=ActivityKind(r["kind"]).value, at=r["occurred_at"], seq=r["id"], subject=r["subject"],
        body=r["summary"], actor=r["author_name"], contact=r["contact_name"],
        details={"external_id": r["external_id"], "author_id": r["author_id"], "contact_id": r["contact_id"]},
    )  # fmt: skip


@timeline_source("activity")
def _activities(
    session: Session, account_id: int, cursor: Cursor | None, limit: int, zone: tzinfo
) -> list[TimelineItem]:
    return [_activity(r) for r in q.activities_page(session, account_id, "activity", _key(cursor), limit)]


def activity_item(session: Session, account_id: int, activity_id: int) -> TimelineItem:
    """One activity as a timeline item (e.g. the one just logged)."""
    rows = q.activities_page(session, account_id, "activity", None, 1, activity_id=activity_id)
    if not rows:
        raise NotFound(_("no activity with id {id}").format(id=activity_id), code="activity_not_found")
    return _activity(rows[0])


def _ticket(r: Mapping[str, Any]) -> TimelineItem:
    details = {
        "external_id": r["external_id"], "status": TicketStatus(r["status"]).value, "priority": str(r["priority"]),
        "channel": str(r["channel"]), "resolved_at": r["resolved_at"],
        "open": r["status"] in (TicketStatus.OPEN, TicketStatus.PENDING),
    }  # fmt: skip
    return TimelineItem(kind="ticket", type="opened", at=r["opened_at"], seq=r["id"], subject=r["subject"],
                        contact=r["contact_name"], details=details)  # fmt: skip


@timeline_source("ticket")
def _tickets(session: Session, account_id: int, cursor: Cursor | None, limit: int, zone: tzinfo) -> list[TimelineItem]:
    return [_ticket(r) for r in q.tickets_page(session, account_id, "ticket", _key(cursor), limit)]


def nps_category(score: int) -> str:
    """Promoter (9–10), passive (7–8) or detractor (0–6)."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


@timeline_source("survey")
def _surveys(session: Session, account_id: int, cursor: Cursor | None, limit: int, zone: tzinfo) -> list[TimelineItem]:
    items = []
    for r in q.surveys_page(session, account_id, "survey", _key(cursor), limit):
        kind = SurveyKind(r["kind"])
        details: dict[str, Any] = {"external_id": r["external_id"], "score": int(r["score"])}
        if kind is SurveyKind.NPS:
            details["category"] = nps_category(int(r["score"]))
        items.append(TimelineItem(kind="survey", type=kind.value, at=r["answered_at"], seq=r["id"], body=r["comment"],
                                  contact=r["contact_name"], details=details))  # fmt: skip
    return items


@timeline_source("article")
def _article_views(session: Session, account_id: int, cursor: Cursor | None, limit: int,
                   zone: tzinfo) -> list[TimelineItem]:  # fmt: skip
    """A contact opened a knowledge-base article from its emailed link (issue 17)."""
    return [TimelineItem(kind="article", type="viewed", at=r["viewed_at"], seq=r["id"], subject=r["title"],
                         contact=r["contact_name"], details={"slug": r["slug"], "playbook": r["playbook_key"]})
            for r in q.article_views_page(session, account_id, "article", _key(cursor), limit)]  # fmt: skip


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _subscription_item(
    line: Mapping[str, Any],
    base: dict[str, Any],
    type_: str,
    at: datetime,
    rank: int,
    all_day: bool = True,
    **extra: Any,
) -> TimelineItem:
    return TimelineItem(kind="subscription", type=type_, at=at, seq=line["id"] * 8 + rank, subject=line["product_name"],
                        all_day=all_day, details={**base, **extra})  # fmt: skip


def subscription_events(lines: Sequence[Mapping[str, Any]], zone: tzinfo) -> list[TimelineItem]:
    """What changed in the subscriptions, from the lines themselves (newest first).

    A plan line that starts the day another plan line ends is a **plan change**, a
    line of the same product that replaces one a **quantity change** (the old line's
    cancellation and end are part of either); a line with a trial end after its
    start is a **trial started**, and **converted** when it went on earning past the
    trial; otherwise **started**. A line without a successor may be **canceled** (when
    the customer gave notice) and **ended** (when it stopped earning).
    """
    ending: dict[date, list[Mapping[str, Any]]] = {}
    for line in lines:
        if line["ended_on"] is not None:
            ending.setdefault(line["ended_on"], []).append(line)
    predecessor: dict[int, Mapping[str, Any]] = {}
    has_successor: set[int] = set()
    for line in sorted(lines, key=lambda ln: (ln["started_on"], ln["id"])):

        def replaces(before: Mapping[str, Any], line: Mapping[str, Any] = line) -> bool:
            if before["id"] == line["id"] or before["id"] in has_successor:
                return False
            same_product = bool(before["product_id"] == line["product_id"])
            both_plans = before["product_kind"] == ProductKind.PLAN and line["product_kind"] == ProductKind.PLAN
            return same_product or bool(both_plans)

        candidates = [b for b in ending.get(line["started_on"], ()) if replaces(b)]
        candidates.sort(key=lambda b: b["product_id"] != line["product_id"])  # the same product first
        if candidates:
            predecessor[line["id"]] = candidates[0]
            has_successor.add(candidates[0]["id"])
    items: list[TimelineItem] = []
    for line in lines:
        base = {
            "external_id": line["external_id"], "product": line["product_name"], "product_kind": str(line["product_kind"]),
            "quantity": line["quantity"], "monthly_amount": line["monthly_amount"], "currency": line["currency"],
            "status": str(line["status"]),
        }  # fmt: skip
        event = partial(_subscription_item, line, base)
        start = _midnight(line["started_on"], zone)
        trial_end = line["trial_ends_on"]
        previous = predecessor.get(line["id"])
        if previous is not None:
            change = "quantity_change" if previous["product_id"] == line["product_id"] else "plan_change"
            items.append(event(change, start, 0, from_product=previous["product_name"],
                               from_monthly_amount=previous["monthly_amount"], from_quantity=previous["quantity"]))  # fmt: skip
        elif trial_end is not None and trial_end > line["started_on"]:
            items.append(event("trial_started", start, 0, trial_ends_on=trial_end))
            ended = line["ended_on"]
            if line["status"] != SubscriptionStatus.TRIAL and (ended is None or ended > trial_end):
                items.append(event("converted", _midnight(trial_end, zone), 1))
        else:
            items.append(event("started", start, 0))
        if line["id"] in has_successor:
            continue
        if line["canceled_at"] is not None:
            items.append(event("canceled", line["canceled_at"], 2, all_day=False, reason=line["cancel_reason"],
                               ends_on=line["ended_on"]))  # fmt: skip
        if line["ended_on"] is not None:
            items.append(event("ended", _midnight(line["ended_on"], zone), 3, reason=line["cancel_reason"]))
    items.sort(key=lambda i: (i.at, i.seq), reverse=True)
    return items


def _task(r: Mapping[str, Any]) -> TimelineItem:
    at = r["at"] if r["at"].tzinfo is not None else r["at"].replace(tzinfo=UTC)
    return TimelineItem(
        kind="task", type=TaskStatus(r["status"]).value, at=at, seq=r["id"], subject=r["title"],
        body=r["description"], actor=r["assignee_name"], contact=r["contact_name"],
        details={"external_id": r["external_id"], "task_kind": r["kind"].value if r["kind"] else None,
                 "priority": r["priority"].value if r["priority"] else None,
                 "due_on": r["due_on"].isoformat() if r["due_on"] else None, "source": r["source"],
                 "signal": r["signal"]},
    )  # fmt: skip


@timeline_source("task")
def _tasks(session: Session, account_id: int, cursor: Cursor | None, limit: int, zone: tzinfo) -> list[TimelineItem]:
    return [_task(r) for r in q.tasks_page(session, account_id, "task", _key(cursor), limit)]


@timeline_source("playbook")
def _playbook_runs(
    session: Session, account_id: int, cursor: Cursor | None, limit: int, zone: tzinfo
) -> list[TimelineItem]:
    items = []
    for r in q.playbook_runs_page(session, account_id, "playbook", _key(cursor), limit):
        items.append(TimelineItem(
            kind="playbook", type=r["state"], at=_midnight(r["entered_on"], zone), seq=r["id"],
            subject=r["name"] or r["playbook_key"], body=r["log"].strip() or None, all_day=True,
            details={"playbook": r["playbook_key"]},
        ))  # fmt: skip
    return items


@timeline_source("subscription")
def _subscriptions(
    session: Session, account_id: int, cursor: Cursor | None, limit: int, zone: tzinfo
) -> list[TimelineItem]:
    events = subscription_events(q.subscription_lines(session, account_id), zone)
    if cursor is not None:
        events = [e for e in events if e.cursor.key < cursor.key]
    return events[:limit]


# --- the use cases ---------------------------------------------------------------------


def _check_account(session: Session, account_id: int) -> None:
    if not 0 < account_id <= _MAX_ID or not q.account_exists(session, account_id):
        raise _account_not_found(account_id)


def _account_not_found(account_id: int) -> NotFound:
    return NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found", field="id")


def timeline(
    session: Session,
    account_id: int,
    *,
    before: Cursor | str | None = None,
    limit: int = 50,
    zone: tzinfo = UTC,
    check_account: bool = True,
) -> TimelinePage:
    """Up to ``limit`` timeline items older than ``before``, newest first, and the cursor
    of the next page (``next_before``, None when there is nothing older).

    ``zone`` is where date-only events (a subscription starting on a day) begin.
    """
    if not 1 <= limit <= MAX_TIMELINE_LIMIT:
        raise InvalidInput(
            _("limit must be from 1 to {n}").format(n=MAX_TIMELINE_LIMIT), code="invalid_limit", field="limit"
        )
    cursor = parse_cursor(before, zone) if isinstance(before, str) else before
    if check_account:
        _check_account(session, account_id)
    merged: list[TimelineItem] = []
    for kind in timeline_kinds():
        merged.extend(_SOURCES[kind](session, account_id, cursor, limit + 1, zone))
    merged.sort(key=lambda i: (i.at, i.kind, i.seq), reverse=True)
    page = tuple(merged[:limit])
    more = len(merged) > limit
    return TimelinePage(page, str(page[-1].cursor) if more and page else None)


def usage_series(
    session: Session, account_id: int, *, as_of: date, days: int = 180, metrics: Sequence[str] = USAGE_METRICS,
    check_account: bool = True,
) -> UsageSeries:  # fmt: skip
    """Daily ``active_users`` and ``logins`` (by default) for the ``days`` days ending on ``as_of``."""
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise InvalidInput(_("days must be from 1 to {n}").format(n=MAX_USAGE_DAYS), code="invalid_days", field="days")
    if check_account:
        _check_account(session, account_id)
    first = as_of - timedelta(days=days - 1)
    day_list = tuple(first + timedelta(days=i) for i in range(days))
    index = {d: i for i, d in enumerate(day_list)}
    values = {m: [0.0] * days for m in metrics}
    rows = q.usage_daily(session, account_id, metrics, first, as_of)
    for day, metric, value in rows:
        values[metric][index[day]] = value
    return UsageSeries(first, as_of, day_list, {m: tuple(v) for m, v in values.items()}, bool(rows))


def account_contacts(session: Session, account_id: int) -> tuple[ContactInfo, ...]:
    """The account's contacts, the champion first (the activity form's choices)."""
    return tuple(ContactInfo(**c) for c in q.contacts(session, account_id))


def _is_current(line: Mapping[str, Any], as_of: date) -> bool:
    live = line["status"] in (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE)
    return live and (line["ended_on"] is None or line["ended_on"] > as_of)


def account_360(
    session: Session,
    account_id: int,
    *,
    as_of: date,
    zone: tzinfo = UTC,
    before: Cursor | str | None = None,
    timeline_limit: int = 20,
    usage_days: int = 180,
) -> Account360:
    """Everything the 360 page shows about one account. Raises ``NotFound``
    (``account_not_found``) for an unknown id."""
    row = q.account_header(session, account_id) if 0 < account_id <= _MAX_ID else None
    if row is None:
        raise _account_not_found(account_id)
    row.pop("custom_fields", None)
    header = Account360Header(**row_values(row))
    lines = [
        SubscriptionLine(**line, is_current=_is_current(line, as_of))
        for line in q.subscription_lines(session, account_id)
    ]
    lines.sort(key=lambda line: not line.is_current)  # stable: newest start first within each group
    return Account360(
        as_of=as_of,
        account=header,
        children=tuple(AccountRef(**c) for c in q.child_accounts(session, account_id)),
        signals=Signals(**q.signals(session, account_id)),
        contacts=account_contacts(session, account_id),
        subscriptions=tuple(lines),
        usage=usage_series(session, account_id, as_of=as_of, days=usage_days, check_account=False),
        timeline=timeline(session, account_id, before=before, limit=timeline_limit, zone=zone, check_account=False),
        milestones=tuple(Milestone(**m) for m in q.milestones(session, account_id)),
        goals=tuple(Goal(**g) for g in q.goals(session, account_id)),
        open_tasks=tuple(
            OpenTask(
                **{k: v for k, v in t.items() if k != "status"}, overdue=t["due_on"] is not None and t["due_on"] < as_of
            )
            for t in q.open_tasks(session, account_id)
        ),
        segments=account_segments(session, account_id, as_of=as_of),
    )


__all__ = [
    "USAGE_METRICS",
    "Account360",
    "Account360Header",
    "Cursor",
    "TimelineItem",
    "TimelinePage",
    "UsageSeries",
    "account_360",
    "parse_cursor",
    "subscription_events",
    "timeline",
    "timeline_source",
    "usage_series",
]
