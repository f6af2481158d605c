"""Storing tracking-API messages in one transaction: accounts (``group``), contacts
(``identify``), events (``track``, ``page``), the quarantine of messages whose account
or user is not known yet, rollups and counters.

Within a transaction, ``group`` calls go first, then ``identify``, then events, so that
a batch ``[group, identify, track]`` stores the track under its new account. A message
whose account or user is unknown is *parked* with its reason and attached — moved into
``usage_events`` and rolled up — as soon as the account or contact appears (a ``group``
or ``identify`` here, ``kizuna import accounts``, the daily pipeline, or
``kizuna ingest attach``). Nothing is dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson

from kizuna.db import Session
from kizuna.db import usage as q
from kizuna.db.models import Account, Contact, ParkedEvent
from kizuna.services.usage.payload import Message, contact_email, employees
from kizuna.services.usage.rollups import KnownUsers, NewEvent, RollupConfig, roll_up, roll_up_pending

#: Why a message waits in the quarantine.
UNKNOWN_ACCOUNT = "unknown_account"  # context.groupId names no account
UNKNOWN_USER = "unknown_user"  # userId names no contact
NO_ACCOUNT = "no_account"  # no groupId, and no known user to take the account from
REASONS = (UNKNOWN_ACCOUNT, UNKNOWN_USER, NO_ACCOUNT)
#: Parked messages read at a time when attaching everything (the pipeline, ``kizuna ingest attach``).
ATTACH_PAGE = 5000


@dataclass
class Outcome:
    """What became of one request's messages."""

    stored: int = 0  # new events, and applied identify/group calls
    duplicates: int = 0  # already stored (or already parked): a retry
    parked: int = 0
    attached: int = 0  # parked events this request's group/identify let in

    def add(self, other: Outcome) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.parked += other.parked
        self.attached += other.attached


@dataclass
class _Work:
    """One transaction's bookkeeping."""

    config: RollupConfig
    defer: bool = False  # journal the rollup sums (applied later) instead of updating the rollups
    accounts: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, tuple[int, int]] = field(default_factory=dict)
    new_accounts: set[str] = field(default_factory=set)
    new_contacts: set[str] = field(default_factory=set)
    users: KnownUsers | None = None
    stored: StoredKeys | None = None  # keys the writer committed lately: a copy of one is a duplicate


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- group and identify ---------------------------------------------------------------------


def _apply_group(session: Session, work: _Work, m: Message) -> None:
    traits = m.payload
    assert m.group_id is not None
    name = traits.get("name")
    name = name.strip() if isinstance(name, str) and name.strip() else None
    industry = traits.get("industry")
    industry = industry.strip() if isinstance(industry, str) and industry.strip() else None
    # the traits were checked as the request was read (check_group_traits): no refusal here, so its field name is never shown
    staff = employees(traits.get("employees"), "traits.employees")  # pragma: no mutate
    custom = {k: v for k, v in traits.items() if k not in ("name", "industry", "employees", "id")}
    account = q.account_by_key(session, m.group_id)
    if account is None:
        account = q.add(session, Account(external_id=m.group_id, name=name or m.group_id, industry=industry,
                                         employee_count=staff, custom_fields=custom))  # fmt: skip
        work.new_accounts.add(m.group_id)
    else:
        if name is not None and account.name != name:
            account.name = name
        if industry is not None and account.industry != industry:
            account.industry = industry
        if staff is not None and account.employee_count != staff:
            account.employee_count = staff
        # equivalent: with no custom traits any() of nothing is False (`or`); get(None) only rewrites the same fields
        if custom and any(account.custom_fields.get(k) != v for k, v in custom.items()):  # pragma: no mutate
            account.custom_fields = {**account.custom_fields, **custom}
    work.accounts[m.group_id] = account.id


