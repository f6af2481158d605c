"""The demo's playbooks: the default library, and a history in which the risk playbooks
ran — with an effect the simulator knows, so that the effect page can be checked against it.

The experiment, per account of the history:

- **Entering.** At the first renewal decision (the day a customer would give notice) whose
  engagement is below :data:`AT_RISK_LEVEL`, :data:`LEAD_DAYS` before it, the account enters
  the risk playbook of its touch tier (``risk-high``, ``risk-low``, ``risk-tech``), once.
- **Holdout.** Drawn as the daily job draws it (:func:`kizuna.domain.playbooks.holdout_draw`),
  with the demo's share :data:`DEMO_HOLDOUT`: held-out accounts get nothing.
- **The effect.** For a treated account, the chance of leaving at each renewal decision
  within :data:`HORIZON_DAYS` of entering is cut by :data:`CUT` (70 %). Held-out accounts
  are untouched.
- **The truth.** Each entering account is simulated in both worlds, from the same random
  state: treated and not. Its outcome in each (churned within the horizon, as the effect
  page counts it) is known, so the true effect — the mean of (treated − untreated) over the
  runs old enough to be judged — is exact, not an estimate (:class:`TrueEffect`).

The account's own random stream continues from the world it lives in, so the rest of its
history (usage, tickets…) follows from that world. Nothing else of the demo changes.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

import numpy as np

from kizuna.db import Session
from kizuna.db.bulk import insert_many
from kizuna.demo.lifecycle import HIGH_TOUCH, LOW_TOUCH, TECH_TOUCH, Engagement, Life, Profile, simulate
from kizuna.demo.timeline import Timeline
from kizuna.domain.playbooks import holdout_draw, parse_playbooks
from kizuna.i18n import _

#: The risk playbook of each touch tier (keys of the default library).
RISK_KEYS = {HIGH_TOUCH: "risk-high", LOW_TOUCH: "risk-low", TECH_TOUCH: "risk-tech"}
#: Engagement at a renewal decision below which the account counts as at risk.
AT_RISK_LEVEL = -0.3
#: Entering this many days before the renewal decision (when the risk shows).
LEAD_DAYS = 14
#: The simulated effect: a treated account's chance of leaving at a decision in the horizon × (1 − CUT).
CUT = 0.7
#: The demo's risk playbooks hold out this share (the library's 10 % would leave too few to compare
#: in two years of history; a lead who wants to learn fast does the same).
DEMO_HOLDOUT = 0.3
HORIZON_DAYS = 90

Row = dict[str, Any]


def library() -> tuple[str, dict[str, Any]]:
    """The default library's text and its tables by key."""
    text = resources.files("kizuna.services").joinpath("playbook_library/default.toml").read_text(encoding="utf-8")
    return text, tomllib.loads(text)["playbooks"]


_TEXT, _TABLES = library()
_BOOKS = {b.key: b for b in parse_playbooks(_TEXT, "default.toml")}


@dataclass(frozen=True)
class Run:
    """One account's run through a risk playbook, with its outcome in both worlds."""

    key: str
    account_id: int
    entered_on: date
    holdout: bool
    churned_if_treated: bool
    churned_if_not: bool


@dataclass(frozen=True)
class TrueEffect:
    """What the simulator knows: over the runs judged (entered by ``as_of`` − horizon), the
    churn within the horizon in both worlds, and their difference (treated − not)."""

    key: str
    runs: int
    treated_churn: float | None
    untreated_churn: float | None
    effect: float | None


def _churned_within(life: Life, start: date, end: date) -> bool:
    """As the effect page counts it: the account ended churned, on a day within [start, end]."""
    return life.outcome == "churned" and bool(life.churns) and start <= life.churns[-1].ended_on <= end


def live(rng: np.random.Generator, tl: Timeline, profile: Profile, eng: Engagement) -> tuple[Life, list[Run]]:
    """The account's life, with the risk playbook's effect when it entered and was treated."""
    begin = rng.bit_generator.state
    decisions: list[tuple[date, float]] = []

    def record(notice: date, level: float, chance: float) -> float:
        decisions.append((notice, level))
        return chance

    untreated = simulate(rng, tl, profile, eng, adjust=record)
    after_untreated = rng.bit_generator.state
    key = RISK_KEYS.get(profile.tier)
    entry = next((n for n, level in decisions if level < AT_RISK_LEVEL and n - timedelta(days=LEAD_DAYS) >= tl.start),
                 None) if key else None  # fmt: skip
    if entry is None or key is None:
        return untreated, []
    entered = entry - timedelta(days=LEAD_DAYS)
    end = entered + timedelta(days=HORIZON_DAYS)

    def treat(notice: date, level: float, chance: float) -> float:
        return chance * (1.0 - CUT) if entered <= notice <= end else chance

    rng.bit_generator.state = begin
    treated = simulate(rng, tl, profile, eng, adjust=treat)
    held = holdout_draw(key, profile.id) < DEMO_HOLDOUT
    run = Run(key, profile.id, entered, held, _churned_within(treated, entered, end),
              _churned_within(untreated, entered, end))  # fmt: skip
    if held:
        rng.bit_generator.state = after_untreated
        return untreated, [run]
    return treated, [run]


