"""The segments configuration file (``segments.toml``): its default and its checks.

The default ships as text here (so it is in every install) and is printed by
``kizuna segments config``; ``KIZUNA_SEGMENTS_CONFIG`` names a file of your own. A
file only needs the keys it changes: the rest keep their defaults. Every problem is
reported as ``FILE: KEY: why``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any, NoReturn, TypeVar

from kizuna.domain.segments import (
    AtRiskConfig,
    FitConfig,
    LtvConfig,
    LtvSource,
    SegmentsConfig,
    StageConfig,
    TierBasis,
    TierConfig,
    TierMethod,
)
from kizuna.errors import ConfigurationError
from kizuna.i18n import _

C = TypeVar("C")

DEFAULT_TOML = """\
# Kizuna segments: touch tiers, lifecycle stages, at-risk and customer fit.
# Copy this file, change what you need and point KIZUNA_SEGMENTS_CONFIG at it.
# Omitted keys keep these defaults. Amounts are in minor units (JPY: yen).

[tiers]
basis = "mrr"          # "mrr" (monthly recurring revenue) or "ltv" (expected lifetime value)
method = "share"       # "share" (of total revenue) or "amount" (fixed thresholds)
high_share = 0.5       # the accounts making the top 50% of revenue are high touch
low_share = 0.3        # the next 30% are low touch; the rest (and trials) tech touch
high_amount = 300000   # method = "amount": high touch from this MRR (or LTV)
low_amount = 50000     # method = "amount": low touch from this MRR (or LTV)

[tiers.ltv]            # expected LTV = MRR x gross margin x min(1 / monthly churn, max months)
source = "fitted"      # "fitted": an account's residual value from the daily ltv step (sBG) where it has one
gross_margin = 0.8
monthly_churn = 0.02
max_lifetime_months = 60
# monthly_churn_by_plan = { "plan-starter" = 0.04, "plan-enterprise" = 0.005 }

[stages]
onboarding_days = 90          # onboarding until its milestones are all done, or this many days
renewal_window_days = 90      # renewal: the term ends within this many days
renewal_yearly_only = true    # only yearly terms (a monthly term "renews" every month)
expansion_lookback_days = 90
expansion_growth_pct = 10     # expansion: MRR grew at least this much over the lookback …
expansion_seat_use = 0.9      # … or peak daily active users reached 90% of the seats (0: off)

[at_risk]                     # at risk when any rule holds (0 or false turns a rule off)
red_grade = true              # the health grade is red
health_drop_points = 15       # the health score fell this many points …
health_drop_days = 30         # … in this many days
login_drop_pct = 50           # logins of the last 30 days fell this much vs the account's own
login_recent_days = 30        # daily average over the 90 days before
login_baseline_days = 90
login_min_baseline = 10       # ignore accounts with fewer logins than this in the baseline

[fit]                         # the ideal customer profile (理想の顧客像)
employees_min = 50            # the size range that succeeds best (employees)
employees_max = 1000
other_industry = 0.3          # an industry not listed below
other_plan = 0.3
other_use_case = 0.3          # use case: the account's custom field "use_case"
strong_from = 70              # fit bands: strong from 70, moderate from 40, weak below
moderate_from = 40

[fit.weights]                 # how much each part counts (parts without data are left out)
industry = 30
size = 30
plan = 25
use_case = 15

[fit.industries]              # industry (as in accounts.industry) -> 0..1
"IT・通信" = 1.0
"人材サービス" = 1.0
"広告・メディア" = 0.9
"製造業" = 0.8
"金融・保険" = 0.8
"物流" = 0.7
"小売・EC" = 0.6
"不動産" = 0.6
"建設" = 0.5
"医療・福祉" = 0.5
"教育" = 0.4
"飲食" = 0.2

[fit.plans]                   # plan product code -> 0..1
"plan-enterprise" = 1.0
"plan-pro" = 1.0
"plan-standard" = 0.7
"plan-starter" = 0.3

