"""Playbook versions and enrollments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
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


def run_outcomes(session: Session, key: str, entered_by: date) -> list[dict[str, Any]]:
    """Each run of the playbook that began by ``entered_by``: holdout or not, the day it
    began and the account's churn day."""
    from kizuna.db.models import Account

    rows = session.execute(
        select(PlaybookEnrollment.id, PlaybookEnrollment.account_id, PlaybookEnrollment.holdout,
               PlaybookEnrollment.entered_on, Account.churned_on)
        .join(Account, Account.id == PlaybookEnrollment.account_id)
        .where(PlaybookEnrollment.playbook_key == key, PlaybookEnrollment.entered_on <= entered_by)
        .order_by(PlaybookEnrollment.id)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def health_scores(session: Session, pairs: Sequence[tuple[int, date]]) -> dict[tuple[int, date], float]:
    """The health score of each (account, day) that has a snapshot."""
    from kizuna.db.models import HealthSnapshot

    wanted = set(pairs)
    out: dict[tuple[int, date], float] = {}
    accounts = sorted({a for a, _d in wanted})
    days = sorted({d for _a, d in wanted})
    for start in range(0, len(accounts), 2000):
        rows = session.execute(
            select(HealthSnapshot.account_id, HealthSnapshot.day, HealthSnapshot.score)
            .where(HealthSnapshot.account_id.in_(accounts[start:start + 2000]), HealthSnapshot.day.in_(days))
        )  # fmt: skip
        for account_id, day, score in rows:
            if (account_id, day) in wanted:
                out[(account_id, day)] = float(score)
    return out


def contacts_to_email(session: Session, account_id: int, *, champions_only: bool) -> list[Any]:
    """(id, name, email, language, unsubscribed_at) of the account's contacts with an address."""
    query = select(Contact.id, Contact.name, Contact.email, Contact.language, Contact.unsubscribed_at).where(
        Contact.account_id == account_id, Contact.email.is_not(None))
    if champions_only:
        query = query.where(Contact.is_champion.is_(True))
    return [r for r in session.execute(query.order_by(Contact.id)) if r.email]


def rotation_turns(session: Session, key: str, step: str) -> int:
    from kizuna.db.models import PlaybookRotation

    row = session.get(PlaybookRotation, (key, step))
    return 0 if row is None else int(row.turns)


def save_rotation(session: Session, key: str, step: str, turns: int) -> None:
    from kizuna.db.models import PlaybookRotation

    row = session.get(PlaybookRotation, (key, step))
    if row is None:
        session.add(PlaybookRotation(playbook_key=key, step=step, turns=turns))
    else:
        row.turns = turns
    session.flush()


def active_users_by_email(session: Session, emails: Sequence[str]) -> dict[str, int]:
    from kizuna.db.models import User

    rows = session.execute(select(User.email, User.id).where(func.lower(User.email).in_(list(emails)),
                                                             User.is_active.is_(True)))  # fmt: skip
    return {str(e).lower(): int(i) for e, i in rows}


def user_lead(session: Session, user_id: int) -> int | None:
    """The active team lead of a user, if one is set."""
    from kizuna.db.models import User

    lead = session.scalar(select(User.lead_id).where(User.id == user_id))
    if lead is None:
        return None
    return lead if session.scalar(select(User.is_active).where(User.id == lead)) else None


def user_email(session: Session, user_id: int | None) -> str | None:
    from kizuna.db.models import User

    return None if user_id is None else session.scalar(select(User.email).where(User.id == user_id))


# --- the daily step's batch reads and writes ---------------------------------------------------


def open_enrollments(session: Session, key: str) -> list[Any]:
    """(id, account_id, state, log) of the playbook's runs not finished (active or held out)."""
    t = PlaybookEnrollment
    return list(session.execute(select(t.id, t.account_id, t.state, t.log).where(
        t.playbook_key == key, t.state.in_(["active", "holdout"]), t.finished_on.is_(None)).order_by(t.id)))  # fmt: skip


def due_enrollments(session: Session, key: str, day: date) -> list[Any]:
    """(id, account_id, version, step, log) of the playbook's active runs whose next step is due."""
    t = PlaybookEnrollment
    return list(session.execute(select(t.id, t.account_id, t.version, t.step, t.log).where(
        t.playbook_key == key, t.state == "active", t.next_on.is_not(None), t.next_on <= day).order_by(t.id)))  # fmt: skip


def add_enrollments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(PlaybookEnrollment), list(rows))