def write(session: Session, tl: Timeline, runs: list[Run], *, enabled: bool = False, seed: int = 42,
          tech: set[int] | None = None) -> tuple[TrueEffect, ...]:  # fmt: skip
    """The default library as version 1 of each playbook — active with ``enabled``, else paused
    (a store made for a test sends nothing) — the risk playbooks' runs, the onboarding templates,
    the knowledge base and the article playbook's history (:func:`write_kb`)."""
    saved = tl.moment(tl.start, 10 * 3600)
    tables = {key: {**table, "enabled": enabled, **({"holdout": DEMO_HOLDOUT} if key in RISK_KEYS.values() else {})}
              for key, table in _TABLES.items()}  # fmt: skip
    insert_many(session, "playbook_versions", [
        {"key": key, "version": 1, "name": _BOOKS[key].name, "created_at": saved, "created_by_id": None,
         "definition": json.dumps(table, ensure_ascii=False, sort_keys=True, default=str),
         "note": "kizuna demo"} for key, table in tables.items()
    ])  # fmt: skip
    # the NPS survey the library's survey-nps playbook sends (issue 17)
    insert_many(session, "survey_programmes", [{"key": "nps", "name": "NPS", "kind": "nps", "question_ja": None,
                                                "question_en": None, "created_at": saved, "updated_at": saved}])  # fmt: skip
    rows: list[Row] = []
    for r in runs:
        end = r.entered_on + timedelta(days=HORIZON_DAYS)
        day = r.entered_on.isoformat()
        if r.holdout:
            finished = end if end < tl.as_of else None
            log = f"{day} {_('held out: nothing is done, to compare')}\n"
            rows.append(_run_row(r, "holdout", 0, finished, log))
        else:
            step = _BOOKS[r.key].steps[0]
            what = _("task “{title}”").format(title=step.params["title"]) if step.kind == "task" else _(
                "email “{subject}”").format(subject=step.params.get("subject", ""))  # fmt: skip
            log = f"{day} {_('entered')}\n{day} {what}\n{day} {_('completed')}\n"
            rows.append(_run_row(r, "completed", len(_BOOKS[r.key].steps), r.entered_on, log))
    insert_many(session, "playbook_enrollments", rows)
    write_kb(session, tl, np.random.default_rng([seed, KB_STREAM]), tech or set())
    return truth(runs, tl.as_of)


# --- issue 17: onboarding templates by tier, the knowledge base, and the article playbook's history ---

#: The demo's own files: onboarding templates per tier and knowledge-base articles (ja/en).
DEMO_KB = "demo_kb"
#: A random stream of its own (who opened an emailed link, when), so nothing else of the demo moves.
KB_STREAM = 17
KB_KEY = "kb-tech"
#: The share of sent contacts who open a link, and of those who open it again.
KB_OPEN, KB_AGAIN = 0.45, 0.3


