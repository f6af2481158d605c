"""The knowledge base (ナレッジベース): articles in Markdown, and their bigram search index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import UTCDateTime


class KbArticle(Timestamped, Base):
    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    language: Mapped[str] = mapped_column(String(2), index=True)
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(100), index=True)
    body: Mapped[str] = mapped_column(Text)  # Markdown
    source: Mapped[str | None] = mapped_column(String(500))  # the imported file's name


class KbArticleBigram(Base):
    """Every two-character piece of an article's lower-cased title and text (search)."""

    __tablename__ = "kb_article_bigrams"
    __table_args__ = (Index("ix_kb_article_bigrams_article_id", "article_id"), {"sqlite_with_rowid": False})

    bigram: Mapped[str] = mapped_column(String(2), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), primary_key=True)


class KbSend(Base):
    """One article sent to one contact by a playbook's ``article`` step: the emailed link
    ``/kb/{slug}?r=<id>.<signature>`` names this row (signed for the purpose ``article``)."""

    __tablename__ = "kb_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    playbook_key: Mapped[str | None] = mapped_column(String(64), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("playbook_enrollments.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KbView(Base):
    """One opening of a signed article link (the same contact opening twice: two rows)."""

    __tablename__ = "kb_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("kb_sends.id", ondelete="CASCADE"), index=True)
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
