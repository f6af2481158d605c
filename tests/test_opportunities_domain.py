"""The opportunity rules (``domain/opportunities.py``) on signals written here, without a
store: each signal on both sides of its edge (days, seat share, growth, satisfaction), the
reason's values a CSM reads, the priority order, why an opportunity is held back, and the
price proposed — each value worked out by hand.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from kizuna.domain.opportunities import (
    AccountSignals,
    Detected,
    OpportunityConfig,
    OpportunityType,
    Signal,
    Suppression,
    detect,
    price_for,
    suppression,
)

AS_OF = date(2026, 6, 30)
CFG = OpportunityConfig()  # trial 14 days, renewal 90, seats 0.9, growth 30 % from 5 users, 30 days


def acct(status: str = "active", **kw: Any) -> AccountSignals:
    return AccountSignals(account_id=7, status=status, **kw)


def found(s: AccountSignals, cfg: OpportunityConfig = CFG) -> list[tuple[Signal, dict[str, Any]]]:
    return [(d.signal, d.params) for d in detect(s, AS_OF, cfg)]


def test_the_defaults_are_the_documented_moments() -> None:
    assert (CFG.trial_days, CFG.renewal_days, CFG.seat_share, CFG.growth_pct, CFG.growth_min_users,
            CFG.purchase_days, CFG.satisfaction_days, CFG.csat_min, CFG.promoter_min, CFG.detractor_max,
            CFG.expire_days, CFG.cooldown_days) == (14, 90, 0.9, 30.0, 5, 30, 30, 4, 9, 6, 90, 90)  # fmt: skip


@pytest.mark.parametrize(("days", "holds"), [(-1, False), (0, True), (14, True), (15, False)])
def test_a_trial_ending_from_today_to_14_days_ahead(days: int, holds: bool) -> None:
    expected = [(Signal.TRIAL_ENDING, {"days": days})] if holds else []
    assert found(acct("trial", trial_ends_in=days)) == expected
    assert found(acct("active", trial_ends_in=days)) == expected  # a paying account's plan trial too


def test_churned_and_prospects_get_nothing_and_trials_only_the_trial_signal() -> None:
    everything: dict[str, Any] = {
        "trial_ends_in": 3, "renewal_in": 10, "seats": 10, "peak_active_users": 10.0, "peak_active_users_before": 5.0,
        "purchase": ("Add-on A", 2), "csat": (5, AS_OF), "nps": (10, AS_OF),
    }  # fmt: skip
    assert detect(acct("churned", **everything), AS_OF, CFG) == []
    assert detect(acct("prospect", **everything), AS_OF, CFG) == []
    # a trial (not yet paying) gets the trial's upsell only: the rest are for paying customers
    assert found(acct("trial", **everything)) == [(Signal.TRIAL_ENDING, {"days": 3})]
    # an active account gets every one, in the priority order of SIGNAL_TYPE
    # seats: 10 of 10 = 100 %; growth: 10 / 5 - 1 = 100 %
    assert found(acct("active", **everything)) == [
        (Signal.TRIAL_ENDING, {"days": 3}),
        (Signal.RENEWAL, {"days": 10}),
        (Signal.SEATS, {"used": 10, "seats": 10, "share": "100%"}),
        (Signal.GROWTH, {"growth": "100%", "before": 5, "after": 10}),
        (Signal.PURCHASE, {"bought": "Add-on A", "days": 2}),
        (Signal.CSAT, {"score": 5, "day": "2026-06-30"}),
        (Signal.PROMOTER, {"score": 10, "day": "2026-06-30"}),
    ]


@pytest.mark.parametrize(("days", "holds"), [(-1, False), (0, True), (90, True), (91, False)])
def test_a_renewal_from_today_to_90_days_ahead(days: int, holds: bool) -> None:
    assert found(acct(renewal_in=days)) == ([(Signal.RENEWAL, {"days": days})] if holds else [])


def test_seats_nearly_all_in_use_from_90_percent() -> None:
    # 0.9 × 10 seats = 9 users: 9 holds, 8.9 does not
    assert found(acct(seats=10, peak_active_users=9.0)) == [(Signal.SEATS, {"used": 9, "seats": 10, "share": "90%"})]
    assert found(acct(seats=10, peak_active_users=8.9)) == []
    # 0.9 × 20 = 18 ≤ 18.6: used rounds to 19, the share 18.6 / 20 = 93 %
    assert found(acct(seats=20, peak_active_users=18.6)) == [
        (Signal.SEATS, {"used": 19, "seats": 20, "share": "93%"})]
    # nobody active on 10 seats: 0 < 9
    assert found(acct(seats=10, peak_active_users=0.0)) == []
    # no seats known (None or 0) or no activity known: no signal
    assert found(acct(seats=None, peak_active_users=50.0)) == []
    assert found(acct(seats=0, peak_active_users=50.0)) == []
    assert found(acct(seats=10, peak_active_users=None)) == []


def test_a_seat_share_of_0_turns_the_seat_signal_off() -> None:
    off = OpportunityConfig(seat_share=0.0)
    # 0 users ≥ 0 × 10 would hold: the share 0 means "off", not "always"
    assert found(acct(seats=10, peak_active_users=0.0), off) == []
    assert found(acct(seats=10, peak_active_users=10.0), off) == []
    # a share of 0.5: 5 of 10 holds, 4 does not (0.5 × 10 = 5)
    half = OpportunityConfig(seat_share=0.5)
    assert found(acct(seats=10, peak_active_users=5.0), half) == [
        (Signal.SEATS, {"used": 5, "seats": 10, "share": "50%"})]
    assert found(acct(seats=10, peak_active_users=4.0), half) == []


def test_growth_of_30_percent_from_at_least_5_users() -> None:
    # 5 × (1 + 30 / 100) = 6.5: from 5 to 6.5 holds (30 %); 6.5 users round half to even: 6
    assert found(acct(peak_active_users_before=5.0, peak_active_users=6.5)) == [
        (Signal.GROWTH, {"growth": "30%", "before": 5, "after": 6})]
    # from 100 to 129.9 is 29.9 %: not yet; to 130 (100 × 1.3) holds
    assert found(acct(peak_active_users_before=100.0, peak_active_users=129.9)) == []
    assert found(acct(peak_active_users_before=100.0, peak_active_users=130.0)) == [
        (Signal.GROWTH, {"growth": "30%", "before": 100, "after": 130})]
    # from 4 users (under the minimum of 5) even tripling is not a signal
    assert found(acct(peak_active_users_before=4.0, peak_active_users=12.0)) == []
    # from 10 to 25: 25 / 10 - 1 = 150 %
    assert found(acct(peak_active_users_before=10.0, peak_active_users=25.0)) == [
        (Signal.GROWTH, {"growth": "150%", "before": 10, "after": 25})]
    # a fall, or nothing known on either side
    assert found(acct(peak_active_users_before=10.0, peak_active_users=8.0)) == []
    assert found(acct(peak_active_users_before=None, peak_active_users=25.0)) == []
    assert found(acct(peak_active_users_before=10.0, peak_active_users=None)) == []


def test_growth_with_other_thresholds() -> None:
    # 10 % from 2 users: 2 × 1.1 = 2.2 ≤ 2.2 holds (22 / 20 - 1 = 10 %); from 1 user it does not
    cfg = OpportunityConfig(growth_pct=10.0, growth_min_users=2)
    assert found(acct(peak_active_users_before=2.0, peak_active_users=2.2), cfg) == [
        (Signal.GROWTH, {"growth": "10%", "before": 2, "after": 2})]
    assert found(acct(peak_active_users_before=1.0, peak_active_users=9.0), cfg) == []


@pytest.mark.parametrize(("days", "holds"), [(-1, False), (0, True), (30, True), (31, False)])
def test_a_purchase_within_30_days(days: int, holds: bool) -> None:
    assert found(acct(purchase=("Analytics+", days))) == (
        [(Signal.PURCHASE, {"bought": "Analytics+", "days": days})] if holds else [])


@pytest.mark.parametrize(("back", "holds"), [(-1, False), (0, True), (30, True), (31, False)])
def test_a_high_csat_or_a_promoter_answered_within_30_days(back: int, holds: bool) -> None:
    day = AS_OF - timedelta(days=back)
    assert found(acct(csat=(4, day))) == ([(Signal.CSAT, {"score": 4, "day": day.isoformat()})] if holds else [])
    assert found(acct(nps=(9, day))) == ([(Signal.PROMOTER, {"score": 9, "day": day.isoformat()})] if holds else [])


def test_a_csat_of_3_and_an_nps_of_8_are_not_high_enough() -> None:
    assert found(acct(csat=(3, AS_OF), nps=(8, AS_OF))) == []
    # the 30 days end on the day answered: 2026-05-31 is 30 days before 2026-06-30
    assert found(acct(csat=(5, date(2026, 5, 31)), nps=(10, date(2026, 5, 31)))) == [
        (Signal.CSAT, {"score": 5, "day": "2026-05-31"}), (Signal.PROMOTER, {"score": 10, "day": "2026-05-31"})]


def test_each_signal_proposes_its_type() -> None:
    types = {s: Detected(s, {}).type for s in Signal}
    up, cross = OpportunityType.UPSELL, OpportunityType.CROSS_SELL
    assert types == {Signal.TRIAL_ENDING: up, Signal.RENEWAL: up, Signal.SEATS: up, Signal.GROWTH: up,
                     Signal.PURCHASE: cross, Signal.CSAT: cross, Signal.PROMOTER: cross}  # fmt: skip


def test_held_back_when_red_a_detractor_or_escalated_in_that_order() -> None:
    assert suppression(acct(), CFG) is None
    assert suppression(acct(health_grade="yellow", nps=(7, AS_OF)), CFG) is None  # 7 is passive, not a detractor
    assert suppression(acct(health_grade="red"), CFG) is Suppression.HEALTH_RED
    assert suppression(acct(nps=(6, AS_OF - timedelta(days=400))), CFG) is Suppression.DETRACTOR  # whenever answered
    assert suppression(acct(nps=(0, AS_OF)), CFG) is Suppression.DETRACTOR
    assert suppression(acct(open_escalations=1), CFG) is Suppression.ESCALATION
    # the first that holds names the reason
    assert suppression(acct(health_grade="red", nps=(2, AS_OF), open_escalations=3), CFG) is Suppression.HEALTH_RED
    assert suppression(acct(health_grade="green", nps=(2, AS_OF), open_escalations=3), CFG) is Suppression.DETRACTOR
    assert suppression(acct(nps=(10, AS_OF), open_escalations=2), CFG) is Suppression.ESCALATION
    # a stricter line: only 0 to 4 are detractors
    assert suppression(acct(nps=(5, AS_OF)), OpportunityConfig(detractor_max=4)) is None
    assert suppression(acct(nps=(4, AS_OF)), OpportunityConfig(detractor_max=4)) is Suppression.DETRACTOR


def test_the_price_proposed_per_seat_or_per_unit() -> None:
    # a plan without included seats: ¥3,000 × the seats bought (5) = ¥15,000
    assert price_for(3_000, None, True, 5) == 15_000
    # one seat, no seats known, 0 seats: at least one seat, ¥3,000
    assert price_for(3_000, None, True, 1) == 3_000
    assert price_for(3_000, None, True, None) == 3_000
    assert price_for(3_000, None, True, 0) == 3_000
    # a plan with 10 seats included, and an add-on: one unit at the list price
    assert price_for(50_000, 10, True, 25) == 50_000
    assert price_for(8_000, None, False, 25) == 8_000