def _identify(session: Session, work: _Work, m: Message) -> str | None:
    """Create or update the contact; the reason to park it when its account is unknown."""
    assert m.user_id is not None or m.anonymous_id is not None
    if m.user_id is None:
        return None  # an anonymous identify has no contact to update: nothing to keep
    traits = m.payload
    email = contact_email(traits.get("email"), "traits.email")  # pragma: no mutate (checked when read: check_user_traits)
    name = traits.get("name")
    name = name.strip() if isinstance(name, str) and name.strip() else None
    title = traits.get("title")
    title = title.strip() if isinstance(title, str) and title.strip() else None
    contact = q.contact_by_key(session, m.user_id)
    if contact is None:
        # equivalent `or True`: no account has the id None (one query more, the same None)
        account_id = _account_of(session, work, m.group_id) if m.group_id else None  # pragma: no mutate
        if account_id is None:
            return UNKNOWN_ACCOUNT if m.group_id else NO_ACCOUNT
        contact = q.add(session, Contact(external_id=m.user_id, account_id=account_id,
                                         name=name or email or m.user_id, email=email, role=title))  # fmt: skip
        work.new_contacts.add(m.user_id)
    else:
        if name is not None and contact.name != name:
            contact.name = name
        if email is not None and contact.email != email:
            contact.email = email
        if title is not None and contact.role != title:
            contact.role = title
    work.contacts[m.user_id] = (contact.id, contact.account_id)
    return None


def _account_of(session: Session, work: _Work, group_id: str) -> int | None:
    if group_id not in work.accounts:
        work.accounts.update(q.account_ids(session, [group_id]))
    return work.accounts.get(group_id)


# --- events ----------------------------------------------------------------------------------


def _resolve(work: _Work, m: Message) -> tuple[int | None, int | None, str | None]:
    """``(account id, contact id, reason to park)`` of a track or page."""
    contact = work.contacts.get(m.user_id) if m.user_id is not None else None  # pragma: no mutate (.get(None) is None)
    if m.group_id is not None:
        account_id = work.accounts.get(m.group_id)
        if account_id is None:
            return None, None, UNKNOWN_ACCOUNT
    else:
        account_id = None
    if m.user_id is not None and contact is None:
        return None, None, UNKNOWN_USER
    if account_id is None:
        if contact is None:
            return None, None, NO_ACCOUNT
        account_id = contact[1]
    return account_id, contact[0] if contact else None, None


def _park_row(m: Message, reason: str) -> tuple[Any, ...]:
    return (m.source, m.message_id, m.kind, reason, m.group_id, m.user_id, m.anonymous_id, m.event, m.timestamp,
            m.received_at, orjson.dumps(m.payload).decode())  # fmt: skip


def _message_of(p: ParkedEvent) -> Message:
    return Message(p.kind, p.source, p.message_id, p.user_id, p.anonymous_id, p.group_id, p.event, p.timestamp,
                   p.received_at, q.json_value(p.payload))  # fmt: skip


def _store_events(
    session: Session, work: _Work, events: Sequence[tuple[int, Message]]
) -> tuple[dict[int, Outcome], list[tuple[int, Message, str]]]:
    """Insert the resolvable events, roll the new ones up; return outcomes per request
    and the events to park (request index, message, reason)."""
    outcomes: dict[int, Outcome] = {}
    rows: list[tuple[Any, ...]] = []
    keyed: list[tuple[int, Message, int, int | None]] = []
    to_park: list[tuple[int, Message, str]] = []
    stored = work.stored
    before = stored.known if stored is not None else ()
    for req, m in events:
        if (m.source, m.message_id) in before:  # stored by an earlier commit of this writer: a retry
            outcome = outcomes.get(req)
            if outcome is None:
                outcome = outcomes[req] = Outcome()
            outcome.duplicates += 1
            continue
        account_id, contact_id, reason = _resolve(work, m)
        if reason is not None:
            to_park.append((req, m, reason))
            continue
        assert account_id is not None
        keyed.append((req, m, account_id, contact_id))
        rows.append((m.source, m.message_id, account_id, contact_id, m.anonymous_id, m.event, m.timestamp,
                     m.received_at, m.payload))  # fmt: skip
    new = q.insert_events(session, rows) if rows else set()  # pragma: no mutate (no rows insert nothing: one statement fewer)
    fresh: list[NewEvent] = []
    for req, m, account_id, contact_id in keyed:
        outcome = outcomes.get(req)
        if outcome is None:
            outcome = outcomes[req] = Outcome()
        key = (m.source, m.message_id)
        if key in new:
            new.discard(key)  # a second copy in the same transaction is a duplicate
            outcome.stored += 1
            if stored is not None:
                stored.pending.append(key)
            # a page has no event name: "" or any other name no rollup mapping names counts the same (events, not logins)
            fresh.append(NewEvent(account_id, m.timestamp, contact_id, m.anonymous_id, m.event or "", m.payload))  # pragma: no mutate
        else:
            outcome.duplicates += 1
    roll_up(session, fresh, work.config, work.users, defer=work.defer)
    return outcomes, to_park


