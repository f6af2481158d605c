"""One customer's life: hidden engagement, and the subscription lines it leads to.

Engagement is a latent level per account: an account-specific base (good-fit
customers sit higher) plus a slowly varying AR(1) deviation, one step per 30 days.
It drives churn (lower engagement → higher hazard), expansion, cross-sell, tickets,
survey scores and daily usage. Once a churn date is decided, the account's usage
follows one of three shapes before it (:data:`CHURN_SHAPES`): a decline over the
30–90 days before the end (most), a slow slide over four to eight months, or none at
all (a budget cut or a merger: the customer leaves without warning). Some accounts
that stay also go through a dip and recover (:func:`draw_dips`), as real ones do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import numpy as np

from kizuna.demo import names
from kizuna.demo.catalogue import ADDONS, PLAN_BY_RANK, TOP_RANK, Addon
from kizuna.demo.timeline import Timeline, add_months

#: Monthly churn hazard by plan rank at average engagement and fit.
CHURN_BASE: dict[int, float] = {1: 0.024, 2: 0.014, 3: 0.008, 4: 0.0045}
REACTIVATION_CHANCE = 0.16
#: How usage behaves before a churn, with its share of churns: a decline over 30–90
#: days, a slow slide over 120–240 days, or no warning at all.
CHURN_SHAPES: tuple[tuple[str, float], ...] = (("decline", 0.70), ("slow", 0.16), ("sudden", 0.14))
#: Reasons of churns without warning (a decision above the users' heads).
SUDDEN_REASONS: tuple[str, ...] = ("予算削減", "会社の合併・買収", "事業縮小", "社内システムへ統合")
#: Chance per account and year of a dip in engagement that recovers (a reorganisation,
#: a busy season, a champion on leave).
DIP_RATE = 0.22
BLOCK = 30  # days per step of the engagement process

TECH_TOUCH, LOW_TOUCH, HIGH_TOUCH = 0, 1, 2
Adjust = Callable[[date, float, float], float]


@dataclass(frozen=True)
class Profile:
    """What is decided about an account before its life is simulated."""

    index: int
    id: int
    started_on: date
    preexisting: bool
    seats: int
    rank: int
    annual: bool
    discount: float
    trial_days: int  # 0: no trial
    tier: int
    fit: float
    n_contacts: int
    n_users: int  # tracked users (they sign in): most of the seats, at least the contacts


@dataclass(frozen=True)
class Engagement:
    base: float
    blocks: np.ndarray  # deviation per BLOCK days from day 0
    values: np.ndarray  # the level per day from day 0, a year past as_of

    @classmethod
    def draw(cls, rng: np.random.Generator, tl: Timeline, fit: float) -> Engagement:
        base = 0.7 * fit + float(rng.normal(0.0, 0.45))
        n = tl.days // BLOCK + 8
        shocks = rng.normal(0.0, 0.28, n)
        blocks = np.empty(n)
        blocks[0] = float(rng.normal(0.0, 0.45))
        for t in range(1, n):
            blocks[t] = 0.8 * blocks[t - 1] + shocks[t]
        centers = BLOCK / 2 + BLOCK * np.arange(n, dtype=np.float64)
        values = base + np.interp(np.arange(tl.days + 366, dtype=np.float64), centers, blocks)
        return cls(base, blocks, values)

    def at(self, day_index: int) -> float:
        """The level on a day (days before the history have the first day's level)."""
        return float(self.values[min(max(day_index, 0), len(self.values) - 1)])

    def daily(self, n_days: int) -> np.ndarray:
        return self.values[:n_days].copy()


@dataclass
class Line:
    """A subscription row under construction."""

    product_id: int
    quantity: int
    amount: int
    interval: str
    status: str
    started_on: date
    anchor: date  # renewals fall on its monthly (or yearly) anniversaries
    trial_ends_on: date | None = None
    ended_on: date | None = None
    canceled_at: datetime | None = None
    cancel_reason: str | None = None
    addon: bool = False

    def term_end(self, as_of: date) -> date:
        if self.status in ("trial", "expired"):
            assert self.trial_ends_on is not None
            return self.trial_ends_on
        step = 12 if self.interval == "year" else 1
        ref = as_of if self.ended_on is None else self.ended_on - timedelta(days=1)
        k = max(step, ((ref.year - self.anchor.year) * 12 + ref.month - self.anchor.month) // step * step)
        while add_months(self.anchor, k) <= ref:
            k += step
        while k > step and add_months(self.anchor, k - step) > ref:
            k -= step
        return add_months(self.anchor, k)


@dataclass(frozen=True)
class Churn:
    ended_on: date
    reason: str
    notice: date
    decline_days: int  # 0: no warning
    shape: str = "decline"  # see CHURN_SHAPES


@dataclass(frozen=True)
class Dip:
    """A temporary fall of engagement that recovers: ``start`` (day index), days down
    to the bottom, days back up, and the depth at the bottom."""

    start: int
    fall: int
    rise: int
    depth: float


@dataclass
class Life:
    lines: list[Line] = field(default_factory=list)
    live: list[tuple[int, int]] = field(default_factory=list)  # day-index ranges [a, b)
    starts: list[int] = field(default_factory=list)  # (re)starts inside the window
    churns: list[Churn] = field(default_factory=list)
    seats: int = 0
    rank: int = 1
    outcome: str = "active"  # active, trial, expired, churned, leaving (ends after as_of)
    renewal: date | None = None
    reactivated: bool = False


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _pick(rng: np.random.Generator, weights: list[float]) -> int:
    total = sum(weights)
    u = float(rng.random()) * total
    acc = 0.0
    for i, w in enumerate(weights):
        acc += w
        if u < acc:
            return i
    return len(weights) - 1


def renewal_chance(rank: int, monthly: bool, level: float, fit: float, tenure_days: int) -> float:
    """The chance that a customer leaves at a renewal (a month's, or a year's for an annual
    contract): the monthly hazard of its plan at its engagement ``level`` and ``fit``, × 1.5
    in its first 200 days."""
    hazard = CHURN_BASE[rank] * math.exp(-0.9 * level - 0.35 * fit)
    if tenure_days < 200:
        hazard *= 1.5
    hazard = min(hazard, 0.5)
    return hazard if monthly else 1.0 - (1.0 - hazard) ** 12


def survival_to_history(tl: Timeline, p: Profile, level: float) -> float:
    """The chance that a customer who started before the history made every renewal up to
    the history's first day, at engagement ``level`` (the model's level for the days before
    the history: that of its first day) and its fit: the product of (1 − chance) over its
    renewals on or before ``tl.start``. 1 for a customer who started inside the history."""
    step = 12 if p.annual else 1
    survived, k = 1.0, step
    while (renew := add_months(p.started_on, k)) <= tl.start:
        survived *= 1.0 - renewal_chance(p.rank, not p.annual, level, p.fit, (renew - p.started_on).days)
        k += step
    return survived


#: Redraws of a pre-history customer before the last one is kept whatever its survival.
MAX_SURVIVOR_DRAWS = 200


def draw_survivor(rng: np.random.Generator, tl: Timeline, p: Profile, eng: Engagement) -> tuple[Profile, Engagement]:
    """A customer from before the history as a real book holds it: one that survived its
    renewals up to the history's start. The churns before the history are never simulated
    (nobody recorded them); instead the account is kept with the chance
    :func:`survival_to_history` of its fit and engagement, else its fit and engagement are
    redrawn (from ``rng``, a stream of its own) until a draw survives. So the old customers
    are the loyal ones — the flighty among them left before the history — and the young
    churn more, as in a real book (rejection sampling: the kept draw follows the
    survivors' distribution). An account that survives on its first draw is unchanged."""
    fit, drawn = p.fit, eng
    for _attempt in range(MAX_SURVIVOR_DRAWS):
        if p.started_on >= tl.start or rng.random() < survival_to_history(tl, replace(p, fit=fit), drawn.at(0)):
            break
        fit = float(rng.normal(0.0, 1.0))
        drawn = Engagement.draw(rng, tl, fit)
    return (p, eng) if drawn is eng else (replace(p, fit=fit), drawn)


def cancel_reason(rng: np.random.Generator, level: float) -> str:
    low = level < -0.3
    reasons = names.CANCEL_REASONS
    return reasons[_pick(rng, [r[1] if low else r[2] for r in reasons])][0]


class _Sim:
    def __init__(self, rng: np.random.Generator, tl: Timeline, p: Profile, eng: Engagement,
                 adjust: Adjust | None = None) -> None:  # fmt: skip
        self.adjust = adjust  # a playbook's effect on the chance of leaving (kizuna.demo.playbooks)
        self.rng = rng
        self.tl = tl
        self.p = p
        self.eng = eng
        self.life = Life(seats=p.seats, rank=p.rank)
        self.plan_line: Line | None = None
        self.addon_lines: dict[int, Line] = {}
        self.interval = "year" if p.annual else "month"
        self.anchor = p.started_on
        self.spans: list[tuple[date, date]] = []  # live periods, turned into day ranges at the end

    def level(self, day: date) -> float:
        return self.eng.at(self.tl.index(day))

    # --- lines ----------------------------------------------------------------------

    def _amount(self, rank: int, seats: int) -> tuple[int, int]:
        plan = PLAN_BY_RANK[rank]
        discount = self.p.discount if self.interval == "year" else 0.0
        return plan.quantity(seats), plan.amount(seats, discount)

    def open_plan(self, day: date, status: str = "active", trial_ends_on: date | None = None) -> Line:
        quantity, amount = self._amount(self.life.rank, self.life.seats)
        line = Line(PLAN_BY_RANK[self.life.rank].id, quantity, amount, self.interval, status, day,
                    self.anchor, trial_ends_on=trial_ends_on)  # fmt: skip
        self.life.lines.append(line)
        self.plan_line = line
        return line

    def close(self, line: Line, day: date, reason: str, asked: datetime) -> None:
        line.status = "canceled"
        line.ended_on = day
        line.cancel_reason = reason
        line.canceled_at = asked

    # --- the life -------------------------------------------------------------------

    def run(self) -> Life:
        p, tl, rng, life = self.p, self.tl, self.rng, self.life
        as_of = tl.as_of
        live_from = p.started_on
        if not p.preexisting:
            life.starts.append(tl.index(p.started_on))
        if p.trial_days:
            trial_end = p.started_on + timedelta(days=p.trial_days)
            line = self.open_plan(p.started_on, "trial", trial_end)
            if trial_end > as_of:
                life.outcome = "trial"
                self._finish(live_from, None)
                return life
            converts = _sigmoid(0.9 + 1.4 * self.level(trial_end) + 0.5 * p.fit)
            if rng.random() >= converts:
                line.status = "expired"
                line.ended_on = trial_end
                life.outcome = "expired"
                self._finish(live_from, trial_end)
                return life
            line.status = "active"
            self.anchor = trial_end
            line.anchor = trial_end
        else:
            self.open_plan(p.started_on)
        k = self._first_period()
        while True:
            period_start = add_months(self.anchor, k - 1)
            renew = add_months(self.anchor, k)
            if period_start >= as_of:
                break
            churn: Churn | None = None
            decided = True
            if self.interval == "month" or k % 12 == 0:
                churn, decided = self._renewal(renew)
            if churn is None and period_start >= tl.start and decided:
                self._changes(period_start, renew)
            if not decided:
                break
            if churn is not None:
                self.spans.append((live_from, churn.ended_on))
                back = self._reactivation(churn.ended_on)
                if back is None:
                    life.outcome = "churned" if churn.ended_on <= as_of else "leaving"
                    self._finish(None, None)
                    return life
                live_from = back
                k = 1
                continue
            k += 1
        self._finish(live_from, None)
        return life

    def _first_period(self) -> int:
        """The first contract month that ends after the history starts."""
        months = (self.tl.start.year - self.anchor.year) * 12 + self.tl.start.month - self.anchor.month
        k = max(1, months - 1)
        while add_months(self.anchor, k) <= self.tl.start:
            k += 1
        return k

    def _renewal(self, renew: date) -> tuple[Churn | None, bool]:
        """Does the customer leave at ``renew``? ``decided`` is False when the notice
        would only come after as_of (the future is unknown)."""
        p, tl, rng = self.p, self.tl, self.rng
        monthly = self.interval == "month"
        notice = renew - timedelta(days=int(rng.integers(14, 46) if monthly else rng.integers(30, 91)))
        latest = max((line.started_on for line in self._open_lines()), default=notice)
        notice = max(notice, min(latest, renew - timedelta(days=1)))  # no notice before a line began
        if notice >= tl.as_of:
            return None, False
        if renew <= tl.start:
            return None, True
        level = self.level(notice)
        chance = renewal_chance(self.life.rank, monthly, level, p.fit, (renew - p.started_on).days)
        if self.adjust is not None:
            chance = self.adjust(notice, level, chance)
        if rng.random() >= chance:
            return None, True
        shape = CHURN_SHAPES[_pick(rng, [w for _s, w in CHURN_SHAPES])][0]
        if shape == "sudden":
            reason = SUDDEN_REASONS[int(rng.integers(len(SUDDEN_REASONS)))]
            decline = 0
        else:
            reason = cancel_reason(rng, level)
            decline = int(rng.integers(120, 241) if shape == "slow" else rng.integers(30, 91))
        asked = tl.business_moment(rng, notice)
        for line in self._open_lines():
            self.close(line, renew, reason, asked)
        churn = Churn(renew, reason, notice, decline, shape)
        self.life.churns.append(churn)
        self.plan_line = None
        self.addon_lines = {}
        return churn, True

    def _open_lines(self) -> list[Line]:
        lines = [self.plan_line] if self.plan_line is not None else []
        return lines + [self.addon_lines[k] for k in sorted(self.addon_lines)]

    def _reactivation(self, ended: date) -> date | None:
        tl, rng, life = self.tl, self.rng, self.life
        if life.reactivated or (tl.as_of - ended).days <= 60 or rng.random() >= REACTIVATION_CHANCE:
            return None
        back = ended + timedelta(days=int(rng.integers(45, 330)))
        if back >= tl.as_of:
            return None
        life.reactivated = True
        if life.rank > 1 and rng.random() < 0.4:
            self._set_rank(life.rank - 1)
        self.interval = "month"
        self.anchor = back
        self.open_plan(back)
        life.starts.append(tl.index(back))
        return back

    def _set_rank(self, rank: int) -> None:
        plan = PLAN_BY_RANK[rank]
        self.life.rank = rank
        self.life.seats = min(max(self.life.seats, plan.min_seats), plan.max_seats)

    def _changes(self, period_start: date, renew: date) -> None:
        """Mid-term upgrades, downgrades and add-ons during one contract month."""
        tl, rng, life, p = self.tl, self.rng, self.life, self.p
        span = (renew - period_start).days
        if span < 2:
            return
        day = period_start + timedelta(days=int(rng.integers(1, span)))
        if day >= tl.as_of or self.plan_line is None:
            return
        level = self.level(day)
        tenure = (day - p.started_on).days
        plan = PLAN_BY_RANK[life.rank]
        p_up = 0.010 * math.exp(0.8 * level) if life.rank < TOP_RANK and tenure > 90 else 0.0
        if life.rank == TOP_RANK - 1 and life.seats < 60:
            p_up = 0.0
        p_expand = 0.014 * math.exp(0.6 * level) if plan.per_seat and tenure > 60 else 0.0
        p_down = 0.005 * math.exp(-0.8 * level) if tenure > 90 else 0.0
        u = float(rng.random())
        rank, seats = life.rank, life.seats
        if u < p_up:
            rank = life.rank + 1
            seats = math.ceil(seats * float(rng.uniform(1.0, 1.4)))
            if rank == TOP_RANK:
                self.interval = "year"
        elif u < p_up + p_expand:
            seats = math.ceil(seats * float(rng.uniform(1.1, 1.5)))
        elif u < p_up + p_expand + p_down:
            if life.rank >= 2 and rng.random() < 0.5 and (life.rank > 2 or p.n_contacts <= 5):
                rank = life.rank - 1
            else:
                seats = max(p.n_contacts, int(seats * float(rng.uniform(0.6, 0.9))))
        new_plan = PLAN_BY_RANK[rank]
        seats = min(max(seats, new_plan.min_seats, p.n_contacts if new_plan.per_seat else 0), new_plan.max_seats)
        if rank != life.rank or (new_plan.per_seat and seats != life.seats):
            asked = tl.business_moment(rng, day)
            self.close(self.plan_line, day, names.PLAN_CHANGE, asked)
            life.rank, life.seats = rank, seats
            self.open_plan(day)
        self._addons(day, level)

    def _addons(self, day: date, level: float) -> None:
        tl, rng, life = self.tl, self.rng, self.life
        if rng.random() < 0.006 * math.exp(0.5 * level) * life.rank:
            choices: list[Addon] = [a for a in ADDONS if a.min_rank <= life.rank and a.id not in self.addon_lines]
            if choices:
                addon = choices[_pick(rng, [a.weight for a in choices])]
                units = int(rng.integers(1, addon.max_units + 1))
                line = Line(addon.id, units, addon.price * units, "month", "active", day, day, addon=True)
                life.lines.append(line)
                self.addon_lines[addon.id] = line
                return
        for product_id in sorted(self.addon_lines):
            line = self.addon_lines[product_id]
            if line.started_on < day and rng.random() < 0.01 * math.exp(-0.5 * level):
                reason = names.ADDON_CANCEL_REASONS[int(rng.integers(len(names.ADDON_CANCEL_REASONS)))]
                self.close(line, day, reason, tl.business_moment(rng, day))
                del self.addon_lines[product_id]
                return

    def _finish(self, live_from: date | None, live_to: date | None) -> None:
        tl, life = self.tl, self.life
        if live_from is not None:
            self.spans.append((live_from, live_to or tl.as_of))
        ranges: list[tuple[int, int]] = []
        for a, b in self.spans:
            lo, hi = max(0, tl.index(a)), min(tl.days, tl.index(b))
            if hi > lo:
                ranges.append((lo, hi))
        life.live = ranges
        life.starts = [s for s in life.starts if 0 <= s < tl.days]
        if self.plan_line is not None and life.outcome in ("active", "trial"):
            life.renewal = self.plan_line.term_end(tl.as_of)


def simulate(rng: np.random.Generator, tl: Timeline, profile: Profile, eng: Engagement,
             adjust: Adjust | None = None) -> Life:  # fmt: skip
    """Simulate one account's subscriptions from its start to as_of (``adjust(notice, level,
    chance)`` may change the chance of leaving at each renewal decision)."""
    return _Sim(rng, tl, profile, eng, adjust).run()


def draw_dips(rng: np.random.Generator, tl: Timeline, life: Life) -> list[Dip]:
    """Dips that recover, at :data:`DIP_RATE` per live year: down over 20–60 days by
    0.8–2.0, back up over 20–70 days. Not within 150 days of a churn (that is the
    churn's own shape)."""
    live = sum(b - a for a, b in life.live)
    ends = [tl.index(c.ended_on) for c in life.churns]
    dips: list[Dip] = []
    for _ in range(int(rng.poisson(DIP_RATE * live / 365.0))):
        a, b = life.live[_pick(rng, [float(hi - lo) for lo, hi in life.live])]
        start = int(rng.integers(a, b))
        dip = Dip(start, int(rng.integers(20, 61)), int(rng.integers(20, 71)), float(rng.uniform(1.4, 2.8)))
        if all(not -150 <= end - start <= 150 + dip.fall + dip.rise for end in ends):
            dips.append(dip)
    return dips


def daily_level(tl: Timeline, eng: Engagement, life: Life, ramps: list[int], dips: Sequence[Dip] = ()) -> np.ndarray:
    """The account's engagement per day: the latent level, lower while a new customer
    ramps up (``ramps``: days of ramp-up per start), lower during ``dips`` (down, then
    back up) and falling before each churn as the churn's shape says."""
    level = eng.daily(tl.days)
    for dip in dips:
        shape = np.concatenate([np.linspace(0.0, 1.0, dip.fall, endpoint=False), np.linspace(1.0, 0.0, dip.rise)])
        lo, hi = dip.start, min(tl.days, dip.start + len(shape))
        if hi > lo:
            level[lo:hi] -= dip.depth * shape[: hi - lo]
    for start, length in zip(life.starts, ramps, strict=True):
        end = min(tl.days, start + length)
        if end > start:
            level[start:end] -= 1.6 * (1.0 - np.arange(end - start) / length)
    for churn in life.churns:
        if churn.decline_days <= 0:
            continue
        stop = tl.index(churn.ended_on)
        begin = stop - churn.decline_days
        lo, hi = max(0, begin), min(tl.days, stop)
        if hi > lo:
            frac = (np.arange(lo, hi) - begin + 1) / churn.decline_days
            level[lo:hi] -= 1.9 * frac if churn.shape == "slow" else 2.4 * frac**0.8
    return level
