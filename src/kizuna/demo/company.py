"""The demo company: a Japanese B2B SaaS vendor, its CS team and its customers.

:func:`generate` decides every account's size, plan and arrival up front (small
arrays), then simulates the accounts in chunks, writing each chunk's rows before the
next: memory stays flat however many accounts are asked for. Each account draws from
its own random stream (``seed``, stream, account number), so the result depends only
on the inputs, never on the chunk size, the clock or the order of a set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

import numpy as np

from kizuna.db import Session
from kizuna.db.bulk import insert_many, reset_sequences
from kizuna.demo import names
from kizuna.demo import playbooks as demo_playbooks
from kizuna.demo.catalogue import API_ADDON, PLAN_BY_RANK, PLANS, product_rows
from kizuna.demo.lifecycle import (
    HIGH_TOUCH,
    LOW_TOUCH,
    TECH_TOUCH,
    Engagement,
    Line,
    Profile,
    daily_level,
    draw_dips,
    draw_survivor,
)
from kizuna.demo.timeline import Timeline
from kizuna.demo.touches import (
    AccountView,
    Ids,
    Row,
    make_activities,
    make_contacts,
    make_goals,
    make_milestones,
    make_surveys,
    make_tasks,
    make_tickets,
    task_row,
)
from kizuna.demo.usage import event_rows, feature_rates, rollup_rows, simulate_usage
from kizuna.domain.enums import SubscriptionStatus
from kizuna.domain.subscriptions import AccountSummary, summarize, term_months
from kizuna.domain.subscriptions import Line as EarningLine

ProgressCallback = Callable[[str, int, int], None]

STAGE_SETUP = "setup"
STAGE_ACCOUNTS = "accounts"
STAGE_FINISH = "finish"

VENDOR_DOMAIN = "kizuna-demo.example"
CHUNK_ACCOUNTS = 50
USAGE_BATCH = 50_000
EVENT_BATCH = 20_000
PREEXISTING_SHARE = 0.2
ACCOUNTS_PER_CSM = 60

# Streams of random numbers: one for the company, one per account and purpose.
_COMPANY, _ACCOUNT, _USAGE, _SURVIVOR = 0, 1, 2, 3

#: Tables in the order rows must be written (references first).
TABLES: tuple[str, ...] = (
    "users", "products", "accounts", "contacts", "subscriptions", "usage_events", "usage_daily",
    "tickets", "survey_responses", "activities", "onboarding_milestones", "success_goals", "tasks",
)  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    """What a run wrote: rows per table, and the company's MRR on ``as_of``."""

    as_of: date
    start: date
    seed: int
    users: int
    products: int
    accounts: int
    contacts: int
    subscriptions: int
    usage_events: int
    usage_daily: int
    tickets: int
    survey_responses: int
    activities: int
    onboarding_milestones: int
    success_goals: int
    tasks: int
    mrr: int  # yen earned per month by the lines active on as_of
    paying_accounts: int
    playbooks: tuple[demo_playbooks.TrueEffect, ...] = ()  # the risk playbooks' true (simulated) effects

    @property
    def counts(self) -> dict[str, int]:
        """Rows written per table, in load order."""
        return {name: getattr(self, name) for name in TABLES}

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


# --- the roster: every account's static facts -------------------------------------------


@dataclass
class Roster:
    profiles: list[Profile]
    names: list[str]
    domains: list[str]
    industries: list[str]
    employees: list[int]
    custom: list[dict[str, str]]
    parents: list[int]  # account index, or -1
    owners: list[int | None]


def _weighted(rng: np.random.Generator, options: tuple[tuple[Any, ...], ...], weight_at: int, n: int) -> np.ndarray:
    weights = np.array([o[weight_at] for o in options], dtype=np.float64)
    return rng.choice(len(options), size=n, p=weights / weights.sum())