def _lookup(session: Session, work: _Work, messages: Iterable[Message]) -> None:
    groups: set[str] = set()
    users: set[str] = set()
    for m in messages:
        # equivalent `or`: an id already known is looked up again and found the same
        if m.group_id is not None and m.group_id not in work.accounts:  # pragma: no mutate
            groups.add(m.group_id)
        if m.user_id is not None and m.user_id not in work.contacts:  # pragma: no mutate (as above)
            users.add(m.user_id)
    if groups:
        work.accounts.update(q.account_ids(session, groups))
    if users:
        work.contacts.update(q.contacts(session, users))


class StoredKeys:
    """``(source, message_id)`` of the events the writer stored in its last commits, so
    that a retried copy is known as the duplicate it is without being resolved, sent to
    the store and probed again (as the API answers a retried body from its memory). Only
    committed keys go in (see :meth:`commit`); the writer forgets them with the rest of
    its :class:`Directory`."""

    def __init__(self, limit: int = 100_000) -> None:
        self.known: set[tuple[str, str]] = set()
        self.pending: list[tuple[str, str]] = []
        self.limit = limit

    def commit(self) -> None:
        if len(self.known) + len(self.pending) > self.limit:
            self.known.clear()
        self.known.update(self.pending)
        self.pending = []

    def forget(self) -> None:
        self.known.clear()
        self.pending = []


@dataclass
class Directory:
    """Accounts and contacts by external id, remembered across the writer's transactions
    (``external_id → id``), and the keys of the events it stored lately; the writer
    forgets them on any error and every minute."""

    accounts: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, tuple[int, int]] = field(default_factory=dict)
    users: KnownUsers = field(default_factory=KnownUsers)
    events: StoredKeys = field(default_factory=StoredKeys)

    def commit(self) -> None:
        """The transaction committed: what it learnt may be trusted by the next ones."""
        self.users.commit()
        self.events.commit()

    def clear(self) -> None:
        self.accounts.clear()
        self.contacts.clear()
        self.users.forget()
        self.events.forget()


def store(
    session: Session, requests: Sequence[Sequence[Message]], config: RollupConfig, *, now: datetime | None = None,
    directory: Directory | None = None, defer_rollups: bool = False,
) -> list[Outcome]:  # fmt: skip
    """Store the messages of several requests in the caller's transaction (the writer's
    group commit); one :class:`Outcome` per request, in order. ``defer_rollups``: the
    new events' rollup sums go to the journals (see :func:`kizuna.services.usage.apply_deferred`)."""
    # datetime.now() without a zone would be the same: _hour reads a naive time as local and converts it
    now = now or datetime.now(UTC)  # pragma: no mutate
    work = _Work(config, defer=defer_rollups)
    if directory is not None:
        work.accounts, work.contacts, work.users = directory.accounts, directory.contacts, directory.users
        work.stored = directory.events
    outcomes = [Outcome() for _ in requests]
    flat = [(i, m) for i, msgs in enumerate(requests) for m in msgs]
    for i, m in flat:
        if m.kind == "group":
            _apply_group(session, work, m)
            outcomes[i].stored += 1
    to_park: list[tuple[int, Message, str]] = []
    for i, m in flat:
        if m.kind == "identify":
            reason = _identify(session, work, m)
            if reason is None:
                outcomes[i].stored += 1
            else:
                to_park.append((i, m, reason))
    events = [(i, m) for i, m in flat if m.kind == "page" or m.kind == "track"]
    _lookup(session, work, (m for _i, m in events))
    stored, parked_events = _store_events(session, work, events)
    to_park += parked_events
    for i, outcome in stored.items():
        outcomes[i].add(outcome)
    if to_park:
        new = q.park(session, [_park_row(m, reason) for _i, m, reason in to_park])
        for i, m, _reason in to_park:
            key = (m.source, m.message_id)
            if key in new:
                new.discard(key)
                outcomes[i].parked += 1
            else:
                outcomes[i].duplicates += 1
    if work.new_accounts or work.new_contacts:
        attached = _attach(session, work, group_ids=work.new_accounts, user_ids=work.new_contacts)
        if attached:  # a new account or contact came in a message: there is a first request
            outcomes[0].attached = attached
    _count(session, requests, outcomes, now)
    return outcomes


