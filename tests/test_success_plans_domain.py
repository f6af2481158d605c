"""Success plans' status rule and the objective's fields, by hand at their edges (pure calls;
``test_onboarding_success_plans.py`` runs them through the API and the pages)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from kizuna.domain.success_plans import Objective, Track, check_objective, day, number, text, track
from kizuna.errors import InvalidInput

S = date(2026, 1, 1)


def on(days: int) -> date:
    return S + timedelta(days=days)


def test_progress_and_time_elapsed() -> None:
    # 13 from 10 towards 20: 3 / 10 = 0.3; day 5 of 10: 0.5 → lag 0.2, at risk
    assert track(baseline=10, target=20, current=13, started_on=S, due_on=on(10), today=on(5)) == Track(
        "at_risk", 0.3, 0.5
    )
    # no current value: progress 0; day 1 of 10 → lag 0.1, on track
    assert track(baseline=10, target=20, current=None, started_on=S, due_on=on(10), today=on(1)) == Track(
        "on_track", 0.0, 0.1
    )
    # moved away from the target (8 from 10 towards 20): progress 0, not negative
    assert track(baseline=10, target=20, current=8, started_on=S, due_on=on(10), today=S) == Track("on_track", 0.0, 0.0)
    # downwards (churn 8 % → 4 %): 5 % is (5 − 8) / (4 − 8) = 0.75 of the way
    assert track(baseline=8, target=4, current=5, started_on=S, due_on=on(4), today=on(3)) == Track(
        "on_track", 0.75, 0.75
    )
    # before the start: 0 elapsed, not negative
    assert track(baseline=0, target=10, current=0, started_on=S, due_on=on(10), today=on(-3)).elapsed == 0.0
    # past the target (25 of 10 → 20): 1.5, on track even after the due date; elapsed stops at 1
    assert track(baseline=10, target=20, current=25, started_on=S, due_on=on(10), today=on(30)) == Track(
        "on_track", 1.5, 1.0
    )
    # reached exactly (progress 1.0) after the due date: on track
    assert track(baseline=10, target=20, current=20, started_on=S, due_on=on(10), today=on(11)).status == "on_track"
    # a start on the due date (no span): all the time has elapsed
    assert track(baseline=0, target=10, current=5, started_on=S, due_on=S, today=S) == Track("off_track", 0.5, 1.0)


def test_the_due_date_itself_is_not_past_it() -> None:
    # 9.5 of 0 → 10 on the due day: elapsed 1.0, lag 0.05 → on track; a day later: off track
    assert track(baseline=0, target=10, current=9.5, started_on=S, due_on=on(10), today=on(10)).status == "on_track"
    assert track(baseline=0, target=10, current=9.5, started_on=S, due_on=on(10), today=on(11)) == Track(
        "off_track", 0.95, 1.0
    )


def test_the_lags_on_their_edges_despite_the_floats() -> None:
    # 3 of 10 = 0.3 on day 4 of 10 = 0.4: a lag of 0.1, which floats make 0.10000000000000003:
    # still on track (the rule's "≥ elapsed − 0.10")
    assert track(baseline=0, target=10, current=3, started_on=S, due_on=on(10), today=on(4)).status == "on_track"
    # 0.2 on day 4: lag 0.2 → at risk; 0.1 on day 4: lag 0.3 → off track
    assert track(baseline=0, target=10, current=2, started_on=S, due_on=on(10), today=on(4)).status == "at_risk"
    assert track(baseline=0, target=10, current=1, started_on=S, due_on=on(10), today=on(4)).status == "off_track"
    # 0.3 on day 11 of 20 = 0.55: a lag of 0.25 (0.25000000000000006 in floats) → at risk
    assert track(baseline=0, target=10, current=3, started_on=S, due_on=on(20), today=on(11)).status == "at_risk"
    # day 12 of 20 = 0.6: lag 0.3 → off track
    assert track(baseline=0, target=10, current=3, started_on=S, due_on=on(20), today=on(12)).status == "off_track"


def test_the_lags_tolerance_is_inclusive_to_the_bit() -> None:
    # the 1e-9 added to each lag absorbs float error; a lag of exactly 0.10 + 1e-9 is still on
    # track and one of exactly 0.25 + 1e-9 still at risk. Day 1 of 8 is 0.125 elapsed; a
    # progress of 0.125 − (0.10 + 1e-9) leaves exactly that lag (both are multiples of 2^-56)
    on_edge = 0.125 - (0.10 + 1e-9)
    assert 0.125 - on_edge == 0.10 + 1e-9
    assert track(baseline=0, target=1, current=on_edge, started_on=S, due_on=on(8), today=on(1)).status == "on_track"
    # day 1 of 2 is 0.5 elapsed
    risk_edge = 0.5 - (0.25 + 1e-9)
    assert 0.5 - risk_edge == 0.25 + 1e-9
    assert track(baseline=0, target=1, current=risk_edge, started_on=S, due_on=on(2), today=on(1)).status == "at_risk"


def test_a_plan_of_one_day() -> None:
    # due the day after the start: on the start day no time has elapsed (0 / 1), on the due day all
    assert track(baseline=0, target=10, current=None, started_on=S, due_on=on(1), today=S) == Track(
        "on_track", 0.0, 0.0
    )
    assert track(baseline=0, target=10, current=None, started_on=S, due_on=on(1), today=on(1)) == Track(
        "off_track", 0.0, 1.0
    )


def _refused(call: Any) -> tuple[str, str, str | None]:
    with pytest.raises(InvalidInput) as caught:
        call()
    return str(caught.value), caught.value.code, caught.value.field


def test_text_fields() -> None:
    assert text("  Lower   churn\n to 4 % ", "title", 300) == "Lower churn to 4 %"
    assert text("x" * 5, "metric", 5) == "xxxxx"  # exactly the most
    assert text("  ", "metric", 5, required=False) is None
    assert text(None, "metric", 5, required=False) is None
    assert _refused(lambda: text(" ", "title", 300)) == ("title: this is needed", "title_missing", "title")
    assert _refused(lambda: text(12, "title", 300)) == ("title: this is needed", "title_missing", "title")
    assert _refused(lambda: text("x" * 6, "metric", 5)) == (
        "metric: longer than 5 characters", "metric_too_long", "metric",
    )  # fmt: skip


def test_number_fields() -> None:
    assert number("1,500.5", "target_value") == 1500.5
    assert number(" -3 ", "baseline_value") == -3.0
    assert number(7, "baseline_value") == 7.0
    assert number(1e15, "target_value") == 1e15  # the largest kept
    assert number(-1e15, "target_value") == -1e15
    assert number(" ", "current_value", required=False) is None
    assert number(None, "current_value", required=False) is None
    needed = ("target_value: a number is needed", "invalid_number", "target_value")
    assert _refused(lambda: number(None, "target_value")) == needed
    assert _refused(lambda: number("  ", "target_value")) == needed
    bad = ("target_value: must be a number", "invalid_number", "target_value")
    for value in ("ten", [1], True, "nan", "inf", 1.0000001e15, -1.0000001e15):
        assert _refused(lambda v=value: number(v, "target_value")) == bad, value


def test_date_fields() -> None:
    assert day(" 2026-12-31 ", "due_on") == date(2026, 12, 31)
    assert day(date(1900, 1, 1), "due_on") == date(1900, 1, 1)
    assert day("2200-12-31", "due_on") == date(2200, 12, 31)
    assert day("", "started_on", required=False) is None
    assert day(None, "started_on", required=False) is None
    assert _refused(lambda: day(None, "due_on")) == ("due_on: a date is needed", "invalid_date", "due_on")
    assert _refused(lambda: day(" ", "due_on")) == ("due_on: a date is needed", "invalid_date", "due_on")
    like = ("due_on must be a date like 2026-12-31", "invalid_date", "due_on")
    assert _refused(lambda: day("31/12/2026", "due_on")) == like
    assert _refused(lambda: day(20261231, "due_on")) == like
    assert _refused(lambda: day("2201-01-01", "due_on")) == (
        "due_on: 2201-01-01 is outside the accepted range 1900-01-01 … 2200-12-31", "date_out_of_range", "due_on",
    )  # fmt: skip
    assert _refused(lambda: day(datetime(1899, 12, 31, 12), "due_on"))[1:] == ("date_out_of_range", "due_on")


FORM = {"title": " Lower churn ", "metric": "monthly churn %", "baseline_value": "8", "target_value": "4",
        "current_value": "", "due_on": "2026-06-30"}  # fmt: skip


def test_an_objective_checked() -> None:
    assert check_objective(FORM, today=date(2026, 1, 15)) == Objective(
        "Lower churn", "monthly churn %", 8.0, 4.0, None, date(2026, 1, 15), date(2026, 6, 30)
    )
    given = {**FORM, "started_on": "2026-01-01", "current_value": "7.5"}
    assert check_objective(given, today=date(2026, 3, 1)) == Objective(
        "Lower churn", "monthly churn %", 8.0, 4.0, 7.5, date(2026, 1, 1), date(2026, 6, 30)
    )
    # due the day after the start: the shortest plan
    assert check_objective({**FORM, "due_on": "2026-01-16"}, today=date(2026, 1, 15)).due_on == date(2026, 1, 16)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": ""}, ("title: this is needed", "title_missing", "title")),
        ({"metric": "m" * 201}, ("metric: longer than 200 characters", "metric_too_long", "metric")),
        ({"title": "t" * 301}, ("title: longer than 300 characters", "title_too_long", "title")),
        ({"baseline_value": None}, ("baseline_value: a number is needed", "invalid_number", "baseline_value")),
        ({"target_value": "x"}, ("target_value: must be a number", "invalid_number", "target_value")),
        ({"current_value": "x"}, ("current_value: must be a number", "invalid_number", "current_value")),
        ({"started_on": "x"}, ("started_on must be a date like 2026-12-31", "invalid_date", "started_on")),
        ({"due_on": None}, ("due_on: a date is needed", "invalid_date", "due_on")),
        ({"target_value": "8.0"}, ("target_value: the target equals the baseline, so there is nothing to reach",
                                   "target_equals_baseline", "target_value")),
        ({"due_on": "2026-01-15"}, ("due_on: the due date must come after the start (2026-01-15)", "due_before_start",
                                    "due_on")),
        ({"started_on": "2026-07-01"}, ("due_on: the due date must come after the start (2026-07-01)",
                                        "due_before_start", "due_on")),
    ],
)  # fmt: skip
def test_a_bad_objective_names_its_field(changes: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert _refused(lambda: check_objective({**FORM, **changes}, today=date(2026, 1, 15))) == expected
