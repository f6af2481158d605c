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
from dataclasses import dataclass
from datetime import date
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import playbooks as q
from kizuna.domain.playbooks import AccountFacts, Playbook, Step, days_after, parse_playbook, parse_playbooks, render
from kizuna.errors import NotFound
from kizuna.i18n import _
from kizuna.services import accounts as accounts_service
from kizuna.services import outbox, tasks
from kizuna.services.context import RunContext

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

    books = parse_playbooks(text, source)  # raises, naming the bad path, before anything is written
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


def _parse(key: str, definition: str) -> Playbook:
    return parse_playbook(key, json.loads(definition), source=f"playbook {key}")


def current(session: Session) -> list[tuple[int, Playbook]]:
    """(version, playbook) of the newest version of each playbook."""
    return [(v.version, _parse(v.key, v.definition)) for v in q.latest_versions(session)]


def _facts(session: Session, today: date) -> tuple[list[AccountFacts], dict[int, accounts_service.AccountRow]]:
    rows = [r for r in accounts_service.all_accounts(session, accounts_service.AccountQuery(sort="name"), as_of=today)
            if r.churned_on is None and str(r.status) != "churned"]  # fmt: skip
    emails = q.user_emails(session)
    facts = []
    for r in rows:
        renewal = (r.renewal_on - today).days if r.renewal_on and r.contract_term_months != 1 else None
        facts.append(AccountFacts(
            account_id=r.id, tier=_v(r.touch_tier), stage=_v(r.lifecycle_stage), plan=r.plan_name,
            health_score=r.health_score, health_grade=_v(r.health_grade), health_change_30d=r.health_change_30d,
            at_risk=r.at_risk, renewal_in=renewal if renewal is None or renewal >= 0 else None,
            customer_days=(today - r.customer_since).days if r.customer_since else None,
            owner=emails.get(r.owner_id) if r.owner_id is not None else None,
        ))  # fmt: skip
    return facts, {r.id: r for r in rows}


def _v(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _merge(row: accounts_service.AccountRow) -> dict[str, Any]:
    return {"account": row.name, "owner": row.owner_name, "renewal_on": row.renewal_on,
            "health_score": None if row.health_score is None else f"{row.health_score:.0f}",
            "tier": _v(row.touch_tier), "stage": _v(row.lifecycle_stage)}  # fmt: skip


def describe(step: Step, row: accounts_service.AccountRow, today: date) -> str:
    """What a step would do for this account, in one line (the dry run, the log)."""
    values = _merge(row)
    p = step.params
    if step.kind == "task":
        return _("task “{title}” due {due}").format(title=render(p["title"], values),
                                                     due=days_after(today, p["due_days"]).isoformat())  # fmt: skip
    if step.kind == "email":
        return _("email “{subject}” to {to}").format(subject=render(p["subject"], values), to=p["to"])
    if step.kind == "webhook":
        return _("webhook to {host}").format(host=p["url"].split("/")[2])
    return _("wait {n} days").format(n=p["days"])


def _do(session: Session, book: Playbook, enrollment_id: int, index: int, step: Step,
        row: accounts_service.AccountRow, today: date) -> None:  # fmt: skip
    values = _merge(row)
    p = step.params
    key = f"playbook:{book.key}:{enrollment_id}:{index}"
    if step.kind == "task":
        tasks.create_task(
            session, today=today, account_id=row.id, title=render(p["title"], values), kind=p["task_kind"],
            priority=p["priority"], due_on=days_after(today, p["due_days"]),
            description=render(p["notes"], values) if p.get("notes") else None,
            source=f"playbook:{book.key}"[:100],
            signal=book.trigger.kind[:40], external_id=f"PB-{enrollment_id}-{index}",
        )  # fmt: skip
    elif step.kind == "email":
        to = q.contact_emails(session, row.id, champions_only=p["to"] == "champion")
        if to:
            outbox.enqueue_email(session, key=key, to=to, subject=render(p["subject"], values),
                                 text=render(p["body"], values), account_id=row.id)  # fmt: skip
    elif step.kind == "webhook":
        text = render(p["text"], values)
        body = {"text": text} if p["slack"] else {
            "event": "playbook_step", "playbook": book.key, "account_id": row.id, "account": row.name, "text": text}
        outbox.enqueue_webhook(session, key=key, url=p["url"], body=body, signed=not p["slack"], account_id=row.id)


def run(session: Session, as_of: date, context: RunContext | None = None) -> int:
    """The daily step: exit, enroll and advance every playbook's accounts; returns the actions done."""
    facts, rows = _facts(session, as_of)
    done = 0
    books = current(session)  # parsed once for both passes
    for number, book in books:
        if not book.enabled:
            continue
        matching = {f.account_id for f in facts if book.matches(f)}
        open_ = {e.account_id: e for e in q.enrollments(session, book.key, [ACTIVE, HOLDOUT]) if e.finished_on is None}
        for account_id, e in open_.items():
            if account_id in matching:
                continue
            if e.state == HOLDOUT:  # the control group leaves when the trigger clears, whatever the setting
                q.save_enrollment(session, e, finished_on=as_of, log=e.log + _line(as_of, _("the trigger cleared")))
            elif book.exit_when_cleared:
                q.save_enrollment(session, e, state=EXITED, finished_on=as_of, next_on=None,
                                  log=e.log + _line(as_of, _("the trigger cleared: left the playbook")))  # fmt: skip
        finished = q.last_finished(session, book.key)
        for account_id in sorted(matching - set(open_)):
            last = finished.get(account_id)
            if last is not None and (as_of - last).days < book.cooldown_days:
                continue
            held = book.in_holdout(account_id)
            q.add_enrollment(
                session, playbook_key=book.key, version=number, account_id=account_id,
                state=HOLDOUT if held else ACTIVE, holdout=held, entered_on=as_of, step=0,
                next_on=None if held else as_of, finished_on=None,
                log=_line(as_of, _("held out: nothing is done, to compare") if held else _("entered")),
            )  # fmt: skip
    # advance every due enrollment, under the version it entered with
    for number, book in books:
        for e in q.enrollments(session, book.key, [ACTIVE]):
            if e.next_on is None or e.next_on > as_of or e.account_id not in rows:
                continue
            version = book if e.version == number else _parse(book.key, _version_text(session, book.key, e.version))
            done += _advance(session, version, e, rows[e.account_id], as_of)
    return done


def _version_text(session: Session, key: str, number: int) -> str:
    row = q.version(session, key, number)
    if row is None:
        raise NotFound(_("playbook {key} has no version {n}").format(key=key, n=number), code="playbook_not_found")
    return row.definition


def _line(day: date, text: str) -> str:
    return f"{day.isoformat()} {text}\n"


def _advance(session: Session, book: Playbook, e: Any, row: accounts_service.AccountRow, today: date) -> int:
    index, log, actions = e.step, e.log, 0
    while index < len(book.steps):
        step = book.steps[index]
        if step.kind == "wait":
            index += 1
            q.save_enrollment(session, e, step=index, next_on=days_after(today, step.params["days"]),
                              log=log + _line(today, describe(step, row, today)))  # fmt: skip
            return actions
        _do(session, book, e.id, index, step, row, today)
        log += _line(today, describe(step, row, today))
        actions += 1
        index += 1
    q.save_enrollment(session, e, step=index, next_on=None, state=COMPLETED, finished_on=today,
                      log=log + _line(today, _("completed")))  # fmt: skip
    return actions


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
    """The dry run of a playbook as given (the editor's unsaved draft, or a saved version)."""
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
            entering.append((account_id, row.name, tuple(describe(s, row, as_of) for s in book.steps)))
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