def update_enrollments(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Update many runs by id (each dict holds ``id`` and the columns to set; one statement per shape)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(tuple(sorted(row)), []).append(row)
    for batch in shapes.values():
        session.execute(update(PlaybookEnrollment), batch)


def contacts_of(session: Session, account_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Per account: (id, name, email, language, unsubscribed_at, is_champion) of its contacts with an address."""
    out: dict[int, list[Any]] = {}
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), 2000):
        rows = session.execute(
            select(Contact.account_id, Contact.id, Contact.name, Contact.email, Contact.language,
                   Contact.unsubscribed_at, Contact.is_champion)
            .where(Contact.account_id.in_(ids[start:start + 2000]), Contact.email.is_not(None)).order_by(Contact.id)
        )  # fmt: skip
        for r in rows:
            if r.email:
                out.setdefault(int(r.account_id), []).append(r)
    return out


def users(session: Session) -> list[Any]:
    """(id, email, lead_id, is_active) of every user (the assignee rules read them once a run)."""
    from kizuna.db.models import User

    return list(session.execute(select(User.id, User.email, User.lead_id, User.is_active)))


def rotations(session: Session) -> dict[tuple[str, str], int]:
    from kizuna.db.models import PlaybookRotation

    return {(r.playbook_key, r.step): int(r.turns) for r in session.scalars(select(PlaybookRotation))}


# --- the pages: versions with their authors, counts, runs with account names ------------------------


def versions_of(session: Session, key: str) -> list[dict[str, Any]]:
    """Every version of a playbook, newest first, with its author's name."""
    from kizuna.db.models import User

    rows = session.execute(
        select(PlaybookVersion.version, PlaybookVersion.name, PlaybookVersion.created_at, PlaybookVersion.note,
               User.name.label("author"))
        .outerjoin(User, User.id == PlaybookVersion.created_by_id)
        .where(PlaybookVersion.key == key).order_by(PlaybookVersion.version.desc())
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def open_counts(session: Session) -> dict[tuple[str, bool], int]:
    """(playbook, held out) → runs still open (not finished)."""
    rows = session.execute(
        select(PlaybookEnrollment.playbook_key, PlaybookEnrollment.holdout, func.count())
        .where(PlaybookEnrollment.finished_on.is_(None))
        .group_by(PlaybookEnrollment.playbook_key, PlaybookEnrollment.holdout)
    )  # fmt: skip
    return {(str(k), bool(h)): int(n) for k, h, n in rows}


def runs_with_accounts(session: Session, key: str, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many runs, the newest ``limit`` of them with their account's name)."""
    from kizuna.db.models import Account

    total = session.scalar(select(func.count()).select_from(PlaybookEnrollment)
                           .where(PlaybookEnrollment.playbook_key == key)) or 0  # fmt: skip
    rows = session.execute(
        select(PlaybookEnrollment.id, PlaybookEnrollment.account_id, Account.name.label("account"),
               PlaybookEnrollment.version, PlaybookEnrollment.state, PlaybookEnrollment.holdout,
               PlaybookEnrollment.entered_on, PlaybookEnrollment.step, PlaybookEnrollment.next_on,
               PlaybookEnrollment.finished_on)
        .join(Account, Account.id == PlaybookEnrollment.account_id)
        .where(PlaybookEnrollment.playbook_key == key)
        .order_by(PlaybookEnrollment.entered_on.desc(), PlaybookEnrollment.id.desc()).limit(limit)
    ).mappings()  # fmt: skip
    return int(total), [dict(r) for r in rows]


def user_emails(session: Session) -> dict[int, str]:
    from kizuna.db.models import User

    return {int(i): str(e) for i, e in session.execute(select(User.id, User.email))}


def plan_names(session: Session) -> list[str]:
    from kizuna.db.models import Product
    from kizuna.domain.enums import ProductKind

    return [str(n) for n in session.scalars(select(Product.name).where(Product.kind == ProductKind.PLAN)
                                            .order_by(Product.name)) if n]  # fmt: skip
