"""The renewal rules (``domain/renewals.py``) on lines written here, without a store: which
days are term ends, the outcome detected on each (renewed, downsold, churned), the ARR due
and kept, the open renewal after ``as_of``, the look-back window's edges, the expected ARR
rounded half up, and when a renewal is at risk — each value worked out by hand.
"""

from __future__ import annotations

from datetime import date

import pytest

from kizuna.domain.enums import SubscriptionStatus as S
from kizuna.domain.renewals import (
    LOOKBACK_DAYS,
    RenewalStage,
    Term,
    _term_ends,
    at_risk,
    check_probability,
    expected,
    outcome,
    renewal_probability_from_churn,
    terms,
)
from kizuna.domain.subscriptions import Line

D = date
AS_OF = D(2026, 3, 15)  # a year back: the window 2025-03-16 … 2026-03-15
RENEWED, DOWNSOLD, CHURNED = RenewalStage.RENEWED, RenewalStage.DOWNSOLD, RenewalStage.CHURNED


def annual(amount: int, start: date, term_end: date, *, ended: date | None = None, product: int = 1,
           plan: bool = True, months: int = 12, currency: str = "JPY") -> Line:  # fmt: skip
    status = S.CANCELED if ended is not None else S.ACTIVE
    return Line(product, status, amount, currency, start, None, ended, term_end, plan, months)


def test_the_term_ends_of_a_line_within_a_window() -> None:
    """Back from the term before the recorded end, then forward from it."""
    line = annual(1, D(2024, 4, 1), D(2026, 4, 1))
    assert _term_ends(line, D(2024, 1, 1), D(2027, 12, 31)) == [
        D(2025, 4, 1), D(2024, 4, 1), D(2026, 4, 1), D(2027, 4, 1)
    ]  # fmt: skip
    assert _term_ends(line, D(2025, 4, 1), D(2026, 4, 1)) == [D(2025, 4, 1), D(2026, 4, 1)]  # both edges
    assert _term_ends(line, D(2025, 4, 2), D(2026, 3, 31)) == []
    assert _term_ends(line, D(2026, 4, 2), D(2028, 4, 1)) == [D(2027, 4, 1), D(2028, 4, 1)]  # only forward
    assert _term_ends(line, D(2020, 1, 1), D(2022, 4, 1)) == [D(2022, 4, 1), D(2021, 4, 1), D(2020, 4, 1)]
    # whole terms from the recorded end, not one after another: 29 February comes back
    leap = annual(1, D(2023, 2, 28), D(2028, 2, 29))
    assert _term_ends(leap, D(2024, 1, 1), D(2028, 12, 31)) == [
        D(2027, 2, 28), D(2026, 2, 28), D(2025, 2, 28), D(2024, 2, 29), D(2028, 2, 29)
    ]  # fmt: skip
    three = annual(1, D(2020, 6, 30), D(2026, 6, 30), months=36)
    assert _term_ends(three, D(2020, 1, 1), D(2030, 1, 1)) == [
        D(2023, 6, 30), D(2020, 6, 30), D(2026, 6, 30), D(2029, 6, 30)
    ]  # fmt: skip
    assert _term_ends(annual(1, D(2024, 4, 1), None), D(2020, 1, 1), D(2030, 1, 1)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("due", "after", "stage"),
    [(120, 0, CHURNED), (120, -1, CHURNED), (120, 1, DOWNSOLD), (120, 119, DOWNSOLD), (120, 120, RENEWED),
     (120, 240, RENEWED)],
)  # fmt: skip
def test_the_outcome_of_a_term_end(due: int, after: int, stage: RenewalStage) -> None:
    assert outcome(due, after) is stage


