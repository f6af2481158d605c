"""When a subscription line earns, and account summaries — the rule MRR stands on."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from kizuna.domain.enums import BillingInterval
from kizuna.domain.enums import SubscriptionStatus as S
from kizuna.domain.subscriptions import AccountStatus, Line, earns_on, summarize, term_months

D = date


def line(status: S, start: date, *, amount: int = 10_000, trial_end: date | None = None, end: date | None = None,
         term_end: date | None = None, product: int = 1, plan: bool = True, term: int = 1) -> Line:  # fmt: skip
    return Line(product, status, amount, "JPY", start, trial_end, end, term_end, plan, term)


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
        line(S.ACTIVE, D(2026, 1, 1), amount=50_000, product=2, term_end=D(2027, 1, 1), term=12),
        line(S.ACTIVE, D(2026, 2, 1), amount=5_000, product=9, plan=False),
    ]
    before, after = summarize(lines, D(2025, 12, 31)), summarize(lines, D(2026, 3, 1))
    assert (before.status, before.mrr, before.plan_product_id) == (AccountStatus.ACTIVE, 10_000, 1)
    assert (after.status, after.mrr, after.plan_product_id) == (AccountStatus.ACTIVE, 55_000, 2)
    assert after.renewal_on == D(2027, 1, 1)
    assert after.customer_since == D(2025, 1, 1)


def test_the_renewal_is_the_end_of_the_main_committed_term_not_a_monthly_billing_date() -> None:
    """The demo's case: a ¥1,410,000/month annual plan renewing 2027-04-09 beside a ¥50,000
    monthly add-on whose month ends 2026-12-03. The account renews on 2027-04-09."""
    lines = [
        line(S.ACTIVE, D(2025, 4, 9), amount=1_410_000, product=3, term_end=D(2027, 4, 9), term=12),
        line(S.ACTIVE, D(2025, 6, 3), amount=50_000, product=20, plan=False, term_end=D(2026, 12, 3)),
    ]
    s = summarize(lines, D(2026, 11, 20))
    assert (s.renewal_on, s.contract_term_months, s.mrr) == (D(2027, 4, 9), 12, 1_460_000)


def test_a_monthly_evergreen_account_has_no_renewal_date() -> None:
    monthly = [line(S.ACTIVE, D(2026, 1, 1), amount=30_000, term_end=D(2026, 12, 1))]
    s = summarize(monthly, D(2026, 11, 20))
    assert (s.renewal_on, s.contract_term_months) == (None, 1)
    assert summarize([], D(2026, 11, 20)).contract_term_months is None


def test_an_annual_add_on_on_a_monthly_plan_is_the_committed_term() -> None:
    lines = [
        line(S.ACTIVE, D(2026, 1, 1), amount=30_000, term_end=D(2026, 12, 1)),  # monthly plan, larger
        line(S.ACTIVE, D(2026, 3, 1), amount=10_000, product=20, plan=False, term_end=D(2027, 3, 1), term=12),
    ]
    s = summarize(lines, D(2026, 11, 20))
    assert (s.renewal_on, s.contract_term_months, s.plan_product_id) == (D(2027, 3, 1), 12, 1)


def test_the_largest_committed_plan_decides_and_a_past_term_end_is_no_renewal() -> None:
    lines = [
        line(S.ACTIVE, D(2024, 1, 1), amount=20_000, product=1, term_end=D(2027, 1, 1), term=36),
        line(S.ACTIVE, D(2026, 1, 1), amount=80_000, product=2, term_end=D(2026, 11, 1), term=12),
    ]
    s = summarize(lines, D(2026, 11, 20))
    # the ¥80,000 plan's recorded term end has passed while it is still live: it renewed for a year
    assert (s.renewal_on, s.contract_term_months) == (D(2027, 11, 1), 12)
    assert summarize(lines, D(2026, 10, 1)).renewal_on == D(2026, 11, 1)
    assert summarize(lines, D(2026, 11, 1)).renewal_on == D(2026, 11, 1)  # renews today
    assert summarize(lines, D(2026, 11, 2)).renewal_on == D(2027, 11, 1)


def test_a_recorded_term_end_long_past_rolls_forward_by_whole_terms_with_month_ends_clipped() -> None:
    from kizuna.domain.subscriptions import add_months, next_renewal

    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)  # leap year
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2025, 11, 30), 3) == D(2026, 2, 28)
    assert add_months(D(2025, 12, 15), -12) == D(2024, 12, 15)
    assert next_renewal(D(2023, 3, 31), 12, D(2026, 11, 20)) == D(2027, 3, 31)
    assert next_renewal(D(2024, 2, 29), 12, D(2025, 1, 1)) == D(2025, 2, 28)
    assert next_renewal(D(2024, 2, 29), 24, D(2025, 3, 1)) == D(2026, 2, 28)
    assert next_renewal(D(2026, 12, 1), 36, D(2026, 11, 20)) == D(2026, 12, 1)  # not yet due: as recorded


def test_a_trial_on_an_annual_plan_renews_at_its_term_end() -> None:
    trial = line(S.TRIAL, D(2026, 11, 1), trial_end=D(2026, 11, 30), term_end=D(2027, 11, 30), term=12)
    s = summarize([trial], D(2026, 11, 20))
    assert (s.status, s.renewal_on, s.contract_term_months) == (AccountStatus.TRIAL, D(2027, 11, 30), 12)


def test_the_term_is_inferred_from_billing_when_not_given() -> None:
    assert term_months(None, BillingInterval.YEAR) == 12
    assert term_months(None, BillingInterval.MONTH) == 1
    assert term_months(None, "year") == 12
    assert term_months(36, BillingInterval.MONTH) == 36  # a three-year contract billed monthly
    assert term_months(1, BillingInterval.YEAR) == 1


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


# --- independent oracles: other currencies, edges, and a property checked against rules written here ---


def priced(currency: str, amount: int, start: date, *, status: S = S.ACTIVE, trial_end: date | None = None,
           end: date | None = None, product: int = 1) -> Line:  # fmt: skip
    return Line(product, status, amount, currency, start, trial_end, end, None, True)


def test_yen_and_dollars_are_never_added_up() -> None:
    # ¥10,000 and $1.00 (100 cents): the account shows ¥10,000, not ¥10,100
    small = summarize([priced("JPY", 10_000, D(2026, 1, 1)), priced("USD", 100, D(2026, 1, 1), product=2)],
                      D(2026, 3, 1))  # fmt: skip
    assert (small.currency, small.mrr) == ("JPY", 10_000)
    # ¥30,000 and $100.00: yen is the larger sum, the dollars are left out
    yen = summarize([priced("USD", 10_000, D(2026, 1, 1), product=2), priced("JPY", 30_000, D(2026, 1, 1))],
                    D(2026, 3, 1))  # fmt: skip
    assert (yen.status, yen.currency, yen.mrr) == (AccountStatus.ACTIVE, "JPY", 30_000)
    # $500.00 and ¥10,000: the account is shown in dollars
    usd = summarize([priced("JPY", 10_000, D(2026, 1, 1)), priced("USD", 50_000, D(2026, 1, 1), product=2)],
                    D(2026, 3, 1))  # fmt: skip
    assert (usd.currency, usd.mrr) == ("USD", 50_000)


def test_lines_ending_and_trials_converting_on_the_day_itself() -> None:
    day = D(2026, 1, 31)
    upgrade = [
        priced("JPY", 10_000, D(2025, 6, 1), status=S.CANCELED, end=day),
        priced("JPY", 100_000, day, product=2),
    ]
    s = summarize(upgrade, day)
    assert (s.mrr, s.plan_product_id, s.customer_since) == (100_000, 2, D(2025, 6, 1))
    ended = summarize([priced("JPY", 20_000, D(2025, 10, 1), status=S.CANCELED, end=day)], day)
    assert (ended.status, ended.mrr, ended.churned_on, ended.currency) == (AccountStatus.CHURNED, 0, day, None)
    converts = summarize([priced("JPY", 30_000, D(2026, 1, 1), trial_end=day)], day)
    assert (converts.status, converts.mrr, converts.customer_since) == (AccountStatus.ACTIVE, 30_000, day)
    before = summarize([priced("JPY", 30_000, D(2026, 1, 1), trial_end=day)], D(2026, 1, 30))
    # past the trial's start but before it converts: not a trial line, nothing earns yet
    assert (before.status, before.mrr, before.customer_since) == (AccountStatus.PROSPECT, 0, None)
    trial = summarize([priced("JPY", 30_000, D(2026, 1, 1), status=S.EXPIRED, trial_end=day, end=day)], day)
    assert (trial.status, trial.mrr, trial.currency) == (AccountStatus.PROSPECT, 0, None)
    in_trial = summarize([priced("JPY", 30_000, D(2026, 1, 1), status=S.TRIAL, trial_end=day)], D(2026, 1, 15))
    assert (in_trial.status, in_trial.mrr, in_trial.currency, in_trial.plan_product_id) == (
        AccountStatus.TRIAL, 0, "JPY", 1)  # fmt: skip


def test_renewal_is_the_main_committed_term_end_not_before_the_day() -> None:
    lines = [
        Line(1, S.ACTIVE, 10_000, "JPY", D(2025, 1, 1), None, None, D(2026, 1, 1), True, 12),
        Line(2, S.ACTIVE, 5_000, "JPY", D(2025, 1, 1), None, None, D(2026, 6, 1), False, 12),
        Line(3, S.ACTIVE, 5_000, "JPY", D(2025, 1, 1), None, None, D(2025, 12, 31), False, 1),
    ]
    assert summarize(lines, D(2026, 1, 1)).renewal_on == D(2026, 1, 1)
    # the next day the plan's term has renewed for a year: add-ons co-terminate, their ends do not count
    assert summarize(lines, D(2026, 1, 2)).renewal_on == D(2027, 1, 1)
    # the plan is the largest plan line; add-ons (not plans) are never the plan
    assert summarize(lines, D(2026, 1, 2)).plan_product_id == 1


CURRENCIES = ("JPY", "USD", "EUR")


def oracle_earns(status: S, start: int, trial_end: int | None, end: int | None, day: int) -> bool:
    """The rule of docs/kpis.md, written out on day numbers: not a trial, on or after the
    later of the start and the trial's end, before the end."""
    if status is S.TRIAL:
        return False
    first = start if trial_end is None else max(start, trial_end)
    return first <= day and (end is None or day < end)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 60), st.one_of(st.none(), st.integers(0, 60)), st.one_of(st.none(), st.integers(0, 60)),
            st.integers(0, 10**6), st.sampled_from(list(S)), st.sampled_from(CURRENCIES),
        ),
        max_size=6,
    ),
    st.integers(0, 70),
)
def test_mrr_against_an_oracle_written_here(
    raw: list[tuple[int, int | None, int | None, int, S, str]], day: int
) -> None:
    base = D(2026, 1, 1).toordinal()
    lines = [
        Line(i, status, amount, currency, D.fromordinal(base + start),
             None if trial is None else D.fromordinal(base + trial), None if end is None else D.fromordinal(base + end))
        for i, (start, trial, end, amount, status, currency) in enumerate(raw)
    ]  # fmt: skip
    summary = summarize(lines, D.fromordinal(base + day))
    earning = [(cur, amount) for start, trial, end, amount, status, cur in raw
               if oracle_earns(status, start, trial, end, day)]  # fmt: skip
    for ln, (start, trial, end, _a, status, _c) in zip(lines, raw, strict=True):
        assert earns_on(ln, D.fromordinal(base + day)) == oracle_earns(status, start, trial, end, day)
    if not earning:
        assert summary.mrr == 0
        assert summary.status is not AccountStatus.ACTIVE
        return
    totals: dict[str, int] = {}
    for cur, amount in earning:
        totals[cur] = totals.get(cur, 0) + amount
    top = max(totals.values())
    shown = next(cur for cur, _amount in earning if totals[cur] == top)  # ties: the first line's currency
    assert summary.status is AccountStatus.ACTIVE
    assert (summary.currency, summary.mrr) == (shown, top)


