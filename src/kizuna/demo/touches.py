"""The human side of an account: its contacts, support tickets, survey answers, the
CSM's activities, onboarding milestones, success goals and tasks. Everything follows
the account's engagement: disengaged customers open more tickets, score lower, finish
onboarding late and trigger follow-up tasks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from kizuna.demo import names
from kizuna.demo.catalogue import TOP_RANK
from kizuna.demo.lifecycle import HIGH_TOUCH, LOW_TOUCH, TECH_TOUCH, Life, Profile
from kizuna.demo.timeline import Timeline

Row = dict[str, Any]

TICKET_PRIORITIES = (("low", 0.15), ("normal", 0.60), ("high", 0.20), ("urgent", 0.05))
TICKET_CHANNELS = (("email", 0.45), ("web", 0.25), ("chat", 0.22), ("phone", 0.08))
NPS_CAMPAIGNS = ((6, 10), (12, 5))
#: Support is not perfect: shares of tickets whose first answer comes 1–6 days late,
#: that were never answered, and that were answered but never resolved (twice as many
#: at disengaged accounts, which stop replying).
TICKET_LATE_ANSWER = 0.08
TICKET_UNANSWERED = 0.015
TICKET_UNRESOLVED = 0.025  # (month, day): the twice-yearly relationship survey


@dataclass
class Ids:
    """The next id of each table: ids are assigned here so rows can refer to each other."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str) -> int:
        value = self.next.get(table, 1)
        self.next[table] = value + 1
        return value


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    champion: bool


@dataclass
class AccountView:
    """What the touch generators know about one account."""

    profile: Profile
    life: Life
    level: np.ndarray  # engagement per day of the timeline
    owner_id: int | None
    contacts: list[Person]
    live_days: np.ndarray
    detractor_on: date | None = None
    first_done: dict[str, date] = field(default_factory=dict)

    def level_on(self, index: int) -> float:
        return float(self.level[min(max(index, 0), len(self.level) - 1)])

    def is_live(self, index: int) -> bool:
        return any(a <= index < b for a, b in self.life.live)

    def contact(self, rng: np.random.Generator, champion_bias: float = 0.5) -> Person | None:
        if not self.contacts:
            return None
        champions = [c for c in self.contacts if c.champion]
        if champions and rng.random() < champion_bias:
            return champions[0]
        return self.contacts[int(rng.integers(len(self.contacts)))]

    @property
    def first_end(self) -> date | None:
        return self.life.churns[0].ended_on if self.life.churns else None


