"""The segments configuration file (``domain/segments_config.py``) read from texts written
here: the shipped default in full, every number on both sides of its range and of its
whole-ness, the flags and the choices, the checks between keys (shares, amounts, sizes,
bands, weights) at their edges, and each refusal's file, key, code and words.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

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
from kizuna.domain.segments_config import default_segments_config, parse_segments_config
from kizuna.errors import ConfigurationError

F = "t.toml"


def read(text: str) -> SegmentsConfig:
    return parse_segments_config(text, F)


def refusal(text: str) -> tuple[str, str | None, str]:
    with pytest.raises(ConfigurationError) as caught:
        read(text)
    return caught.value.code, caught.value.field, caught.value.message


def test_the_shipped_default_in_full() -> None:
    industries = {"IT・通信": 1.0, "人材サービス": 1.0, "広告・メディア": 0.9, "製造業": 0.8, "金融・保険": 0.8, "物流": 0.7,
                  "小売・EC": 0.6, "不動産": 0.6, "建設": 0.5, "医療・福祉": 0.5, "教育": 0.4, "飲食": 0.2}  # fmt: skip
    plans = {"plan-enterprise": 1.0, "plan-pro": 1.0, "plan-standard": 0.7, "plan-starter": 0.3}
    cfg = default_segments_config()
    assert cfg == SegmentsConfig(
        tiers=TierConfig(TierBasis.MRR, TierMethod.SHARE, 0.5, 0.3, 300_000, 50_000,
                         LtvConfig(LtvSource.FITTED, 0.8, 0.02, {}, 60)),
        stages=StageConfig(90, 90, True, 90, 10.0, 0.9),
        at_risk=AtRiskConfig(True, 15.0, 30, 50.0, 30, 90, 10.0),
        fit=FitConfig(industries, 0.3, 50, 1000, plans, 0.3, {}, 0.3, 30.0, 30.0, 25.0, 15.0, 70.0, 40.0),
        source="(default segments.toml)",
    )  # fmt: skip
    # the file's whole numbers are floats where a share or a weight is meant (``10`` → 10.0)
    assert [type(v) for v in (cfg.stages.expansion_growth_pct, cfg.fit.weight_industry, cfg.fit.strong_from,
                              cfg.at_risk.login_min_baseline, cfg.at_risk.login_drop_pct)] == [float] * 5  # fmt: skip
    assert [type(v) for v in (cfg.tiers.high_amount, cfg.stages.onboarding_days, cfg.fit.employees_max)] == [int] * 3


def test_an_empty_file_is_the_dataclasses_defaults_and_names_its_source() -> None:
    assert read("") == SegmentsConfig(source=F)


# (section, key, where the value lands, lo, hi, whole, other keys the edges need)
NUMBERS = [
    ("tiers", "high_share", "tiers.high_share", 0, 1, False, "low_share = 0"),
    ("tiers", "low_share", "tiers.low_share", 0, 1, False, "high_share = 0"),
    ("tiers", "high_amount", "tiers.high_amount", 0, None, True, "low_amount = 0"),
    ("tiers", "low_amount", "tiers.low_amount", 0, None, True, ""),
    ("tiers.ltv", "gross_margin", "tiers.ltv.gross_margin", 0, 1, False, ""),
    ("tiers.ltv", "monthly_churn", "tiers.ltv.monthly_churn", 0, 1, False, ""),
    ("tiers.ltv", "max_lifetime_months", "tiers.ltv.max_lifetime_months", 1, 1200, True, ""),
    ("stages", "onboarding_days", "stages.onboarding_days", 0, 3650, True, ""),
    ("stages", "renewal_window_days", "stages.renewal_window_days", 0, 3650, True, ""),
    ("stages", "expansion_lookback_days", "stages.expansion_lookback_days", 1, 3650, True, ""),
    ("stages", "expansion_growth_pct", "stages.expansion_growth_pct", 0, 1000, False, ""),
    ("stages", "expansion_seat_use", "stages.expansion_seat_use", 0, 10, False, ""),
    ("at_risk", "health_drop_points", "at_risk.health_drop_points", 0, 100, False, ""),
    ("at_risk", "health_drop_days", "at_risk.health_drop_days", 1, 365, True, ""),
    ("at_risk", "login_drop_pct", "at_risk.login_drop_pct", 0, 100, False, ""),
    ("at_risk", "login_recent_days", "at_risk.login_recent_days", 1, 365, True, ""),
    ("at_risk", "login_baseline_days", "at_risk.login_baseline_days", 1, 730, True, ""),
    ("at_risk", "login_min_baseline", "at_risk.login_min_baseline", 0, None, False, ""),
    ("fit", "employees_min", "fit.employees_min", 1, None, True, ""),
    ("fit", "employees_max", "fit.employees_max", 1, None, True, "employees_min = 1"),
    ("fit", "other_industry", "fit.other_industry", 0, 1, False, ""),
    ("fit", "other_plan", "fit.other_plan", 0, 1, False, ""),
    ("fit", "other_use_case", "fit.other_use_case", 0, 1, False, ""),
    ("fit", "strong_from", "fit.strong_from", 0, 100, False, "moderate_from = 0"),
    ("fit", "moderate_from", "fit.moderate_from", 0, 100, False, "strong_from = 100"),
    ("fit.weights", "industry", "fit.weight_industry", 0, None, False, ""),
    ("fit.weights", "size", "fit.weight_size", 0, None, False, ""),
    ("fit.weights", "plan", "fit.weight_plan", 0, None, False, ""),
    ("fit.weights", "use_case", "fit.weight_use_case", 0, None, False, ""),
]


@pytest.mark.parametrize(("section", "key", "attr", "lo", "hi", "whole", "extra"), NUMBERS,
                         ids=[f"{s}.{k}" for s, k, *_ in NUMBERS])  # fmt: skip
def test_each_number_on_both_sides_of_its_range(section: str, key: str, attr: str, lo: int, hi: int | None,
                                                whole: bool, extra: str) -> None:  # fmt: skip
    def text(value: str) -> str:
        return f"[{section}]\n{extra}\n{key} = {value}\n"

    def value_of(cfg: SegmentsConfig) -> Any:
        return reduce(getattr, attr.split("."), cfg)

    name = f"{section}.{key}"
    # the edges themselves are accepted, and a whole number written for a share is a float
    for edge in (lo, hi) if hi is not None else (lo,):
        got = value_of(read(text(str(edge))))
        assert (got, type(got)) == (edge, int if whole else float)
    # one past them is refused with the range
    below, above = (lo - 1, (hi or 0) + 1) if whole else (lo - 0.5, (hi or 0) + 0.5)
    why = f"must be from {lo} to {hi}" if hi is not None else f"must be {lo} or more"
    assert refusal(text(str(below))) == ("invalid_segments_config", name, f"{F}: {name}: {why}, not {below}")
    if hi is not None:
        assert refusal(text(str(above))) == ("invalid_segments_config", name, f"{F}: {name}: {why}, not {above}")
    # a fraction: refused where days or yen are meant, kept where a share is
    if whole:
        assert refusal(text(f"{lo}.5")) == ("invalid_segments_config", name,
                                            f"{F}: {name}: must be a whole number, not {lo}.5")  # fmt: skip
        assert refusal(text(f"{lo}.0")) == ("invalid_segments_config", name,
                                            f"{F}: {name}: must be a whole number, not {lo}.0")  # fmt: skip
    else:
        assert value_of(read(text(f"{lo}.5"))) == lo + 0.5
    kind = "a whole number" if whole else "a number"
    assert refusal(text('"5"')) == ("invalid_segments_config", name, f"{F}: {name}: must be {kind}, not '5'")
    assert refusal(text("true")) == ("invalid_segments_config", name, f"{F}: {name}: must be {kind}, not True")


@pytest.mark.parametrize(("section", "key", "attr"), [
    ("stages", "renewal_yearly_only", "stages.renewal_yearly_only"),
    ("at_risk", "red_grade", "at_risk.red_grade"),
])  # fmt: skip
def test_the_flags_are_true_or_false(section: str, key: str, attr: str) -> None:
    def flag(value: str) -> Any:
        return reduce(getattr, attr.split("."), read(f"[{section}]\n{key} = {value}\n"))

    assert (flag("false"), flag("true")) == (False, True)
    for bad, shown in (("1", "1"), ('"yes"', "'yes'"), ("0", "0")):
        assert refusal(f"[{section}]\n{key} = {bad}\n") == (
            "invalid_segments_config", f"{section}.{key}", f"{F}: {section}.{key}: must be true or false, not {shown}")


def test_the_choices() -> None:
    cfg = read('[tiers]\nbasis = "ltv"\nmethod = "amount"\n[tiers.ltv]\nsource = "formula"\n')
    assert (cfg.tiers.basis, cfg.tiers.method, cfg.tiers.ltv.source) == (TierBasis.LTV, TierMethod.AMOUNT,
                                                                         LtvSource.FORMULA)  # fmt: skip
    assert refusal('[tiers]\nbasis = "arr"\n') == (
        "invalid_segments_config", "tiers.basis", "t.toml: tiers.basis: must be one of: mrr, ltv, not 'arr'")
    assert refusal('[tiers]\nmethod = 3\n') == (
        "invalid_segments_config", "tiers.method", "t.toml: tiers.method: must be one of: share, amount, not 3")
    assert refusal('[tiers.ltv]\nsource = "sbg"\n') == (
        "invalid_segments_config", "tiers.ltv.source", "t.toml: tiers.ltv.source: must be one of: fitted, formula, not 'sbg'")


def test_the_shares_add_up_to_1_at_most() -> None:
    # 0.5 + 0.5 = 1: accepted; 0.5 + 0.6 = 1.1: refused, named at low_share
    assert (read("[tiers]\nhigh_share = 0.5\nlow_share = 0.5\n").tiers.low_share) == 0.5
    assert refusal("[tiers]\nhigh_share = 0.5\nlow_share = 0.6\n") == (
        "invalid_segments_config", "tiers.low_share", "t.toml: tiers.low_share: high_share + low_share must be 1 or less")


def test_the_low_amount_is_not_above_the_high_one() -> None:
    cfg = read("[tiers]\nhigh_amount = 70000\nlow_amount = 70000\n").tiers
    assert (cfg.high_amount, cfg.low_amount) == (70_000, 70_000)
    assert refusal("[tiers]\nhigh_amount = 70000\nlow_amount = 70001\n") == (
        "invalid_segments_config", "tiers.low_amount", "t.toml: tiers.low_amount: must not be more than high_amount")


def test_the_size_range_and_the_fit_bands_in_order() -> None:
    cfg = read("[fit]\nemployees_min = 200\nemployees_max = 200\nstrong_from = 55\nmoderate_from = 55\n").fit
    assert (cfg.employees_min, cfg.employees_max, cfg.strong_from, cfg.moderate_from) == (200, 200, 55.0, 55.0)
    assert refusal("[fit]\nemployees_min = 201\nemployees_max = 200\n") == (
        "invalid_segments_config", "fit.employees_min", "t.toml: fit.employees_min: must not be more than employees_max")
    assert refusal("[fit]\nstrong_from = 55\nmoderate_from = 55.5\n") == (
        "invalid_segments_config", "fit.moderate_from", "t.toml: fit.moderate_from: must not be more than strong_from")


def test_the_weights_need_one_above_0() -> None:
    # any one weight above 0 is enough: 0 + 0 + 0 + 0.5 > 0, whichever part has it
    zeros = {"industry": 0.0, "size": 0.0, "plan": 0.0, "use_case": 0.0}
    for part in zeros:
        text = "[fit.weights]\n" + "".join(f"{k} = {0.5 if k == part else 0}\n" for k in zeros)
        w = read(text).fit
        assert (w.weight_industry, w.weight_size, w.weight_plan, w.weight_use_case) == tuple(
            {**zeros, part: 0.5}.values())
    assert refusal("[fit.weights]\nindustry = 0\nsize = 0\nplan = 0\nuse_case = 0\n") == (
        "invalid_segments_config", "fit.weights", "t.toml: fit.weights: at least one weight must be more than 0")
    assert refusal("[fit]\nweights = 30\n") == (
        "invalid_segments_config", "fit.weights", "t.toml: fit.weights: must be a table, not 30")
    assert refusal("[fit.weights]\nindustry = 30\nregion = 5\n") == (
        "invalid_segments_config", "fit.weights.region",
        "t.toml: fit.weights.region: unknown key; known keys: industry, plan, size, use_case")


@pytest.mark.parametrize(("table", "attr"), [
    ("fit.industries", "industries"), ("fit.plans", "plans"), ("fit.use_cases", "use_cases"),
])  # fmt: skip
def test_the_scores_of_industries_plans_and_use_cases(table: str, attr: str) -> None:
    got = getattr(read(f'[{table}]\n"営業 管理" = 1\nb = 0\nc = 0.25\n').fit, attr)
    assert got == {"営業 管理": 1.0, "b": 0.0, "c": 0.25}
    assert [type(v) for v in got.values()] == [float] * 3
    assert refusal(f"[{table}]\na = 1.5\n") == (
        "invalid_segments_config", f"{table}.a", f"t.toml: {table}.a: must be from 0 to 1, not 1.5")
    assert refusal(f"[{table}]\na = -0.1\n") == (
        "invalid_segments_config", f"{table}.a", f"t.toml: {table}.a: must be from 0 to 1, not -0.1")
    assert refusal(f'[fit]\n{table.split(".")[1]} = "a"\n') == (
        "invalid_segments_config", table, f"t.toml: {table}: must be a table, not 'a'")


def test_the_churn_by_plan() -> None:
    ltv = read('[tiers.ltv]\nmonthly_churn_by_plan = { "plan-a" = 0.04, "plan-b" = 0, "plan-c" = 1 }\n').tiers.ltv
    assert ltv.monthly_churn_by_plan == {"plan-a": 0.04, "plan-b": 0.0, "plan-c": 1.0}
    assert [type(v) for v in ltv.monthly_churn_by_plan.values()] == [float] * 3
    assert (ltv.gross_margin, ltv.monthly_churn, ltv.max_lifetime_months) == (0.8, 0.02, 60)  # the rest kept
    assert refusal('[tiers.ltv]\nmonthly_churn_by_plan = { "plan-a" = 2 }\n') == (
        "invalid_segments_config", "tiers.ltv.monthly_churn_by_plan.plan-a",
        "t.toml: tiers.ltv.monthly_churn_by_plan.plan-a: must be from 0 to 1, not 2")


def test_keys_not_changed_keep_their_defaults() -> None:
    # one key of a table changes that key alone
    cfg = read("[tiers]\nlow_amount = 1000\n[stages]\nexpansion_seat_use = 0\n[at_risk]\nlogin_min_baseline = 3\n"
               "[fit]\nmoderate_from = 10\n")  # fmt: skip
    assert cfg.tiers == TierConfig(low_amount=1000)
    assert cfg.stages == StageConfig(expansion_seat_use=0.0)
    assert cfg.at_risk == AtRiskConfig(login_min_baseline=3.0)
    assert cfg.fit == FitConfig(moderate_from=10.0)


@pytest.mark.parametrize(("text", "field", "message"), [
    ("colour = 1\n", "colour", "colour: unknown key; known keys: at_risk, fit, stages, tiers"),
    ("[tiers]\nhigh_shares = 0.5\n", "tiers.high_shares",
     "tiers.high_shares: unknown key; known keys: basis, high_amount, high_share, low_amount, low_share, ltv, method"),
    ("[tiers.ltv]\nchurn = 0.1\n", "tiers.ltv.churn", "tiers.ltv.churn: unknown key; known keys: gross_margin, "
     "max_lifetime_months, monthly_churn, monthly_churn_by_plan, source"),
    ("[stages]\nrenewal_days = 1\n", "stages.renewal_days", "stages.renewal_days: unknown key; known keys: "
     "expansion_growth_pct, expansion_lookback_days, expansion_seat_use, onboarding_days, renewal_window_days, "
     "renewal_yearly_only"),
    ("[at_risk]\nlogins = 1\n", "at_risk.logins", "at_risk.logins: unknown key; known keys: health_drop_days, "
     "health_drop_points, login_baseline_days, login_drop_pct, login_min_baseline, login_recent_days, red_grade"),
    ("[fit]\nregion = 1\n", "fit.region", "fit.region: unknown key; known keys: employees_max, employees_min, "
     "industries, moderate_from, other_industry, other_plan, other_use_case, plans, strong_from, use_cases, weights"),
    ("tiers = 3\n", "tiers", "tiers: must be a table, not 3"),
    ("stages = 3\n", "stages", "stages: must be a table, not 3"),
    ("at_risk = 3\n", "at_risk", "at_risk: must be a table, not 3"),
    ("fit = 3\n", "fit", "fit: must be a table, not 3"),
    ("[tiers]\nltv = 3\n", "tiers.ltv", "tiers.ltv: must be a table, not 3"),
])  # fmt: skip
def test_unknown_keys_and_tables_that_are_not_tables(text: str, field: str, message: str) -> None:
    assert refusal(text) == ("invalid_segments_config", field, f"t.toml: {message}")


def test_a_file_that_is_not_toml() -> None:
    assert refusal("[tiers\n") == ("invalid_segments_config", None, "t.toml: not valid TOML: "
                                    "Expected ']' at the end of a table declaration (at line 1, column 7)")
