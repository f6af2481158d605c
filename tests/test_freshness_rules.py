"""The freshness rules at their edges, by hand (pure calls; ``test_freshness.py`` runs them
through the importers and the daily job)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kizuna.domain.freshness import expected_gap, freshness, gaps_text, parse_gaps, stale_measures
from kizuna.errors import InvalidInput

D = date(2026, 1, 1)


def days(*offsets: int) -> list[date]:
    return [D + timedelta(days=n) for n in offsets]


def test_five_days_with_data_are_enough_and_repeats_count_once() -> None:
    # 5 distinct days (the minimum), gaps 1, 2, 4, 8 sorted; the 95th percentile's nearest
    # rank is ceil(0.95 × 4) = 4: the 4th gap, 8
    assert expected_gap(days(0, 1, 3, 7, 15)) == 8
    # the same days, two of them twice and out of order: still 5 days, the same gaps
    assert expected_gap(days(15, 3, 0, 1, 3, 7, 0)) == 8
    # 4 distinct days written 6 times: too little history
    assert expected_gap(days(0, 0, 1, 3, 7, 7)) is None


def test_the_quantile_and_the_floor_are_parameters() -> None:
    history = days(0, 1, 3, 7, 15)  # gaps 1, 2, 4, 8
    assert expected_gap(history, floor=1) == 8
    # ceil(0.5 × 4) = rank 2: the 2nd gap, 2 (above a floor of 1)
    assert expected_gap(history, floor=1, quantile=0.5) == 2
    # ceil(0.1 × 4) = rank 1: the smallest gap, 1; a quantile of 0 is rank 0 → at least rank 1
    assert expected_gap(history, floor=1, quantile=0.1) == 1
    assert expected_gap(history, floor=1, quantile=0.0) == 1
    assert expected_gap(history, floor=5, quantile=0.5) == 5  # 2 is under the floor


def test_a_source_set_by_the_configuration_or_read_from_its_history() -> None:
    history = days(*range(0, 70, 7))  # weekly: gaps of 7, expected gap 7
    read = freshness("tickets", history, history[-1], history[-1] + timedelta(days=7))
    assert (read.source, read.expected_gap_days, read.gap_is_set, read.silent_days) == ("tickets", 7, False, 7)
    assert (read.stale, read.late_since, read.as_of) == (False, D + timedelta(days=64), D + timedelta(days=70))
    # set to 2 days: 7 silent days are late, whatever the history says
    set_ = freshness("tickets", history, history[-1], history[-1] + timedelta(days=7), set_gap=2)
    assert (set_.expected_gap_days, set_.gap_is_set, set_.stale) == (2, True, True)
    # silent exactly the set gap: not yet late
    assert freshness("usage", [], D, D + timedelta(days=2), set_gap=2).stale is False
    # never had data: no silence, no late day, not stale, even with a gap set
    never = freshness("usage", [], None, D, set_gap=1)
    assert (never.silent_days, never.late_since, never.stale) == (None, None, False)
    # too little history to judge: not stale however long the silence
    unknown = freshness("usage", days(0, 1), D + timedelta(days=1), D + timedelta(days=400))
    assert (unknown.expected_gap_days, unknown.silent_days, unknown.stale) == (None, 399, False)


def test_the_measures_a_stale_source_turns_missing() -> None:
    assert stale_measures({"usage"}) == {
        "logins_vs_baseline", "login_trend", "login_days", "active_users_per_seat", "feature_breadth",
        "usage_minutes_per_seat",
    }  # fmt: skip
    assert stale_measures(["tickets", "surveys"]) == {"open_tickets", "escalated_tickets", "nps", "csat"}
    assert stale_measures(["subscriptions", "activities", "billing"]) == frozenset()  # none, or unknown
    assert stale_measures([]) == frozenset()


def test_gap_settings_read_and_written_back() -> None:
    # empty entries are skipped (not the end), spaces around names and values allowed
    gaps = parse_gaps(",usage = 1,, tickets= 3650 ,surveys=07")
    assert gaps == {"usage": 1, "tickets": 3650, "surveys": 7}
    assert gaps_text(gaps) == "usage=1,tickets=3650,surveys=7"
    assert parse_gaps("") == {}
    assert gaps_text({}) == ""


def _refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_gaps(text)
    assert caught.value.field == "freshness_gaps"
    return str(caught.value)


def test_each_bad_gap_is_named_in_full() -> None:
    assert _refusal("usage=2,tickets=3651") == (
        "freshness gaps: tickets: days must be a whole number from 1 to 3650, not '3651'"
    )
    # the first "=" splits the entry: the source is "usage", the days "2=3"
    assert _refusal("usage=2=3") == "freshness gaps: usage: days must be a whole number from 1 to 3650, not '2=3'"
    assert _refusal("usage=-1") == "freshness gaps: usage: days must be a whole number from 1 to 3650, not '-1'"
    # the value is quoted up to 20 characters, the entry up to 40
    assert _refusal("usage=" + "9" * 25) == (
        f"freshness gaps: usage: days must be a whole number from 1 to 3650, not '{'9' * 20}'"
    )
    assert _refusal("b" * 45) == (
        f"freshness gaps: '{'b' * 40}' must be SOURCE=DAYS with SOURCE one of: usage, tickets, surveys, "
        "subscriptions, activities"
    )
    # a digit that is not 0-9 (a superscript two) is refused by name, not by int()'s own error
    assert _refusal("usage=²") == "freshness gaps: usage: days must be a whole number from 1 to 3650, not '²'"
