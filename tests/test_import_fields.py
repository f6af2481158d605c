"""The import field parsers one by one (fast: no store): the value stored for each way a
file may write it, and the reason given for each value refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kizuna.domain.enums import SubscriptionStatus
from kizuna.services.imports import fields as f

TOKYO = ZoneInfo("Asia/Tokyo")


def reason(parse: Any, *args: Any) -> str:
    with pytest.raises(f.FieldError) as info:
        parse(*args)
    return str(info.value)


def test_text() -> None:
    assert f.text("  a b  ", 3) == "a b"
    assert f.text(12, 2) == "12"
    assert reason(f.text, "abcd", 3) == "longer than 3 characters"


def test_integers_and_their_bounds() -> None:
    assert [f.integer(v) for v in (7, 3.0, " 1,200 ", "-4")] == [7, 3, 1200, -4]
    assert f.integer(5, 5, 5) == 5
    assert reason(f.integer, 4, 5) == "must be at least 5"
    assert reason(f.integer, 6, None, 5) == "must be at most 5"
    assert reason(f.integer, True) == "not a whole number: True"
    assert reason(f.integer, 2.5) == "not a whole number: 2.5"
    assert reason(f.integer, "x") == "not a whole number: 'x'"


def test_numbers() -> None:
    assert [f.number(v) for v in (2, 2.5, " 1,234.5 ", "-0.5")] == [2.0, 2.5, 1234.5, -0.5]
    assert reason(f.number, False) == "not a number: False"
    assert reason(f.number, "abc") == "not a number: 'abc'"
    for bad in ("nan", "inf", "-inf", float("inf")):
        assert reason(f.number, bad).startswith("not a finite number")


def test_booleans_and_choices() -> None:
    assert [f.boolean(v) for v in (True, False, " Yes ", "1", "はい", "○", "t", "TRUE.")] == [True, False] + [True] * 6
    assert [f.boolean(v) for v in ("no", "0", "いいえ", "×", "F", "n")] == [False] * 6
    assert reason(f.boolean, "maybe") == "not true/false: 'maybe' (use true, false, 1, 0, yes or no)"
    assert f.choice(" Active ", SubscriptionStatus) == "active"
    assert reason(f.choice, "paused", SubscriptionStatus).startswith("'paused' is not one of: trial, active")


def test_days_in_every_accepted_style() -> None:
    want = date(2024, 9, 8)
    for raw in ("2024-09-08", " 2024/09/08 ", "2024/9/8", "2024.9.8", "2024年9月8日", "2024/09/08 00:00",
                "2024-09-08T00:00:00", "2024-09-08 00:00:00.000"):  # fmt: skip
        assert f.day(raw) == want, raw
    assert f.day("2024-09-08T00:00:00+09:00") == want
    assert reason(f.day, "2024/09/08 10:00") == "a date is expected, not a time: '2024/09/08 10:00'"
    assert reason(f.day, "2024/09/08 00:00:01") == "a date is expected, not a time: '2024/09/08 00:00:01'"
    assert reason(f.day, "2024-09-08T10:00:00+09:00").startswith("a date is expected, not a time")
    assert reason(f.day, "2024/02/30") == "no such date: '2024/02/30'"
    assert reason(f.day, "2024年2月30日") == "no such date: '2024年2月30日'"
    assert reason(f.day, "next week") == "not a date: 'next week' (use 2024-09-18 or 2024/09/18)"


def test_moments_are_stored_in_utc() -> None:
    assert f.moment("2024-09-18T10:00:00+09:00", TOKYO) == datetime(2024, 9, 18, 1, 0, tzinfo=UTC)
    assert f.moment("2024-09-18T10:00:00Z", TOKYO) == datetime(2024, 9, 18, 10, 0, tzinfo=UTC)
    assert f.moment("2024-09-18T10:00:00+00:00", TOKYO).tzinfo is UTC
    assert f.moment(" 2024-09-18 10:00 ", TOKYO) == datetime(2024, 9, 18, 1, 0, tzinfo=UTC)
    assert f.moment("2024/9/18 10:05:30.25", TOKYO) == datetime(2024, 9, 18, 1, 5, 30, 250000, tzinfo=UTC)
    assert f.moment("2024/09/18", TOKYO) == datetime(2024, 9, 17, 15, 0, tzinfo=UTC)
    assert f.moment(datetime(2024, 9, 18, 10, 0), TOKYO) == datetime(2024, 9, 18, 1, 0, tzinfo=UTC)
    assert reason(f.moment, "2024/13/01 10:00", TOKYO) == "no such date or time: '2024/13/01 10:00'"
    assert reason(f.moment, "soon", TOKYO) == (
        "not a date and time: 'soon' (use 2024-09-18T10:00:00+09:00 or 2024/09/18 10:00)")  # fmt: skip


def test_emails_domains_and_json() -> None:
    assert f.email(" Hanako@Example.CO.JP ") == "hanako@example.co.jp"
    local = "a" * 64
    longest = f"{local}@{'b' * (254 - len(local) - 5)}.com"
    assert len(longest) == 254
    assert f.email(longest) == longest
    assert reason(f.email, longest[:-4] + "x.com") == f"not an email address: {longest[:-4] + 'x.com'!r}"
    for bad in ("hanako", "a@b", "a b@c.jp", "a@@b.jp"):
        assert reason(f.email, bad) == f"not an email address: {bad!r}"
    assert [f.domain_name(v) for v in ("https://www.Acme.co.jp/about", "http://acme.jp", "acme.jp/x")] == [
        "acme.co.jp", "acme.jp", "acme.jp"]  # fmt: skip
    assert f.domain_name("a." + "b" * 253) == "a." + "b" * 253
    for bad in ("", "acme", "ac me.jp", "https://", "a." + "b" * 254):
        assert reason(f.domain_name, bad) == f"not a domain name: {bad!r}"
    assert f.json_object({"a": 1}) == {"a": 1}
    assert f.json_object("{}") == {}
    assert f.json_object(' {"a": [1]} ') == {"a": [1]}
    assert reason(f.json_object, "{a") == "not valid JSON: '{a'"
    assert reason(f.json_object, "[1]") == "must be a JSON object ({...})"


def test_currencies_and_money() -> None:
    assert f.currency(" usd ") == "USD"
    assert reason(f.currency, "XYZ") == "unknown currency 'XYZ' (an ISO 4217 code such as JPY)"
    assert [f.money(v, "JPY") for v in ("¥12,000", 12000, "0")] == [12000, 12000, 0]
    assert [f.money(v, "USD") for v in ("$12.50", 12.5, "3")] == [1250, 1250, 300]
    assert reason(f.money, True, "JPY") == "not an amount: True"
    assert reason(f.money, "-5", "JPY") == "must not be negative"
    # the sign after the yen sign (Excel's yen format for negatives) was dropped: ¥-500 read as 500
    assert [reason(f.money, v, "JPY") for v in ("¥-500", "500-")] == ["must not be negative"] * 2
    assert reason(f.money, "¥12.5", "JPY") == "amount '¥12.5' is finer than JPY allows (no minor unit)"


def test_the_refusals_name_the_value_a_user_typed() -> None:
    with pytest.raises(f.FieldError) as early:
        f.day("1899-12-31")
    assert str(early.value) == "1899-12-31 is outside the accepted range 1900-01-01 … 2200-12-31"
    with pytest.raises(f.FieldError) as timed:
        f.day("2024-09-18T10:30:00")
    assert str(timed.value) == "a date is expected, not a time: '2024-09-18T10:30:00'"
    with pytest.raises(f.FieldError) as infinite:
        f.number("-inf")
    assert str(infinite.value) == "not a finite number: '-inf'"


@pytest.fixture
def new_york_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The machine's own zone is not UTC: a conversion to "local time" would show."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_moments_are_utc_whatever_the_machines_zone(new_york_clock: Any) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    for raw in ("2024-09-18 10:00", "2024-09-18T10:00:00+09:00", "2024/09/18 10:00"):
        got = f.moment(raw, tokyo)
        assert (got.hour, got.tzname()) == (1, "UTC"), raw
