"""Surveys that are sent and answered (issue 17): programmes (NPS, CSAT, CES), invitations
by a playbook's ``survey`` step or by hand to a segment, the public answer page's use cases,
and the response rate and NPS by tier, stage and month.

An invitation is one contact asked once. Its email carries a signed link
``/s/<invitation id>.<signature>`` (the app secret's HMAC, as the unsubscribe links, for the
purpose ``survey``): a forged or altered link is refused (400), a link past its expiry
(``KIZUNA_SURVEY_LINK_DAYS``) or already answered is gone (410). The answer is recorded once
— its ``external_id`` names the invitation and is unique, so even two submissions at the
same moment record one — into ``survey_responses``, where the timeline, the KPIs and the
health score read it. A contact who unsubscribed is never sent to; a contact asked within
``KIZUNA_SURVEY_FATIGUE_DAYS`` is skipped (the fatigue rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import surveys as q
from kizuna.domain.enums import SurveyKind
from kizuna.domain.surveys import ENDS, QUESTIONS, WHY_MOST, check_programme, nps_category, read_answer, scale
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _, language
from kizuna.services import outbox, unsubscribe
from kizuna.services.context import RunContext

PURPOSE = "survey"


# --- programmes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Programme:
    key: str
    name: str
    kind: str
    question_ja: str | None
    question_en: str | None


def _programme(row: Any) -> Programme:
    return Programme(row.key, row.name, str(getattr(row.kind, "value", row.kind)), row.question_ja, row.question_en)


def programmes(session: Session) -> list[Programme]:
    return [_programme(r) for r in q.programmes(session)]


def create_programme(session: Session, *, key: str, name: str, kind: str, question_ja: str | None = None,
                     question_en: str | None = None) -> Programme:  # fmt: skip
    """A new programme; ``InvalidInput`` names the field (``survey_programme_exists`` for a taken key)."""
    key, name, checked, q_ja, q_en = check_programme(key, name, kind, question_ja, question_en)
    row = q.add_programme(session, key=key, name=name, kind=checked, question_ja=q_ja, question_en=q_en)
    if row is None:
        raise InvalidInput(_("a survey with the key {key!r} exists already").format(key=key),
                           code="survey_programme_exists", field="key")  # fmt: skip
    return _programme(row)


def _get(session: Session, key: str) -> Any:
    row = q.programme(session, key)
    if row is None:
        raise NotFound(_("no survey {key!r}").format(key=key[:64]), code="survey_not_found", field="programme")
    return row


# --- sending -----------------------------------------------------------------------------------------


def link(context: RunContext, key: str, invitation_id: int) -> str:
    return f"{context.public_url}/s/{invitation_id}.{unsubscribe.sign(key, PURPOSE, invitation_id)}"


def question(kind: SurveyKind, lang: str, account: str, own: str | None) -> str:
    return (own or QUESTIONS[kind][lang]).replace("{account}", account)


def _email(kind: SurveyKind, lang: str, *, contact: str, account: str, own_question: str | None, url: str,
           stop_url: str, days: int) -> tuple[str, str]:  # fmt: skip
    """(subject, text) of an invitation, in the contact's language."""
    with language(lang):
        subject = _("A short question from {account}").format(account=account)
        text = "\n\n".join([
            _("Dear {contact},").format(contact=contact),
            question(kind, lang, account, own_question),
            _("It takes a minute: answer here (the link works once, for {days} days):").format(days=days) + f"\n{url}",
            _("To stop receiving these emails, unsubscribe here: {url}").format(url=stop_url),
        ])  # fmt: skip
    return " ".join(subject.split()), text


@dataclass
class Sending:
    """What one send did: messages queued (for the outbox) and a line per contact for the log."""

    messages: list[tuple[str, str, dict[str, Any], int | None]]
    lines: list[str]
    sent: int = 0
    skipped: int = 0


