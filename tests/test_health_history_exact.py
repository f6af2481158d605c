"""The faster paths give exactly what the plain per-day computation gives (to the last
bit): the history's survey averages of many days in one call vs one call per day, and
the backtest's days scored together vs each day scored alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import health as calc
from kizuna.analytics.health_history import _surveys
from kizuna.db import Session, make_engine, session_scope
from kizuna.db.queries import health as hq
from kizuna.domain.health import ScoringOptions
from kizuna.services import health as health_service
from kizuna.services.health import editor
from tests.demo_stores import Demo, DemoStores

AS_OF = date(2026, 6, 30)


def _per_day(raw: pd.DataFrame, days: pd.DatetimeIndex, options: ScoringOptions) -> pd.DataFrame:
    """The definition: each day's answers up to it, by their age that day, one call per day."""
    lookback = calc.survey_lookback_days(options)
    frames = []
    for d in days:
        part = raw[(raw["day"] <= d) & (raw["day"] > d - pd.Timedelta(days=lookback))].sort_values("day", kind="stable")
        if part.empty:  # (concatenated, an empty day's frame would only make the ids' dtype object)
            continue
        part = part.assign(age_days=(d - part["day"]).dt.days.astype("float64"))
        frames.append(calc.decayed_surveys(part[["account_id", "kind", "score", "age_days"]], options).assign(day=d))
    return pd.concat(frames, ignore_index=True)


def _answers(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    kind = np.where(rng.random(n) < 0.5, "nps", "csat")
    score = np.where(kind == "nps", rng.integers(0, 11, n), rng.integers(1, 6, n))
    return pd.DataFrame({"account_id": rng.integers(1, 9, n), "kind": pd.array(kind, dtype="str"),
                         "score": score, "day": day})  # fmt: skip


@pytest.mark.parametrize("options", [ScoringOptions(), ScoringOptions(nps_half_life_days=0, csat_half_life_days=45.5)])
def test_the_surveys_of_many_days_are_the_per_day_averages_to_the_bit(options: ScoringOptions) -> None:
    raw = _answers(400)
    # days with and without answers in their window, some before the first answer
    blocks = [pd.date_range(first, periods=n, freq="D") for first, n in (("2024-12-25", 10), ("2026-06-01", 12),
                                                                          ("2025-03-01", 16))]  # fmt: skip
    for block in blocks:
        got, want = _surveys(raw, block, options), _per_day(raw, block, options)
        assert len(got) > 0
        pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_days_before_any_answer_have_no_survey_rows() -> None:
    raw = _answers(50)
    days = pd.date_range("2020-01-01", periods=10, freq="D")
    got = _surveys(raw, days, ScoringOptions())
    assert got.empty
    assert list(got.columns) == ["account_id", "nps", "nps:confidence", "csat", "csat:confidence", "day"]


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory, demo_stores: DemoStores) -> Iterator[Session]:
    demo = Demo(accounts=40, months=8, seed=3, as_of=AS_OF)
    engine = make_engine(demo_stores.sqlite_url(demo, tmp_path_factory.mktemp("exact") / "demo.db"))
    with session_scope(engine) as session:
        yield session
    engine.dispose()


@pytest.mark.parametrize("replay", [True, False])
def test_days_scored_together_are_each_day_scored_alone_to_the_bit(small_demo: Session, replay: bool) -> None:
    session = small_demo
    cards = health_service.active_scorecards(session).cards
    lines, segments = hq.subscription_lines(session), hq.account_segments(session)
    first = hq.store_day_range(session)[0]
    days = [AS_OF - timedelta(days=k) for k in (150, 61, 60, 0)]
    options = {"lines": lines, "segments": segments, "paying_only": replay, "replay_stages": replay,
               "contacts": hq.contact_counts(session), "history_from": first}  # fmt: skip
    together = health_service.score_days(session, days, cards, **options)
    assert list(together) == days
    scorecards = set()
    for day in days:
        alone = health_service.score_day(session, day, cards, **options)
        got = together[day]
        assert len(alone.score) > 5
        for name in ("score", "grade", "letter", "scorecard", "lost", "events30"):
            want = getattr(alone, name)
            assert list(getattr(got, name).index) == list(want.index), (day, name)
            assert getattr(got, name).to_numpy().tolist() == want.to_numpy().tolist(), (day, name)
        pd.testing.assert_frame_equal(got.values, alone.values, check_exact=True)
        assert got.measures == alone.measures
        scorecards |= set(alone.scorecard)
    assert len(scorecards) > 1 or not replay  # the replayed stages chose more than the default scorecard


def test_backtests_scored_from_kept_measures_are_the_replays_to_the_bit(small_demo: Session) -> None:
    """The backtest of a store's kept measures (:class:`MeasuredHistory`, filled by the
    backtests before it, of other scorecards and other days) gives what a backtest reading
    and measuring every day afresh gives: weights, points and another ``min_history_days``
    are scored from the kept measures, other ``[scoring]`` options are measured anew."""
    session = small_demo
    active = health_service.active_scorecards(session).cards
    # no hysteresis: each month-end is scored alone (no days before it to settle its grades), the test stays quick
    cards = dataclasses.replace(active, options=dataclasses.replace(active.options, grade_margin=0.0,
                                                                    grade_confirm_days=1))  # fmt: skip
    default = cards.default
    weights = editor.apply_form(cards, {"w:default.engagement": "1", "w:default.support": "100"})
    longer = dataclasses.replace(weights, scorecards=tuple(
        dataclasses.replace(c, min_history_days=21) if c.key == default.key else c for c in weights.scorecards))
    surveys = dataclasses.replace(cards, options=dataclasses.replace(cards.options, nps_half_life_days=20.0))
    kept = health_service.MeasuredHistory(session)
    first = health_service.backtest(session, as_of=AS_OF, horizon_days=120, cards=cards, stability_days=3,
                                    measures=kept)  # fmt: skip
    # the second replays the month-ends of the first from the kept measures (a part of the days measured together)
    # and 2 days more, with a longer minimum history: other measures of the kept inputs
    got = health_service.backtest(session, as_of=AS_OF, horizon_days=120, cards=longer, stability_days=5,
                                  measures=kept)  # fmt: skip
    want = health_service.backtest(session, as_of=AS_OF, horizon_days=120, cards=longer, stability_days=5)
    assert want.samples > 30
    assert want.churned > 0
    assert repr(dataclasses.asdict(got)) == repr(dataclasses.asdict(want))
    # the month-ends alone: a part of the days the first measured together
    alone = health_service.backtest(session, as_of=AS_OF, horizon_days=120, cards=longer, stability_days=0,
                                    measures=kept)  # fmt: skip
    assert repr(dataclasses.asdict(alone)) == repr(dataclasses.asdict(dataclasses.replace(
        want, stability_days=0, grade_changes_per_1000=None, raw_grade_changes_per_1000=None)))  # fmt: skip
    # other [scoring] options (the surveys' decay): other measures, read and measured anew
    other = health_service.backtest(session, as_of=AS_OF, horizon_days=120, cards=surveys, stability_days=0,
                                    measures=kept)  # fmt: skip
    assert len({(r.auc, tuple(m.auc for m in r.measures)) for r in (first, got, other)}) == 3
