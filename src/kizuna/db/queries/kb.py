"""Knowledge-base articles and their bigram index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, distinct, func, insert, select
from sqlalchemy.orm import Session

from kizuna.db.models import Account, KbArticle, KbArticleBigram, KbSend, KbView, PlaybookEnrollment, Ticket


def by_slug(session: Session, slug: str) -> KbArticle | None:
    return session.scalar(select(KbArticle).where(KbArticle.slug == slug))


def slugs(session: Session) -> dict[str, int]:
    return {str(s): int(i) for s, i in session.execute(select(KbArticle.slug, KbArticle.id))}


def save(session: Session, article_id: int | None, values: dict[str, Any], grams: set[str]) -> int:
    """Insert or replace an article and its bigrams; returns its id."""
    if article_id is None:
        row = KbArticle(**values)
        session.add(row)
        session.flush()
        article_id = int(row.id)
    else:
        found = session.get(KbArticle, article_id)
        assert found is not None
        for key, value in values.items():
            setattr(found, key, value)
        session.execute(delete(KbArticleBigram).where(KbArticleBigram.article_id == article_id))
    if grams:
        session.execute(insert(KbArticleBigram), [{"bigram": g, "article_id": article_id} for g in sorted(grams)])
    return article_id


def listing(session: Session, *, language: str | None, category: str | None, limit: int) -> list[Any]:
    query = select(KbArticle.slug, KbArticle.title, KbArticle.category, KbArticle.language)
    if language:
        query = query.where(KbArticle.language == language)
    if category:
        query = query.where(KbArticle.category == category)
    return list(session.execute(query.order_by(KbArticle.category, KbArticle.title).limit(limit)))


def categories(session: Session) -> list[tuple[str, int]]:
    return [(str(c), int(n)) for c, n in session.execute(
        select(KbArticle.category, func.count()).group_by(KbArticle.category).order_by(KbArticle.category))]  # fmt: skip


def candidates(session: Session, grams: Sequence[str], limit: int) -> list[Any]:
    """Articles holding every one of ``grams`` (the rarest first narrows it), with their text to check."""
    counts = dict(session.execute(select(KbArticleBigram.bigram, func.count()).where(KbArticleBigram.bigram.in_(list(grams)))
                                  .group_by(KbArticleBigram.bigram)).all())  # fmt: skip
    if any(g not in counts for g in grams):
        return []
    ordered = sorted(grams, key=lambda g: counts[g])[:8]
    ids = select(KbArticleBigram.article_id).where(KbArticleBigram.bigram.in_(ordered)).group_by(
        KbArticleBigram.article_id).having(func.count() == len(ordered))  # fmt: skip
    return list(session.execute(select(KbArticle.slug, KbArticle.title, KbArticle.category, KbArticle.language,
                                       KbArticle.body).where(KbArticle.id.in_(ids)).order_by(KbArticle.title)
                                .limit(limit * 5)))  # fmt: skip


def scan(session: Session, text: str, limit: int) -> list[Any]:
    """A one-character query: titles holding it."""
    return list(session.execute(select(KbArticle.slug, KbArticle.title, KbArticle.category, KbArticle.language,
                                       KbArticle.body).where(func.lower(KbArticle.title).contains(text))
                                .order_by(KbArticle.title).limit(limit)))  # fmt: skip


# --- articles sent by a playbook, and their signed links opened (issue 17) ---------------------------


def versions(session: Session, slugs: Sequence[str]) -> list[Any]:
    """(id, slug, language, title) of the articles with one of ``slugs``."""
    if not slugs:
        return []
    return list(session.execute(select(KbArticle.id, KbArticle.slug, KbArticle.language, KbArticle.title)
                                .where(KbArticle.slug.in_(list(slugs)))))  # fmt: skip


def add_sends(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert sends; their ids in order (each link names its send)."""
    ids = []
    for values in rows:
        row = KbSend(**values)
        session.add(row)
        session.flush()
        ids.append(int(row.id))
    return ids


def send_of(session: Session, send_id: int) -> Any:
    """(id, slug) of a send, or None."""
    return session.execute(select(KbSend.id, KbArticle.slug).join(KbArticle, KbArticle.id == KbSend.article_id)
                           .where(KbSend.id == send_id)).first()  # fmt: skip


def add_view(session: Session, send_id: int, at: datetime) -> None:
    session.execute(insert(KbView), [{"send_id": send_id, "viewed_at": at}])


