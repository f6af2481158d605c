"""Money and the accepted date range (``domain/money.py``, ``domain/dates.py``) called
directly: every way an amount is written in an export, the errors that name why, the
minor units of each currency, and the first and last accepted days — values by hand.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kizuna.domain import dates
from kizuna.domain.money import Money, MoneyError, check_currency, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12000", "JPY", 12000), ("12,000", "JPY", 12000), (" ¥12,000 ", "JPY", 12000), ("￥12,000", "JPY", 12000),
        ("12,000円", "JPY", 12000), ("JPY 12000", "JPY", 12000), ("12000 jpy", "JPY", 12000),
        ("1_000", "JPY", 1000), ("12，000", "JPY", 12000), ("12.0", "JPY", 12), ("0", "JPY", 0),
        ("$12.50", "USD", 1250), ("＄12.50", "USD", 1250), ("12.5", "USD", 1250), ("USD12.5", "USD", 1250),
        ("3", "USD", 300), ("€3", "EUR", 300), ("£1.5", "GBP", 150), ("₩1000", "KRW", 1000),
        ("1.234", "BHD", 1234), ("0.001", "KWD", 1),
        # negatives: a sign before or after the symbol or the number, or brackets
        ("-500", "JPY", -500), ("(500)", "JPY", -500), ("-¥500", "JPY", -500), ("(¥500)", "JPY", -500),
        ("¥-500", "JPY", -500), ("JPY-500", "JPY", -500), ("500-", "JPY", -500), ("-$1.25", "USD", -125),
        ("$-1.25", "USD", -125), ("-0", "JPY", 0),
    ],
)  # fmt: skip
def test_amounts_as_exports_write_them(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("", "JPY", "empty amount"),
        ("   ", "JPY", "empty amount"),
        ("abc", "JPY", "not an amount: 'abc'"),
        ("abc12", "JPY", "not an amount: 'abc12'"),
        ("1.2.3", "JPY", "not an amount: '1.2.3'"),
        ("12.", "JPY", "not an amount: '12.'"),
        ("¥", "JPY", "not an amount: '¥'"),
        ("X12", "JPY", "not an amount: 'X12'"),
        ("(500", "JPY", "not an amount: '(500'"),
        ("500)", "JPY", "not an amount: '500)'"),
        ("12,000 USD", "JPY", "amount '12,000 USD' is in USD, but the row's currency is JPY"),
        ("$5", "JPY", "amount '$5' is in USD, but the row's currency is JPY"),
        ("¥5", "USD", "amount '¥5' is in JPY, but the row's currency is USD"),
        ("12円", "USD", "amount '12円' is in JPY, but the row's currency is USD"),
        ("eur 5", "USD", "amount 'eur 5' is in EUR, but the row's currency is USD"),
        ("¥12.5", "JPY", "amount '¥12.5' is finer than JPY allows (no minor unit)"),
        ("$1.005", "USD", "amount '$1.005' is finer than USD allows (only 2 decimal places)"),
        ("1.2345", "BHD", "amount '1.2345' is finer than BHD allows (only 3 decimal places)"),
    ],
)  # fmt: skip
def test_amounts_that_cannot_be_read_say_why(text: str, currency: str, message: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_amount(text, currency)
    assert str(caught.value) == message


def test_a_code_and_a_symbol_of_the_same_currency_and_the_code_first() -> None:
    assert parse_amount("JPY ¥1,000", "JPY") == 1000
    # a code names the currency before a symbol does: "USD $5" is dollars, "USD ¥5" is refused
    with pytest.raises(MoneyError, match="is in USD"):
        parse_amount("USD ¥5", "JPY")
    assert parse_amount("USD ¥5", "USD") == 500


def test_money_its_major_units_and_plain_text() -> None:
    assert Money(1250, "USD").major == Decimal("12.50")
    assert Money(12000, "JPY").major == Decimal(12000)
    assert Money(1234, "KWD").major == Decimal("1.234")
    with pytest.raises(MoneyError) as unknown:
        Money(1, "XXX")
    assert str(unknown.value) == "unknown currency 'XXX'"
    assert [format_amount(12000, "JPY"), format_amount(-3, "JPY")] == ["12000", "-3"]
    assert [format_amount(1250, "USD"), format_amount(5, "USD"), format_amount(-1250, "USD")] == [
        "12.50", "0.05", "-12.50"
    ]  # fmt: skip
    assert format_amount(1234, "BHD") == "1.234"
    assert format_amount(1, "BHD") == "0.001"
    assert check_currency(" usd ") == "USD"
    assert check_currency("JPY") == "JPY"
    with pytest.raises(MoneyError) as caught:
        check_currency("yen")
    assert str(caught.value) == "unknown currency 'yen' (an ISO 4217 code such as JPY)"


def test_the_accepted_days_and_the_reason_for_the_others() -> None:
    assert (date(1900, 1, 1), date(2200, 12, 31)) == (dates.MIN_DATE, dates.MAX_DATE)
    inside = [date(1900, 1, 1), date(2200, 12, 31), datetime(1900, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=9))),
              datetime(2200, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2200, 12, 31, 23, 59)]  # fmt: skip
    outside = [date(1899, 12, 31), date(2201, 1, 1), datetime(1899, 12, 31, 23, 59, 59, tzinfo=UTC),
               datetime(2201, 1, 1, tzinfo=timezone(timedelta(hours=-5))), date(1, 1, 1), date(9999, 12, 31)]  # fmt: skip
    assert [dates.in_range(v) for v in inside] == [True] * 5
    assert [dates.in_range(v) for v in outside] == [False] * 6
    assert all(dates.check_in_range(v) is v for v in inside)
    for value, shown in [(date(1899, 12, 31), "1899-12-31"), (datetime(2201, 1, 1, 12, tzinfo=UTC), "2201-01-01")]:
        with pytest.raises(dates.DateOutOfRange) as caught:
            dates.check_in_range(value)
        assert str(caught.value) == f"{shown} is outside the accepted range 1900-01-01 … 2200-12-31"
        assert caught.value.code == "date_out_of_range"
    # a datetime by its own calendar day: converting 0001-01-01T00:00+09:00 to UTC would overflow
    assert dates.in_range(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=9)))) is False
    assert dates.out_of_range_message(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=9)))) == (
        "0001-01-01 is outside the accepted range 1900-01-01 … 2200-12-31"
    )