def _count(session: Session, requests: Sequence[Sequence[Message]], outcomes: Sequence[Outcome], now: datetime) -> None:
    tally: Counter[tuple[str, str]] = Counter()
    for msgs, outcome in zip(requests, outcomes, strict=True):  # pragma: no mutate (one outcome per request by construction)
        if not msgs:
            continue
        source = msgs[0].source
        tally[(source, "stored")] += outcome.stored
        tally[(source, "duplicate")] += outcome.duplicates
        tally[(source, "parked")] += outcome.parked
        tally[(source, "attached")] += outcome.attached
    hour = _hour(now)
    q.add_counts(session, [(hour, s, o, "", n) for (s, o), n in tally.items() if n])


def count_rejected(session: Session, rejected: Counter[tuple[str, str]], *, now: datetime | None = None) -> None:
    """Count rejected messages by (source, error code) for the ingestion page."""
    hour = _hour(now or datetime.now(UTC))  # pragma: no mutate (a naive now: the same hour, see store)
    q.add_counts(session, [(hour, s, "rejected", code, n) for (s, code), n in rejected.items() if n])


# --- the quarantine ------------------------------------------------------------------------------


def _attach(
    session: Session, work: _Work, *, group_ids: Iterable[str] = (), user_ids: Iterable[str] = (),
    everything: bool = False,
) -> int:  # fmt: skip
    """Move the parked messages that can now be placed into the store; returns how many."""
    total = 0
    groups, users = set(group_ids), set(user_ids)
    after = 0
    rounds = 0  # pragma: no mutate (see below)
    while True:  # everything: page by page to the end; else an identify let in may unblock more events
        parked = q.parked_for(session, groups, users, everything=everything, after_id=after if everything else 0,
                              limit=ATTACH_PAGE)  # fmt: skip  # pragma: no mutate (parked_for's default is this page; None reads all at once: the same rows attached, more memory)
        if not parked:
            break
        work.new_contacts = set()
        messages = [_message_of(p) for p in parked]
        _lookup(session, work, messages)
        done: list[int] = []
        still: dict[str, list[int]] = {}
        for p, m in zip(parked, messages, strict=True):  # pragma: no mutate (messages are made from parked, one each)
            # an identify still waiting keeps its reason: its account is unknown (or it names none)
            if m.kind == "identify" and _identify(session, work, m) is None:
                done.append(p.id)
        events = [(0, m) for m in messages if m.kind != "identify"]  # pragma: no mutate (the request index of attached events is not read)
        _outcomes, later = _store_events(session, work, events)
        waiting = {(m.source, m.message_id): reason for _i, m, reason in later}
        for p, m in zip(parked, messages, strict=True):  # pragma: no mutate (messages are made from parked, one each)
            if m.kind == "identify":
                continue
            reason = waiting.get((m.source, m.message_id))
            if reason is not None:
                still.setdefault(reason, []).append(p.id)
            else:
                done.append(p.id)
        q.unpark(session, done)
        for reason, ids in still.items():
            q.set_parked_reason(session, ids, reason)
        total += len(done)
        after = parked[-1].id
        if everything:
            if len(parked) < ATTACH_PAGE:
                break
            continue
        if not work.new_contacts:
            break
        # a few rounds at most: a chain of ten identifies, each letting in the next, is not a real pattern
        rounds += 1  # pragma: no mutate
        if rounds >= 10:  # pragma: no mutate
            break  # pragma: no mutate (the same cap: a chain of ten identifies is not tested, see above)
        users = set(work.new_contacts)
        groups = set()
    return total


def attach_parked(
    session: Session, config: RollupConfig, *, group_ids: Iterable[str] | None = None, now: datetime | None = None
) -> int:
    """Attach every parked message whose account and user now exist (all of them, or
    those naming ``group_ids``); returns how many were attached. For ``kizuna import
    accounts``, the daily pipeline and ``kizuna ingest attach``."""
    work = _Work(config)
    if group_ids is None:
        attached = _attach(session, work, everything=True)
    else:
        attached = _attach(session, work, group_ids=group_ids)
    if attached:
        hour = _hour(now or datetime.now(UTC))  # pragma: no mutate (a naive now: the same hour, see store)
        q.add_counts(session, [(hour, "", "attached", "", attached)])
    return attached


def usage_step(session: Session, as_of: date, config: RollupConfig) -> int:
    """The daily pipeline's usage step: attach the parked events whose account or user
    now exists, then roll up events not yet in the rollups (imported or generated).
    Returns how many events it placed, in ``config``'s zone and mapping."""
    return attach_parked(session, config) + roll_up_pending(session, config)
