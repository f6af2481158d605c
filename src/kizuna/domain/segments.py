"""Touch tiers, lifecycle stages, at-risk and customer fit: the segment rules.

Pure functions over plain values (no storage, no clock: ``as_of`` is passed in), used
by ``services.segments`` for the daily pipeline and documented in ``docs/segments.md``.

- **Touch tier** (タッチモデル): ハイタッチ (high), ロータッチ (low), テックタッチ (tech), by
  MRR or expected LTV, with thresholds as amounts or as shares of revenue.
- **Lifecycle stage** (ライフサイクル): オンボーディング → 活用 → 拡大 → 更新 → 解約.
- **At risk** (要注意): a flag beside the stage, never a stage of its own.
- **Customer fit** (理想の顧客像との適合度): 0–100 against the ideal customer profile.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from math import log


class TouchTier(StrEnum):
    """How deep the CS team serves an account (タッチモデル)."""

    HIGH = "high"  # ハイタッチ: a named CSM, regular meetings
    LOW = "low"  # ロータッチ: one-to-many with a CSM on call
    TECH = "tech"  # テックタッチ: digital only (email, in-app, webinars)


class LifecycleStage(StrEnum):
    """Where an account is in its life as a customer (ライフサイクルステージ)."""

    ONBOARDING = "onboarding"  # オンボーディング
    ADOPTION = "adoption"  # 活用
    EXPANSION = "expansion"  # 拡大
    RENEWAL = "renewal"  # 更新
    CHURNED = "churned"  # 解約


class FitBand(StrEnum):
    """How closely an account matches the ideal customer profile (適合度)."""

    STRONG = "strong"
    MODERATE = "moderate"
    WEAK = "weak"


class Dimension(StrEnum):
    """What a segment override or history entry is about. Overrides exist for the tier and
    the stage only; the owner (a user's id) and the fit band have history alone, so that
    the KPIs can break down by the segment an account had at the start of a period."""

    TIER = "tier"
    STAGE = "stage"
    OWNER = "owner"
    FIT = "fit"


#: The dimensions a lead may override by hand.
OVERRIDABLE = (Dimension.TIER, Dimension.STAGE)


# run once, at import: mutmut switches a mutant on only later, in each test, so none of the
# mutants of _labels or _reasons could ever be tested; test_segments_rules.py states every msgid
def _labels() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:  # pragma: no mutate block
    from kizuna.i18n import N_

    tiers = {"high": N_("high touch"), "low": N_("low touch"), "tech": N_("tech touch")}
    stages = {
        "onboarding": N_("onboarding"), "adoption": N_("adoption"), "expansion": N_("expansion"),
        "renewal": N_("renewal"), "churned": N_("churned"),
    }  # fmt: skip
    bands = {"strong": N_("strong fit"), "moderate": N_("moderate fit"), "weak": N_("weak fit")}
    return tiers, stages, bands


#: value → English label (translate with ``gettext`` when showing).
TIER_LABELS, STAGE_LABELS, FIT_LABELS = _labels()


def _reasons() -> dict[str, str]:  # pragma: no mutate block  (run once at import, as _labels)
    from kizuna.i18n import N_

    return {
        "churned": N_("status is churned"),
        "trial": N_("in a trial"),
        "onboarding": N_("within the onboarding period and its milestones are not all done"),
        "renewal": N_("a term ends within the renewal window"),
        "grew": N_("MRR grew over the lookback period"),
        "seats": N_("active users are close to the seats bought"),
        "adoption": N_("a paying customer past onboarding"),
        "tier_mrr": N_("by the tier rules (MRR)"),
        "tier_ltv": N_("by the tier rules (expected LTV)"),
        "override_removed": N_("override removed; back to the rules"),
        "owner": N_("the account's owner"),
        "fit": N_("by the fit rules"),
        "risk_red": N_("health grade is red"),
        "risk_drop": N_("health score fell sharply"),
        "risk_logins": N_("logins fell against the account's own baseline"),
    }


#: The reasons the rules give (English msgids, stored in history and translated when shown).
REASONS = _reasons()
REASON_CHURNED, REASON_TRIAL, REASON_ONBOARDING = REASONS["churned"], REASONS["trial"], REASONS["onboarding"]
REASON_RENEWAL, REASON_GREW, REASON_SEATS = REASONS["renewal"], REASONS["grew"], REASONS["seats"]
REASON_ADOPTION, REASON_TIER_MRR, REASON_TIER_LTV = REASONS["adoption"], REASONS["tier_mrr"], REASONS["tier_ltv"]
REASON_OVERRIDE_REMOVED = REASONS["override_removed"]
REASON_OWNER, REASON_FIT = REASONS["owner"], REASONS["fit"]
RISK_RED, RISK_HEALTH_DROP, RISK_LOGINS = REASONS["risk_red"], REASONS["risk_drop"], REASONS["risk_logins"]
_RULE_REASONS = frozenset(REASONS.values())


def rule_reason(text: str) -> str | None:
    """The msgid of a reason the rules wrote (translate it when showing), or None for a
    reason a person wrote: that one is user data, shown as it is and never looked up in
    the catalogue (user data never passes through ``_()``)."""
    return text if text in _RULE_REASONS else None


# --- touch tiers -----------------------------------------------------------------------------


class TierBasis(StrEnum):
    MRR = "mrr"
    LTV = "ltv"


class TierMethod(StrEnum):
    SHARE = "share"  # the accounts making the top X% of revenue
    AMOUNT = "amount"  # fixed amounts per month (MRR) or in total (LTV)


class LtvSource(StrEnum):
    FITTED = "fitted"  # the account's residual value from the daily ltv step (sBG), else the formula
    FORMULA = "formula"  # always the formula below


@dataclass(frozen=True)
class LtvConfig:
    """Expected LTV = MRR × gross margin × expected lifetime in months, where the
    lifetime is 1 ÷ the monthly churn rate of the account's plan (or the default),
    capped at ``max_lifetime_months``. With ``source = fitted`` (the default) an account
    the daily ``ltv`` step has scored uses its residual value (sBG, issue 21) instead."""

    source: LtvSource = LtvSource.FITTED
    gross_margin: float = 0.8
    monthly_churn: float = 0.02
    monthly_churn_by_plan: Mapping[str, float] = field(default_factory=dict)
    max_lifetime_months: int = 60

    def lifetime_months(self, plan_code: str | None) -> float:
        churn = self.monthly_churn_by_plan.get(plan_code or "", self.monthly_churn)
        return min(float(self.max_lifetime_months), 1.0 / churn) if churn > 0 else float(self.max_lifetime_months)


@dataclass(frozen=True)
class TierConfig:
    basis: TierBasis = TierBasis.MRR
    method: TierMethod = TierMethod.SHARE
    high_share: float = 0.5  # the accounts making the top 50% of revenue
    low_share: float = 0.3  # the next 30%
    high_amount: int = 300_000  # minor units (JPY: yen), MRR per month or total LTV
    low_amount: int = 50_000
    ltv: LtvConfig = field(default_factory=LtvConfig)


def expected_ltv(mrr: int, plan_code: str | None, cfg: LtvConfig) -> float:
    """Expected lifetime value in minor units (see :class:`LtvConfig`).

    >>> expected_ltv(100_000, None, LtvConfig(gross_margin=0.8, monthly_churn=0.02))
    4000000.0
    """
    return mrr * cfg.gross_margin * cfg.lifetime_months(plan_code)


def assign_tiers(values: Mapping[int, float], cfg: TierConfig) -> dict[int, TouchTier]:
    """The tier of each live account from its value (MRR or expected LTV).

    By share: accounts sorted by value, largest first; an account is high touch while
    the revenue of the larger accounts before it is under ``high_share`` of the total
    (so the account that crosses the line is high touch too), then low touch up to
    ``high_share + low_share``, then tech touch. By amount: value ≥ ``high_amount`` is
    high touch, ≥ ``low_amount`` low touch. A value of zero (a trial) is always tech
    touch. Ties are broken by account id, so the result is stable.
    """
    tiers: dict[int, TouchTier] = {}
    if cfg.method is TierMethod.AMOUNT:
        for account_id, value in values.items():
            if value > 0 and value >= cfg.high_amount:
                tiers[account_id] = TouchTier.HIGH
            elif value > 0 and value >= cfg.low_amount:
                tiers[account_id] = TouchTier.LOW
            else:
                tiers[account_id] = TouchTier.TECH
        return tiers
    total = float(sum(v for v in values.values() if v > 0))
    before = 0.0
    for account_id, value in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])):
        if value <= 0:  # (a total of 0 has no positive value: every account is here)
            tiers[account_id] = TouchTier.TECH
        elif before < cfg.high_share * total:
            tiers[account_id] = TouchTier.HIGH
        elif before < (cfg.high_share + cfg.low_share) * total:
            tiers[account_id] = TouchTier.LOW
        else:
            tiers[account_id] = TouchTier.TECH
        before += max(value, 0.0)
    return tiers


def tier_like(value: float, values: Mapping[int, float], tiers: Mapping[int, TouchTier], cfg: TierConfig) -> TouchTier:
    """The tier an account worth ``value`` would get beside today's accounts (the tier of
    a churned account whose tier predates the history): by amount, the thresholds; by
    share, high touch from the smallest value that is high touch today, low touch from
    the smallest that is low touch."""
    if cfg.method is TierMethod.AMOUNT:
        return assign_tiers({0: value}, cfg)[0]
    for tier in (TouchTier.HIGH, TouchTier.LOW):
        floor = min((values[a] for a, t in tiers.items() if t is tier and values.get(a, 0) > 0), default=None)
        if floor is not None and value >= floor:  # a floor is positive: so is a value reaching it
            return tier
    return TouchTier.TECH


# --- lifecycle stages ------------------------------------------------------------------------


@dataclass(frozen=True)
class StageConfig:
    onboarding_days: int = 90  # onboarding lasts at most this long after customer_since
    renewal_window_days: int = 90  # renewal: the term ends within this many days
    renewal_yearly_only: bool = True  # monthly terms renew every month: not a renewal stage
    expansion_lookback_days: int = 90
    expansion_growth_pct: float = 10.0  # MRR grew by at least this much in the lookback
    expansion_seat_use: float = 0.9  # or peak active users ≥ 90% of the seats bought (0: off)


@dataclass(frozen=True)
class StageFacts:
    """What the stage rules look at, for one account."""

    status: str  # AccountStatus value: prospect, trial, active, churned
    customer_since: date | None
    churned_on: date | None
    trial_started_on: date | None = None
    milestones_total: int = 0
    milestones_done: int = 0
    milestones_done_on: date | None = None  # when the last one was completed
    yearly_renewal_on: date | None = None  # the nearest term end of a live yearly line
    renewal_on: date | None = None  # the nearest term end of any live line
    mrr: int = 0
    mrr_before: int = 0  # MRR ``expansion_lookback_days`` ago
    seats: int | None = None  # seats bought on the live plan
    peak_active_users: float | None = None  # highest daily active users in the last 30 days


@dataclass(frozen=True)
class StageDecision:
    stage: LifecycleStage | None  # None: not a customer (a prospect)
    since: date  # the day the rule says the account entered the stage (for the first history entry)
    reason: str  # one of REASONS (an English msgid), stored in history


def decide_stage(f: StageFacts, as_of: date, cfg: StageConfig) -> StageDecision:
    """The lifecycle stage by the documented rules, in this order (the first that holds):

    1. churned: the account's status is churned (nothing earns any more);
    2. onboarding: in a trial, or fewer than ``onboarding_days`` since ``customer_since``
       and not every onboarding milestone is done;
    3. renewal: a live (yearly, unless ``renewal_yearly_only`` is off) term ends within
       ``renewal_window_days``;
    4. expansion: MRR grew at least ``expansion_growth_pct`` % over the last
       ``expansion_lookback_days`` days, or peak daily active users reached
       ``expansion_seat_use`` of the seats bought (an upsell signal);
    5. adoption (活用): every other paying customer.

    Prospects (never paid, no trial) have no stage.
    """
    if f.status == "churned":
        return StageDecision(LifecycleStage.CHURNED, min(f.churned_on or as_of, as_of), REASON_CHURNED)
    if f.status == "prospect":
        return StageDecision(None, as_of, "")
    if f.status == "trial":
        return StageDecision(LifecycleStage.ONBOARDING, min(f.trial_started_on or as_of, as_of), REASON_TRIAL)
    since = f.customer_since or as_of
    onboarding_end = since + timedelta(days=cfg.onboarding_days)
    milestones_done = f.milestones_total > 0 and f.milestones_done >= f.milestones_total
    if as_of < onboarding_end and not milestones_done:
        return StageDecision(LifecycleStage.ONBOARDING, since, REASON_ONBOARDING)
    term_end = f.yearly_renewal_on if cfg.renewal_yearly_only else f.renewal_on
    if term_end is not None and 0 <= (term_end - as_of).days <= cfg.renewal_window_days:
        window_start = max(term_end - timedelta(days=cfg.renewal_window_days), since)
        return StageDecision(LifecycleStage.RENEWAL, min(window_start, as_of), REASON_RENEWAL)
    # no tolerance needed: 100 × a whole-yen rise ÷ the base is rounded once, like the threshold
    # read from the file, so a growth of exactly the threshold compares equal
    grew = f.mrr > f.mrr_before > 0 and 100.0 * (f.mrr - f.mrr_before) / f.mrr_before >= cfg.expansion_growth_pct
    if grew:
        return StageDecision(LifecycleStage.EXPANSION, as_of, REASON_GREW)
    seats_used = f.seats and f.peak_active_users is not None and f.peak_active_users >= cfg.expansion_seat_use * f.seats
    if cfg.expansion_seat_use > 0 and seats_used:
        return StageDecision(LifecycleStage.EXPANSION, as_of, REASON_SEATS)
    if milestones_done and f.milestones_done_on is not None:
        entered = max(since, min(f.milestones_done_on, onboarding_end))
    else:
        entered = onboarding_end
    return StageDecision(LifecycleStage.ADOPTION, min(entered, as_of), REASON_ADOPTION)


# --- at risk ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AtRiskConfig:
    """An account is at risk when any one of these holds (0 turns a rule off)."""

    red_grade: bool = True  # its health grade is red
    health_drop_points: float = 15.0  # its health score fell this much …
    health_drop_days: int = 30  # … over this many days
    login_drop_pct: float = 50.0  # its logins of the last ``login_recent_days`` fell this much
    login_recent_days: int = 30  # vs its own daily average over the ``login_baseline_days`` before
    login_baseline_days: int = 90
    login_min_baseline: float = 10.0  # ignore accounts with fewer baseline logins than this


@dataclass(frozen=True)
class RiskFacts:
    health_grade: str | None = None
    health_score: float | None = None
    health_score_before: float | None = None  # ``health_drop_days`` ago
    recent_logins: float = 0.0  # total over the recent window
    baseline_logins: float = 0.0  # total over the baseline window


def at_risk_reasons(f: RiskFacts, cfg: AtRiskConfig) -> list[str]:
    """Why the account is at risk (msgids from REASONS; empty: it is not). Only live customers are
    judged; the caller skips the others."""
    reasons: list[str] = []
    if cfg.red_grade and f.health_grade == "red":
        reasons.append(RISK_RED)
    if (
        cfg.health_drop_points > 0
        and f.health_score is not None
        and f.health_score_before is not None
        and f.health_score_before - f.health_score >= cfg.health_drop_points
    ):
        reasons.append(RISK_HEALTH_DROP)
    if cfg.login_drop_pct > 0 and f.baseline_logins >= cfg.login_min_baseline:
        per_day_base = f.baseline_logins / cfg.login_baseline_days
        per_day_now = f.recent_logins / cfg.login_recent_days
        if per_day_base > 0 and per_day_now <= per_day_base * (1 - cfg.login_drop_pct / 100):
            reasons.append(RISK_LOGINS)
    return reasons


# --- customer fit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FitConfig:
    """The ideal customer profile (理想の顧客像) and how much each part counts."""

    industries: Mapping[str, float] = field(default_factory=dict)  # industry → 0..1
    other_industry: float = 0.0  # an industry not listed
    employees_min: int = 50
    employees_max: int = 1000
    plans: Mapping[str, float] = field(default_factory=dict)  # plan product code → 0..1
    other_plan: float = 0.0
    use_cases: Mapping[str, float] = field(default_factory=dict)  # custom_fields["use_case"] → 0..1
    other_use_case: float = 0.0
    weight_industry: float = 30.0
    weight_size: float = 30.0
    weight_plan: float = 25.0
    weight_use_case: float = 15.0
    strong_from: float = 70.0
    moderate_from: float = 40.0


@dataclass(frozen=True)
class FitInputs:
    industry: str | None
    employee_count: int | None
    plan_code: str | None
    use_case: str | None


def size_fit(employees: int, lo: int, hi: int) -> float:
    """1 inside ``[lo, hi]``; outside, falling linearly in log scale to 0 at a factor of
    4 beyond the range (against a 50–1,000 range a 25-person company scores 0.5, one of
    2,000 too; at ``lo/4`` = 12.5 and below, or ``hi × 4`` and above, it is 0)."""
    if lo <= employees <= hi:
        return 1.0
    if employees <= 0:
        return 0.0
    distance = log(lo / employees) if employees < lo else log(employees / hi)
    return max(0.0, 1.0 - distance / log(4.0))


def fit_parts(x: FitInputs, cfg: FitConfig) -> dict[str, float]:
    """Each part's value 0..1; a part without data is left out (not scored zero)."""
    parts: dict[str, float] = {}
    if x.industry and cfg.weight_industry > 0:
        parts["industry"] = cfg.industries.get(x.industry, cfg.other_industry)
    if x.employee_count is not None and cfg.weight_size > 0:
        parts["size"] = size_fit(x.employee_count, cfg.employees_min, cfg.employees_max)
    if x.plan_code and cfg.weight_plan > 0:
        parts["plan"] = cfg.plans.get(x.plan_code, cfg.other_plan)
    if x.use_case and cfg.weight_use_case > 0:
        parts["use_case"] = cfg.use_cases.get(x.use_case, cfg.other_use_case)
    return parts


