"""When a subscription line earns, and what an account's lines add up to.

One definition, used by the account summaries the app shows and (in Ibis form) by
the revenue analytics, so that "MRR" means the same thing everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from kizuna.domain.enums import SubscriptionStatus


class AccountStatus(StrEnum):
    """Where an account stands commercially (not its lifecycle stage)."""

    PROSPECT = "prospect"  # no line has ever earned, none in trial
    TRIAL = "trial"  # in a trial, not (yet) paying
    ACTIVE = "active"  # at least one line earns today
    CHURNED = "churned"  # paid before, nothing earns today


@dataclass(frozen=True)
class Line:
    """The fields of a subscription line that decide when it earns."""

    product_id: int
    status: SubscriptionStatus
    monthly_amount: int
    currency: str
    started_on: date
    trial_ends_on: date | None = None
    ended_on: date | None = None
    current_term_end: date | None = None
    is_plan: bool = True


def earning_start(line: Line) -> date | None:
    """The first day the line earns: its start, or the end of its trial; None while
    it is still a trial (a trial earns nothing)."""
    if line.status is SubscriptionStatus.TRIAL:
        return None
    start = line.started_on
    # `>=` would be the same: a trial ending on the start day moves the start nowhere
    if line.trial_ends_on is not None and line.trial_ends_on > start:  # pragma: no mutate
        start = line.trial_ends_on
    return start


def earns_on(line: Line, day: date) -> bool:
    """Whether the line counts toward MRR on ``day`` (``ended_on`` is exclusive)."""
    start = earning_start(line)
    if start is None or day < start:
        return False
    return line.ended_on is None or day < line.ended_on


@dataclass(frozen=True)
class AccountSummary:
    status: AccountStatus
    mrr: int  # minor units of ``currency``
    currency: str | None
    plan_product_id: int | None  # the plan line earning (or in trial) with the largest amount
    renewal_on: date | None  # the nearest current_term_end of a live line
    customer_since: date | None  # first day any line earned
    churned_on: date | None  # when the last earning line ended, for churned accounts


def summarize(lines: Iterable[Line], as_of: date) -> AccountSummary:
    """Fold an account's lines into what the accounts list shows.

    >>> from datetime import date
    >>> s = summarize([Line(1, SubscriptionStatus.ACTIVE, 10000, "JPY", date(2026, 1, 1))], date(2026, 6, 1))
    >>> (s.status.value, s.mrr)
    ('active', 10000)
    """
    lines = list(lines)
    earning = [ln for ln in lines if earns_on(ln, as_of)]
    trials = [ln for ln in lines if ln.status is SubscriptionStatus.TRIAL and ln.started_on <= as_of]
    starts = [s for s in (earning_start(ln) for ln in lines) if s is not None and s <= as_of]
    # `start < as_of` would be the same: a line starting to earn on as_of and not ended by
    # then earns today, and ever_earned only matters when nothing earns
    ever_earned = any(
        (start := earning_start(ln)) is not None and start <= as_of and (ln.ended_on is None or ln.ended_on > start)  # pragma: no mutate
        for ln in lines
    )
    currency: str | None = None  # pragma: no mutate (read only through `or` and ==: "" would act the same)
    if earning:
        by_currency: Counter[str] = Counter()
        for ln in earning:
            by_currency[ln.currency] += ln.monthly_amount
        currency = by_currency.most_common(1)[0][0]  # pragma: no mutate (any count: the first is the same)
    mrr = sum(ln.monthly_amount for ln in earning if ln.currency == currency)
    live = earning or trials
    plans = sorted((ln for ln in live if ln.is_plan), key=lambda ln: (-ln.monthly_amount, ln.product_id))
    renewals = sorted(
        ln.current_term_end for ln in live if ln.current_term_end is not None and ln.current_term_end >= as_of
    )
    if earning:
        status = AccountStatus.ACTIVE
    elif trials:
        status = AccountStatus.TRIAL
    elif ever_earned:
        status = AccountStatus.CHURNED
    else:
        status = AccountStatus.PROSPECT
    churned_on = None
    if status is AccountStatus.CHURNED:
        ends = [ln.ended_on for ln in lines if ln.ended_on is not None and ln.ended_on <= as_of]
        # never empty: a churned account has a line that earned and ended by as_of
        churned_on = max(ends) if ends else None  # pragma: no mutate
    return AccountSummary(
        status=status,
        mrr=mrr,
        currency=currency or (live[0].currency if live else None),
        plan_product_id=plans[0].product_id if plans else None,
        renewal_on=renewals[0] if renewals else None,
        customer_since=min(starts) if starts else None,
        churned_on=churned_on,
    )
