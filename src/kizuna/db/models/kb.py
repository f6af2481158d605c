"""The knowledge base (ナレッジベース): articles in Markdown, and their bigram search index."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped


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