def write_kb(session: Session, tl: Timeline, rng: np.random.Generator, tech: set[int]) -> None:
    """The onboarding templates (one per touch tier), the articles with their search index,
    and the history of the library's ``kb-tech`` playbook: each tech-touch account that became a
    customer within the history entered it that day; its holdout (drawn as the daily job draws it)
    got nothing, the others' contacts were sent the articles (their language's version) and some
    opened the links. The articles have no simulated effect on tickets: the deflection the KPI
    page shows should hold 0 in its interval."""
    from kizuna.db.queries import kb as kb_queries
    from kizuna.domain.kb import bigrams, candidate_slugs, parse_article, pick_version
    from kizuna.domain.onboarding import parse_templates_toml

    saved = tl.moment(tl.start, 10 * 3600)
    files = resources.files("kizuna").joinpath(DEMO_KB)
    templates = parse_templates_toml(files.joinpath("onboarding.toml").read_text(encoding="utf-8"), "onboarding.toml")
    insert_many(session, "onboarding_templates", [
        {"key": t.key, "name": t.name, "tier": t.tier, "milestones": t.as_table()["milestones"], "created_at": saved,
         "updated_at": saved} for t in templates])  # fmt: skip
    articles = [parse_article(f.read_text(encoding="utf-8"), f.name)
                for f in sorted(files.iterdir(), key=lambda f: f.name) if f.name.endswith(".md")]  # fmt: skip
    for a in articles:
        kb_queries.save(session, None, {"slug": a.slug, "language": a.language, "title": a.title,
                                        "category": a.category, "body": a.body, "source": f"{a.slug}.md"},
                        bigrams(a.title + "\n" + a.body))  # fmt: skip
    book = _BOOKS[KB_KEY]
    slugs = book.steps[0].params["articles"]
    found = kb_queries.versions(session, candidate_slugs(slugs))
    enrollments: list[Row] = []
    sends: list[Row] = []
    for account, contacts in kb_queries.accounts_with_contacts(session, sorted(tech)):
        day = account.customer_since
        if day is None or not tl.start <= day < tl.as_of or (account.churned_on is not None and account.churned_on <= day):
            continue
        held = holdout_draw(KB_KEY, int(account.id)) < book.holdout
        stamp = day.isoformat()
        if held:
            log = f"{stamp} {_('held out: nothing is done, to compare')}\n"
            end = day + timedelta(days=book.trigger.params["days"] + 1)  # the trigger clears: the run ends
            enrollments.append({"playbook_key": KB_KEY, "version": 1, "account_id": int(account.id), "state": "holdout",
                                "holdout": True, "entered_on": day, "step": 0, "next_on": None,
                                "finished_on": end if end < tl.as_of else None, "log": log})  # fmt: skip
            continue
        sent_at = tl.moment(day, 10 * 3600)
        lines = [f"{stamp} {_('entered')}"]
        for c in contacts:
            if c.unsubscribed_at is not None:
                continue
            lang = c.language if c.language in ("ja", "en") else "ja"
            chosen = [v for v in (pick_version(found, s, lang) for s in slugs) if v is not None]
            sends += [{"article_id": int(v.id), "account_id": int(account.id), "contact_id": int(c.id),
                       "playbook_key": KB_KEY, "enrollment_id": None, "sent_at": sent_at} for v in chosen]  # fmt: skip
            lines.append(f"{stamp} " + _("articles {slugs} to {email}").format(
                slugs=", ".join(v.slug for v in chosen), email=f"#{c.id}"))  # fmt: skip
        lines.append(f"{stamp} {_('completed')}")
        enrollments.append({"playbook_key": KB_KEY, "version": 1, "account_id": int(account.id), "state": "completed",
                            "holdout": False, "entered_on": day, "step": 1, "next_on": None, "finished_on": day,
                            "log": "\n".join(lines) + "\n"})  # fmt: skip
    insert_many(session, "playbook_enrollments", enrollments)
    insert_many(session, "kb_sends", sends)
    ids = kb_queries.send_ids(session, KB_KEY)
    cutoff = tl.moment(tl.as_of, 0)
    views: list[Row] = []
    for send_id, sent_at in ids:
        if rng.random() >= KB_OPEN:
            continue
        for _again in range(1 + int(rng.random() < KB_AGAIN)):
            at = sent_at + timedelta(seconds=int(rng.integers(600, 5 * 86400)))
            if at < cutoff:
                views.append({"send_id": send_id, "viewed_at": at})
    insert_many(session, "kb_views", views)


def _run_row(r: Run, state: str, step: int, finished: date | None, log: str) -> Row:
    return {"playbook_key": r.key, "version": 1, "account_id": r.account_id, "state": state, "holdout": r.holdout,
            "entered_on": r.entered_on, "step": step, "next_on": None, "finished_on": finished, "log": log}  # fmt: skip


def truth(runs: list[Run], as_of: date) -> tuple[TrueEffect, ...]:
    """The true effect per risk playbook over the runs the effect page judges on ``as_of``."""
    out = []
    for key in RISK_KEYS.values():
        judged = [r for r in runs if r.key == key and r.entered_on <= as_of - timedelta(days=HORIZON_DAYS)]
        if not judged:
            out.append(TrueEffect(key, 0, None, None, None))
            continue
        t = sum(r.churned_if_treated for r in judged) / len(judged)
        u = sum(r.churned_if_not for r in judged) / len(judged)
        out.append(TrueEffect(key, len(judged), t, u, t - u))
    return tuple(out)