def test_renewed_with_an_add_on_that_co_terminates() -> None:
    """A plan of 100,000 a month and an annual add-on of 10,000 whose own term ends in
    October: one renewal a year, on the plan's day, with the add-on's ARR in it."""
    lines = [
        annual(100_000, D(2024, 4, 1), D(2026, 4, 1)),
        annual(10_000, D(2024, 10, 1), D(2025, 10, 1), product=2, plan=False),
    ]
    assert terms(lines, AS_OF) == [
        Term(D(2025, 4, 1), "JPY", 1_320_000, 1_320_000, RENEWED),
        Term(D(2026, 4, 1), "JPY", 1_320_000, None, None),  # open: after as_of
    ]


def test_downsold_then_the_new_line_renews_next() -> None:
    lines = [
        annual(50_000, D(2024, 6, 1), D(2025, 6, 1), ended=D(2025, 6, 1)),
        annual(30_000, D(2025, 6, 1), D(2026, 6, 1), product=2),
    ]
    assert terms(lines, AS_OF) == [
        Term(D(2025, 6, 1), "JPY", 600_000, 360_000, DOWNSOLD),
        Term(D(2026, 6, 1), "JPY", 360_000, None, None),
    ]


def test_churned_on_the_term_end_and_nothing_open() -> None:
    lines = [annual(20_000, D(2024, 9, 1), D(2025, 9, 1), ended=D(2025, 9, 1))]
    assert terms(lines, AS_OF) == [Term(D(2025, 9, 1), "JPY", 240_000, 0, CHURNED)]


def test_the_look_back_window_ends_on_as_of_and_starts_the_day_after() -> None:
    lines = [annual(10_000, D(2023, 3, 15), D(2026, 3, 15))]
    # 2026-03-15 is as_of: detected that day (the next one is not open yet: the source rolls the line)
    assert terms(lines, AS_OF) == [Term(AS_OF, "JPY", 120_000, 120_000, RENEWED)]
    assert LOOKBACK_DAYS == 365
    # a day more reaches 2025-03-15
    assert terms(lines, AS_OF, lookback_days=366) == [
        Term(D(2025, 3, 15), "JPY", 120_000, 120_000, RENEWED),
        Term(AS_OF, "JPY", 120_000, 120_000, RENEWED),
    ]
    # the day before: 2025-03-15 is a year back (in), the term end is open
    assert terms(lines, D(2026, 3, 14)) == [
        Term(D(2025, 3, 15), "JPY", 120_000, 120_000, RENEWED),
        Term(AS_OF, "JPY", 120_000, None, None),
    ]


def test_no_renewal_without_a_committed_main_line_or_revenue() -> None:
    monthly = Line(1, S.ACTIVE, 10_000, "JPY", D(2024, 1, 1), None, None, D(2025, 4, 1), True, 1)
    assert terms([monthly], AS_OF) == []
    free = [annual(0, D(2024, 12, 1), D(2025, 12, 1))]
    assert terms(free, AS_OF) == []
    # an annual plan cancelled early for a monthly one: on its term end's eve the main line is monthly
    early = [
        annual(50_000, D(2024, 12, 1), D(2025, 12, 1), ended=D(2025, 8, 1)),
        Line(2, S.ACTIVE, 20_000, "JPY", D(2025, 8, 1), None, None, None, True, 1),
    ]
    assert terms(early, AS_OF) == []
    # the add-on's own term end is not a renewal when a committed plan is the main line
    addon = [
        annual(100_000, D(2025, 5, 1), D(2026, 5, 1)),
        annual(10_000, D(2024, 10, 1), D(2025, 10, 1), product=2, plan=False),
    ]
    assert terms(addon, AS_OF) == [Term(D(2026, 5, 1), "JPY", 1_320_000, None, None)]


def test_the_currency_of_the_renewal_and_the_arr_kept_in_it() -> None:
    """The ARR kept is counted in the currency of the ARR due: a dollar line after a yen
    term end is not kept yen."""
    lines = [
        annual(50_000, D(2024, 7, 1), D(2025, 7, 1), ended=D(2025, 7, 1)),
        annual(500_00, D(2025, 7, 1), D(2026, 7, 1), product=2, currency="USD"),
    ]
    assert terms(lines, AS_OF) == [
        Term(D(2025, 7, 1), "JPY", 600_000, 0, CHURNED),
        Term(D(2026, 7, 1), "USD", 600_00 * 10, None, None),
    ]


