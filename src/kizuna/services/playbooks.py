"""Running playbooks (``kizuna.domain.playbooks``): saving their versions, enrolling the
accounts that meet a trigger, doing each step when it is due, and the dry run.

The daily job's ``playbooks`` step (:func:`run`) is idempotent: an account is enrolled
once while its enrollment is active (and not again within the cooldown after it ends);
a step's task, email or webhook is made once (the outbox key names the enrollment and the
step); an account keeps the version it entered under, so editing a playbook does not
re-fire it; deleting an account deletes its enrollments. An account in the holdout is
enrolled with ``holdout`` and nothing is done, so that it can be compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import playbooks as q
from kizuna.domain.onboarding import BY_TIER
from kizuna.domain.playbooks import (
    LANGUAGES,
    MAIL_PARTS,
    AccountFacts,
    Playbook,
    Step,
    days_after,
    parse_playbook,
    parse_playbooks,
    render,
)
from kizuna.errors import NotFound
from kizuna.i18n import _
from kizuna.services import accounts as accounts_service
from kizuna.services import kb, onboarding, opportunities, outbox, surveys, tasks, unsubscribe
from kizuna.services.context import RunContext
from kizuna.services.email_templates import check_playbook, pick_language, render_template

ACTIVE, COMPLETED, EXITED, HOLDOUT = "active", "completed", "exited", "holdout"


@dataclass(frozen=True)
class Saved:
    key: str
    version: int
    changed: bool  # False: the same as the newest version (nothing saved)


def save(session: Session, text: str, source: str, *, created_by_id: int | None = None,
         note: str | None = None) -> list[Saved]:
    """Check every playbook of a TOML file and save each one that changed as its next version."""
    import tomllib

    books = parse(text, source)  # raises, naming the bad path, before anything is written
    raw = tomllib.loads(text).get("playbooks", {})
    latest = {v.key: v for v in q.latest_versions(session)}
    return [_store(session, book, raw[book.key], latest.get(book.key), created_by_id, note) for book in books]


def _store(session: Session, book: Playbook, table: Any, now: Any, created_by_id: int | None,
           note: str | None) -> Saved:  # fmt: skip
    definition = json.dumps(table, ensure_ascii=False, sort_keys=True, default=str)
    if now is not None and now.definition == definition:
        return Saved(book.key, now.version, False)
    number = (now.version + 1) if now is not None else 1
    q.add_version(session, key=book.key, version=number, name=book.name, definition=definition,
                  created_by_id=created_by_id, note=(note or "").strip()[:500] or None)  # fmt: skip
    return Saved(book.key, number, True)


def save_table(session: Session, key: str, table: Mapping[str, Any], *, created_by_id: int | None = None,
               note: str | None = None) -> Saved:  # fmt: skip
    """Check one playbook's table (the editor's forms) and save it as its next version if it changed."""
    book = parse_playbook(key, dict(table), source="playbook")  # raises, naming the bad path
    check_playbook(book, "playbook")  # its email templates too
    now = next((v for v in q.latest_versions(session) if v.key == key), None)
    return _store(session, book, dict(table), now, created_by_id, note)


def table(session: Session, key: str, version: int | None = None) -> tuple[int, dict[str, Any]]:
    """(version, the playbook's table as saved) — the newest version unless one is named."""
    row = (next((v for v in q.latest_versions(session) if v.key == key), None) if version is None
           else q.version(session, key, version))  # fmt: skip
    if row is None:
        raise NotFound(_("no playbook {key!r}").format(key=key[:64]), code="playbook_not_found", field="key")
    loaded: dict[str, Any] = json.loads(row.definition)
    return row.version, loaded


def set_enabled(session: Session, key: str, enabled: bool, *, created_by_id: int | None = None) -> Saved:
    """Pause or resume: the next version, the same but for ``enabled``."""
    _number, current_table = table(session, key)
    note = _("resumed") if enabled else _("paused")
    return save_table(session, key, {**current_table, "enabled": enabled}, created_by_id=created_by_id, note=note)


@dataclass(frozen=True)
class Listed:
    """A playbook as the list shows it."""

    version: int
    book: Playbook
    enrolled: int  # runs open now (treated)
    held_out: int  # runs open now in the holdout


def overview(session: Session) -> list[Listed]:
    counts = q.open_counts(session)
    return [Listed(n, b, counts.get((b.key, False), 0), counts.get((b.key, True), 0)) for n, b in current(session)]


@dataclass(frozen=True)
class Detail:
    version: int
    book: Playbook
    versions: list[dict[str, Any]]  # version, name, created_at, note, author
    runs_total: int
    runs: list[dict[str, Any]]  # the newest runs: account, state, entered_on, step, next_on, finished_on


def detail(session: Session, key: str, *, limit: int = 200) -> Detail:
    found = {b.key: (n, b) for n, b in current(session)}
    if key not in found:
        raise NotFound(_("no playbook {key!r}").format(key=key[:64]), code="playbook_not_found", field="key")
    number, book = found[key]
    total, runs = q.runs_with_accounts(session, key, limit)
    return Detail(number, book, q.versions_of(session, key), total, runs)


def choices(session: Session) -> dict[str, list[str]]:
    """What the editor's plan and owner filters offer: the store's plan names and users' emails."""
    return {"plan": q.plan_names(session), "owner": sorted(q.user_emails(session).values())}


def parse(text: str, source: str) -> tuple[Playbook, ...]:
    """Every playbook of a TOML file, checked — its email templates too (merge fields, syntax)."""
    books = parse_playbooks(text, source)
    for book in books:
        check_playbook(book, source)
    return books


def _parse(key: str, definition: str) -> Playbook:
    return parse_playbook(key, json.loads(definition), source=f"playbook {key}")


DEFAULT_LIBRARY = Path(__file__).resolve().parent / "playbook_library" / "default.toml"


def default_library_text() -> str:
    """The default library's TOML (the seeds' matrix, emails in Japanese and English)."""
    return DEFAULT_LIBRARY.read_text(encoding="utf-8")


def current(session: Session) -> list[tuple[int, Playbook]]:
    """(version, playbook) of the newest version of each playbook."""
    return [(v.version, _parse(v.key, v.definition)) for v in q.latest_versions(session)]


def facts_of(r: accounts_service.AccountRow, today: date, owner: str | None = None,
             nps: tuple[int, int] | None = None, onboarding_overdue_days: int | None = None) -> AccountFacts:  # fmt: skip
    """What triggers, filters and branches read of an account (``owner``: its owner's email;
    ``nps``: the score and age in days of its newest NPS answer)."""
    renewal = (r.renewal_on - today).days if r.renewal_on and r.contract_term_months != 1 else None
    return AccountFacts(
        account_id=r.id, tier=_v(r.touch_tier), stage=_v(r.lifecycle_stage), plan=r.plan_name,
        health_score=r.health_score, health_grade=_v(r.health_grade), health_change_30d=r.health_change_30d,
        at_risk=r.at_risk, renewal_in=renewal if renewal is None or renewal >= 0 else None,
        customer_days=(today - r.customer_since).days if r.customer_since else None, owner=owner,
        churn_risk=r.churn_risk,
        nps_score=nps[0] if nps else None, nps_days=nps[1] if nps else None,
        onboarding_overdue_days=onboarding_overdue_days,
    )  # fmt: skip


def _facts(session: Session, today: date) -> tuple[list[AccountFacts], dict[int, accounts_service.AccountRow]]:
    rows = [r for r in accounts_service.all_accounts(session, accounts_service.AccountQuery(sort="name"), as_of=today)
            if r.churned_on is None and str(r.status) != "churned"]  # fmt: skip
    emails = q.user_emails(session)
    nps = surveys.latest_nps(session, today)
    late = onboarding.overdue_days(session, today)
    facts = [facts_of(r, today, emails.get(r.owner_id) if r.owner_id is not None else None, nps.get(r.id),
                      late.get(r.id))
             for r in rows]  # fmt: skip
    opened = opportunities.open_types(session)  # issue 16: the opportunity_open trigger's fact
    facts = [replace(f, open_opportunities=frozenset(opened.get(f.account_id, ()))) for f in facts]
    return facts, {r.id: r for r in rows}


def _v(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _merge(row: accounts_service.AccountRow) -> dict[str, Any]:
    return {"account": row.name, "owner": row.owner_name, "renewal_on": row.renewal_on,
            "health_score": None if row.health_score is None else f"{row.health_score:.0f}",
            "tier": _v(row.touch_tier), "stage": _v(row.lifecycle_stage)}  # fmt: skip


def _email_values(row: accounts_service.AccountRow) -> dict[str, Any]:
    return {**_merge(row), "health_grade": _v(row.health_grade), "plan": row.plan_name}


def mail_versions(params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """An email step's versions by language (``""``: the one written without a language)."""
    out = {lang: params[lang] for lang in LANGUAGES if params.get(lang)}
    if params.get("subject"):
        out[""] = {k: params[k] for k in MAIL_PARTS if params.get(k)}
    return out


def compose(params: Mapping[str, Any], values: Mapping[str, Any], *, contact_language: str | None,
            default_language: str) -> tuple[str, str, str | None, str]:  # fmt: skip
    """(subject, text, html, language) of an email step for one recipient."""
    versions = mail_versions(params)
    chosen = pick_language(tuple(versions), contact_language, default_language)
    mail = versions[chosen]
    language = chosen or default_language
    subject = " ".join(render_template(mail["subject"], values).split())
    html = render_template(mail["html"], values, html=True) if mail.get("html") else None
    text = render_template(mail["body"], values)
    url = values.get("unsubscribe_url")
    if url and "unsubscribe_url" not in mail["body"]:  # the text must carry the link: a footer when it does not
        text += "\n\n-- \n" + (UNSUBSCRIBE_JA if language == "ja" else UNSUBSCRIBE_EN).format(url=url)
    return subject, text, html, language


def _describe_email(p: Mapping[str, Any], values: Mapping[str, Any], language: str) -> str:
    subject, _text, _html, _lang = compose(p, values, contact_language=None, default_language=language)
    return _("email “{subject}” to {to}").format(subject=subject, to=p["to"])


def describe(step: Step, row: accounts_service.AccountRow, today: date, *, language: str = "ja") -> str:
    """What a step would do for this account, in one line (the dry run, the log)."""
    values = _merge(row)
    p = step.params
    if step.kind == "task":
        line = _("task “{title}” due {due}").format(title=render(p["title"], values),
                                                    due=days_after(today, p["due_days"]).isoformat())  # fmt: skip
        if p["assignee"] == "lead":
            line += " " + _("(for the owner's lead)")
        elif p["assignee"] == "round_robin":
            line += " " + _("(round robin: {users})").format(users=", ".join(p["users"]))
        return line
    if step.kind == "email":
        return _describe_email(p, _email_values(row), language)
    if step.kind == "webhook":
        return _("webhook to {host}").format(host=p["url"].split("/")[2]) if p.get("url") else _("Slack message")
    if step.kind == "branch":
        return _("branch: {condition}").format(condition=str(p["if"]))
    if step.kind == "survey":
        return _("survey {programme} to {to}").format(programme=p["programme"], to=p["to"])
    if step.kind == "goto":
        return ""
    if step.kind == "article":
        return _("articles {slugs} to {to}").format(slugs=", ".join(p["articles"]), to=p["to"])
    if step.kind == "onboarding_plan":
        return _("onboarding plan “{template}” from {day}").format(template=p["template"], day=today.isoformat())
    return _("wait {n} days").format(n=p["days"])


class _Run:
    """One daily run: what it reads once (users, round-robin turns, contacts, the unsubscribe
    key) and what it writes at the end in a few statements (tasks, outbox messages, runs)."""

    def __init__(self, session: Session, context: RunContext) -> None:
        self.session = session
        self.context = context
        self._key: str | None = None
        users = q.users(session)
        self.active = {str(u.email).lower(): int(u.id) for u in users if u.is_active}
        active_ids = set(self.active.values())
        self.lead_of = {int(u.id): int(u.lead_id) for u in users if u.lead_id is not None and u.lead_id in active_ids}
        self.email_of = {int(u.id): str(u.email) for u in users}
        self.turns = q.rotations(session)
        self.turned: set[tuple[str, str]] = set()
        self.contacts: dict[int, list[Any]] = {}
        self.tasks: list[dict[str, Any]] = []
        self.messages: list[tuple[str, str, dict[str, Any], int | None]] = []
        self.updates: list[dict[str, Any]] = []
        self.plans: dict[str, list[int]] = {}  # template (or by_tier) → accounts to give it
        self._templates: list[Any] | None = None

    def templates(self) -> list[Any]:
        if self._templates is None:
            self._templates = onboarding.list_templates(self.session)
        return self._templates

    def now(self, today: date) -> datetime:
        """The moment of this run's sends: now, or noon of ``today`` when the run is for another day."""
        now = datetime.now(UTC)
        return now if now.date() == today else datetime.combine(today, time(12), tzinfo=UTC)

    def unsubscribe_key(self) -> str:
        if self._key is None:
            self._key = unsubscribe.secret(self.session, self.context)
        return self._key

    def write(self, today: date) -> None:
        tasks.create_tasks(self.session, self.tasks, today=today)
        for template, ids in sorted(self.plans.items()):
            onboarding.apply(self.session, ids, template, start=today, templates=self.templates())
        outbox.enqueue_many(self.session, self.messages)
        q.update_enrollments(self.session, self.updates)
        for key in sorted(self.turned):
            q.save_rotation(self.session, key[0], key[1], self.turns[key])
        self.tasks, self.messages, self.updates = [], [], []
        self.turned.clear()
        self.plans = {}


def _assignee(run: _Run, book: Playbook, path: str, p: Mapping[str, Any],
              row: accounts_service.AccountRow) -> tuple[int | None, str | None]:  # fmt: skip
    """(user id, a note for the log) of a task step's assignee rule."""
    if p["assignee"] == "owner":
        return row.owner_id, None if row.owner_id else _("no owner: the task is unassigned")
    if p["assignee"] == "lead":
        lead = run.lead_of.get(row.owner_id) if row.owner_id else None
        if lead is None and p.get("lead"):
            lead = run.active.get(p["lead"])
        if lead is not None:
            return lead, None
        return row.owner_id, _("no lead found: the task goes to the owner")
    users = list(p["users"])
    key = (book.key, path)
    turns = run.turns.get(key, 0)
    run.turned.add(key)
    for offset in range(len(users)):  # a user who left is passed over; the turn moves on
        email = users[(turns + offset) % len(users)]
        if email in run.active:
            run.turns[key] = turns + offset + 1
            return run.active[email], None
    run.turns[key] = turns + 1
    return row.owner_id, _("none of the round-robin users is active: the task goes to the owner")


def _do(run: _Run, book: Playbook, enrollment_id: int, index: int, path: str, step: Step,
        row: accounts_service.AccountRow, today: date) -> list[str]:  # fmt: skip
    """Do one step (queued in the run's batch); returns the lines for the run's log."""
    values = _merge(row)
    p = step.params
    key = f"playbook:{book.key}:{enrollment_id}:{index}"
    language = run.context.mail_language
    if step.kind == "task":
        assignee, note = _assignee(run, book, path, p, row)
        run.tasks.append({
            "account_id": row.id, "title": render(p["title"], values), "kind": p["task_kind"],
            "priority": p["priority"], "due_on": days_after(today, p["due_days"]), "assignee_id": assignee,
            "description": render(p["notes"], values) if p.get("notes") else None,
            "source": f"playbook:{book.key}"[:100], "signal": book.trigger.kind[:40],
            "external_id": f"PB-{enrollment_id}-{index}",
        })  # fmt: skip
        return [describe(step, row, today, language=language), *([note] if note else [])]
    if step.kind == "email":
        lines = []
        recipients = [c for c in run.contacts.get(row.id, []) if p["to"] != "champion" or c.is_champion]
        if not recipients:
            return [_("email skipped: no contact with an address")]
        values = {**_email_values(row), "owner_email": run.email_of.get(row.owner_id) if row.owner_id else None}
        for c in recipients:
            if c.unsubscribed_at is not None:
                lines.append(_("email to {email} skipped: unsubscribed").format(email=c.email))
                continue
            url = unsubscribe.link(run.context, run.unsubscribe_key(), int(c.id))
            mine = {**values, "contact": c.name, "unsubscribe_url": url}
            subject, text, html, _lang = compose(p, mine, contact_language=c.language, default_language=language)
            payload = outbox.email_payload(to=[str(c.email)], subject=subject, text=text, html=html,
                                           headers=unsubscribe.headers(url))  # fmt: skip
            run.messages.append((outbox.EMAIL, f"{key}:{c.id}", payload, row.id))
            lines.append(_("email “{subject}” to {email}").format(subject=subject, email=c.email))
        return lines
    if step.kind == "survey":
        recipients = [c for c in run.contacts.get(row.id, []) if p["to"] != "champion" or c.is_champion]
        if not recipients:
            return [_("survey skipped: no contact with an address")]
        try:
            sending = surveys.invite(run.session, run.context, p["programme"], recipients,
                                     account_names={row.id: row.name}, source=f"playbook:{book.key}",
                                     now=run.now(today), outbox_key=key)  # fmt: skip
        except NotFound:
            return [_("survey skipped: there is no survey {key!r}").format(key=p["programme"])]
        run.messages.extend(sending.messages)
        return sending.lines
    if step.kind == "article":
        recipients = [c for c in run.contacts.get(row.id, []) if p["to"] != "champion" or c.is_champion]
        if not recipients:
            return [_("articles skipped: no contact with an address")]
        sent = kb.send_articles(run.session, run.context, p["articles"], recipients, account_id=row.id,
                                account_name=row.name, playbook_key=book.key, enrollment_id=enrollment_id,
                                now=run.now(today), outbox_key=key)  # fmt: skip
        run.messages.extend(sent.messages)
        return sent.lines
    if step.kind == "webhook":
        text = render(p["text"], values)
        target: str | None = p.get("url") or run.context.slack_webhook_url
        if not target:
            return [_("webhook skipped: no URL in the step and no Slack webhook in the settings")]
        slack = p["slack"] or not p.get("url")
        body = {"text": text} if slack else {
            "event": "playbook_step", "playbook": book.key, "account_id": row.id, "account": row.name, "text": text}
        run.messages.append((outbox.WEBHOOK, key, outbox.webhook_payload(url=target, body=body, signed=not slack),
                             row.id))  # fmt: skip
        return [describe(step, row, today)]
    if step.kind == "onboarding_plan":
        template = p["template"]
        if template != BY_TIER and all(t.key != template for t in run.templates()):
            return [_("onboarding plan skipped: no template {key!r}").format(key=template)]
        run.plans.setdefault(template, []).append(row.id)
        return [describe(step, row, today)]
    return []


#: The footer added to a text that does not place ``{{ unsubscribe_url }}`` itself.
UNSUBSCRIBE_JA = "今後このようなメールの配信を希望されない場合は、こちらから停止できます: {url}"
UNSUBSCRIBE_EN = "To stop receiving these emails, unsubscribe here: {url}"


def run(session: Session, as_of: date, context: RunContext | None = None) -> int:
    """The daily step: exit, enroll and advance every playbook's accounts; returns the actions done.

    Built for 100,000 accounts × 30 playbooks: the accounts' figures are read once, each
    playbook's open runs in one query, and what the run makes (runs, tasks, emails,
    webhooks, the runs' new state) is written in a few statements at the end."""
    state = _Run(session, context or RunContext())
    facts, rows = _facts(session, as_of)
    by_tier: dict[str | None, list[AccountFacts]] = {}
    for f in facts:
        by_tier.setdefault(f.tier, []).append(f)
    done = 0
    books = current(session)  # parsed once for both passes
    for number, book in books:
        if not book.enabled:
            continue
        matching = {f.account_id for f in book.candidates(by_tier) if book.matches(f)}
        open_ = {e.account_id: e for e in q.open_enrollments(session, book.key)}
        exits = []
        for account_id, e in open_.items():
            if account_id in matching:
                continue
            if e.state == HOLDOUT:  # the control group leaves when the trigger clears, whatever the setting
                exits.append({"id": e.id, "finished_on": as_of, "log": e.log + _line(as_of, _("the trigger cleared"))})
            elif book.exit_when_cleared:
                exits.append({"id": e.id, "state": EXITED, "finished_on": as_of, "next_on": None,
                              "log": e.log + _line(as_of, _("the trigger cleared: left the playbook"))})  # fmt: skip
        q.update_enrollments(session, exits)
        finished = q.last_finished(session, book.key)
        entering = []
        for account_id in sorted(matching - set(open_)):
            last = finished.get(account_id)
            if last is not None and (as_of - last).days < book.cooldown_days:
                continue
            held = book.in_holdout(account_id)
            entering.append({
                "playbook_key": book.key, "version": number, "account_id": account_id,
                "state": HOLDOUT if held else ACTIVE, "holdout": held, "entered_on": as_of, "step": 0,
                "next_on": None if held else as_of, "finished_on": None,
                "log": _line(as_of, _("held out: nothing is done, to compare") if held else _("entered")),
            })  # fmt: skip
        q.add_enrollments(session, entering)
    # advance every due run, under the version it entered with
    due = [(number, book, e) for number, book in books for e in q.due_enrollments(session, book.key, as_of)
           if e.account_id in rows]  # fmt: skip
    emailing = {e.account_id for _n, book, e in due if any(s.kind in ("email", "survey", "article") for _p, s in book.flat)}
    state.contacts = q.contacts_of(session, sorted(emailing))
    versions: dict[tuple[str, int], Playbook] = {}
    for number, book, e in due:
        if e.version == number:
            version = book
        else:
            if (book.key, e.version) not in versions:
                versions[(book.key, e.version)] = _parse(book.key, _version_text(session, book.key, e.version))
            version = versions[(book.key, e.version)]
        done += _advance(state, version, e, rows[e.account_id], as_of)
    state.write(as_of)
    return done


def _version_text(session: Session, key: str, number: int) -> str:
    row = q.version(session, key, number)
    if row is None:
        raise NotFound(_("playbook {key} has no version {n}").format(key=key, n=number), code="playbook_not_found")
    return row.definition


def _line(day: date, text: str) -> str:
    return f"{day.isoformat()} {text}\n"


def _advance(run: _Run, book: Playbook, e: Any, row: accounts_service.AccountRow, today: date) -> int:
    index, log, actions = e.step, e.log, 0
    facts: AccountFacts | None = None
    flat = book.flat
    while index < len(flat):
        path, step = flat[index]
        if step.kind == "wait":
            index += 1
            run.updates.append({"id": e.id, "step": index, "next_on": days_after(today, step.params["days"]),
                                "log": log + _line(today, describe(step, row, today))})  # fmt: skip
            return actions
        if step.kind == "goto":
            index = step.params["to"]
            continue
        if step.kind == "branch":
            facts = facts or facts_of(row, today)
            holds = step.params["if"].holds(facts)
            log += _line(today, _("branch {condition}: {answer}").format(
                condition=str(step.params["if"]), answer=_("yes, then") if holds else _("no, else")))  # fmt: skip
            index = index + 1 if holds else step.params["else_at"]
            continue
        for line in _do(run, book, e.id, index, path, step, row, today):
            log += _line(today, line)
        actions += 1
        index += 1
    run.updates.append({"id": e.id, "step": index, "next_on": None, "state": COMPLETED, "finished_on": today,
                        "log": log + _line(today, _("completed"))})  # fmt: skip
    return actions


def dry_run(book: Playbook, row: accounts_service.AccountRow, today: date, *, language: str = "ja") -> tuple[str, ...]:
    """What each step would do for this account, branches decided on today's figures."""
    out: list[str] = []
    facts = facts_of(row, today)
    index = 0
    while index < len(book.flat):
        _path, step = book.flat[index]
        if step.kind == "goto":
            index = step.params["to"]
            continue
        if step.kind == "branch":
            holds = step.params["if"].holds(facts)
            out.append(_("branch {condition}: {answer}").format(
                condition=str(step.params["if"]), answer=_("yes, then") if holds else _("no, else")))  # fmt: skip
            index = index + 1 if holds else step.params["else_at"]
            continue
        out.append(describe(step, row, today, language=language))
        index += 1
    return tuple(out)


@dataclass(frozen=True)
class Preview:
    """The dry run of one playbook for one day."""

    key: str
    version: int
    name: str
    entering: tuple[tuple[int, str, tuple[str, ...]], ...]  # (account id, name, what each step would do)
    held_out: tuple[tuple[int, str], ...]
    already_in: int
    matching: int


def preview(session: Session, key: str, as_of: date) -> Preview:
    """Which accounts would enter today and what each step would do — nothing is written."""
    found = {b.key: (n, b) for n, b in current(session)}
    if key not in found:
        raise NotFound(_("no playbook {key!r}").format(key=key[:64]), code="playbook_not_found", field="key")
    number, book = found[key]
    return preview_book(session, book, number, as_of)


def preview_book(session: Session, book: Playbook, number: int, as_of: date) -> Preview:
    """The dry run of a playbook as given (the editor's unsaved draft, or a saved version);
    its email templates are checked first (an unknown merge field is named, not rendered)."""
    check_playbook(book, "playbook")
    key = book.key
    facts, rows = _facts(session, as_of)
    matching = [f.account_id for f in facts if book.matches(f)]
    active = {e.account_id for e in q.enrollments(session, key, [ACTIVE, HOLDOUT]) if e.finished_on is None}
    finished = q.last_finished(session, key)
    entering, held = [], []
    for account_id in matching:
        last = finished.get(account_id)
        if account_id in active or (last is not None and (as_of - last).days < book.cooldown_days):
            continue
        row = rows[account_id]
        if book.in_holdout(account_id):
            held.append((account_id, row.name))
        else:
            entering.append((account_id, row.name, dry_run(book, row, as_of)))
    return Preview(key, number, book.name, tuple(entering), tuple(held), len(active), len(matching))


def account_enrollments(session: Session, account_id: int) -> Sequence[Any]:
    """An account's playbook runs, newest first (the 360 page)."""
    return q.account_enrollments(session, account_id)


# --- does it work? treated vs holdout ----------------------------------------------------------------

#: Fewer runs than this in either group: "not enough data yet".
MIN_GROUP = 20
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Comparison:
    """One outcome, treated vs holdout: rates (or means), their difference and its 95 % interval."""

    measure: str
    treated_n: int
    holdout_n: int
    treated: float | None
    holdout: float | None
    difference: float | None  # treated − holdout
    low: float | None
    high: float | None
    enough: bool


@dataclass(frozen=True)
class Effect:
    key: str
    as_of: date
    horizon_days: int
    runs: int
    churn: Comparison  # churned within the horizon after entering
    health_change: Comparison  # score 30 days after entering − score on entering (runs with both)
    renewal: Comparison  # of the runs whose committed term ended within the horizon: the share that renewed
    expansion: Comparison  # of the runs paying on entering: the share paying more at the horizon's end


def _rates(measure: str, treated: list[bool], held: list[bool]) -> Comparison:
    n_t, n_h = len(treated), len(held)
    if n_t == 0 or n_h == 0:
        return Comparison(measure, n_t, n_h, None, None, None, None, None, False)
    p_t, p_h = sum(treated) / n_t, sum(held) / n_h
    se = (p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h) ** 0.5
    d = p_t - p_h  # a difference of two rates lies in [−1, 1]: so does its interval
    return Comparison(measure, n_t, n_h, p_t, p_h, d, max(-1.0, d - Z95 * se), min(1.0, d + Z95 * se),
                      n_t >= MIN_GROUP and n_h >= MIN_GROUP)  # fmt: skip


def _means(measure: str, treated: list[float], held: list[float]) -> Comparison:
    n_t, n_h = len(treated), len(held)
    if n_t < 2 or n_h < 2:
        return Comparison(measure, n_t, n_h, None, None, None, None, None, False)
    m_t, m_h = sum(treated) / n_t, sum(held) / n_h
    v_t = sum((x - m_t) ** 2 for x in treated) / (n_t - 1)
    v_h = sum((x - m_h) ** 2 for x in held) / (n_h - 1)
    se = (v_t / n_t + v_h / n_h) ** 0.5  # Welch; the normal quantile (the groups are not tiny when it counts)
    d = m_t - m_h
    return Comparison(measure, n_t, n_h, m_t, m_h, d, d - Z95 * se, d + Z95 * se,
                      n_t >= MIN_GROUP and n_h >= MIN_GROUP)  # fmt: skip


#: Treated vs holdout means with Welch's 95 % interval (the knowledge base's deflection reads it too).
compare_means = _means


def effect(session: Session, key: str, as_of: date, *, horizon_days: int = 90, after_days: int = 30) -> Effect:
    """Treated vs holdout for the runs old enough to be judged: churn within ``horizon_days``
    of entering, and the health score's change ``after_days`` after entering."""
    from datetime import timedelta

    from kizuna.errors import InvalidInput

    if not 7 <= horizon_days <= 730:
        raise InvalidInput(_("the horizon must be from 7 to 730 days"), code="invalid_horizon", field="horizon_days")
    if key not in {b.key for _n, b in current(session)}:
        raise NotFound(_("no playbook {key!r}").format(key=key[:64]), code="playbook_not_found", field="key")
    runs = q.run_outcomes(session, key, as_of - timedelta(days=horizon_days))
    churned = {True: [], False: []}  # type: dict[bool, list[bool]]
    for r in runs:
        end = r["entered_on"] + timedelta(days=horizon_days)
        churned[bool(r["holdout"])].append(r["churned_on"] is not None and r["entered_on"] <= r["churned_on"] <= end)
    pairs = [(r["account_id"], d) for r in runs for d in (r["entered_on"], r["entered_on"] + timedelta(days=after_days))]
    scores = q.health_scores(session, pairs)
    change = {True: [], False: []}  # type: dict[bool, list[float]]
    for r in runs:
        before = scores.get((r["account_id"], r["entered_on"]))
        after = scores.get((r["account_id"], r["entered_on"] + timedelta(days=after_days)))
        if before is not None and after is not None:
            change[bool(r["holdout"])].append(after - before)
    renewed, expanded = _revenue_outcomes(session, runs, horizon_days)
    return Effect(key, as_of, horizon_days, len(runs), _rates("churn", churned[False], churned[True]),
                  _means("health_change", change[False], change[True]),
                  _rates("renewal", renewed[False], renewed[True]),
                  _rates("expansion", expanded[False], expanded[True]))  # fmt: skip


def _revenue_outcomes(session: Session, runs: list[dict[str, Any]], horizon_days: int
                      ) -> tuple[dict[bool, list[bool]], dict[bool, list[bool]]]:  # fmt: skip
    """Per group (held out or not): renewed or not, for the runs whose committed term ended
    within the horizon; paying more at the horizon's end than on entering, for the runs that
    were paying on entering. Read from the subscription lines, as the accounts list is."""
    from datetime import timedelta

    from kizuna.db.queries import subscriptions as subs
    from kizuna.domain.subscriptions import summarize

    renewed: dict[bool, list[bool]] = {True: [], False: []}
    expanded: dict[bool, list[bool]] = {True: [], False: []}
    by_account: dict[int, list[dict[str, Any]]] = {}
    for r in runs:
        by_account.setdefault(int(r["account_id"]), []).append(r)
    ids = sorted(by_account)
    for start in range(0, len(ids), 2000):
        for account_id, lines in subs.lines_by_account(session, ids[start:start + 2000]):
            for r in by_account.get(account_id, []):
                entered, end = r["entered_on"], r["entered_on"] + timedelta(days=horizon_days)
                group = bool(r["holdout"])
                before = summarize(lines, entered)
                if before.renewal_on is not None and entered < before.renewal_on <= end:
                    renewed[group].append(summarize(lines, before.renewal_on).mrr > 0)
                if before.mrr > 0:
                    expanded[group].append(summarize(lines, end).mrr > before.mrr)
    return renewed, expanded
