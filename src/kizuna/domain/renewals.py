"""Renewals (契約更新, issue 16 item 3): the rules of the renewal pipeline.

A **renewal** is one (account, term end) of the account's main committed term — the same
date the accounts list, the home page and the ``renewal_in_days`` trigger show
(``kizuna.domain.subscriptions.summarize``'s ``renewal_on``). Its ARR due is the account's
MRR × 12 on the eve of the term end (add-ons co-terminate, so they renew with it).

Stages: ``upcoming`` (nobody has said anything), ``in_discussion`` and ``committed``
(set by the CSM), and the outcomes the daily job detects on the term end day from the
subscription lines: ``churned`` (nothing earns on the term end day), ``downsold`` (the
ARR in the same currency is lower than due) or ``renewed`` (as much or more: an upgrade at
renewal is a renewal, its uplift is shown as expansion).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from kizuna.domain.subscriptions import Line, add_months, earns_on, main_line, summarize

#: A term end further back than this is not looked for again by the daily job (the rows
#: already written stay): the window in which late subscription changes still correct an outcome.
LOOKBACK_DAYS = 365
#: A renewal probability below this makes a renewal "at risk" (as does a red health grade).
AT_RISK_BELOW = 0.5
#: Closed renewals a touch tier needs before its own historical rate is used (else the book's).
MIN_SEGMENT_HISTORY = 5


class RenewalStage(StrEnum):
    UPCOMING = "upcoming"
    IN_DISCUSSION = "in_discussion"
    COMMITTED = "committed"
    RENEWED = "renewed"
    DOWNSOLD = "downsold"
    CHURNED = "churned"


#: Stages a CSM sets on a renewal not yet due; the others are detected.
CSM_STAGES = (RenewalStage.UPCOMING, RenewalStage.IN_DISCUSSION, RenewalStage.COMMITTED)
OPEN_STAGES = frozenset(CSM_STAGES)
CLOSED_STAGES = frozenset({RenewalStage.RENEWED, RenewalStage.DOWNSOLD, RenewalStage.CHURNED})
#: Closed stages that keep the customer (a logo renewed).
KEPT_STAGES = frozenset({RenewalStage.RENEWED, RenewalStage.DOWNSOLD})


class ProbabilitySource(StrEnum):
    """Where a renewal's probability comes from, in the order they are tried."""

    OUTCOME = "outcome"  # closed: what happened (1 kept, 0 churned)
    CSM = "csm"  # the CSM's call, with a reason
    CHURN_MODEL = "churn_model"  # 1 − churn_scores.probability
    LTV = "ltv"  # the account's fitted sBG retention (the ltv step)
    SEGMENT = "segment"  # its touch tier's historical renewal rate (or the book's)
    NONE = "none"  # no history at all: no forecast for it


@dataclass(frozen=True)
class Term:
    """One term end found in an account's lines: the ARR due and, when the day has come,
    the ARR kept (in the same currency) and the detected stage."""

    term_end: date
    currency: str
    arr_due: int  # minor units per year
    arr_after: int | None  # None while the term end is after as_of
    stage: RenewalStage | None  # a closed stage, or None while open


def _term_ends(line: Line, start: date, end: date) -> Iterable[date]:
    """The line's term ends in [start, end]: its recorded term end moved by whole terms
    (forward, as ``next_renewal`` rolls a renewed line; back, for the terms before it)."""
    if line.current_term_end is None:
        return []
    found: list[date] = []
    for direction in (-1, 1):
        k = 0 if direction == 1 else -1
        while True:
            day = add_months(line.current_term_end, k * line.term_months)
            if (direction == 1 and day > end) or (direction == -1 and day < start):
                break
            if start <= day <= end:
                found.append(day)
            k += direction
    return found


def outcome(arr_due: int, arr_after: int) -> RenewalStage:
    """Churned when nothing earns on the term end day, downsold when less ARR than due is
    kept (same currency), else renewed (an upgrade at renewal included)."""
    if arr_after <= 0:
        return RenewalStage.CHURNED
    if arr_after < arr_due:
        return RenewalStage.DOWNSOLD
    return RenewalStage.RENEWED


def _arr_on(lines: list[Line], day: date, currency: str) -> int:
    return 12 * sum(ln.monthly_amount for ln in lines if ln.currency == currency and earns_on(ln, day))


def terms(lines: list[Line], as_of: date, lookback_days: int = LOOKBACK_DAYS) -> list[Term]:
    """The renewals of one account: each term end of its main committed term from
    ``as_of − lookback_days`` to ``as_of`` (closed: outcome detected), and its next one
    after ``as_of`` (open) — the date ``summarize`` gives as the account's renewal.

    A past day ``d`` is a term end when, on its eve, the main line (``main_line`` of the
    lines earning on ``d − 1``) is committed and ``d`` is one of its term ends."""
    if not any(ln.committed and ln.current_term_end is not None for ln in lines):
        return []  # monthly evergreen only: no term ends (and no renewal date: summarize needs a committed main line)
    start = as_of - timedelta(days=lookback_days)
    found: dict[date, Term] = {}
    ends = {i: set(_term_ends(ln, start + timedelta(days=1), as_of)) for i, ln in enumerate(lines) if ln.committed}
    for day in sorted(set().union(*ends.values())):
        eve = day - timedelta(days=1)
        earning = [(i, ln) for i, ln in enumerate(lines) if earns_on(ln, eve)]
        main = main_line([ln for _i, ln in earning])
        if main is None or not main.committed or not any(ln is main and day in ends.get(i, ()) for i, ln in earning):
            continue
        before = summarize(lines, eve)
        if before.currency is None or before.mrr <= 0:
            continue
        after = _arr_on(lines, day, before.currency)
        found[day] = Term(day, before.currency, 12 * before.mrr, after, outcome(12 * before.mrr, after))
    now = summarize(lines, as_of)
    if now.renewal_on is not None and now.renewal_on > as_of and now.currency is not None and now.mrr > 0:
        found[now.renewal_on] = Term(now.renewal_on, now.currency, 12 * now.mrr, None, None)
    return [found[d] for d in sorted(found)]


def expected(arr: int, probability: float | None) -> int | None:
    """ARR × probability in whole minor units, half up (so a page's rows add up to its totals)."""
    if probability is None:
        return None
    return int((Decimal(arr) * Decimal(str(probability))).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def check_probability(value: float) -> float:
    """A renewal probability the CSM calls: 0 to 1 (a ValueError names the reason)."""
    if not 0 <= value <= 1:
        raise ValueError("a probability is from 0 to 1")
    return value


def renewal_probability_from_churn(churn_probability: float) -> float:
    """The churn model scores churn; a renewal's probability is its complement."""
    return min(1.0, max(0.0, 1.0 - churn_probability))


def at_risk(stage: RenewalStage, probability: float | None, health_grade: str | None) -> bool:
    """An open renewal is at risk when its account's health grade is red or its renewal
    probability is below ``AT_RISK_BELOW`` (closed renewals are not at risk: they happened)."""
    if stage in CLOSED_STAGES:
        return False
    return health_grade == "red" or (probability is not None and probability < AT_RISK_BELOW)