def article_stats(session: Session) -> list[Any]:
    """Per article: slug, title, language, category, sends, views and readers (contacts with a view)."""
    sends = (select(KbSend.article_id, func.count().label("sends")).group_by(KbSend.article_id)).subquery()
    views = (select(KbSend.article_id, func.count(KbView.id).label("views"),
                    func.count(distinct(KbSend.contact_id)).label("readers"))
             .join(KbView, KbView.send_id == KbSend.id).group_by(KbSend.article_id)).subquery()  # fmt: skip
    return list(session.execute(
        select(KbArticle.slug, KbArticle.title, KbArticle.language, KbArticle.category,
               func.coalesce(sends.c.sends, 0).label("sends"), func.coalesce(views.c.views, 0).label("views"),
               func.coalesce(views.c.readers, 0).label("readers"))
        .outerjoin(sends, sends.c.article_id == KbArticle.id).outerjoin(views, views.c.article_id == KbArticle.id)
        .order_by(func.coalesce(sends.c.sends, 0).desc(), KbArticle.title)))  # fmt: skip


def treated_runs(session: Session) -> list[Any]:
    """(playbook_key, account_id, first sent_at) of every playbook run that sent articles."""
    return list(session.execute(
        select(KbSend.playbook_key, KbSend.account_id, func.min(KbSend.sent_at).label("sent_at"))
        .where(KbSend.playbook_key.is_not(None))
        .group_by(KbSend.playbook_key, KbSend.account_id, KbSend.enrollment_id)))  # fmt: skip


def holdout_runs(session: Session, keys: Sequence[str]) -> list[Any]:
    """(playbook_key, account_id, entered_on) of the held-out runs of the playbooks ``keys``."""
    if not keys:
        return []
    return list(session.execute(
        select(PlaybookEnrollment.playbook_key, PlaybookEnrollment.account_id, PlaybookEnrollment.entered_on)
        .where(PlaybookEnrollment.playbook_key.in_(list(keys)), PlaybookEnrollment.holdout.is_(True))))  # fmt: skip


def churned_on(session: Session, account_ids: Sequence[int]) -> dict[int, date | None]:
    out: dict[int, date | None] = {}
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), 2000):
        out.update({int(a): d for a, d in session.execute(
            select(Account.id, Account.churned_on).where(Account.id.in_(ids[start:start + 2000])))})  # fmt: skip
    return out


def ticket_days(session: Session, account_ids: Sequence[int], since: datetime, until: datetime) -> list[Any]:
    """(account_id, opened_at) of the tickets of ``account_ids`` opened in [since, until)."""
    out: list[Any] = []
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), 2000):
        out += list(session.execute(select(Ticket.account_id, Ticket.opened_at).where(
            Ticket.account_id.in_(ids[start:start + 2000]), Ticket.opened_at >= since, Ticket.opened_at < until)))  # fmt: skip
    return out


def accounts_with_contacts(session: Session, account_ids: Sequence[int]) -> list[tuple[Any, list[Any]]]:
    """(account: id, customer_since, churned_on; its contacts with an address: id, language,
    unsubscribed_at) of the accounts ``account_ids`` (the demo's article history)."""
    from kizuna.db.models import Contact

    out: list[tuple[Any, list[Any]]] = []
    ids = sorted(set(account_ids))
    for start in range(0, len(ids), 2000):
        part = ids[start:start + 2000]
        contacts: dict[int, list[Any]] = {}
        for r in session.execute(select(Contact.account_id, Contact.id, Contact.language, Contact.unsubscribed_at)
                                 .where(Contact.account_id.in_(part), Contact.email.is_not(None)).order_by(Contact.id)):  # fmt: skip
            contacts.setdefault(int(r.account_id), []).append(r)
        out += [(a, contacts.get(int(a.id), [])) for a in session.execute(
            select(Account.id, Account.customer_since, Account.churned_on).where(Account.id.in_(part)).order_by(Account.id))]  # fmt: skip
    return out


def send_ids(session: Session, playbook_key: str) -> list[tuple[int, datetime]]:
    """(id, sent_at) of a playbook's sends, in order."""
    return [(int(i), at) for i, at in session.execute(
        select(KbSend.id, KbSend.sent_at).where(KbSend.playbook_key == playbook_key).order_by(KbSend.id))]  # fmt: skip