def fit_score(x: FitInputs, cfg: FitConfig) -> float | None:
    """0–100: the weighted mean of the parts with data (weights renormalised); None
    when no part has data.

    >>> cfg = FitConfig(industries={"製造業": 1.0}, plans={"pro": 1.0})
    >>> fit_score(FitInputs("製造業", 200, "pro", None), cfg)
    100.0
    """
    parts = fit_parts(x, cfg)
    weights = {
        "industry": cfg.weight_industry, "size": cfg.weight_size, "plan": cfg.weight_plan,
        "use_case": cfg.weight_use_case,
    }  # fmt: skip
    if not parts:  # (a part is there only with a positive weight: the total is positive)
        return None
    total = sum(weights[k] for k in parts)
    return round(100.0 * sum(weights[k] * v for k, v in parts.items()) / total, 1)


def fit_band(score: float | None, cfg: FitConfig) -> FitBand | None:
    if score is None:
        return None
    if score >= cfg.strong_from:
        return FitBand.STRONG
    if score >= cfg.moderate_from:
        return FitBand.MODERATE
    return FitBand.WEAK


@dataclass(frozen=True)
class BandChurn:
    """Churn by fit band: of the accounts that were customers by ``as_of``, how many churned."""

    band: FitBand | None
    customers: int
    churned: int

    @property
    def churn_rate(self) -> float | None:
        return self.churned / self.customers if self.customers else None


def order_bands(rows: Iterable[BandChurn]) -> list[BandChurn]:
    order = {FitBand.STRONG: 0, FitBand.MODERATE: 1, FitBand.WEAK: 2, None: 3}
    return sorted(rows, key=lambda r: order[r.band])


# --- the whole configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class SegmentsConfig:
    tiers: TierConfig = field(default_factory=TierConfig)
    stages: StageConfig = field(default_factory=StageConfig)
    at_risk: AtRiskConfig = field(default_factory=AtRiskConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    source: str = "(defaults)"  # the file it came from, for messages
