"""The default usage mapping and the session minutes one login carries, by hand (pure calls)."""

from __future__ import annotations

import math

import pytest

from kizuna.domain.usage import DEFAULT_MAPPING, UsageMapping, feature_metric, session_minutes


def test_the_feature_metric_names() -> None:
    assert feature_metric("reports") == "feature.reports"
    assert feature_metric("api") == "feature.api"


def test_which_events_count_as_a_login_and_for_which_feature() -> None:
    assert DEFAULT_MAPPING.counts_as_login("Signed In") is True
    assert DEFAULT_MAPPING.counts_as_login("Report Created") is False
    assert DEFAULT_MAPPING.feature_of("Report Created") == "reports"
    assert DEFAULT_MAPPING.feature_of("API Called") == "api"
    assert DEFAULT_MAPPING.feature_of("Signed In") is None  # a login is no feature
    assert DEFAULT_MAPPING.feature_of("Account Created") is None  # a lifecycle event neither
    # a product without a sign-in event: any event is a login ("days with logins" = active days)
    anything = UsageMapping(login_events=frozenset(), any_activity=True)
    assert anything.counts_as_login("Report Created") is True
    assert UsageMapping(login_events=frozenset({"Logged In"})).counts_as_login("Signed In") is False


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        (30, 30.0),
        (1, 1.0),  # the smallest whole minute is kept
        (0.5, 0.5),  # 32 steps of 1/64
        (2.01, 2.015625),  # 2.01 × 64 = 128.64 → 129 steps → 129 / 64 = 2.015625
        (0.004, 0.0),  # 0.004 × 64 = 0.256 → 0 steps
        (1_000_000, 1_000_000.0),  # the largest value kept
        (1_000_000.5, 0.0),  # past it: not a session length
        (-5, 0.0),
        (math.nan, 0.0),
        (math.inf, 0.0),
        (True, 0.0),  # a bool is not a number of minutes
        ("30", 0.0),
        (None, 0.0),
    ],
)
def test_the_session_minutes_of_one_login(value: object, minutes: float) -> None:
    result = session_minutes(value)
    assert (result, type(result)) == (minutes, float)