def test_the_plan_is_the_largest_live_plan_line_and_trials_start_on_their_day() -> None:
    lines = [
        Line(5, S.ACTIVE, 20_000, "JPY", D(2025, 1, 1)),
        Line(3, S.ACTIVE, 50_000, "JPY", D(2025, 1, 1)),
        Line(4, S.ACTIVE, 50_000, "JPY", D(2025, 1, 1)),
        Line(9, S.ACTIVE, 90_000, "JPY", D(2025, 1, 1), is_plan=False),
    ]
    s = summarize(lines, D(2026, 1, 1))
    # the largest plan (ties: the lowest product id); the add-on is never the plan
    assert (s.plan_product_id, s.mrr, s.churned_on) == (3, 210_000, None)
    starting = summarize([line(S.TRIAL, D(2026, 1, 1))], D(2026, 1, 1))
    assert (starting.status, starting.currency, starting.plan_product_id) == (AccountStatus.TRIAL, "JPY", 1)
    assert summarize([line(S.TRIAL, D(2026, 1, 2))], D(2026, 1, 1)).status is AccountStatus.PROSPECT


def test_churned_on_ignores_lines_still_to_come() -> None:
    lines = [
        line(S.CANCELED, D(2025, 1, 1), end=D(2025, 6, 1)),
        line(S.CANCELED, D(2025, 2, 1), end=D(2025, 9, 1), product=2),
        line(S.ACTIVE, D(2026, 5, 1), product=3),  # signed, starts later
        line(S.CANCELED, D(2026, 7, 1), end=D(2026, 8, 1), product=4),
    ]
    s = summarize(lines, D(2026, 1, 1))
    assert (s.status, s.mrr, s.churned_on, s.customer_since) == (AccountStatus.CHURNED, 0, D(2025, 9, 1), D(2025, 1, 1))


def test_the_reporting_currency_is_the_one_with_the_largest_total_not_the_largest_line() -> None:
    """Two ¥6,000 lines (¥12,000) beside one $100.00 line (10,000 cents): the account reports
    in yen, ¥12,000 — the sum per currency decides, not the last or largest single line."""
    lines = [
        Line(1, S.ACTIVE, 6_000, "JPY", D(2026, 1, 1)),
        Line(2, S.ACTIVE, 6_000, "JPY", D(2026, 1, 1), is_plan=False),
        Line(3, S.ACTIVE, 10_000, "USD", D(2026, 1, 1), is_plan=False),
    ]
    s = summarize(lines, D(2026, 2, 1))
    assert (s.currency, s.mrr) == ("JPY", 12_000)
