"""When a subscription line earns, and what an account's lines add up to.

One definition, used by the account summaries the app shows and (in Ibis form) by
the revenue analytics, so that "MRR" means the same thing everywhere.
"""

from __future__ import annotations

from calendar import monthrange
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from kizuna.domain.enums import BillingInterval, SubscriptionStatus

#: A line whose contract term is at least this many months is a committed term with a
#: renewal (更新) at its end; shorter ones (monthly evergreen, 月次自動更新) renew by
#: themselves every month and are not renewal events.
COMMITTED_TERM_MONTHS = 12
MAX_TERM_MONTHS = 120


def term_months(explicit: int | None, interval: BillingInterval | str) -> int:
    """A line's contract term in months: as given, else inferred from how it is billed
    (a yearly invoice is a one-year term; a monthly one, monthly evergreen)."""
    if explicit is not None:
        return explicit
    return 12 if str(interval) == BillingInterval.YEAR.value else 1


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
    term_months: int = 1  # the contract term (``term_months()``): 1 monthly evergreen, 12 annual, 36 …

    @property
    def committed(self) -> bool:
        return self.term_months >= COMMITTED_TERM_MONTHS


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
    renewal_on: date | None  # the end of the main committed term (None: monthly evergreen or nothing live)
    contract_term_months: int | None  # the main line's term (1: renews monthly); None: nothing live
    customer_since: date | None  # first day any line earned
    churned_on: date | None  # when the last earning line ended, for churned accounts


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clipped to the month's last day (1/31 + 1 → 2/28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def next_renewal(term_end: date, term: int, as_of: date) -> date:
    """The renewal on or after ``as_of``: the recorded term end, or — for a live line
    whose recorded end has passed (it renewed, and the source has not sent the new end
    yet) — that end rolled forward by whole terms."""
    n = 0
    renewal = term_end
    while renewal < as_of:
        n += 1
        renewal = add_months(term_end, n * term)
    return renewal


def main_line(live: list[Line]) -> Line | None:
    """The line whose term is the account's contract (契約更新の基準): the largest
    committed plan line; else the largest committed line of any kind (an annual add-on on
    a monthly plan); else the largest plan line, else the largest line (monthly evergreen).
    Add-ons co-terminate with it: their own term ends are not the account's renewal."""
    def order(ln: Line) -> tuple[int, int]:
        return (-ln.monthly_amount, ln.product_id)

    for pool in ([ln for ln in live if ln.committed and ln.is_plan], [ln for ln in live if ln.committed],
                 [ln for ln in live if ln.is_plan], live):  # fmt: skip
        if pool:
            return min(pool, key=order)
    return None


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
    main = main_line(live)
    renewal_on = None
    if main is not None and main.committed and main.current_term_end is not None:
        renewal_on = next_renewal(main.current_term_end, main.term_months, as_of)
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
        renewal_on=renewal_on,
        contract_term_months=main.term_months if main is not None else None,
        customer_since=min(starts) if starts else None,
        churned_on=churned_on,
    )