def invite(session: Session, context: RunContext, programme_key: str, recipients: Sequence[Any], *,
           account_names: dict[int, str], source: str, now: datetime, outbox_key: str) -> Sending:  # fmt: skip
    """Invite each recipient (a contact row: id, account_id, name, email, language,
    unsubscribed_at) once, honouring unsubscribe and the fatigue rule; the emails are returned
    for the caller to queue (the daily job writes its batch at the end)."""
    row = _get(session, programme_key)
    kind = SurveyKind(getattr(row.kind, "value", row.kind))
    out = Sending([], [])
    fatigue = context.survey_fatigue_days
    recent = q.asked_since(session, [int(c.id) for c in recipients], now - timedelta(days=fatigue)) if fatigue else set()
    key = unsubscribe.secret(session, context)
    for c in recipients:
        if c.unsubscribed_at is not None:
            out.lines.append(_("survey to {email} skipped: unsubscribed").format(email=c.email))
            out.skipped += 1
            continue
        if int(c.id) in recent:
            out.lines.append(_("survey to {email} skipped: asked within {days} days").format(email=c.email, days=fatigue))
            out.skipped += 1
            continue
        recent.add(int(c.id))
        invitation_id = q.add_invitation(session, programme_id=row.id, account_id=int(c.account_id), contact_id=int(c.id),
                                         source=source[:100], sent_at=now,
                                         expires_at=now + timedelta(days=context.survey_link_days))  # fmt: skip
        lang = c.language if c.language in ("ja", "en") else context.mail_language
        own = row.question_ja if lang == "ja" else row.question_en
        stop = unsubscribe.link(context, key, int(c.id))
        subject, text = _email(kind, lang, contact=c.name, account=account_names.get(int(c.account_id), ""),
                               own_question=own, url=link(context, key, invitation_id), stop_url=stop,
                               days=context.survey_link_days)  # fmt: skip
        payload = outbox.email_payload(to=[str(c.email)], subject=subject, text=text, headers=unsubscribe.headers(stop))
        out.messages.append((outbox.EMAIL, f"{outbox_key}:{c.id}", payload, int(c.account_id)))
        out.lines.append(_("survey “{name}” to {email}").format(name=row.name, email=c.email))
        out.sent += 1
    return out


def send_to_segment(session: Session, context: RunContext, programme_key: str, *, tiers: Sequence[str] = (),
                    stages: Sequence[str] = (), owner_ids: Sequence[int] = (), champions_only: bool = False,
                    sent_by: str = "", now: datetime | None = None) -> Sending:  # fmt: skip
    """Send a survey by hand to the contacts of a segment (tier, stage, owner filters; empty: any)."""
    _get(session, programme_key)
    now = now or datetime.now(UTC)
    contacts = q.segment_contacts(session, tiers=tiers, stages=stages, owner_ids=owner_ids,
                                  champions_only=champions_only)  # fmt: skip
    names = q.account_names(session, sorted({int(c.account_id) for c in contacts}))
    sending = invite(session, context, programme_key, contacts, account_names=names, source=f"manual:{sent_by}",
                     now=now, outbox_key=f"survey:{programme_key}:{now.strftime('%Y%m%dT%H%M%S%f')}")  # fmt: skip
    outbox.enqueue_many(session, sending.messages)
    return sending


def segment_choices(session: Session) -> list[tuple[int, str]]:
    """The owners the send form offers: (user id, name)."""
    return [(int(u.id), str(u.name)) for u in q.owners(session)]


# --- the public page -----------------------------------------------------------------------------------


