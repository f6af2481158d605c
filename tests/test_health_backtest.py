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
def default_result(demo_store: Session) -> health_service.calc.BacktestResult:
    return health_service.backtest(demo_store, as_of=AS_OF, horizon_days=90)


def test_the_default_scorecard_predicts_churn_on_the_demo(default_result: health_service.calc.BacktestResult) -> None:
    result = default_result
    assert (result.evaluations, result.samples, result.churned) == (17, 2080, 128)
    assert result.auc is not None
    assert result.auc >= 0.75  # the goal; the exact figure (the demo is seeded) catches any drift
    # 0.80542 before the demo's churns came in several shapes (some without warning) and
    # some accounts dipped and recovered (false alarms a real book has too)
    assert result.auc == pytest.approx(0.79053, abs=1e-5)
    assert {g: (v["accounts"], v["churned"]) for g, v in result.by_grade.items()} == {
        "green": (1363, 34), "yellow": (576, 52), "red": (141, 42)}  # fmt: skip
    assert result.lift_red_over_green == pytest.approx((42 / 141) / (34 / 1363))
    assert (result.churn_events, result.red_before_churn, result.median_lead_days) == (54, 27, 20.0)
    data = health_service.backtest_json(result)
    assert data["roc"][0] == {"fpr": 0.0, "tpr": 0.0}
    assert data["roc"][-1] == {"fpr": 1.0, "tpr": 1.0}


def test_weighting_only_an_irrelevant_measure_lowers_the_auc(demo_store: Session, default_result) -> None:
    default = default_result
    cards = health_service.parse_toml(IRRELEVANT, "irrelevant.toml")
    degraded = health_service.backtest(demo_store, as_of=AS_OF, horizon_days=90, cards=cards)
    assert default.auc is not None
    # 0.52729 before the demo left some tickets open for good, more often at disengaged
    # accounts (who stop replying): open tickets now carry a little signal
    assert degraded.auc == pytest.approx(0.56003, abs=1e-5)
    assert degraded.auc < default.auc - 0.1


def test_a_changed_weight_changes_the_backtest(demo_store: Session, default_result) -> None:
    active = health_service.active_scorecards(demo_store)
    text = health_service.with_weights(active.cards, {"default.engagement": "1", "default.support": "100"})
    changed = health_service.backtest(demo_store, as_of=AS_OF, cards=health_service.parse_toml(text, "x"))
    assert changed.auc == pytest.approx(0.70843, abs=1e-5)  # 0.79053 with the default weights
    assert changed.lift_red_over_green == 0.0


def test_bad_horizons_and_short_histories_are_refused(demo_store: Session, tmp_path: Path) -> None:
    from kizuna.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--horizon-days must be from 7 to 730"):
        health_service.backtest(demo_store, as_of=AS_OF, horizon_days=3)
    with pytest.raises(InvalidInput, match="too short for a 700-day horizon"):
        health_service.backtest(demo_store, as_of=AS_OF, horizon_days=700)
