"""The knowledge base (ナレッジベース): Markdown articles with front matter, their rendering,
and the bigrams their search reads.

An article file::

    ---
    title: CSV で取引先を取り込む
    category: import
    language: ja
    slug: import-accounts-csv
    ---
    本文（Markdown）…

Every front-matter field is required and checked; a refusal names the file and the field.
Rendering uses markdown-it with raw HTML disabled (``<script>`` in an article is shown as
text), links limited to ``https:``, ``http:``, ``mailto:`` and relative addresses, and the
HTML cleaned again by an allow-list (nh3), so an article cannot inject script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt

from kizuna.errors import InvalidInput
from kizuna.i18n import _

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,119}$")
FIELDS = ("title", "category", "language", "slug")
LANGUAGES = ("ja", "en")
MOST_BODY = 200_000
SAFE_LINK = re.compile(r"^(https?:|mailto:|/|#|\.{0,2}/?[a-z0-9._~-]*($|[/?#]))", re.IGNORECASE)


@dataclass(frozen=True)
class Article:
    slug: str
    language: str
    title: str
    category: str
    body: str


def _bad(source: str, field: str, why: str) -> InvalidInput:
    return InvalidInput(f"{source}: {field}: {why}", code="invalid_kb_article", field=field)


def parse_article(text: str, source: str) -> Article:
    """One article file: front matter between ``---`` lines, then Markdown."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n")
    if not text.startswith("---\n"):
        raise _bad(source, "front matter", _("the file must begin with a front matter block between --- lines"))
    end = text.find("\n---", 3)  # from the opening line's own "\n": an empty block "---\n---" is closed too
    # `<= 0` or `< 1` would be the same: the search starts at 3, so a found block ends at 3 or later
    if end < 0:  # pragma: no mutate
        raise _bad(source, "front matter", _("the front matter is not closed by a --- line"))
    values: dict[str, str] = {}
    for number, line in enumerate(text[4:end].split("\n"), start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep:
            raise _bad(source, f"line {number}", _("a front matter line is “key: value”"))
        if key not in FIELDS:
            raise _bad(source, key[:40], _("unknown field; the fields are: {fields}").format(fields=", ".join(FIELDS)))
        if key in values:
            raise _bad(source, key, _("given twice"))
        values[key] = value.strip().strip('"').strip("'").strip()
    for key in FIELDS:
        if not values.get(key):
            raise _bad(source, key, _("is missing"))
    if len(values["title"]) > 300:
        raise _bad(source, "title", _("is longer than {n} characters").format(n=300))
    if len(values["category"]) > 100:
        raise _bad(source, "category", _("is longer than {n} characters").format(n=100))
    if values["language"] not in LANGUAGES:
        raise _bad(source, "language", _("must be ja or en, not {value!r}").format(value=values["language"][:20]))
    if not SLUG.fullmatch(values["slug"]):
        raise _bad(source, "slug", _("a slug is 1–120 lower-case letters, digits or -, not {value!r}").format(
            value=values["slug"][:40]))  # fmt: skip
    body = text[end + 4:].lstrip("-").lstrip("\n")
    if len(body) > MOST_BODY:
        raise _bad(source, "body", _("is longer than {n} characters").format(n=MOST_BODY))
    return Article(values["slug"], values["language"], values["title"], values["category"], body)


def _markdown() -> MarkdownIt:
    # the commonmark preset enables neither linkify nor the typographer's rules: a bare address
    # stays text and quotes stay as typed (the options "linkify"/"typographer" changed nothing)
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = lambda url: bool(SAFE_LINK.match(url.strip()))  # type: ignore[method-assign]
    return md


_MD = _markdown()
_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "em", "strong", "code", "pre", "blockquote",
         "hr", "br", "img", "table", "thead", "tbody", "tr", "th", "td"}  # fmt: skip


def render_html(body: str) -> str:
    """The article's HTML: Markdown with raw HTML off, safe links only, cleaned by an allow-list."""
    html = _MD.render(body)
    # an ordered list keeps its first number ("3." after a paragraph that interrupted the steps);
    # `title` (and `lang`) are nh3's generic attributes, allowed on every tag already
    attributes = {"a": {"href"}, "img": {"src", "alt"}, "ol": {"start"}}
    return nh3.clean(html, tags=_TAGS, attributes=attributes, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow")  # fmt: skip


def bigrams(text: str) -> set[str]:
    """The distinct two-character pieces of ``text`` lower-cased (whitespace-only pieces left out)."""
    low = text.lower()
    return {low[i:i + 2] for i in range(len(low) - 1) if len(low[i:i + 2].strip()) == 2}


def pick_version(found: Sequence[Any], slug: str, lang: str) -> Any | None:
    """The version of article ``slug`` for a reader of ``lang``: among the articles named
    ``slug``, ``slug-ja`` and ``slug-en`` (the language versions of one article, by name), the one
    in ``lang``; else ``slug`` itself; else any of them. None when there is none."""
    base = slug[:-3] if slug.endswith(("-ja", "-en")) else slug
    names = (slug, base, f"{base}-ja", f"{base}-en")
    by_slug = {r.slug: r for r in found if r.slug in names}
    mine = [by_slug[n] for n in names if n in by_slug and by_slug[n].language == lang]
    if mine:
        return mine[0]
    return next((by_slug[n] for n in names if n in by_slug), None)


def candidate_slugs(slugs: Sequence[str]) -> list[str]:
    out: list[str] = []
    for slug in slugs:
        base = slug[:-3] if slug.endswith(("-ja", "-en")) else slug
        out += [slug, base, f"{base}-ja", f"{base}-en"]
    return sorted(set(out))
