"""The knowledge base (ナレッジベース, issue 17 item 4): importing Markdown articles,
listing, reading and searching them.

``kizuna kb import DIR`` reads every ``*.md`` file of a folder (front matter: title,
category, language, slug — see ``kizuna.domain.kb``). Every file is checked before anything
is written: one bad file refuses the whole import, naming the file and the field. An article
whose slug exists already is replaced (re-running an import changes nothing new).

Search finds two-character Japanese words: each article's lower-cased title and text are
cut into bigrams (``kb_article_bigrams``); a query's bigrams narrow the articles to those
holding all of them, which are then checked for the whole query."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kizuna.db import Session
from kizuna.db.queries import kb as q
from kizuna.domain.kb import Article, bigrams, parse_article, render_html
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _


@dataclass(frozen=True)
class Imported:
    created: int
    updated: int


def import_folder(session: Session, folder: Path) -> Imported:
    """Import every ``*.md`` article of ``folder``, all or nothing."""
    if not folder.is_dir():
        raise InvalidInput(_("{path}: not a folder").format(path=str(folder)), code="invalid_kb_article", field="dir")
    files = sorted(folder.glob("*.md"))
    if not files:
        raise InvalidInput(_("{path}: no .md files").format(path=str(folder)), code="invalid_kb_article", field="dir")
    articles: list[tuple[Article, str]] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(_("{file}: not UTF-8 text").format(file=path.name), code="invalid_kb_article",
                               field="file") from None  # fmt: skip
        article = parse_article(text, path.name)
        if article.slug in seen:
            raise InvalidInput(f"{path.name}: slug: " + _("the same slug as {other}").format(other=seen[article.slug]),
                               code="invalid_kb_article", field="slug")  # fmt: skip
        seen[article.slug] = path.name
        articles.append((article, path.name))
    existing = q.slugs(session)
    for article, name in articles:
        q.save(session, existing.get(article.slug), {"slug": article.slug, "language": article.language,
               "title": article.title, "category": article.category, "body": article.body, "source": name[:500]},
               bigrams(article.title + "\n" + article.body))  # fmt: skip
    updated = sum(a.slug in existing for a, _n in articles)
    return Imported(len(articles) - updated, updated)


@dataclass(frozen=True)
class Listed:
    slug: str
    title: str
    category: str
    language: str


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    category: str
    language: str
    html: str  # rendered with raw HTML off and safe links only, cleaned by an allow-list


def listing(session: Session, *, language: str | None = None, category: str | None = None,
            limit: int = 500) -> list[Listed]:  # fmt: skip
    return [Listed(r.slug, r.title, r.category, r.language) for r in
            q.listing(session, language=language, category=category, limit=limit)]  # fmt: skip


def categories(session: Session) -> list[tuple[str, int]]:
    return q.categories(session)


def article(session: Session, slug: str) -> Page:
    row = q.by_slug(session, slug[:120])
    if row is None:
        raise NotFound(_("no article {slug!r}").format(slug=slug[:120]), code="kb_article_not_found", field="slug")
    return Page(row.slug, row.title, row.category, row.language, render_html(row.body))


def search(session: Session, text: str, *, limit: int = 50) -> list[Listed]:
    """Articles whose title or text holds ``text`` (case-insensitive), titles first."""
    needle = " ".join((text or "").split()).lower()[:200]
    if not needle:
        return []
    rows = q.scan(session, needle, limit) if len(needle) < 2 else q.candidates(session, sorted(bigrams(needle)), limit)
    hits = [r for r in rows if needle in r.title.lower() or needle in " ".join(r.body.split()).lower()]
    hits.sort(key=lambda r: (needle not in r.title.lower(), r.title))
    return [Listed(r.slug, r.title, r.category, r.language) for r in hits[:limit]]
