"""Upsell and cross-sell opportunities (アップセル・クロスセル, issue 16 item 4): the
moments the seeds name, and when not to push (押し売りしない).

Upsell (a higher plan) at the end of a trial or as a plan's renewal approaches, and when
the account outgrows its plan (seats nearly all in use, active users growing fast);
cross-sell (an add-on) right after a purchase and when satisfaction is high (CSAT ≥ 4, an
NPS promoter). Never on an unhappy customer: a red health grade, a detractor's latest NPS
answer or an open escalation suppresses the opportunity — it is recorded as suppressed
with that reason, so the team sees what was held back and why.

Pure: the service gathers each account's :class:`AccountSignals`; :func:`detect` says
which signals hold, :func:`suppression` whether to hold back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from kizuna.i18n import N_


class OpportunityType(StrEnum):
    UPSELL = "upsell"  # a higher plan
    CROSS_SELL = "cross_sell"  # an add-on


class OpportunityStatus(StrEnum):
    """open: to work; suppressed: a signal holds but the account is unhappy (not offered);
    won / lost: detected from later subscription changes (or set by the CSM); dismissed:
    by the CSM, with a reason."""

    OPEN = "open"
    SUPPRESSED = "suppressed"
    WON = "won"
    LOST = "lost"
    DISMISSED = "dismissed"


LIVE = (OpportunityStatus.OPEN, OpportunityStatus.SUPPRESSED)
CLOSED = (OpportunityStatus.WON, OpportunityStatus.LOST, OpportunityStatus.DISMISSED)


class Signal(StrEnum):
    TRIAL_ENDING = "trial_ending"
    RENEWAL = "renewal"
    SEATS = "seats"
    GROWTH = "growth"
    PURCHASE = "purchase"
    CSAT = "csat"
    PROMOTER = "promoter"


#: The type each signal proposes, in order of priority (the first that holds names an opportunity).
SIGNAL_TYPE: dict[Signal, OpportunityType] = {
    Signal.TRIAL_ENDING: OpportunityType.UPSELL,
    Signal.RENEWAL: OpportunityType.UPSELL,
    Signal.SEATS: OpportunityType.UPSELL,
    Signal.GROWTH: OpportunityType.UPSELL,
    Signal.PURCHASE: OpportunityType.CROSS_SELL,
    Signal.CSAT: OpportunityType.CROSS_SELL,
    Signal.PROMOTER: OpportunityType.CROSS_SELL,
}

#: Why, as a sentence (an English msgid, translated when shown; values are parameters).
REASONS: dict[str, str] = {
    Signal.TRIAL_ENDING: N_("The trial ends in {days} days: propose {product} before it does."),
    Signal.RENEWAL: N_("The plan renews in {days} days: propose {product} with the renewal."),
    Signal.SEATS: N_("{used} of {seats} seats are in use ({share}): propose {product}."),
    Signal.GROWTH: N_("Active users grew {growth} in 30 days (from {before} to {after}): propose {product}."),
    Signal.PURCHASE: N_("Bought {bought} {days} days ago: propose {product}, which customers with it often hold."),
    Signal.CSAT: N_("A CSAT of {score} on {day}: propose {product} while satisfaction is high."),
    Signal.PROMOTER: N_("An NPS promoter ({score}) on {day}: propose {product} while satisfaction is high."),
}


class Suppression(StrEnum):
    HEALTH_RED = "health_red"
    DETRACTOR = "detractor"
    ESCALATION = "escalation"


SUPPRESSIONS: dict[str, str] = {
    Suppression.HEALTH_RED: N_("health red"),
    Suppression.DETRACTOR: N_("NPS detractor"),
    Suppression.ESCALATION: N_("open escalation"),
}

#: Why an opportunity was closed by the daily job (CSM dismissals carry their own words).
LOST_NO_PURCHASE = N_("no purchase within {days} days")
LOST_CHURNED = N_("the account churned")
WON_PURCHASE = N_("bought on {day}")
CLOSE_REASONS = frozenset({LOST_NO_PURCHASE, LOST_CHURNED, WON_PURCHASE})


@dataclass(frozen=True)
class OpportunityConfig:
    """When each signal holds (days, shares) and how long an opportunity stays open."""

    trial_days: int = 14  # the trial ends within this many days
    renewal_days: int = 90  # a committed plan term ends within this many days
    seat_share: float = 0.9  # peak daily active users ≥ this share of the seats bought
    growth_pct: float = 30.0  # active users (30-day peak) grew at least this much …
    growth_min_users: int = 5  # … from at least this many
    purchase_days: int = 30  # a new line started within this many days
    satisfaction_days: int = 30  # a CSAT ≥ 4 or an NPS ≥ 9 answered within this many days
    csat_min: int = 4
    promoter_min: int = 9
    detractor_max: int = 6
    expire_days: int = 90  # an open opportunity with no purchase by then is lost
    cooldown_days: int = 90  # after a dismissal or a loss, the same proposal waits this long


@dataclass(frozen=True)
class AccountSignals:
    """What the rules read of one account as of a day."""

    account_id: int
    status: str  # AccountStatus value
    trial_ends_in: int | None = None  # days until its plan trial ends
    renewal_in: int | None = None  # days until its committed plan term ends
    seats: int | None = None  # seats bought on the live plan
    peak_active_users: float | None = None  # the highest daily active users in the last 30 days
    peak_active_users_before: float | None = None  # … in the 30 days before
    purchase: tuple[str, int] | None = None  # (product name, days ago) of its latest new line
    csat: tuple[int, date] | None = None  # its latest CSAT answer (score, day)
    nps: tuple[int, date] | None = None  # its latest NPS answer (score, day)
    health_grade: str | None = None
    open_escalations: int = 0  # open tickets of high or urgent priority


@dataclass(frozen=True)
class Detected:
    signal: Signal
    params: dict[str, Any]  # the reason's values (``product`` is added by the service)

    @property
    def type(self) -> OpportunityType:
        return SIGNAL_TYPE[self.signal]


def _pct(value: float) -> str:
    return f"{value:.0%}"


def detect(s: AccountSignals, as_of: date, cfg: OpportunityConfig) -> list[Detected]:
    """Every signal that holds for the account, in priority order (see :data:`SIGNAL_TYPE`)."""
    out: list[Detected] = []
    if s.status == "churned" or s.status == "prospect":
        return out
    if s.trial_ends_in is not None and 0 <= s.trial_ends_in <= cfg.trial_days:
        out.append(Detected(Signal.TRIAL_ENDING, {"days": s.trial_ends_in}))
    if s.status != "active":
        return out  # the rest are for paying customers
    if s.renewal_in is not None and 0 <= s.renewal_in <= cfg.renewal_days:
        out.append(Detected(Signal.RENEWAL, {"days": s.renewal_in}))
    if cfg.seat_share > 0 and s.seats and s.peak_active_users is not None \
            and s.peak_active_users >= cfg.seat_share * s.seats:  # fmt: skip
        out.append(Detected(Signal.SEATS, {"used": round(s.peak_active_users), "seats": s.seats,
                                           "share": _pct(s.peak_active_users / s.seats)}))  # fmt: skip
    before, after = s.peak_active_users_before, s.peak_active_users
    if before is not None and after is not None and before >= cfg.growth_min_users \
            and after >= before * (1 + cfg.growth_pct / 100):  # fmt: skip
        out.append(Detected(Signal.GROWTH, {"growth": _pct(after / before - 1), "before": round(before),
                                            "after": round(after)}))  # fmt: skip
    if s.purchase is not None and 0 <= s.purchase[1] <= cfg.purchase_days:
        out.append(Detected(Signal.PURCHASE, {"bought": s.purchase[0], "days": s.purchase[1]}))
    if s.csat is not None and s.csat[0] >= cfg.csat_min and 0 <= (as_of - s.csat[1]).days <= cfg.satisfaction_days:
        out.append(Detected(Signal.CSAT, {"score": s.csat[0], "day": s.csat[1].isoformat()}))
    if s.nps is not None and s.nps[0] >= cfg.promoter_min and 0 <= (as_of - s.nps[1]).days <= cfg.satisfaction_days:
        out.append(Detected(Signal.PROMOTER, {"score": s.nps[0], "day": s.nps[1].isoformat()}))
    return out


def suppression(s: AccountSignals, cfg: OpportunityConfig) -> Suppression | None:
    """Why not to push now (the first that holds), or None: a red health grade, a
    detractor's latest NPS answer (whenever it was), an open escalation."""
    if s.health_grade == "red":
        return Suppression.HEALTH_RED
    if s.nps is not None and s.nps[0] <= cfg.detractor_max:
        return Suppression.DETRACTOR
    if s.open_escalations > 0:
        return Suppression.ESCALATION
    return None


def price_for(list_price: int, seats_included: int | None, is_plan: bool, seats: int | None) -> int:
    """A product's monthly list price for the account: a plan without included seats is
    priced per seat (× the seats bought, at least one); a plan with included seats and an
    add-on are priced per unit (one unit)."""
    if is_plan and seats_included is None:
        return list_price * max(seats or 1, 1)
    return list_price
