"""Survey programmes, their invitations (the emailed single-use links) and the answers they bring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kizuna.db.models import Account, Contact, SurveyInvitation, SurveyProgramme, SurveyResponse, User
from kizuna.domain.enums import SurveyKind


def programmes(session: Session) -> list[SurveyProgramme]:
    return list(session.scalars(select(SurveyProgramme).order_by(SurveyProgramme.key)))


def programme(session: Session, key: str) -> SurveyProgramme | None:
    return session.scalar(select(SurveyProgramme).where(SurveyProgramme.key == key))


def add_programme(session: Session, **values: Any) -> SurveyProgramme | None:
    """The new programme; None when its key is taken (also by a concurrent insert)."""
    try:
        with session.begin_nested():
            row = SurveyProgramme(**values)
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def asked_since(session: Session, contact_ids: Sequence[int], since: datetime) -> set[int]:
    """The contacts among ``contact_ids`` asked to answer any survey at or after ``since`` (the fatigue rule)."""
    out: set[int] = set()
    ids = sorted(set(contact_ids))
    for start in range(0, len(ids), 2000):
        out.update(int(c) for c in session.scalars(
            select(SurveyInvitation.contact_id).where(SurveyInvitation.contact_id.in_(ids[start:start + 2000]),
                                                      SurveyInvitation.sent_at >= since).distinct()))  # fmt: skip
    return out


def add_invitation(session: Session, **values: Any) -> int:
    row = SurveyInvitation(**values)
    session.add(row)
    session.flush()
    return int(row.id)


def invitation(session: Session, invitation_id: int) -> Any:
    """The invitation with what its page shows: the programme, the contact's name and language, the account."""
    return session.execute(
        select(SurveyInvitation.id, SurveyInvitation.account_id, SurveyInvitation.contact_id,
               SurveyInvitation.expires_at, SurveyInvitation.answered_at, SurveyInvitation.source,
               SurveyProgramme.kind, SurveyProgramme.question_ja, SurveyProgramme.question_en,
               Contact.name.label("contact_name"), Contact.language, Account.name.label("account_name"))
        .join(SurveyProgramme, SurveyProgramme.id == SurveyInvitation.programme_id)
        .join(Contact, Contact.id == SurveyInvitation.contact_id)
        .join(Account, Account.id == SurveyInvitation.account_id)
        .where(SurveyInvitation.id == invitation_id)
    ).first()  # fmt: skip


def record_answer(session: Session, *, invitation_id: int, account_id: int, contact_id: int, kind: SurveyKind,
                  score: int, comment: str | None, now: datetime) -> bool:  # fmt: skip
    """Record the answer of an invitation once: False when it was answered already.

    The answer's ``external_id`` names the invitation and is unique, so two requests racing
    each other record one answer; the invitation is marked only while it is unanswered."""
    marked = session.execute(
        update(SurveyInvitation).where(SurveyInvitation.id == invitation_id, SurveyInvitation.answered_at.is_(None))
        .values(answered_at=now)
    )  # fmt: skip
    if not getattr(marked, "rowcount", 0):
        return False
    try:
        with session.begin_nested():
            answer = SurveyResponse(external_id=f"survey-invitation:{invitation_id}", account_id=account_id,
                                    contact_id=contact_id, kind=kind, score=score, comment=comment, answered_at=now)  # fmt: skip
            session.add(answer)
            session.flush()
    except IntegrityError:
        return False
    session.execute(update(SurveyInvitation).where(SurveyInvitation.id == invitation_id).values(response_id=answer.id))
    return True


def latest_nps(session: Session) -> dict[int, tuple[int, datetime]]:
    """Per account: (score, answered_at) of its newest NPS answer."""
    newest = (select(SurveyResponse.account_id, func.max(SurveyResponse.id).label("id"))
              .where(SurveyResponse.kind == SurveyKind.NPS).group_by(SurveyResponse.account_id).subquery())  # fmt: skip
    rows = session.execute(select(SurveyResponse.account_id, SurveyResponse.score, SurveyResponse.answered_at)
                           .join(newest, newest.c.id == SurveyResponse.id))  # fmt: skip
    return {int(a): (int(s), at) for a, s, at in rows}


def invitations_for_report(session: Session, since: datetime) -> list[Any]:
    """Every invitation sent since ``since``: its kind, the account's tier and stage, sent/answered, the score."""
    return list(session.execute(
        select(SurveyInvitation.sent_at, SurveyInvitation.answered_at, SurveyProgramme.kind,
               Account.touch_tier, Account.lifecycle_stage, SurveyResponse.score)
        .join(SurveyProgramme, SurveyProgramme.id == SurveyInvitation.programme_id)
        .join(Account, Account.id == SurveyInvitation.account_id)
        .outerjoin(SurveyResponse, SurveyResponse.id == SurveyInvitation.response_id)
        .where(SurveyInvitation.sent_at >= since)
    ))  # fmt: skip


def segment_contacts(session: Session, *, tiers: Sequence[str], stages: Sequence[str], owner_ids: Sequence[int],
                     champions_only: bool) -> list[Any]:  # fmt: skip
    """Contacts with an address of live accounts in the segment (an empty filter: any)."""
    query = (select(Contact.id, Contact.account_id, Contact.name, Contact.email, Contact.language,
                    Contact.unsubscribed_at)
             .join(Account, Account.id == Contact.account_id)
             .where(Contact.email.is_not(None), Account.churned_on.is_(None), Account.status != "churned"))  # fmt: skip
    if tiers:
        query = query.where(Account.touch_tier.in_(list(tiers)))
    if stages:
        query = query.where(Account.lifecycle_stage.in_(list(stages)))
    if owner_ids:
        query = query.where(Account.owner_id.in_(list(owner_ids)))
    if champions_only:
        query = query.where(Contact.is_champion.is_(True))
    return list(session.execute(query.order_by(Contact.account_id, Contact.id)))


def owners(session: Session) -> list[Any]:
    return list(session.execute(select(User.id, User.email, User.name).where(User.is_active.is_(True))
                                .order_by(User.name)))  # fmt: skip


def account_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(ids), 2000):
        out.update({int(i): str(n) for i, n in session.execute(
            select(Account.id, Account.name).where(Account.id.in_(list(ids[start:start + 2000]))))})  # fmt: skip
    return out