def _arrivals(rng: np.random.Generator, tl: Timeline, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Start day of each account (negative: a customer from before the history), sorted.
    New customers arrive faster as the company grows (×3 over two years)."""
    pre = rng.random(n) < PREEXISTING_SHARE
    growth = math.log(3.0) * max(tl.days, 1) / 730.0
    u = rng.random(n)
    day = np.floor(np.log1p(u * math.expm1(growth)) / growth * tl.days).astype(np.int64)
    day = np.minimum(day, max(tl.days - 1, 0))
    day = np.where(pre, -rng.integers(30, 1100, n), day)
    order = np.argsort(day, kind="stable")
    return day[order], pre[order]


def _plan_for(rng: np.random.Generator, seats: np.ndarray) -> np.ndarray:
    r = rng.random(len(seats))
    rank = np.where(seats <= 5, 1, 0)
    rank = np.where((seats > 5) & (seats <= 30), np.where(r < 0.85, 2, 3), rank)
    rank = np.where((seats > 30) & (seats <= 150), np.where(r < 0.3, 2, np.where(r < 0.93, 3, 4)), rank)
    return np.where(seats > 150, np.where(r < 0.35, 3, 4), rank)


_LEGAL_FORMS: tuple[tuple[str, bool, float], ...] = (
    ("株式会社", True, 55), ("株式会社", False, 30), ("合同会社", True, 8), ("有限会社", True, 7),
)  # fmt: skip


def company_name(
    rng: np.random.Generator, industry: str, used_names: set[str], used_domains: set[str], parent_stem: int
) -> tuple[str, str, int]:
    """A new, unique Japanese company name with its domain; ``parent_stem`` (or -1)
    makes a subsidiary share its parent's stem (e.g. さくら商事 → さくらロジスティクス)."""
    words = names.INDUSTRY_WORDS[industry]
    stems, places = names.COMPANY_STEMS, names.PLACE_PREFIXES
    for attempt in range(40):
        s = parent_stem if parent_stem >= 0 and attempt < 8 else int(rng.integers(len(stems)))
        stem, stem_r = stems[s]
        place, place_r = places[int(rng.integers(len(places)))] if attempt >= 4 else ("", "")
        word, word_r = words[int(rng.integers(len(words)))]
        u = float(rng.random())
        if industry == "医療・福祉" and u < 0.2:
            name, slug, tld = f"医療法人社団{place}{stem}会", (place_r, stem_r, "kai"), ".or.jp"
        elif industry == "教育" and u < 0.15:
            name, slug, tld = f"学校法人{place}{stem}学園", (place_r, stem_r, "gakuen"), ".ac.jp"
        else:
            form, prefix, _w = _LEGAL_FORMS[int(_weighted(rng, _LEGAL_FORMS, 2, 1)[0])]
            core = f"{place}{stem}{word}"
            name = f"{form}{core}" if prefix else f"{core}{form}"
            slug = (place_r, stem_r, word_r)
            v = float(rng.random())
            if form == "合同会社":
                tld = ".jp" if v < 0.5 else ".com"
            else:
                tld = ".co.jp" if v < 0.8 else (".jp" if v < 0.88 else ".com")
        # Under the reserved .example TLD (RFC 2606): demo contacts' addresses can never
        # reach a real company, whatever a playbook sends.
        domain = "-".join(part for part in slug if part) + tld + ".example"
        if name not in used_names and domain not in used_domains:
            used_names.add(name)
            used_domains.add(domain)
            return name, domain, s
    # Practically unreachable: number the name to keep it unique.
    k = len(used_names) + 1
    stem, stem_r = stems[int(rng.integers(len(stems)))]
    name, domain = f"株式会社{stem}{k}", f"{stem_r}{k}.co.jp.example"
    used_names.add(name)
    used_domains.add(domain)
    return name, domain, -1


def plan_roster(rng: np.random.Generator, tl: Timeline, n: int, csm_ids: Callable[[int], list[int]]) -> Roster:
    """Every account's start, size, plan, touch tier, owner, parent and name."""
    day, pre = _arrivals(rng, tl, n)
    employees = np.clip(np.round(np.exp(rng.normal(math.log(40.0), 1.5, n))), 2, 200_000).astype(np.int64)
    seats = np.maximum(1, np.round(employees**0.85 * rng.uniform(0.15, 0.5, n))).astype(np.int64)
    rank = _plan_for(rng, seats)
    lo = np.array([0] + [PLAN_BY_RANK[r].min_seats for r in range(1, 5)])
    hi = np.array([0] + [PLAN_BY_RANK[r].max_seats for r in range(1, 5)])
    seats = np.clip(seats, lo[rank], hi[rank])
    annual = rng.random(n) < np.array([0, 0.1, 0.3, 0.6, 0.95])[rank]
    discount = np.where(annual, 0.1 + np.where(rank == 4, rng.uniform(0, 0.15, n), 0.0), 0.0)
    trial = (~pre) & (rng.random(n) < np.array([0, 0.45, 0.4, 0.25, 0.05])[rank])
    trial_days = np.where(trial, np.where(rng.random(n) < 0.7, 14, 30), 0)
    fit = rng.normal(0.0, 1.0, n)
    contacts = np.round(1 + 1.9 * seats**0.45 * rng.uniform(0.7, 1.3, n)).astype(np.int64)
    contacts = np.clip(contacts, 1, np.minimum(20, seats))
    monthly = np.array([PLAN_BY_RANK[int(r)].amount(int(s)) for r, s in zip(rank, seats, strict=True)])
    tier = np.where(rank == 4, HIGH_TOUCH, np.where(rank == 3, np.where(monthly >= 250_000, HIGH_TOUCH, LOW_TOUCH),
                    np.where(rank == 2, LOW_TOUCH, TECH_TOUCH)))  # fmt: skip
    owned = (tier != TECH_TOUCH) | (rng.random(n) < 0.1)
    csms = csm_ids(max(3, round(int((tier != TECH_TOUCH).sum()) / ACCOUNTS_PER_CSM)))
    owner_pick = rng.integers(0, len(csms), n)
    industry = _weighted(rng, names.INDUSTRIES, 1, n)
    prefecture = _weighted(rng, names.PREFECTURES, 2, n)
    source = _weighted(rng, names.LEAD_SOURCES, 1, n)
    child = rng.random(n) < 0.015
    parent_pick = rng.random(n)
    # Tracked users: most seats have a user who signs in (55–95%), never fewer than the
    # contacts CS knows by name; a large account has hundreds.
    users = np.maximum(contacts, np.round(seats * rng.uniform(0.55, 0.95, n))).astype(np.int64)

    roster = Roster([], [], [], [], employees.tolist(), [], [], [])
    used_names: set[str] = set()
    used_domains: set[str] = set()
    stems: list[int] = []
    big: list[int] = []  # earlier accounts that can have subsidiaries
    for i in range(n):
        parent = -1
        if child[i] and big:
            parent = big[int(parent_pick[i] * len(big))]
        ind = names.INDUSTRIES[int(industry[i])][0]
        if parent >= 0 and parent_pick[i] < 0.5:
            ind = roster.industries[parent]
        name, domain, stem = company_name(rng, ind, used_names, used_domains, stems[parent] if parent >= 0 else -1)
        stems.append(stem)
        owner = csms[int(owner_pick[i])] if owned[i] else None
        if parent >= 0 and roster.owners[parent] is not None and owned[i]:
            owner = roster.owners[parent]
        started = tl.day(int(day[i]))
        roster.profiles.append(Profile(
            index=i, id=i + 1, started_on=started, preexisting=bool(pre[i]), seats=int(seats[i]),
            rank=int(rank[i]), annual=bool(annual[i]), discount=float(discount[i]),
            trial_days=int(trial_days[i]), tier=int(tier[i]), fit=float(fit[i]), n_contacts=int(contacts[i]),
            n_users=int(users[i]),
        ))  # fmt: skip
        pref, region, _w = names.PREFECTURES[int(prefecture[i])]
        roster.custom.append({"prefecture": pref, "region": region, "source": names.LEAD_SOURCES[int(source[i])][0]})
        roster.names.append(name)
        roster.domains.append(domain)
        roster.industries.append(ind)
        roster.parents.append(parent)
        roster.owners.append(owner)
        if rank[i] >= 3 and parent < 0:
            big.append(i)
    return roster


# --- the CS team ----------------------------------------------------------------------


class Team:
    """The vendor's users: 1 admin, 2–3 leads, the CSMs, 2 viewers."""

    def __init__(self, rng: np.random.Generator, tl: Timeline) -> None:
        self.rng = rng
        self.tl = tl
        self.rows: list[Row] = []
        self.csm_ids: list[int] = []
        self._emails: set[str] = set()

    def _person(self, role: str) -> int:
        rng, tl = self.rng, self.tl
        family, family_r = names.FAMILY_NAMES[int(rng.integers(len(names.FAMILY_NAMES)))]
        given, given_r = names.GIVEN_NAMES[int(rng.integers(len(names.GIVEN_NAMES)))]
        local = f"{given_r[0]}.{family_r}"
        if local in self._emails:
            local = f"{given_r}.{family_r}"
        candidate, k = local, 1
        while candidate in self._emails:
            k += 1
            candidate = f"{local}{k}"
        self._emails.add(candidate)
        uid = len(self.rows) + 1
        joined = tl.business_moment(rng, tl.start - timedelta(days=int(rng.integers(30, 700))))
        self.rows.append({
            "id": uid, "email": f"{candidate}@{VENDOR_DOMAIN}", "name": f"{family} {given}", "role": role,
            "locale": "en" if rng.random() < 0.15 else "ja", "password_hash": None, "is_active": True,
            "last_login_at": tl.cutoff - timedelta(seconds=int(rng.integers(3600, 4 * 86_400))),
            "created_at": joined, "updated_at": joined,
        })  # fmt: skip
        return uid

    def build(self, n_csm: int) -> list[int]:
        self._person("admin")
        for _ in range(2 if n_csm < 8 else 3):
            self._person("lead")
        self.csm_ids = [self._person("csm") for _ in range(n_csm)]
        for _ in range(2):
            self._person("viewer")
        if all(row["locale"] == "ja" for row in self.rows):
            self.rows[-1]["locale"] = "en"  # the team always has an English speaker
        return self.csm_ids


# --- one account ----------------------------------------------------------------------


@dataclass
class _Batch:
    """Rows of one chunk of accounts, per table, and the chunk's MRR on as_of."""

    rows: dict[str, list[Row]]
    mrr: int = 0
    paying: int = 0
    runs: list[demo_playbooks.Run] = field(default_factory=list)

    @classmethod
    def empty(cls) -> _Batch:
        return cls({name: [] for name in TABLES})


def _subscription_rows(
    tl: Timeline, rng: np.random.Generator, account_id: int, lines: list[Line], ids: Ids
) -> list[Row]:
    rows: list[Row] = []
    for line in lines:
        sid = ids.take("subscriptions")
        created = tl.business_moment(rng, line.started_on)
        updated = created
        if line.trial_ends_on is not None and line.status != "trial" and line.trial_ends_on < tl.as_of:
            updated = max(updated, tl.moment(line.trial_ends_on, 9 * 3600))
        if line.canceled_at is not None:
            updated = max(updated, line.canceled_at)
        rows.append({
            "id": sid, "external_id": f"SUB-{sid:07d}", "account_id": account_id, "product_id": line.product_id,
            "quantity": line.quantity, "monthly_amount": line.amount, "currency": "JPY",
            "billing_interval": line.interval, "status": line.status, "started_on": line.started_on,
            "trial_ends_on": line.trial_ends_on, "current_term_end": line.term_end(tl.as_of),
            "canceled_at": line.canceled_at, "ended_on": line.ended_on, "cancel_reason": line.cancel_reason,
            "created_at": created, "updated_at": updated,
        })  # fmt: skip
    return rows


def _summary(tl: Timeline, subscription_rows: list[Row]) -> AccountSummary:
    """The account's status, MRR, plan and renewal on as_of, by the pipeline's rule."""
    plan_ids = {p.id for p in PLANS}
    lines = [
        EarningLine(
            r["product_id"], SubscriptionStatus(r["status"]), r["monthly_amount"], r["currency"], r["started_on"],
            r["trial_ends_on"], r["ended_on"], r["current_term_end"], r["product_id"] in plan_ids,
            term_months(None, r["billing_interval"]),
        )
        for r in subscription_rows
    ]  # fmt: skip
    return summarize(lines, tl.as_of)


def _account(seed: int, tl: Timeline, roster: Roster, i: int, ids: Ids, batch: _Batch) -> AccountSummary:
    profile = roster.profiles[i]
    rng = np.random.default_rng([seed, _ACCOUNT, i])
    eng = Engagement.draw(rng, tl, profile.fit)
    if profile.preexisting:  # a survivor of the churns before the history (its own stream)
        profile, eng = draw_survivor(np.random.default_rng([seed, _SURVIVOR, i]), tl, profile, eng)
    life, runs = demo_playbooks.live(rng, tl, profile, eng)  # simulate(), with the risk playbooks' effect
    batch.runs += runs
    ramps = [int(rng.integers(25, 70)) for _ in life.starts]
    level = daily_level(tl, eng, life, ramps, draw_dips(rng, tl, life))
    created = tl.business_moment(rng, profile.started_on)
    parent = roster.parents[i]
    out = batch.rows
    contact_rows, people = make_contacts(rng, tl, profile, roster.domains[i], ids)
    subscription_rows = _subscription_rows(tl, rng, profile.id, life.lines, ids)
    summary = _summary(tl, subscription_rows)
    out["accounts"].append({
        "id": profile.id, "external_id": f"ACC-{profile.id:06d}", "name": roster.names[i],
        "domain": roster.domains[i], "industry": roster.industries[i], "employee_count": roster.employees[i],
        "owner_id": roster.owners[i], "parent_id": parent + 1 if parent >= 0 else None,
        "custom_fields": roster.custom[i], "created_at": created, "updated_at": created,
        "status": summary.status.value, "mrr": summary.mrr, "currency": summary.currency,
        "plan_id": summary.plan_product_id, "renewal_on": summary.renewal_on,
        "contract_term_months": summary.contract_term_months,
        "customer_since": summary.customer_since, "churned_on": summary.churned_on, "summary_as_of": tl.as_of,
    })  # fmt: skip
    out["contacts"] += contact_rows
    out["subscriptions"] += subscription_rows
    live_days = np.concatenate([np.arange(a, b) for a, b in life.live]) if life.live else np.zeros(0, dtype=np.int64)
    view = AccountView(profile, life, level, roster.owners[i], people, live_days)
    out["onboarding_milestones"] += make_milestones(rng, tl, view, ids)
    out["survey_responses"] += make_surveys(rng, tl, view, ids)
    out["tickets"] += make_tickets(rng, tl, view, ids)
    out["activities"] += make_activities(rng, tl, view, ids)
    out["success_goals"] += make_goals(rng, tl, view, ids)
    out["tasks"] += make_tasks(rng, tl, view, ids)

    usage_rng = np.random.default_rng([seed, _USAGE, i])
    api_addon = any(line.product_id == API_ADDON for line in life.lines)
    rates = feature_rates(usage_rng, life.rank, api_addon)
    usage = simulate_usage(usage_rng, tl, level, life.live, profile.n_users, rates)
    out["usage_daily"] += rollup_rows(tl, profile.id, usage)
    out["usage_events"] += event_rows(
        usage_rng, tl, profile.id, f"ACC-{profile.id:06d}", [p.id for p in people], usage, profile.n_users
    )
    return summary


def _chunks(seed: int, tl: Timeline, roster: Roster, ids: Ids) -> Iterator[tuple[int, _Batch]]:
    """Each chunk of accounts simulated: (accounts done so far, its rows)."""
    total = len(roster.profiles)
    for begin in range(0, total, CHUNK_ACCOUNTS):
        end = min(total, begin + CHUNK_ACCOUNTS)
        batch = _Batch.empty()
        for i in range(begin, end):
            summary = _account(seed, tl, roster, i, ids, batch)
            batch.mrr += summary.mrr
            batch.paying += summary.mrr > 0
        yield end, batch


# --- the run --------------------------------------------------------------------------


class _Writer:
    """Writes rows in batches and counts them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.counts = dict.fromkeys(TABLES, 0)

    def write(self, table: str, rows: list[Row], batch: int = USAGE_BATCH) -> None:
        for start in range(0, len(rows), batch):
            insert_many(self.session, table, rows[start : start + batch])
        self.counts[table] += len(rows)


def generate(
    session: Session,
    *,
    accounts: int,
    months: int,
    seed: int,
    as_of: date,
    on_progress: ProgressCallback | None = None,
    playbooks_enabled: bool = False,
) -> DemoSummary:
    """Write the demo company into the (empty) store of ``session``; never commits.

    Accounts are written with their summaries (status, MRR, plan, renewal) as of
    ``as_of``, by the same rule as the daily pipeline. The pipeline itself is not run:
    its updates stamp ``updated_at`` with the clock, and the demo must not depend on it."""
    progress: ProgressCallback = on_progress or (lambda _stage, _done, _total: None)
    progress(STAGE_SETUP, 0, 1)
    tl = Timeline.build(as_of, months)
    writer = _Writer(session)
    rng = np.random.default_rng([seed, _COMPANY])
    team = Team(rng, tl)
    roster = plan_roster(rng, tl, accounts, team.build)
    writer.write("users", team.rows)
    writer.write("products", product_rows(tl.moment(tl.start - timedelta(days=1200), 10 * 3600)))
    ids = Ids()
    team_tasks: list[Row] = []
    for uid in team.csm_ids:
        for _ in range(int(rng.integers(1, 3))):
            template = names.TEAM_TASKS[int(rng.integers(len(names.TEAM_TASKS)))]
            due = as_of + timedelta(days=int(rng.integers(-20, 15)))
            status = "done" if due < as_of - timedelta(days=3) else "open"
            team_tasks.append(task_row(ids, tl, rng, None, uid, template, "low", due, status))
    writer.write("tasks", team_tasks)
    progress(STAGE_SETUP, 1, 1)

    mrr = paying = 0
    runs: list[demo_playbooks.Run] = []
    usage_rows: list[Row] = []
    event_rows_: list[Row] = []
    progress(STAGE_ACCOUNTS, 0, accounts)
    for done, batch in _chunks(seed, tl, roster, ids):
        mrr += batch.mrr
        paying += batch.paying
        runs += batch.runs
        for table in TABLES:
            if table in ("usage_daily", "usage_events"):
                continue
            writer.write(table, batch.rows[table])
        usage_rows += batch.rows["usage_daily"]
        event_rows_ += batch.rows["usage_events"]
        if len(usage_rows) >= USAGE_BATCH:
            writer.write("usage_daily", usage_rows)
            usage_rows = []
        if len(event_rows_) >= EVENT_BATCH:
            writer.write("usage_events", event_rows_, EVENT_BATCH)
            event_rows_ = []
        progress(STAGE_ACCOUNTS, done, accounts)
    writer.write("usage_daily", usage_rows)
    writer.write("usage_events", event_rows_, EVENT_BATCH)
    progress(STAGE_FINISH, 0, 1)
    truth = demo_playbooks.write(session, tl, runs, enabled=playbooks_enabled, seed=seed,
                                 tech={p.id for p in roster.profiles if p.tier == TECH_TOUCH})
    reset_sequences(session)
    progress(STAGE_FINISH, 1, 1)
    counts = writer.counts
    return DemoSummary(
        as_of=as_of, start=tl.start, seed=seed, mrr=mrr, paying_accounts=paying, playbooks=truth,
        **{f.name: counts[f.name] for f in fields(DemoSummary) if f.name in counts},
    )  # fmt: skip
