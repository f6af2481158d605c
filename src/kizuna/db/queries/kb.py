"""Knowledge-base articles and their bigram index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from kizuna.db.models import KbArticle, KbArticleBigram


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