[fit.use_cases]               # custom_fields["use_case"] -> 0..1
# "営業管理" = 1.0
"""


def _where(source: str, key: str) -> str:
    return f"{source}: {key}"


def _fail(source: str, key: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"{_where(source, key)}: {why}", code="invalid_segments_config", field=key)


def _number(source: str, key: str, value: Any, lo: float, hi: float | None, *, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        kind = _("a whole number") if whole else _("a number")
        _bad_type(source, key, value, kind)
    if value < lo or (hi is not None and value > hi):
        if hi is None:
            raise _fail(source, key, _("must be {lo} or more, not {value}").format(lo=lo, value=value))
        raise _fail(source, key, _("must be from {lo} to {hi}, not {value}").format(lo=lo, hi=hi, value=value))
    return value


def _bad_type(source: str, key: str, value: Any, kind: str) -> NoReturn:
    raise _fail(source, key, _("must be {kind}, not {value!r}").format(kind=kind, value=value))


def _table(source: str, key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        _bad_type(source, key, value, _("a table"))
    return value


def _known(source: str, prefix: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise _fail(
                source, f"{prefix}{key}", _("unknown key; known keys: {keys}").format(keys=", ".join(sorted(allowed)))
            )


def _scores(source: str, prefix: str, value: Any) -> dict[str, float]:
    table = _table(source, prefix, value)
    return {str(k): float(_number(source, f"{prefix}.{k}", v, 0, 1)) for k, v in table.items()}


def _simple(source: str, prefix: str, table: Mapping[str, Any], base: C, specs: Mapping[str, tuple[Any, ...]]) -> C:
    """Apply ``table``'s keys to the dataclass ``base``: each spec is ``(lo, hi, whole)``
    for numbers or ``(bool,)`` for flags."""
    changes: dict[str, Any] = {}
    for key, spec in specs.items():
        if key not in table:
            continue
        value = table[key]
        if spec == (bool,):
            if not isinstance(value, bool):
                _bad_type(source, f"{prefix}{key}", value, _("true or false"))
            changes[key] = value
        else:
            lo, hi, whole = spec
            number = _number(source, f"{prefix}{key}", value, lo, hi, whole=whole)
            changes[key] = int(number) if whole else float(number)
    return replace(base, **changes)  # type: ignore[type-var]


def _choice(source: str, key: str, value: Any, enum: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise _fail(
            source, key, _("must be one of: {choices}, not {value!r}").format(
                choices=", ".join(e.value for e in enum), value=value)
        ) from None  # fmt: skip


def _tiers(source: str, t: Mapping[str, Any]) -> TierConfig:
    _known(source, "tiers.", t, {f.name for f in fields(TierConfig)})
    cfg = TierConfig()
    if "basis" in t:
        cfg = replace(cfg, basis=_choice(source, "tiers.basis", t["basis"], TierBasis))
    if "method" in t:
        cfg = replace(cfg, method=_choice(source, "tiers.method", t["method"], TierMethod))
    cfg = _simple(source, "tiers.", t, cfg, {
        "high_share": (0, 1, False), "low_share": (0, 1, False),
        "high_amount": (0, None, True), "low_amount": (0, None, True),
    })  # fmt: skip
    if cfg.high_share + cfg.low_share > 1:
        raise _fail(source, "tiers.low_share", _("high_share + low_share must be 1 or less"))
    if cfg.low_amount > cfg.high_amount:
        raise _fail(source, "tiers.low_amount", _("must not be more than high_amount"))
    if "ltv" in t:
        lt = _table(source, "tiers.ltv", t["ltv"])
        _known(source, "tiers.ltv.", lt, {f.name for f in fields(LtvConfig)})
        base = LtvConfig()
        if "source" in lt:
            base = replace(base, source=_choice(source, "tiers.ltv.source", lt["source"], LtvSource))
        ltv = _simple(source, "tiers.ltv.", lt, base, {
            "gross_margin": (0, 1, False), "monthly_churn": (0, 1, False), "max_lifetime_months": (1, 1200, True),
        })  # fmt: skip
        if "monthly_churn_by_plan" in lt:
            ltv = replace(ltv, monthly_churn_by_plan=_scores(source, "tiers.ltv.monthly_churn_by_plan",
                                                             lt["monthly_churn_by_plan"]))  # fmt: skip
        cfg = replace(cfg, ltv=ltv)
    return cfg


def _fit(source: str, f: Mapping[str, Any]) -> FitConfig:
    allowed = {"industries", "plans", "use_cases", "weights", "employees_min", "employees_max", "other_industry",
               "other_plan", "other_use_case", "strong_from", "moderate_from"}  # fmt: skip
    _known(source, "fit.", f, allowed)
    cfg = _simple(source, "fit.", f, FitConfig(), {
        "employees_min": (1, None, True), "employees_max": (1, None, True), "other_industry": (0, 1, False),
        "other_plan": (0, 1, False), "other_use_case": (0, 1, False), "strong_from": (0, 100, False),
        "moderate_from": (0, 100, False),
    })  # fmt: skip
    if cfg.employees_min > cfg.employees_max:
        raise _fail(source, "fit.employees_min", _("must not be more than employees_max"))
    if cfg.moderate_from > cfg.strong_from:
        raise _fail(source, "fit.moderate_from", _("must not be more than strong_from"))
    for key in ("industries", "plans", "use_cases"):
        if key in f:
            scores: dict[str, Any] = {key: _scores(source, f"fit.{key}", f[key])}
            cfg = replace(cfg, **scores)
    if "weights" in f:
        w = _table(source, "fit.weights", f["weights"])
        _known(source, "fit.weights.", w, {"industry", "size", "plan", "use_case"})
        values: dict[str, Any] = {k: float(_number(source, f"fit.weights.{k}", v, 0, None)) for k, v in w.items()}
        cfg = replace(cfg, **{f"weight_{k}": v for k, v in values.items()})
        if cfg.weight_industry + cfg.weight_size + cfg.weight_plan + cfg.weight_use_case <= 0:
            raise _fail(source, "fit.weights", _("at least one weight must be more than 0"))
    return cfg


def parse_segments_config(text: str, source: str) -> SegmentsConfig:
    """Read ``segments.toml`` text; ``source`` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            _("{file}: not valid TOML: {reason}").format(file=source, reason=exc), code="invalid_segments_config"
        ) from None
    _known(source, "", data, {"tiers", "stages", "at_risk", "fit"})
    cfg = SegmentsConfig(source=source)
    if "tiers" in data:
        cfg = replace(cfg, tiers=_tiers(source, _table(source, "tiers", data["tiers"])))
    if "stages" in data:
        s = _table(source, "stages", data["stages"])
        _known(source, "stages.", s, {f.name for f in fields(StageConfig)})
        cfg = replace(cfg, stages=_simple(source, "stages.", s, StageConfig(), {
            "onboarding_days": (0, 3650, True), "renewal_window_days": (0, 3650, True),
            "renewal_yearly_only": (bool,), "expansion_lookback_days": (1, 3650, True),
            "expansion_growth_pct": (0, 1000, False), "expansion_seat_use": (0, 10, False),
        }))  # fmt: skip
    if "at_risk" in data:
        r = _table(source, "at_risk", data["at_risk"])
        _known(source, "at_risk.", r, {f.name for f in fields(AtRiskConfig)})
        cfg = replace(cfg, at_risk=_simple(source, "at_risk.", r, AtRiskConfig(), {
            "red_grade": (bool,), "health_drop_points": (0, 100, False), "health_drop_days": (1, 365, True),
            "login_drop_pct": (0, 100, False), "login_recent_days": (1, 365, True),
            "login_baseline_days": (1, 730, True), "login_min_baseline": (0, None, False),
        }))  # fmt: skip
    if "fit" in data:
        cfg = replace(cfg, fit=_fit(source, _table(source, "fit", data["fit"])))
    return cfg


def default_segments_config() -> SegmentsConfig:
    return parse_segments_config(DEFAULT_TOML, "(default segments.toml)")