def _choice(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    u = float(rng.random()) * sum(w for _o, w in options)
    for option, weight in options:
        u -= weight
        if u < 0:
            return option
    return options[-1][0]


def _ext(prefix: str, number: int) -> str:
    return f"{prefix}-{number:07d}"


# --- contacts -------------------------------------------------------------------------

_EMAIL_PATTERNS: tuple[Callable[[str, str], str], ...] = (
    lambda given, family: f"{given}.{family}",
    lambda given, family: f"{family}.{given}",
    lambda given, family: f"{given[0]}-{family}",
    lambda given, family: f"{family}_{given[0]}",
)


def make_contacts(
    rng: np.random.Generator, tl: Timeline, profile: Profile, domain: str, ids: Ids
) -> tuple[list[Row], list[Person]]:
    n = profile.n_contacts
    pattern = _EMAIL_PATTERNS[int(rng.integers(len(_EMAIL_PATTERNS)))]
    roles = [names.ADMINISTRATOR] if n == 1 else [names.DECISION_MAKER, names.ADMINISTRATOR]
    while len(roles) < n:
        roles.append(_choice(rng, names.OTHER_CONTACT_ROLES))
    champion = -1
    if rng.random() < 0.88:
        champion = 0 if n == 1 else (1 if rng.random() < 0.5 else int(rng.integers(1, n)))
    used: set[str] = set()
    rows: list[Row] = []
    people: list[Person] = []
    first = max(profile.started_on, tl.start - timedelta(days=400))
    for i in range(n):
        family, family_r = names.FAMILY_NAMES[int(rng.integers(len(names.FAMILY_NAMES)))]
        given, given_r = names.GIVEN_NAMES[int(rng.integers(len(names.GIVEN_NAMES)))]
        local = pattern(given_r, family_r)
        candidate, k = local, 1
        while candidate in used:
            k += 1
            candidate = f"{local}{k}"
        used.add(candidate)
        day = min(first + timedelta(days=int(rng.integers(0, 20)) if i else 0), tl.as_of - timedelta(days=1))
        created = tl.business_moment(rng, day)
        cid = ids.take("contacts")
        name = f"{family} {given}"
        rows.append({
            "id": cid, "external_id": _ext("CON", cid), "account_id": profile.id, "name": name,
            "email": f"{candidate}@{domain}", "role": roles[i], "is_champion": i == champion,
            "created_at": created, "updated_at": created,
        })  # fmt: skip
        people.append(Person(cid, name, i == champion))
    return rows, people


# --- tickets --------------------------------------------------------------------------


def make_tickets(rng: np.random.Generator, tl: Timeline, acct: AccountView, ids: Ids) -> list[Row]:
    days = acct.live_days
    if len(days) == 0:
        return []
    lvl = acct.level[days]
    rate = 0.22 * acct.profile.seats**0.3 / 30.0 * np.exp(-0.5 * lvl) * np.where(tl.weekday[days], 1.3, 0.2)
    for start in acct.life.starts:
        rate = rate * np.where((days >= start) & (days < start + 60), 1.8, 1.0)
    total = float(rate.sum())
    n = int(rng.poisson(total))
    if n == 0:
        return []
    picked = np.sort(rng.choice(len(days), size=n, p=rate / total))
    cutoff = tl.cutoff
    rows: list[Row] = []
    for pos in picked.tolist():
        index = int(days[pos])
        level = float(lvl[pos])
        opened = tl.business_moment(rng, tl.dates[index])
        priority = _choice(rng, TICKET_PRIORITIES)
        urgent = priority in ("high", "urgent")
        minutes = min(4320.0, 2.0 + rng.lognormal(math.log(25 if urgent else 90), 0.9))
        if rng.random() < TICKET_LATE_ANSWER:  # a busy week: the first answer breaches the SLA
            minutes = float(rng.uniform(1.0, 6.0)) * 1440.0
        response = opened + timedelta(seconds=int(60 * minutes))
        hours = min(720.0, rng.lognormal(math.log(5 if urgent else 20), 1.0))
        if rng.random() < 0.12:  # waiting on the customer
            hours = min(1500.0, rng.lognormal(math.log(200), 0.6))
        resolved = response + timedelta(seconds=int(3600 * hours))
        first_response: datetime | None = response
        resolved_at: datetime | None = None
        stuck = float(rng.random())
        unanswered = stuck < TICKET_UNANSWERED
        if unanswered or stuck < TICKET_UNANSWERED + TICKET_UNRESOLVED * (2.0 if level < -0.5 else 1.0):
            resolved = cutoff + timedelta(days=3650)  # never resolved (by as_of)
        if unanswered:
            response = resolved
        if resolved < cutoff:
            status = "closed" if resolved + timedelta(days=7) < cutoff else "solved"
            resolved_at = resolved
        elif response < cutoff:
            status = "pending" if rng.random() < 0.5 else "open"
        else:
            status, first_response = "open", None
        messages = 1 if first_response is None else min(15, 2 + int(rng.poisson(0.8 + 0.9 * urgent)))
        csat = None
        if resolved_at is not None and rng.random() < 0.35:
            csat = int(min(5, max(1, round(4.4 + 0.6 * level + float(rng.normal(0.0, 0.7)) - 0.3 * urgent))))
        person = acct.contact(rng, 0.3) if rng.random() < 0.92 else None
        tid = ids.take("tickets")
        rows.append({
            "id": tid, "external_id": _ext("TCK", tid), "account_id": acct.profile.id,
            "contact_id": person.id if person else None,
            "subject": names.TICKET_SUBJECTS[int(rng.integers(len(names.TICKET_SUBJECTS)))],
            "status": status, "priority": priority, "channel": _choice(rng, TICKET_CHANNELS),
            "opened_at": opened, "first_response_at": first_response, "resolved_at": resolved_at,
            "message_count": messages, "csat": csat,
            "created_at": opened, "updated_at": resolved_at or first_response or opened,
        })  # fmt: skip
    return rows


# --- surveys --------------------------------------------------------------------------


def _nps_category(score: int) -> str:
    return "promoter" if score >= 9 else ("passive" if score >= 7 else "detractor")


def make_surveys(rng: np.random.Generator, tl: Timeline, acct: AccountView, ids: Ids) -> list[Row]:
    rows: list[Row] = []
    for year in range(tl.start.year, tl.as_of.year + 1):
        for month, day in NPS_CAMPAIGNS:
            launch = date(year, month, day)
            index = tl.index(launch)
            if not (0 <= index < tl.days) or not acct.is_live(index):
                continue
            level = acct.level_on(index)
            answered = 0
            for person in acct.contacts:
                if answered >= 4 or rng.random() >= 0.3:
                    continue
                when = index + min(13, int(rng.exponential(3.0)))
                if when >= tl.days:
                    continue
                score = int(min(10, max(0, round(7.9 + 1.5 * level + float(rng.normal(0.0, 1.3))))))
                category = _nps_category(score)
                comment = None
                if rng.random() < 0.35:
                    options = names.NPS_COMMENTS[category]
                    comment = options[int(rng.integers(len(options)))]
                answered += 1
                rows.append(_survey(ids, tl, rng, acct, person, "nps", score, comment, tl.dates[when]))
                if category == "detractor":
                    acct.detractor_on = tl.dates[when]
    trained = acct.first_done.get("管理者トレーニング")
    if trained is not None and rng.random() < 0.5:
        when_day = trained + timedelta(days=int(rng.integers(1, 6)))
        if when_day < tl.as_of:
            level = acct.level_on(tl.index(when_day))
            score = int(min(5, max(1, round(4.3 + 0.5 * level + float(rng.normal(0.0, 0.7))))))
            comment = None
            if rng.random() < 0.3:
                options = names.CSAT_COMMENTS[0 if score <= 2 else (1 if score == 3 else 2)]
                comment = options[int(rng.integers(len(options)))]
            rows.append(_survey(ids, tl, rng, acct, acct.contact(rng, 0.7), "csat", score, comment, when_day))
    return rows


def _survey(ids: Ids, tl: Timeline, rng: np.random.Generator, acct: AccountView, person: Person | None,
            kind: str, score: int, comment: str | None, day: date) -> Row:  # fmt: skip
    sid = ids.take("survey_responses")
    at = tl.business_moment(rng, day)
    return {
        "id": sid, "external_id": _ext("SRV", sid), "account_id": acct.profile.id,
        "contact_id": person.id if person else None, "kind": kind, "score": score, "comment": comment,
        "answered_at": at, "created_at": at, "updated_at": at,
    }  # fmt: skip


# --- activities -----------------------------------------------------------------------


def make_activities(rng: np.random.Generator, tl: Timeline, acct: AccountView, ids: Ids) -> list[Row]:
    if acct.owner_id is None:
        return []
    tier = acct.profile.tier
    rows: list[Row] = []

    def add(kind: str, index: int, template: tuple[str, str], **extra: str) -> None:
        index = min(index, tl.days - 1)
        while not tl.weekday[index] and index + 1 < tl.days and acct.is_live(index + 1):
            index += 1
        person = acct.contact(rng, 0.6)
        contact_name = person.name if person else "ご担当者"
        at = tl.business_moment(rng, tl.dates[index])
        aid = ids.take("activities")
        rows.append({
            "id": aid, "external_id": _ext("ACT", aid), "account_id": acct.profile.id,
            "contact_id": person.id if person else None, "author_id": acct.owner_id, "kind": kind,
            "occurred_at": at, "subject": template[0],
            "summary": template[1].format(contact=contact_name, **extra),
            "created_at": at, "updated_at": at,
        })  # fmt: skip

    def pick(options: tuple[tuple[str, str], ...]) -> tuple[str, str]:
        return options[int(rng.integers(len(options)))]

    for start in acct.life.starts:
        if tier != TECH_TOUCH and start + 1 < tl.days:
            add("meeting", start + int(rng.integers(1, 8)), names.KICKOFF)
    for a, b in acct.life.live:
        for block, begin in enumerate(range(a, b, 30)):
            span = min(30, b - begin)

            def day_in_block(begin: int = begin, span: int = span) -> int:
                return begin + int(rng.integers(0, span))

            if tier == HIGH_TOUCH:
                if rng.random() < 0.85:
                    add("meeting", day_in_block(), names.QBR if block % 3 == 2 else pick(names.MEETINGS))
                counts = (int(rng.poisson(1.2)), int(rng.poisson(0.5)), int(rng.poisson(0.3)))
            elif tier == LOW_TOUCH:
                if rng.random() < 0.12:
                    add("meeting", day_in_block(), pick(names.MEETINGS))
                counts = (int(rng.poisson(0.5)), int(rng.random() < 0.25), int(rng.poisson(0.12)))
            else:
                counts = (int(rng.poisson(0.15)), 0, 0)
            for _ in range(counts[0]):
                add("email", day_in_block(), pick(names.EMAILS))
            for _ in range(counts[1]):
                add("call", day_in_block(), pick(names.CALLS))
            for _ in range(counts[2]):
                add("note", day_in_block(), pick(names.NOTES))
    for churn in acct.life.churns:
        index = tl.index(churn.notice) + int(rng.integers(1, 10))
        if 0 <= index < tl.days:
            add("call", index, names.CHURN_CALL, reason=churn.reason)
    rows.sort(key=lambda r: (r["occurred_at"], r["id"]))
    for row, aid in zip(rows, sorted(r["id"] for r in rows), strict=True):
        row["id"], row["external_id"] = aid, _ext("ACT", aid)
    return rows


# --- onboarding, goals and tasks --------------------------------------------------------


def make_milestones(rng: np.random.Generator, tl: Timeline, acct: AccountView, ids: Ids) -> list[Row]:
    if acct.life.outcome == "expired":
        return []
    steps = list(names.ONBOARDING_STEPS)
    tier = acct.profile.tier
    if tier == TECH_TOUCH:
        steps = steps[1:4]
    elif tier == LOW_TOUCH:
        steps = steps[:4]
    start = acct.profile.started_on
    end = acct.first_end
    level = acct.level_on(tl.index(start) + 90)  # engagement once the ramp-up is over
    created = tl.business_moment(rng, start)
    previous = start
    stalled = False
    rows: list[Row] = []
    for position, (name, offset) in enumerate(steps, start=1):
        due = start + timedelta(days=offset)
        completed: datetime | None = None
        if not stalled and rng.random() < 1.0 / (1.0 + math.exp(3.2 + 1.3 * level)):
            stalled = True
        if not stalled:
            delay = float(rng.normal(-1.0 - 2.0 * level, 5.0 + 3.0 * max(0.0, -level)))
            done = max(previous, start + timedelta(days=1), due + timedelta(days=round(delay)))
            if done < tl.as_of and (end is None or done < end):
                completed = tl.business_moment(rng, done)
                previous = done
                acct.first_done[name] = done
            else:
                stalled = True
        mid = ids.take("onboarding_milestones")
        rows.append({
            "id": mid, "external_id": _ext("ONB", mid), "account_id": acct.profile.id, "name": name,
            "position": position, "due_on": due, "completed_at": completed,
            "created_at": created, "updated_at": completed or created,
        })  # fmt: skip
    return rows


def make_goals(rng: np.random.Generator, tl: Timeline, acct: AccountView, ids: Ids) -> list[Row]:
    tier = acct.profile.tier
    if acct.life.outcome in ("expired", "trial") or tier == TECH_TOUCH:
        return []
    if tier == HIGH_TOUCH:
        count = int(rng.integers(2, 4))
    elif rng.random() < 0.35:
        count = 1
    else:
        return []
    picks = rng.choice(len(names.GOALS), size=count, replace=False)
    begin = max(acct.profile.started_on, tl.start - timedelta(days=120))
    end = acct.first_end
    rows: list[Row] = []
    for goal in sorted(picks.tolist()):
        title, metric, baseline, target = names.GOALS[goal]
        set_on = begin + timedelta(days=int(rng.integers(20, 90)))
        if set_on >= tl.as_of:
            continue
        due = set_on + timedelta(days=int(rng.choice([180, 270, 365])))
        seen = min(tl.as_of, end) if end else tl.as_of
        elapsed = max(0.0, min(1.5, (seen - set_on).days / (due - set_on).days))
        level = acct.level_on(tl.index(seen) - 1)
        progress = max(0.0, min(1.2, elapsed * (0.9 + 0.5 * level) + float(rng.normal(0.0, 0.1))))
        current: float | None = round(baseline + progress * (target - baseline), 1)
        if progress >= 1.0:
            status = "achieved"
        elif due < tl.as_of or end is not None:
            status = "missed"
        elif elapsed < 0.15 and progress < 0.1:
            status, current = "not_started", None
        elif progress >= elapsed - 0.15:
            status = "on_track"
        else:
            status = "at_risk"
        created = tl.business_moment(rng, set_on)
        gid = ids.take("success_goals")
        rows.append({
            "id": gid, "external_id": _ext("GOL", gid), "account_id": acct.profile.id, "title": title,
            "metric": metric, "baseline_value": baseline, "target_value": target, "current_value": current,
            "due_on": due, "status": status, "created_at": created, "updated_at": created,
        })  # fmt: skip
    return rows


def task_row(ids: Ids, tl: Timeline, rng: np.random.Generator, account_id: int | None, assignee: int | None,
             template: tuple[str, str], priority: str, due: date, status: str) -> Row:  # fmt: skip
    """A task; done ones were finished around their due date, before as_of."""
    created_day = min(due - timedelta(days=int(rng.integers(5, 21))), tl.as_of - timedelta(days=1))
    created = tl.business_moment(rng, created_day)
    completed: datetime | None = None
    if status == "done":
        finished = min(due + timedelta(days=int(rng.integers(-6, 3))), tl.as_of - timedelta(days=1))
        completed = max(created, tl.business_moment(rng, max(finished, created_day)))
    tid = ids.take("tasks")
    return {
        "id": tid, "external_id": _ext("TSK", tid), "account_id": account_id, "assignee_id": assignee,
        "title": template[0], "description": template[1], "priority": priority, "status": status,
        "due_on": due, "completed_at": completed, "source": "manual",
        "created_at": created, "updated_at": completed or created,
    }  # fmt: skip


def make_tasks(rng: np.random.Generator, tl: Timeline, acct: AccountView, ids: Ids) -> list[Row]:
    owner = acct.owner_id
    if owner is None:
        return []
    rows: list[Row] = []
    recent = acct.live_days[acct.live_days >= tl.days - 180]
    for _ in range(int(rng.poisson(0.25 * len(recent) / 30.0))):
        due = tl.dates[int(recent[int(rng.integers(len(recent)))])]
        template = names.TASK_GENERAL[int(rng.integers(len(names.TASK_GENERAL)))]
        status = "done" if rng.random() < 0.85 else "canceled"
        rows.append(task_row(ids, tl, rng, acct.profile.id, owner, template, "normal", due, status))
    life = acct.life
    if life.outcome not in ("active", "trial", "leaving"):
        rows.sort(key=lambda r: r["id"])
        return rows
    as_of = tl.as_of
    tier = acct.profile.tier

    def soon(lo: int, hi: int) -> date:
        return as_of + timedelta(days=int(rng.integers(lo, hi)))

    if life.renewal is not None and (life.renewal - as_of).days <= 75 and life.outcome == "active":
        due = life.renewal - timedelta(days=30)
        status = "done" if due < as_of - timedelta(days=7) and rng.random() < 0.7 else "open"
        rows.append(task_row(ids, tl, rng, acct.profile.id, owner, names.TASK_RENEWAL,
                             "high" if tier == HIGH_TOUCH else "normal", due, status))  # fmt: skip
    if life.outcome == "leaving" or acct.level_on(tl.days - 1) < -0.8:
        rows.append(task_row(ids, tl, rng, acct.profile.id, owner, names.TASK_DECLINE, "high", soon(-4, 6), "open"))
    if life.starts and tl.days - life.starts[-1] <= 75:
        due = tl.day(life.starts[-1] + 30)
        rows.append(task_row(ids, tl, rng, acct.profile.id, owner, names.TASK_ONBOARDING, "normal", due, "open"))
    if tier == HIGH_TOUCH and rng.random() < 0.5:
        rows.append(task_row(ids, tl, rng, acct.profile.id, owner, names.TASK_QBR, "normal", soon(5, 40), "open"))
    if acct.detractor_on is not None and (as_of - acct.detractor_on).days <= 90:
        status = "done" if rng.random() < 0.5 else "open"
        due = acct.detractor_on + timedelta(days=14)
        rows.append(task_row(ids, tl, rng, acct.profile.id, owner, names.TASK_DETRACTOR, "high", due, status))
    if life.rank < TOP_RANK and acct.level_on(tl.days - 1) > 1.0 and rng.random() < 0.3:
        rows.append(task_row(ids, tl, rng, acct.profile.id, owner, names.TASK_UPSELL, "low", soon(7, 45), "open"))
    return rows
