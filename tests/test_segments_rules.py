"""The segment rules (``domain/segments.py``) called directly, without a store: the expected
lifetime per plan, touch tiers by share and by amount at every edge (ties, trials, values of
1, float sums), the tier a value would get beside today's accounts, each lifecycle stage with
the day it is dated from and its reason, the at-risk rules at their thresholds, and the
customer fit's parts, score, rounding and bands — each value worked out by hand.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kizuna.domain.segments import (
    FIT_LABELS,
    REASONS,
    STAGE_LABELS,
    TIER_LABELS,
    AtRiskConfig,
    BandChurn,
    FitBand,
    FitConfig,
    FitInputs,
    LifecycleStage,
    LtvConfig,
    RiskFacts,
    StageConfig,
    StageDecision,
    StageFacts,
    TierConfig,
    TierMethod,
    TouchTier,
    assign_tiers,
    at_risk_reasons,
    decide_stage,
    expected_ltv,
    fit_band,
    fit_parts,
    fit_score,
    order_bands,
    rule_reason,
    size_fit,
    tier_like,
)

AS_OF = date(2026, 11, 20)
HIGH, LOW, TECH = TouchTier.HIGH, TouchTier.LOW, TouchTier.TECH
ONBOARDING, ADOPTION, EXPANSION = LifecycleStage.ONBOARDING, LifecycleStage.ADOPTION, LifecycleStage.EXPANSION
RENEWAL, CHURNED = LifecycleStage.RENEWAL, LifecycleStage.CHURNED


def days(n: int) -> timedelta:
    return timedelta(days=n)


# --- labels and reasons ----------------------------------------------------------------------


def test_the_labels_and_reasons_are_the_msgids_the_catalogue_holds() -> None:
    assert TIER_LABELS == {"high": "high touch", "low": "low touch", "tech": "tech touch"}
    assert STAGE_LABELS == {"onboarding": "onboarding", "adoption": "adoption", "expansion": "expansion",
                            "renewal": "renewal", "churned": "churned"}  # fmt: skip
    assert FIT_LABELS == {"strong": "strong fit", "moderate": "moderate fit", "weak": "weak fit"}
    assert REASONS == {
        "churned": "status is churned",
        "trial": "in a trial",
        "onboarding": "within the onboarding period and its milestones are not all done",
        "renewal": "a term ends within the renewal window",
        "grew": "MRR grew over the lookback period",
        "seats": "active users are close to the seats bought",
        "adoption": "a paying customer past onboarding",
        "tier_mrr": "by the tier rules (MRR)",
        "tier_ltv": "by the tier rules (expected LTV)",
        "override_removed": "override removed; back to the rules",
        "owner": "the account's owner",
        "fit": "by the fit rules",
        "risk_red": "health grade is red",
        "risk_drop": "health score fell sharply",
        "risk_logins": "logins fell against the account's own baseline",
    }
    # a reason the rules wrote is looked up in the catalogue; one a lead typed is user data
    assert rule_reason("in a trial") == "in a trial"
    assert rule_reason("the customer asked for a named CSM") is None


# --- expected lifetime value -----------------------------------------------------------------


def test_the_lifetime_is_one_over_the_plans_churn_capped_and_a_churn_of_zero_is_the_cap() -> None:
    cfg = LtvConfig(gross_margin=0.5, monthly_churn=0.04, monthly_churn_by_plan={"pro": 0.01, "free": 0.0},
                    max_lifetime_months=36)  # fmt: skip
    assert cfg.lifetime_months(None) == 25.0  # 1 / 0.04
    assert cfg.lifetime_months("basic") == 25.0  # a plan not listed: the default churn
    assert cfg.lifetime_months("pro") == 36.0  # 1 / 0.01 = 100 months, capped at 36
    assert cfg.lifetime_months("free") == 36.0  # no churn at all: the cap, not a division by zero
    assert expected_ltv(10_000, "pro", cfg) == 180_000.0  # 10,000 × 0.5 × 36
    assert expected_ltv(10_000, None, cfg) == 125_000.0  # 10,000 × 0.5 × 25


# --- touch tiers -----------------------------------------------------------------------------


def test_tiers_by_share_at_each_line_with_ties_by_account_id() -> None:
    # total of the positive values: 30 + 30 + 30 + 10 = 100; by value, then id: 1, 2, 6, 9
    # 1: 0 before < 50 → high; 2: 30 < 50 → high; 6: 60 ≥ 50, < 80 → low; 9: 90 ≥ 80 → tech
    tiers = assign_tiers({6: 30.0, 2: 30.0, 1: 30.0, 9: 10.0, 4: 0.0, 7: -5.0}, TierConfig())
    assert tiers == {1: HIGH, 2: HIGH, 6: LOW, 9: TECH, 4: TECH, 7: TECH}
    # exactly 80 % before an account is not under the low line: 50 + 30 = 80 of 100 → tech
    tiers = assign_tiers({1: 50.0, 2: 30.0, 3: 20.0}, TierConfig())
    assert tiers == {1: HIGH, 2: LOW, 3: TECH}
    # shares as a lead sets them: high 20 %, low 20 %; 25 + 25 + 25 + 25 = 100
    # 1: 0 < 20 → high; 2: 25 ≥ 20, < 40 → low; 3: 50 ≥ 40 → tech; 4 → tech
    cfg = TierConfig(high_share=0.2, low_share=0.2)
    assert assign_tiers({1: 25.0, 2: 25.0, 3: 25.0, 4: 25.0}, cfg) == {1: HIGH, 2: LOW, 3: TECH, 4: TECH}


def test_an_account_paying_one_yen_counts_in_the_total() -> None:
    # total 1 + 1 = 2: the first is before 0 < 1 → high, the second before 1 ≥ 1, < 1.6 → low
    assert assign_tiers({1: 1.0, 2: 1.0}, TierConfig()) == {1: HIGH, 2: LOW}


def test_a_trial_is_tech_touch_even_when_the_shares_add_up_to_one_and_float_sums_differ() -> None:
    # expected LTVs are floats: the total 0.1 + 0.2 + 0.3 (in the dict's order) is
    # 0.6000000000000001, the running sum 0.3 + 0.2 + 0.1 is 0.6 — under 100 % of the total.
    # Whatever is before it, an account worth nothing is tech touch.
    cfg = TierConfig(high_share=0.6, low_share=0.4)
    tiers = assign_tiers({1: 0.1, 2: 0.2, 3: 0.3, 4: 0.0}, cfg)
    # 3: 0 < 0.36 → high; 2: 0.3 < 0.36 → high; 1: 0.5 ≥ 0.36, < 0.6 → low; 4: worth nothing → tech
    assert tiers == {3: HIGH, 2: HIGH, 1: LOW, 4: TECH}


def test_tiers_by_amount_need_a_positive_value() -> None:
    # a lead may put every paying account in low touch at least: low_amount 1
    cfg = TierConfig(method=TierMethod.AMOUNT, high_amount=100, low_amount=1)
    assert assign_tiers({1: 100, 2: 99, 3: 1, 4: 0, 5: -3}, cfg) == {1: HIGH, 2: LOW, 3: LOW, 4: TECH, 5: TECH}
    # thresholds of 0: a trial (0) is still tech touch
    zero = TierConfig(method=TierMethod.AMOUNT, high_amount=0, low_amount=0)
    assert assign_tiers({1: 0, 2: 5, 3: 1}, zero) == {1: TECH, 2: HIGH, 3: HIGH}


def test_the_tier_a_value_would_get_beside_todays_accounts() -> None:
    amount = TierConfig(method=TierMethod.AMOUNT, high_amount=300_000, low_amount=50_000)
    assert tier_like(50_000, {}, {}, amount) is LOW
    assert tier_like(300_000, {}, {}, amount) is HIGH
    assert tier_like(49_999, {}, {}, amount) is TECH
    # by share: high touch from the smallest high-touch value today (60), low touch from the
    # smallest low-touch one (30); account 6 has a tier but no value and 7 a value of 0: neither
    # sets a floor
    values = {1: 100.0, 2: 60.0, 3: 30.0, 4: 10.0, 5: 0.0, 7: 0.0}
    tiers = {1: HIGH, 2: HIGH, 3: LOW, 4: TECH, 5: TECH, 6: HIGH, 7: LOW}
    cfg = TierConfig()
    assert [tier_like(v, values, tiers, cfg) for v in (1000.0, 60.0, 59.5, 30.0, 29.0, 0.0)] == [
        HIGH, HIGH, LOW, LOW, TECH, TECH]  # fmt: skip
    # no low-touch account today: under the high floor is tech touch
    assert tier_like(40.0, {1: 100.0, 2: 60.0}, {1: HIGH, 2: HIGH}, cfg) is TECH
    # a floor of 1: a value of 1 reaches it
    assert tier_like(1.0, {1: 5.0, 2: 1.0}, {1: HIGH, 2: LOW}, cfg) is LOW


# --- lifecycle stages ------------------------------------------------------------------------


def facts(**kw: object) -> StageFacts:
    base: dict[str, object] = {"status": "active", "customer_since": AS_OF - days(200), "churned_on": None,
                               "mrr": 100_000, "mrr_before": 100_000}  # fmt: skip
    return StageFacts(**{**base, **kw})  # type: ignore[arg-type]


def stage(f: StageFacts, cfg: StageConfig | None = None) -> StageDecision:
    return decide_stage(f, AS_OF, cfg or StageConfig())


def test_churned_prospect_and_trial_and_the_day_each_is_dated_from() -> None:
    churned = REASONS["churned"]
    assert stage(facts(status="churned", churned_on=AS_OF - days(3))) == StageDecision(
        CHURNED, date(2026, 11, 17), churned)
    assert stage(facts(status="churned")) == StageDecision(CHURNED, AS_OF, churned)  # no day known: as_of
    assert stage(facts(status="churned", churned_on=AS_OF + days(5))) == StageDecision(CHURNED, AS_OF, churned)
    assert stage(facts(status="prospect", customer_since=None)) == StageDecision(None, AS_OF, "")
    trial = REASONS["trial"]
    assert stage(facts(status="trial", trial_started_on=AS_OF - days(10))) == StageDecision(
        ONBOARDING, date(2026, 11, 10), trial)
    assert stage(facts(status="trial")) == StageDecision(ONBOARDING, AS_OF, trial)
    assert stage(facts(status="trial", trial_started_on=AS_OF + days(2))) == StageDecision(ONBOARDING, AS_OF, trial)


def test_onboarding_by_days_and_milestones() -> None:
    onboarding = REASONS["onboarding"]
    # 89 days since 2026-08-23: onboarding from that day
    assert stage(facts(customer_since=AS_OF - days(89))) == StageDecision(ONBOARDING, date(2026, 8, 23), onboarding)
    # no customer_since: a customer from today, onboarding
    assert stage(facts(customer_since=None)) == StageDecision(ONBOARDING, AS_OF, onboarding)
    # a shorter onboarding: 9 days in of 10 → onboarding; 10 days → adoption from its end (today)
    short = StageConfig(onboarding_days=10)
    assert stage(facts(customer_since=AS_OF - days(9)), short).stage is ONBOARDING
    assert stage(facts(customer_since=AS_OF - days(10)), short) == StageDecision(ADOPTION, AS_OF, REASONS["adoption"])
    # no milestones at all is not "every milestone done"; one of one is
    assert stage(facts(customer_since=AS_OF - days(10))).stage is ONBOARDING
    assert stage(facts(customer_since=AS_OF - days(10), milestones_total=1, milestones_done=1)).stage is ADOPTION


def test_renewal_within_the_window_dated_from_its_start() -> None:
    renewal = REASONS["renewal"]
    # a yearly term ending 2026-12-20: the window opens 90 days before, on 2026-09-21
    assert stage(facts(yearly_renewal_on=AS_OF + days(30))) == StageDecision(RENEWAL, date(2026, 9, 21), renewal)
    # ending today is within the window (0 days); it opened on 2026-08-22
    assert stage(facts(yearly_renewal_on=AS_OF)) == StageDecision(RENEWAL, date(2026, 8, 22), renewal)
    # ended yesterday: not a renewal any more
    assert stage(facts(yearly_renewal_on=AS_OF - days(1))).stage is ADOPTION
    # the window opened (2026-09-01) before the account was a customer (2026-10-31, milestones done early)
    early = facts(customer_since=AS_OF - days(20), milestones_total=2, milestones_done=2,
                  milestones_done_on=AS_OF - days(5), yearly_renewal_on=AS_OF + days(10))  # fmt: skip
    assert stage(early) == StageDecision(RENEWAL, date(2026, 10, 31), renewal)
    # every term, monthly ones too: the term ending 2026-11-30 opened its window on 2026-09-01
    every = StageConfig(renewal_yearly_only=False)
    assert stage(facts(renewal_on=AS_OF + days(10)), every) == StageDecision(RENEWAL, date(2026, 9, 1), renewal)
    assert stage(facts(yearly_renewal_on=AS_OF + days(10)), every).stage is ADOPTION  # renewal_on is read
    # a window of 0 days: only a term ending today
    none = StageConfig(renewal_window_days=0)
    assert stage(facts(yearly_renewal_on=AS_OF), none) == StageDecision(RENEWAL, AS_OF, renewal)
    assert stage(facts(yearly_renewal_on=AS_OF + days(1)), none).stage is ADOPTION


def test_expansion_by_growth_or_seats() -> None:
    grew, seats = REASONS["grew"], REASONS["seats"]
    assert stage(facts(mrr=110_000)) == StageDecision(EXPANSION, AS_OF, grew)  # +10 % exactly
    assert stage(facts(mrr_before=1, mrr=2)) == StageDecision(EXPANSION, AS_OF, grew)  # ¥1 → ¥2: +100 %
    assert stage(facts(mrr=109_950)).stage is ADOPTION  # +9.95 %
    assert stage(facts(mrr_before=0, mrr=50_000)).stage is ADOPTION  # nothing before: no growth rate
    # a growth threshold of 0: any rise is expansion, no rise is not
    zero = StageConfig(expansion_growth_pct=0.0)
    assert stage(facts(mrr=100_001), zero).stage is EXPANSION
    assert stage(facts(mrr=100_000), zero).stage is ADOPTION
    assert stage(facts(mrr=99_000), zero).stage is ADOPTION
    assert stage(facts(mrr_before=0, mrr=50_000), zero).stage is ADOPTION  # from nothing is not a growth
    # seats: 18 of 20 is 90 %
    assert stage(facts(seats=20, peak_active_users=18)) == StageDecision(EXPANSION, AS_OF, seats)
    assert stage(facts(seats=None, peak_active_users=5)).stage is ADOPTION  # no seats bought
    assert stage(facts(seats=0, peak_active_users=0)).stage is ADOPTION  # a plan of 0 seats
    assert stage(facts(seats=20, peak_active_users=None)).stage is ADOPTION  # users not tracked
    # seat use 0 turns the rule off, even at 20 users on 20 seats
    assert stage(facts(seats=20, peak_active_users=20), StageConfig(expansion_seat_use=0.0)).stage is ADOPTION


def test_adoption_is_dated_from_the_end_of_onboarding_or_the_last_milestone() -> None:
    adoption = REASONS["adoption"]
    since = AS_OF - days(200)  # 2026-05-04: onboarding ended 90 days later, on 2026-08-02
    assert stage(facts()) == StageDecision(ADOPTION, date(2026, 8, 2), adoption)
    done = {"milestones_total": 2, "milestones_done": 2}
    # the last milestone done on 2026-06-03 (since + 30): adoption from then
    assert stage(facts(**done, milestones_done_on=since + days(30))).since == date(2026, 6, 3)
    # done after the end of onboarding (2026-09-01): from the end, 2026-08-02
    assert stage(facts(**done, milestones_done_on=since + days(120))).since == date(2026, 8, 2)
    # done "before" the account was a customer (an imported date): from customer_since
    assert stage(facts(**done, milestones_done_on=since - days(7))).since == date(2026, 5, 4)
    # every milestone done but no day known: the end of onboarding
    assert stage(facts(**done)).since == date(2026, 8, 2)
    # not every milestone done, past onboarding: the last one's day is not the start
    part = facts(milestones_total=3, milestones_done=2, milestones_done_on=since + days(10))
    assert stage(part).since == date(2026, 8, 2)
    # early adoption: 20 days in, the milestones done 5 days ago (2026-11-15)
    early = facts(customer_since=AS_OF - days(20), milestones_done_on=AS_OF - days(5), **done)
    assert stage(early) == StageDecision(ADOPTION, date(2026, 11, 15), adoption)
    # a milestone dated after as_of never dates the stage in the future
    ahead = facts(customer_since=AS_OF - days(20), milestones_done_on=AS_OF + days(3), **done)
    assert stage(ahead).since == AS_OF


# --- at risk ---------------------------------------------------------------------------------


def test_at_risk_by_grade_and_by_a_drop_of_the_score() -> None:
    cfg = AtRiskConfig()
    red, drop, logins = REASONS["risk_red"], REASONS["risk_drop"], REASONS["risk_logins"]
    assert at_risk_reasons(RiskFacts(health_grade="red"), cfg) == [red]
    assert at_risk_reasons(RiskFacts(health_grade="yellow"), cfg) == []
    assert at_risk_reasons(RiskFacts(health_grade="red"), AtRiskConfig(red_grade=False)) == []
    # 75 → 60 is a fall of 15 (the threshold); 75 → 60.5 is 14.5; 50 → 70 is a rise
    assert at_risk_reasons(RiskFacts(health_score=60.0, health_score_before=75.0), cfg) == [drop]
    assert at_risk_reasons(RiskFacts(health_score=60.5, health_score_before=75.0), cfg) == []
    assert at_risk_reasons(RiskFacts(health_score=70.0, health_score_before=50.0), cfg) == []
    # a score without the one 30 days ago (or none today) is not judged
    assert at_risk_reasons(RiskFacts(health_score=0.0), cfg) == []
    assert at_risk_reasons(RiskFacts(health_score_before=90.0), cfg) == []
    # 0 points turns the rule off, even for a fall of 75
    assert at_risk_reasons(RiskFacts(health_score=0.0, health_score_before=75.0),
                           AtRiskConfig(health_drop_points=0)) == []  # fmt: skip
    # a threshold of 1 point is a rule (on), and a fall of exactly 1 meets it
    assert at_risk_reasons(RiskFacts(health_score=74.0, health_score_before=75.0),
                           AtRiskConfig(health_drop_points=1)) == [drop]  # fmt: skip
    # every rule at once, in the order of the rules
    both = RiskFacts(health_grade="red", health_score=10.0, health_score_before=80.0, recent_logins=0.0,
                     baseline_logins=90.0)  # fmt: skip
    assert at_risk_reasons(both, cfg) == [red, drop, logins]


def test_at_risk_when_logins_fall_against_the_own_daily_average() -> None:
    cfg = AtRiskConfig()  # 50 %, the last 30 days against the 90 before, at least 10 baseline logins
    logins = [REASONS["risk_logins"]]
    # baseline 900 / 90 = 10 a day; the line is 10 × (1 − 0.5) = 5 a day
    assert at_risk_reasons(RiskFacts(recent_logins=150.0, baseline_logins=900.0), cfg) == logins  # 5 a day
    assert at_risk_reasons(RiskFacts(recent_logins=151.0, baseline_logins=900.0), cfg) == []  # 5.03 a day
    # baseline exactly 10 logins is judged (0 now); 9.9 is too few to judge
    assert at_risk_reasons(RiskFacts(recent_logins=0.0, baseline_logins=10.0), cfg) == logins
    assert at_risk_reasons(RiskFacts(recent_logins=0.0, baseline_logins=9.9), cfg) == []
    # the windows' own lengths: 40 baseline logins over 40 days = 1 a day; 5 over 10 days = 0.5 a day
    # (the line, at risk), 6 over 10 days = 0.6 (not)
    short = AtRiskConfig(login_recent_days=10, login_baseline_days=40)
    assert at_risk_reasons(RiskFacts(recent_logins=5.0, baseline_logins=40.0), short) == logins
    assert at_risk_reasons(RiskFacts(recent_logins=6.0, baseline_logins=40.0), short) == []
    # a drop of 1 % is a rule (on): 270 / 30 = 9 a day ≤ 10 × 0.99 = 9.9
    assert at_risk_reasons(RiskFacts(recent_logins=270.0, baseline_logins=900.0), AtRiskConfig(login_drop_pct=1)) == logins
    # a drop of 0 % turns the rule off; no baseline at all (minimum 0) is nothing to fall from
    assert at_risk_reasons(RiskFacts(recent_logins=0.0, baseline_logins=900.0), AtRiskConfig(login_drop_pct=0)) == []
    assert at_risk_reasons(RiskFacts(recent_logins=0.0, baseline_logins=0.0), AtRiskConfig(login_min_baseline=0)) == []


# --- customer fit ----------------------------------------------------------------------------


def test_size_fit_falls_in_log_scale_to_zero_at_a_factor_of_four() -> None:
    assert size_fit(1000, 50, 1000) == 1.0  # the top of the range is inside
    assert size_fit(2000, 50, 1000) == pytest.approx(0.5, abs=1e-12)  # 1 − log 2 / log 4
    assert size_fit(8000, 50, 1000) == 0.0  # past a factor of 4: 0, not negative
    assert size_fit(0, 50, 1000) == 0.0
    assert size_fit(-3, 50, 1000) == 0.0
    assert size_fit(1, 2, 10) == pytest.approx(0.5, abs=1e-12)  # one employee against 2–10: half of log 4 away


def test_fit_parts_leave_out_missing_data_and_zero_weights() -> None:
    cfg = FitConfig(industries={"製造業": 1.0}, other_industry=0.3, plans={"pro": 1.0}, other_plan=0.2,
                    use_cases={"cs": 1.0}, other_use_case=0.1, employees_min=50, employees_max=1000)  # fmt: skip
    # the values not listed take the "other" values; 2,000 employees are 0.5
    assert fit_parts(FitInputs("小売", 2000, "basic", "sales"), cfg) == {
        "industry": 0.3, "size": 0.5, "plan": 0.2, "use_case": 0.1}  # fmt: skip
    assert fit_parts(FitInputs("製造業", 0, "pro", "cs"), cfg) == {
        "industry": 1.0, "size": 0.0, "plan": 1.0, "use_case": 1.0}  # fmt: skip
    assert fit_parts(FitInputs(None, None, None, None), cfg) == {}
    assert fit_parts(FitInputs("", None, "", ""), cfg) == {}  # empty texts are no data
    # a weight of 0 leaves its part out; a weight of 1 counts
    no_weights = FitConfig(weight_industry=0, weight_size=0, weight_plan=1, weight_use_case=0)
    assert fit_parts(FitInputs("製造業", 100, "pro", "cs"), no_weights) == {"plan": 0.0}
    no_plan = FitConfig(weight_industry=1, weight_size=1, weight_plan=0, weight_use_case=1)
    assert fit_parts(FitInputs("製造業", 100, "pro", "cs"), no_plan) == {"industry": 0.0, "size": 1.0, "use_case": 0.0}


def test_fit_score_is_rounded_to_a_tenth_and_banded() -> None:
    cfg = FitConfig(industries={"製造業": 1.0}, other_plan=0.0)
    # industry 1 (weight 30) and plan 0 (weight 25): 100 × 30 / 55 = 54.5454… → 54.5
    assert fit_score(FitInputs("製造業", None, "basic", None), cfg) == 54.5
    # industry 1, size 0.5 (2,000 employees), plan 0, use case 0: 100 × (30 + 15) / 100 = 45.0
    assert fit_score(FitInputs("製造業", 2000, "basic", "none"), cfg) == 45.0
    bands = FitConfig(strong_from=80.0, moderate_from=50.0)
    assert [fit_band(s, bands) for s in (80.0, 79.9, 50.0, 49.9)] == [
        FitBand.STRONG, FitBand.MODERATE, FitBand.MODERATE, FitBand.WEAK]  # fmt: skip
    assert fit_band(40.0, FitConfig()) is FitBand.MODERATE


def test_churn_by_fit_band_and_the_bands_order() -> None:
    assert BandChurn(FitBand.STRONG, 12, 3).churn_rate == 0.25
    assert BandChurn(FitBand.WEAK, 0, 0).churn_rate is None
    # each band given after the one it sorts after (a stable sort would keep a tie's order)
    rows = [BandChurn(None, 4, 1), BandChurn(FitBand.WEAK, 5, 2), BandChurn(FitBand.MODERATE, 7, 1),
            BandChurn(FitBand.STRONG, 6, 1)]  # fmt: skip
    assert [r.band for r in order_bands(rows)] == [FitBand.STRONG, FitBand.MODERATE, FitBand.WEAK, None]
