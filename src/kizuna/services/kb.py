"""The knowledge base (ナレッジベース, issue 17 item 4): importing Markdown articles,
listing, reading and searching them.

``kizuna kb import DIR`` reads every ``*.md`` file of a folder (front matter: title,
category, language, slug — see ``kizuna.domain.kb``). Every file is checked before anything
is written: one bad file refuses the whole import, naming the file and the field. An article
whose slug exists already is replaced (re-running an import changes nothing new).

Search finds two-character Japanese words: each article's lower-cased title and text are
cut into bigrams (``kb_article_bigrams``); a query's bigrams narrow the articles to those
holding all of them, which are then checked for the whole query.

A playbook's ``article`` step emails article links signed per contact and article (a row of
``kb_sends`` each, signed with the app secret for the purpose ``article``); opening one counts a
view (``kb_views``) on the contact and the account. Deflection compares the tickets per active
account after the send with the playbook's holdout (:func:`deflection`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import kb as q
from kizuna.domain.kb import Article, bigrams, candidate_slugs, parse_article, pick_version, render_html
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _, language
from kizuna.services import outbox, unsubscribe
from kizuna.services.context import RunContext


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


# --- articles sent by a playbook's ``article`` step, with links signed per contact -------------------

#: The signing purpose of an article link (``kizuna.services.unsubscribe.sign``): a survey's or an
#: unsubscribe link's signature is no good here.
PURPOSE = "article"


def link(context: RunContext, key: str, send_id: int, slug: str) -> str:
    return f"{context.public_url}/kb/{slug}?r={send_id}.{unsubscribe.sign(key, PURPOSE, send_id)}"


def _article_email(lang: str, *, contact: str, account: str, items: Sequence[tuple[str, str]],
                   stop_url: str) -> tuple[str, str]:  # fmt: skip
    """(subject, text) of an article email in the contact's language; ``items``: (title, link)."""
    with language(lang):
        subject = _("Articles that may help {account}").format(account=account)
        lines = "\n\n".join(f"- {title}\n  {url}" for title, url in items)
        text = "\n\n".join([
            _("Dear {contact},").format(contact=contact),
            _("These articles of our knowledge base answer the questions customers ask most:"),
            lines,
            _("To stop receiving these emails, unsubscribe here: {url}").format(url=stop_url),
        ])  # fmt: skip
    return " ".join(subject.split()), text


