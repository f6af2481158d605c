"""The backtest: on a demo company the default scorecard predicts churn (AUC ≥ 0.75),
and a scorecard that weights only an irrelevant measure does worse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from kizuna.db import Session, ensure_schema, make_engine, session_scope
from kizuna.demo import generate_demo
from kizuna.services import health as health_service
from kizuna.services.health import editor

AS_OF = date(2026, 11, 20)

pytestmark = pytest.mark.slow

IRRELEVANT = """
[scorecards.only_renewal]
name = "Open tickets only"
default = true

[scorecards.only_renewal.groups.commercial]
label = "Commercial"
weight = 1

[scorecards.only_renewal.groups.commercial.measures]
open_tickets = { weight = 1, scoring = "steps", points = [[0, 100], [1, 60], [3, 20]] }
"""


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    url = f"sqlite:///{tmp_path_factory.mktemp('backtest') / 'demo.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    with session_scope(engine) as session:
        generate_demo(session, accounts=300, months=24, seed=42, as_of=AS_OF)
    with session_scope(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def measures(demo_store: Session) -> health_service.MeasuredHistory:
    """The demo's measures, read once: every backtest of the module scores its scorecards
    from them (test_health_history_exact checks that this gives the replay's figures to the bit)."""
    return health_service.MeasuredHistory(demo_store)


@pytest.fixture(scope="module")
def default_result(demo_store: Session, measures: health_service.MeasuredHistory) -> health_service.calc.BacktestResult:
    return health_service.backtest(demo_store, as_of=AS_OF, horizon_days=90, measures=measures)


def test_the_default_scorecard_predicts_churn_on_the_demo(default_result: health_service.calc.BacktestResult) -> None:
    result = default_result
    # observation points from 30 days of history (the measures are age-aware): 20 month-ends, was 17
    # (20, 2374, 120) before the demo's customers from before the history were survivors (the
    # flighty old ones left before it): fewer churns, and the old loyal accounts are green
    assert (result.evaluations, result.samples, result.churned) == (20, 2400, 106)
    assert result.auc is not None
    assert result.auc >= 0.75  # the goal; the exact figure (the demo is seeded) catches any drift
    # 0.79539 before the demo's risk playbooks cut some churn (their treated accounts stay);
    # 0.81767 before the demo's churns came in several shapes (some leave without warning,
    # some dip and recover: false alarms a real book has too) and support became imperfect;
    # 0.80542 before h14s and issue 20; 0.82409 with h14s alone, 0.80758 with issue 20 alone
    # 0.79099 before the survivors
    assert result.auc == pytest.approx(0.81205, abs=1e-5)
    # the floor: fewer events in the last 30 days = riskier (0.77529, 0.80134 before)
    assert result.naive_auc == pytest.approx(0.79582, abs=1e-5)  # 0.76698 before the survivors
    assert {g: (v["accounts"], v["churned"]) for g, v in result.by_grade.items()} == {
        "green": (1682, 26), "yellow": (585, 47), "red": (133, 33)}  # fmt: skip
    assert result.lift_red_over_green == pytest.approx((33 / 133) / (26 / 1682))
    assert (result.churn_events, result.red_before_churn, result.median_lead_days) == (46, 20, 23.0)
    measures = {m.key: m for m in result.measures}
    assert (round(measures["login_days"].auc, 4), measures["login_days"].samples) == (0.804, 2355)
    assert (round(measures["events_vs_baseline"].auc, 4), measures["events_vs_baseline"].direction) == (0.7164, "right")
    assert (measures["csm_sentiment"].auc, measures["csm_sentiment"].direction) == (None, "none")
    # day-to-day grade changes over the last 30 days: the hysteresis takes out half of them
    # (24.8 and 41.2 before the demo's dips that recover)
    assert result.stability_days == 30
    assert result.grade_changes_per_1000 == pytest.approx(17.4651, abs=1e-4)  # 19.1198 before the survivors
    assert result.raw_grade_changes_per_1000 == pytest.approx(37.4940, abs=1e-4)  # 39.0638
    data = health_service.backtest_json(result)
    assert data["naive_auc"] == 0.7958
    assert {"measure": "open_tickets", "auc": 0.5141, "direction": "right", "samples": 2400, "churned": 106} in data[
        "measures"]
    assert data["roc"][0] == {"fpr": 0.0, "tpr": 0.0}
    assert data["roc"][-1] == {"fpr": 1.0, "tpr": 1.0}


def test_weighting_only_an_irrelevant_measure_lowers_the_auc(demo_store: Session, default_result, measures) -> None:
    default = default_result
    cards = health_service.parse_toml(IRRELEVANT, "irrelevant.toml")
    degraded = health_service.backtest(demo_store, as_of=AS_OF, horizon_days=90, cards=cards, stability_days=0,
                                       measures=measures)  # fmt: skip
    assert default.auc is not None
    # 0.52228 before the demo left some tickets open for good, more often at disengaged
    # accounts (who stop replying): open tickets now carry a little signal
    assert degraded.auc == pytest.approx(0.51410, abs=1e-5)  # 0.51868 before the survivors, 0.55249 before the playbooks
    assert degraded.auc < default.auc - 0.1
    # a scorecard of one measure scores as that measure does on its own in the default's backtest
    assert degraded.auc == pytest.approx(next(m.auc for m in default.measures if m.key == "open_tickets"))


def test_a_changed_weight_changes_the_backtest(demo_store: Session, default_result, measures) -> None:
    active = health_service.active_scorecards(demo_store)
    edited = editor.apply_form(active.cards, {"w:default.engagement": "1", "w:default.support": "100"})
    changed = health_service.backtest(demo_store, as_of=AS_OF, cards=edited, stability_days=0, measures=measures)
    assert changed.auc == pytest.approx(0.64604, abs=1e-5)  # 0.81205 with the default weights (0.68046 before the survivors)
    assert changed.lift_red_over_green == pytest.approx(4.23704, abs=1e-5)  # 3.90789 before the survivors
    assert changed.grade_changes_per_1000 is None  # not measured


def test_bad_horizons_and_short_histories_are_refused(demo_store: Session, tmp_path: Path) -> None:
    from kizuna.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--horizon-days must be from 7 to 730"):
        health_service.backtest(demo_store, as_of=AS_OF, horizon_days=3)
    with pytest.raises(InvalidInput, match="too short for a 700-day horizon"):
        health_service.backtest(demo_store, as_of=AS_OF, horizon_days=700)
