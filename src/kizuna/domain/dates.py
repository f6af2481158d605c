"""The one range of dates and timestamps Kizuna accepts, on every input path.

CSV and JSON Lines imports, the REST API, web forms, the tracking API (``/v1``) and
cursors all check a date against the same bounds, so nothing outside them reaches
the store, the analytics engine (pandas' ``Timestamp`` stops at 1677 and 2262) or a
page. Dates in business data before 1900 or after 2200 are typing mistakes
(``0001-01-01``, ``20240-01-01``), never contracts.
"""

from __future__ import annotations

from datetime import date, datetime

from kizuna.i18n import _

#: The first and the last day Kizuna accepts (inclusive).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2200, 12, 31)

#: Error code used by every input path for a date outside the range (docs/errors.md).
DATE_OUT_OF_RANGE = "date_out_of_range"


class DateOutOfRange(ValueError):
    """A date or timestamp outside ``MIN_DATE`` … ``MAX_DATE``; the message says which range."""

    code = DATE_OUT_OF_RANGE


def out_of_range_message(value: date | datetime) -> str:
    """The user-facing reason for a date outside the accepted range."""
    shown = value.date().isoformat() if isinstance(value, datetime) else value.isoformat()
    return _("{value} is outside the accepted range {first} … {last}").format(
        value=shown, first=MIN_DATE.isoformat(), last=MAX_DATE.isoformat()
    )


def in_range(value: date | datetime) -> bool:
    """Whether ``value`` (a date, or a datetime by its own calendar day) lies in the range.

    A datetime is judged by its local day, not converted to UTC first: converting
    ``0001-01-01T00:00+09:00`` would itself overflow.
    """
    day = value.date() if isinstance(value, datetime) else value
    return MIN_DATE <= day <= MAX_DATE


def check_in_range(value: date | datetime) -> date | datetime:
    """Return ``value`` unchanged, or raise ``DateOutOfRange`` with a clear message."""
    if not in_range(value):
        raise DateOutOfRange(out_of_range_message(value))
    return value