class LinkGone(Exception):
    """The link was good but can no longer be used: answered already, or expired (410)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "answered" or "expired"


@dataclass(frozen=True)
class SurveyPage:
    kind: str
    language: str
    question: str
    choices: tuple[int, ...]
    low_label: str
    high_label: str
    why_most: int
    contact: str


def _bad() -> InvalidInput:
    return InvalidInput(_("this survey link is not valid (it was changed or cut short); open the link from the "
                          "email again"), code="invalid_survey_link", field="token")  # fmt: skip


def _open(session: Session, context: RunContext, token: str, now: datetime) -> Any:
    invitation_id = unsubscribe.signed_id(unsubscribe.secret(session, context), PURPOSE, token)
    if invitation_id is None:
        raise _bad()
    row = q.invitation(session, invitation_id)
    if row is None:
        raise _bad()
    if row.answered_at is not None:
        raise LinkGone("answered")
    if row.expires_at <= now:
        raise LinkGone("expired")
    return row


def language_of(session: Session, context: RunContext, token: str) -> str | None:
    """The page's language: the contact's (else the company's default), whatever the link's
    state; None when the link names no invitation (forged)."""
    invitation_id = unsubscribe.signed_id(unsubscribe.secret(session, context), PURPOSE, token)
    row = q.invitation(session, invitation_id) if invitation_id is not None else None
    if row is None:
        return None
    return str(row.language) if row.language in ("ja", "en") else context.mail_language


def page(session: Session, context: RunContext, token: str, *, now: datetime | None = None) -> SurveyPage:
    """What the answer page shows; ``InvalidInput`` (400) for a forged link, ``LinkGone`` (410)."""
    row = _open(session, context, token, now or datetime.now(UTC))
    kind = SurveyKind(getattr(row.kind, "value", row.kind))
    lang = row.language if row.language in ("ja", "en") else context.mail_language
    own = row.question_ja if lang == "ja" else row.question_en
    low, high = ENDS[kind]
    return SurveyPage(kind.value, lang, question(kind, lang, row.account_name, own), tuple(scale(kind)), low, high,
                      WHY_MOST, row.contact_name)  # fmt: skip


@dataclass(frozen=True)
class Answered:
    account_id: int
    score: int
    category: str | None  # promoter / passive / detractor for NPS


def answer(session: Session, context: RunContext, token: str, score: str | None, why: str | None, *,
           now: datetime | None = None) -> Answered:  # fmt: skip
    """Record the answer once: ``InvalidInput`` for a bad link or answer, ``LinkGone`` when it
    was answered already (also when another request answered it a moment ago)."""
    now = now or datetime.now(UTC)
    row = _open(session, context, token, now)
    kind = SurveyKind(getattr(row.kind, "value", row.kind))
    checked = read_answer(kind, score, why)
    if not q.record_answer(session, invitation_id=int(row.id), account_id=int(row.account_id),
                           contact_id=int(row.contact_id), kind=kind, score=checked.score, comment=checked.why,
                           now=now):  # fmt: skip
        raise LinkGone("answered")
    return Answered(int(row.account_id), checked.score, nps_category(checked.score) if kind is SurveyKind.NPS else None)


# --- what the playbooks read --------------------------------------------------------------------------


def latest_nps(session: Session, today: date) -> dict[int, tuple[int, int]]:
    """Per account: (score, days since) of its newest NPS answer."""
    return {a: (score, (today - at.date()).days) for a, (score, at) in q.latest_nps(session).items()}


# --- the KPI page: response rate and NPS by tier, stage and month ------------------------------------


@dataclass(frozen=True)
class SurveyCell:
    sent: int
    answered: int
    nps: float | None  # −100…100 of the NPS answers, None without any
    nps_answers: int

    @property
    def rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None


@dataclass(frozen=True)
class SurveyReport:
    total: SurveyCell
    by_tier: list[tuple[str, SurveyCell]]
    by_stage: list[tuple[str, SurveyCell]]
    by_month: list[tuple[str, SurveyCell]]


def _cell(rows: list[Any]) -> SurveyCell:
    nps = [int(r.score) for r in rows if r.score is not None and str(getattr(r.kind, "value", r.kind)) == "nps"]
    value = (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) * 100 / len(nps) if nps else None
    return SurveyCell(len(rows), sum(r.answered_at is not None for r in rows), value, len(nps))


def report(session: Session, as_of: date, *, months: int = 12) -> SurveyReport:
    """The surveys sent in the last ``months`` months (by the month they were sent)."""
    since = datetime(as_of.year, as_of.month, 1, tzinfo=UTC)
    for _i in range(months - 1):
        since = (since - timedelta(days=1)).replace(day=1)
    rows = q.invitations_for_report(session, since)

    def group(key: Any) -> list[tuple[str, SurveyCell]]:
        groups: dict[str, list[Any]] = {}
        for r in rows:
            groups.setdefault(key(r), []).append(r)
        return [(k, _cell(v)) for k, v in sorted(groups.items())]

    def value(v: Any) -> str:
        return "—" if v is None else str(getattr(v, "value", v))

    return SurveyReport(_cell(rows), group(lambda r: value(r.touch_tier)), group(lambda r: value(r.lifecycle_stage)),
                        group(lambda r: r.sent_at.strftime("%Y-%m")))  # fmt: skip
