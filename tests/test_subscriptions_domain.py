"""When a subscription line earns, and account summaries — the rule MRR stands on."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from kizuna.domain.enums import SubscriptionStatus as S
from kizuna.domain.subscriptions import AccountStatus, Line, earns_on, summarize

D = date


def line(status: S, start: date, *, amount: int = 10_000, trial_end: date | None = None, end: date | None = None,
         term_end: date | None = None, product: int = 1, plan: bool = True) -> Line:  # fmt: skip
    return Line(product, status, amount, "JPY", start, trial_end, end, term_end, plan)


def test_a_trial_earns_nothing_until_it_converts() -> None:
    trial = line(S.TRIAL, D(2026, 1, 1), trial_end=D(2026, 1, 15))
    assert not earns_on(trial, D(2026, 1, 20))
    converted = line(S.ACTIVE, D(2026, 1, 1), trial_end=D(2026, 1, 15))
    assert not earns_on(converted, D(2026, 1, 14))
    assert earns_on(converted, D(2026, 1, 15))


def test_the_end_day_is_exclusive() -> None:
    ended = line(S.CANCELED, D(2026, 1, 1), end=D(2026, 3, 1))
    assert earns_on(ended, D(2026, 2, 28))
    assert not earns_on(ended, D(2026, 3, 1))


def test_an_upgrade_replaces_one_line_by_another_without_a_gap() -> None:
    lines = [
        line(S.CANCELED, D(2025, 1, 1), amount=10_000, end=D(2026, 1, 1), product=1),
        line(S.ACTIVE, D(2026, 1, 1), amount=50_000, product=2, term_end=D(2027, 1, 1)),
        line(S.ACTIVE, D(2026, 2, 1), amount=5_000, product=9, plan=False),
    ]
    before, after = summarize(lines, D(2025, 12, 31)), summarize(lines, D(2026, 3, 1))
    assert (before.status, before.mrr, before.plan_product_id) == (AccountStatus.ACTIVE, 10_000, 1)
    assert (after.status, after.mrr, after.plan_product_id) == (AccountStatus.ACTIVE, 55_000, 2)
    assert after.renewal_on == D(2027, 1, 1)
    assert after.customer_since == D(2025, 1, 1)


def test_statuses_prospect_trial_active_churned() -> None:
    assert summarize([], D(2026, 1, 1)).status is AccountStatus.PROSPECT
    assert summarize([line(S.TRIAL, D(2026, 1, 1))], D(2026, 1, 5)).status is AccountStatus.TRIAL
    expired_trial = line(S.EXPIRED, D(2026, 1, 1), trial_end=D(2026, 1, 15), end=D(2026, 1, 15))
    assert summarize([expired_trial], D(2026, 2, 1)).status is AccountStatus.PROSPECT
    churned = summarize([line(S.CANCELED, D(2025, 1, 1), end=D(2026, 1, 1))], D(2026, 2, 1))
    assert (churned.status, churned.mrr, churned.churned_on) == (AccountStatus.CHURNED, 0, D(2026, 1, 1))


@given(
    st.lists(
        st.tuples(st.integers(0, 700), st.integers(0, 400), st.integers(0, 10**6), st.sampled_from(list(S))),
        max_size=6,
    ),
    st.integers(0, 800),
)
def test_mrr_is_the_sum_of_the_lines_earning_that_day(raw: list[tuple[int, int, int, S]], day: int) -> None:
    base = D(2025, 1, 1).toordinal()
    lines = []
    for start, length, amount, status in raw:
        end = D.fromordinal(base + start + length) if status in (S.CANCELED, S.EXPIRED) else None
        lines.append(line(status, D.fromordinal(base + start), amount=amount, end=end))
    as_of = D.fromordinal(base + day)
    summary = summarize(lines, as_of)
    assert summary.mrr == sum(ln.monthly_amount for ln in lines if earns_on(ln, as_of))
    assert (summary.status is AccountStatus.ACTIVE) == any(earns_on(ln, as_of) for ln in lines)
