"""The history's faster aggregates give exactly what the plain per-day computation gives
(to the last bit): the survey averages of many days in one call vs one call per day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import health as calc
from kizuna.analytics.health_history import _surveys
from kizuna.domain.health import ScoringOptions


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
    blocks = [pd.date_range(first, periods=n, freq="D") for first, n in (("2024-12-20", 12), ("2026-06-01", 20),
                                                                          ("2025-03-01", 25))]  # fmt: skip
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