@dataclass
class Sending:
    """What an article step did: messages for the outbox and a line per contact for the run's log."""

    messages: list[tuple[str, str, dict[str, Any], int | None]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    sent: int = 0


def send_articles(session: Session, context: RunContext, slugs: Sequence[str], recipients: Sequence[Any], *,
                  account_id: int, account_name: str, playbook_key: str | None, enrollment_id: int | None,
                  now: datetime, outbox_key: str) -> Sending:  # fmt: skip
    """Email each recipient (a contact row: id, name, email, language, unsubscribed_at) one
    message with a link per article, in the contact's language version where there is one;
    each link names its own send (a row of ``kb_sends``) and is signed for it. An unsubscribed
    contact is skipped; an article that does not exist is named in the log and left out."""
    out = Sending()
    found = q.versions(session, candidate_slugs(slugs))
    missing = [s for s in slugs if pick_version(found, s, "ja") is None]
    out.lines += [_("article skipped: there is no article {slug!r}").format(slug=s) for s in missing]
    if len(missing) == len(slugs):
        return out
    key = unsubscribe.secret(session, context)
    for c in recipients:
        if c.unsubscribed_at is not None:
            out.lines.append(_("articles to {email} skipped: unsubscribed").format(email=c.email))
            continue
        lang = c.language if c.language in ("ja", "en") else context.mail_language
        chosen = [a for a in (pick_version(found, s, lang) for s in slugs) if a is not None]
        ids = q.add_sends(session, [{"article_id": int(a.id), "account_id": account_id, "contact_id": int(c.id),
                                     "playbook_key": playbook_key, "enrollment_id": enrollment_id, "sent_at": now}
                                    for a in chosen])  # fmt: skip
        stop = unsubscribe.link(context, key, int(c.id))
        subject, text = _article_email(lang, contact=c.name, account=account_name, stop_url=stop,
                                       items=[(a.title, link(context, key, i, a.slug)) for a, i in zip(chosen, ids, strict=True)])  # fmt: skip
        payload = outbox.email_payload(to=[str(c.email)], subject=subject, text=text, headers=unsubscribe.headers(stop))
        out.messages.append((outbox.EMAIL, f"{outbox_key}:{c.id}", payload, account_id))
        out.lines.append(_("articles {slugs} to {email}").format(slugs=", ".join(a.slug for a in chosen), email=c.email))
        out.sent += 1
    return out


def record_view(session: Session, context: RunContext, slug: str, token: str | None, *,
                now: datetime | None = None) -> bool:  # fmt: skip
    """Count one view when ``token`` is a good signature of a send of this article; a forged,
    altered or another article's token records nothing (the reader still sees the article)."""
    if not token:
        return False
    send_id = unsubscribe.signed_id(unsubscribe.secret(session, context), PURPOSE, token[:80])
    if send_id is None:
        return False
    row = q.send_of(session, send_id)
    if row is None or row.slug != slug:
        return False
    q.add_view(session, send_id, now or datetime.now(UTC))
    return True


@dataclass(frozen=True)
class ArticleStats:
    slug: str
    title: str
    language: str
    category: str
    sends: int
    views: int
    readers: int  # contacts who opened it at least once


def stats(session: Session) -> list[ArticleStats]:
    """Per article: links sent, views and readers (most sent first)."""
    return [ArticleStats(r.slug, r.title, r.language, r.category, int(r.sends), int(r.views), int(r.readers))
            for r in q.article_stats(session)]  # fmt: skip


# --- deflection: tickets per active account after the send, sent vs held out ----------------------------

DEFLECTION_DAYS = 30
MOST_DEFLECTION_DAYS = 365


@dataclass(frozen=True)
class Deflection:
    """Tickets per active account in the ``days`` after the articles were sent (the treated
    group) or after a held-out account entered the same playbook (the holdout): the means,
    their difference (sent − held out; below zero: fewer tickets, deflected) and its 95 %
    interval (Welch's, on the accounts' ticket counts). ``enough``: both groups hold at least
    ``minimum`` accounts."""

    days: int
    as_of: date
    playbooks: tuple[str, ...]
    sent_accounts: int
    holdout_accounts: int
    sent_tickets: int
    holdout_tickets: int
    sent_rate: float | None
    holdout_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    minimum: int
    enough: bool


def check_days(value: Any) -> int:
    """The deflection window in days (1–365); ``InvalidInput`` (``invalid_deflection_days``) otherwise."""
    text = str(value).strip() if value is not None else ""
    if not text.isdecimal() or len(text) > 4 or not 1 <= int(text) <= MOST_DEFLECTION_DAYS:
        raise InvalidInput(_("the deflection window must be a whole number of days from 1 to {most}, not {value!r}")
                           .format(most=MOST_DEFLECTION_DAYS, value=text[:20]), code="invalid_deflection_days",
                           field="deflection_days")  # fmt: skip
    return int(text)


def deflection(session: Session, as_of: date, *, days: int = DEFLECTION_DAYS) -> Deflection:
    """Accounts sent articles by a playbook vs that playbook's held-out accounts, each from its
    day (the first send, or entering held out) over the ``days`` days after it (ticket opened on
    day + 1 … day + ``days``, UTC), counting only runs whose window has ended by ``as_of`` and
    accounts not churned by their day. An account counts once per group (its first run)."""
    from kizuna.services.playbooks import MIN_GROUP, compare_means

    days = check_days(days)
    treated = q.treated_runs(session)
    keys = sorted({str(r.playbook_key) for r in treated})
    starts: dict[bool, dict[int, date]] = {False: {}, True: {}}
    for r in sorted(treated, key=lambda r: r.sent_at):
        starts[False].setdefault(int(r.account_id), r.sent_at.astimezone(UTC).date())
    for r in sorted(q.holdout_runs(session, keys), key=lambda r: r.entered_on):
        starts[True].setdefault(int(r.account_id), r.entered_on)
    last = as_of - timedelta(days=days)
    every = {a for group in starts.values() for a in group}
    churned = q.churned_on(session, sorted(every))
    for group in starts.values():
        for account_id, day in list(group.items()):
            gone = churned.get(account_id)
            if day > last or (gone is not None and gone <= day):
                del group[account_id]
    counts: dict[bool, dict[int, int]] = {g: dict.fromkeys(starts[g], 0) for g in starts}
    days_all = [d for group in starts.values() for d in group.values()]
    if days_all:
        since = datetime.combine(min(days_all) + timedelta(days=1), time.min, tzinfo=UTC)
        until = datetime.combine(max(days_all) + timedelta(days=days + 1), time.min, tzinfo=UTC)
        for account_id, opened in q.ticket_days(session, sorted(set(starts[False]) | set(starts[True])), since, until):
            opened_day = opened.astimezone(UTC).date()
            for held_out in (False, True):
                start = starts[held_out].get(int(account_id))
                if start is not None and start < opened_day <= start + timedelta(days=days):
                    counts[held_out][int(account_id)] += 1
    sent, held = list(counts[False].values()), list(counts[True].values())
    c = compare_means("tickets", [float(n) for n in sent], [float(n) for n in held])
    return Deflection(days, as_of, tuple(keys), len(sent), len(held), sum(sent), sum(held),
                      sum(sent) / len(sent) if sent else None, sum(held) / len(held) if held else None,
                      c.difference, c.low, c.high, MIN_GROUP, c.enough)  # fmt: skip