def test_an_add_on_bought_on_the_eve_counts_in_the_arr_due() -> None:
    lines = [
        annual(100_000, D(2024, 4, 1), D(2025, 4, 1)),
        annual(10_000, D(2025, 3, 31), D(2026, 3, 31), product=2, plan=False),
    ]
    assert terms(lines, D(2025, 4, 1))[0] == Term(D(2025, 4, 1), "JPY", 1_320_000, 1_320_000, RENEWED)


def test_a_skipped_term_end_does_not_hide_the_next_ones() -> None:
    """The smaller committed plan's term end (April) is not a renewal — the larger plan is
    the main line — and the larger one's in May still is."""
    lines = [
        annual(100_000, D(2024, 5, 1), D(2025, 5, 1)),
        annual(10_000, D(2024, 4, 1), D(2025, 4, 1), product=2),
    ]
    assert terms(lines, AS_OF) == [
        Term(D(2025, 5, 1), "JPY", 1_320_000, 1_320_000, RENEWED),
        Term(D(2026, 5, 1), "JPY", 1_320_000, None, None),
    ]
    # a free plan's term end is no renewal (nothing due); the paid plan that followed renews
    free_then_paid = [
        annual(0, D(2024, 3, 20), D(2025, 3, 20), ended=D(2025, 3, 20)),
        annual(10_000, D(2025, 3, 20), D(2026, 3, 20), product=2),
    ]
    assert terms(free_then_paid, D(2026, 3, 25), lookback_days=400) == [
        Term(D(2026, 3, 20), "JPY", 120_000, 120_000, RENEWED),
        Term(D(2027, 3, 20), "JPY", 120_000, None, None),
    ]
    # one yen a month is revenue
    assert terms([annual(1, D(2024, 6, 1), D(2025, 6, 1))], AS_OF) == [
        Term(D(2025, 6, 1), "JPY", 12, 12, RENEWED),
        Term(D(2026, 6, 1), "JPY", 12, None, None),
    ]


def test_expected_arr_half_up_and_probabilities() -> None:
    assert expected(5, 0.5) == 3  # 2.5 → 3, half up (not to even)
    assert expected(3, 0.5) == 2  # 1.5 → 2
    assert expected(1_000_001, 0.5) == 500_001
    assert expected(100, 0.3) == 30  # 0.3 as written, not its binary neighbour
    assert expected(7, 0.1) == 1  # 0.7 → 1
    assert expected(4, 0.1) == 0  # 0.4 → 0
    assert expected(100, None) is None
    assert (check_probability(0), check_probability(1), check_probability(0.25)) == (0, 1, 0.25)
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError, match=r"^a probability is from 0 to 1$") as caught:
            check_probability(bad)
        assert str(caught.value) == "a probability is from 0 to 1"
    assert renewal_probability_from_churn(0.3) == pytest.approx(0.7)
    assert (renewal_probability_from_churn(1.2), renewal_probability_from_churn(-0.5)) == (0.0, 1.0)
    assert (renewal_probability_from_churn(0.0), renewal_probability_from_churn(1.0)) == (1.0, 0.0)


def test_a_renewal_is_at_risk_when_red_or_unlikely_while_open() -> None:
    open_stage = RenewalStage.IN_DISCUSSION
    assert at_risk(open_stage, 0.9, "red") is True
    assert at_risk(open_stage, 0.49, "green") is True
    assert at_risk(open_stage, 0.5, "green") is False  # the edge: 0.5 is not below 0.5
    assert at_risk(open_stage, None, "yellow") is False
    assert at_risk(open_stage, None, None) is False
    assert at_risk(RenewalStage.UPCOMING, 0.1, None) is True
    for closed in (RENEWED, DOWNSOLD, CHURNED):
        assert at_risk(closed, 0.1, "red") is False
    assert at_risk(RenewalStage.COMMITTED, 0.2, "green") is True
