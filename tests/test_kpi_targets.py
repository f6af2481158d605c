"""KPI targets (目標値), parsed and checked by hand: pure calls, no settings, no app."""

from __future__ import annotations

import pytest

from kizuna.domain.kpi_targets import DEFAULT_TARGETS, Target, parse_targets


def test_the_default_targets_as_fractions() -> None:
    # 100 % = 100 / 100 = 1.0, 90 % = 0.9, 1 % = 0.01
    assert parse_targets(DEFAULT_TARGETS) == {
        "nrr_12m": Target("nrr_12m", ">=", 1.0, "percent"),
        "grr_12m": Target("grr_12m", ">=", 0.9, "percent"),
        "logo_churn_rate": Target("logo_churn_rate", "<=", 0.01, "percent"),
    }


def test_money_counts_and_scores_are_plain_numbers_and_the_signs_are_read() -> None:
    # "150,000" is one number (the comma before a digit separates nothing): 150000.0 yen;
    # "≥"/"≤" are the same as ">="/"<="; a sign and a decimal part are kept
    targets = parse_targets("mrr ≥ 150,000; nps ≤ +30 , net_change>=-2,500.5;nrr >= 99.5%")
    assert targets == {
        "mrr": Target("mrr", ">=", 150000.0, "money"),
        "nps": Target("nps", "<=", 30.0, "score"),
        "net_change": Target("net_change", ">=", -2500.5, "money"),
        "nrr": Target("nrr", ">=", 0.995, "percent"),  # 99.5 / 100
    }
    assert list(targets) == ["mrr", "nps", "net_change", "nrr"]


@pytest.mark.parametrize("text", [None, "", "   "])
def test_no_text_sets_no_target(text: str | None) -> None:
    assert parse_targets(text) == {}


def _message(text: str) -> str:
    with pytest.raises(ValueError, match=r"^KPI target ") as caught:
        parse_targets(text)
    return str(caught.value)


def test_an_empty_item_is_skipped_but_counted() -> None:
    # a leading separator leaves an empty first item: skipped, the next ones are still read
    assert parse_targets(", mrr >= 1, ; arr <= 2") == {
        "mrr": Target("mrr", ">=", 1.0, "money"),
        "arr": Target("arr", "<=", 2.0, "money"),
    }
    assert _message(", mrr >= 5%") == "KPI target 2 (mrr): not a rate, write the number without %"


def test_each_refusal_names_the_item_and_why() -> None:
    assert _message("nrr_12m >= 100%; grr >= 90") == (
        "KPI target 2 (grr): a rate is written with %, e.g. grr >= 90%"
    )
    assert _message("ltv >= 5%") == "KPI target 1 (ltv): not a rate, write the number without %"
    assert _message("nps >= 1, nps <= 2") == "KPI target 2: nps has a target already"
    assert _message("arr >= 1; speed >= 3") == (
        "KPI target 2: unknown KPI 'speed'; one of: mrr, arr, paying_accounts, net_change, nrr, grr, "
        "nrr_12m, grr_12m, logo_churn_rate, revenue_churn_rate, nps, onboarding_completion_rate, "
        "upsell_rate, cross_sell_rate, tickets_per_account, median_frt_hours, top_20_share, ltv, "
        "ltv_cac, at_risk_accounts"
    )
    # the item is quoted up to its 60th character: 70 x's show 60
    assert _message("x" * 70) == (
        f"KPI target 1 ('{'x' * 60}') is not like 'nrr_12m >= 100%' (a KPI, >= or <=, a number, % for rates)"
    )
    assert _message("nrr_12m = 100%").startswith("KPI target 1 ('nrr_12m = 100%') is not like")


def test_a_target_is_met_on_its_edge_and_unknown_without_a_figure() -> None:
    at_least = Target("nrr_12m", ">=", 1.0, "percent")
    assert [at_least.met(v) for v in (1.0, 1.01, 0.99, None)] == [True, True, False, None]
    at_most = Target("logo_churn_rate", "<=", 0.01, "percent")
    assert [at_most.met(v) for v in (0.01, 0.0, 0.011, None)] == [True, True, False, None]


def test_a_target_as_the_api_shows_it() -> None:
    assert parse_targets("logo_churn_rate ≤ 1%")["logo_churn_rate"].to_dict() == {
        "key": "logo_churn_rate", "op": "<=", "value": 0.01, "kind": "percent",
    }  # fmt: skip
