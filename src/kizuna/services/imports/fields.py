"""Field parsers for import files: each takes what the file holds (text from CSV,
text or a JSON value from JSON Lines) and returns the stored value, or raises
:class:`FieldError` with a reason a CS ops person can act on."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from kizuna.domain.dates import in_range, out_of_range_message
from kizuna.domain.money import MoneyError, check_currency, parse_amount
from kizuna.i18n import _

DateOrTime = TypeVar("DateOrTime", date, datetime)


class FieldError(ValueError):
    """The value of one field cannot be accepted; ``str()`` is the reason."""


@dataclass(frozen=True)
class ParseContext:
    """What parsing needs from the settings: where naive times are, and the default currency."""

    zone: ZoneInfo
    default_currency: str


_SLASH_DATE = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?$"
)
_KANJI_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = frozenset({"true", "t", "yes", "y", "1", "はい", "○", "true."})
_FALSE = frozenset({"false", "f", "no", "n", "0", "いいえ", "×"})


def text(raw: Any, max_length: int) -> str:
    value = raw if isinstance(raw, str) else str(raw)  # pragma: no mutate  (str of a str is itself)
    value = value.strip()
    if len(value) > max_length:
        raise FieldError(_("longer than {n} characters").format(n=max_length))
    return value


def integer(raw: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(raw, bool):
        raise FieldError(_("not a whole number: {value!r}").format(value=raw))
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    else:
        s = str(raw).strip().replace(",", "")
        try:
            value = int(s)
        except ValueError:
            raise FieldError(_("not a whole number: {value!r}").format(value=raw)) from None
    if minimum is not None and value < minimum:
        raise FieldError(_("must be at least {n}").format(n=minimum))
    if maximum is not None and value > maximum:
        raise FieldError(_("must be at most {n}").format(n=maximum))
    return value


def number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise FieldError(_("not a number: {value!r}").format(value=raw))
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        try:
            value = float(str(raw).strip().replace(",", ""))
        except ValueError:
            raise FieldError(_("not a number: {value!r}").format(value=raw)) from None
    # float() reads "INF" as "inf": the spelling of the constants cannot change them
    if value != value or value in (float("inf"), float("-inf")):  # pragma: no mutate
        raise FieldError(_("not a finite number: {value!r}").format(value=raw))
    return value


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    s = str(raw).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise FieldError(_("not true/false: {value!r} (use true, false, 1, 0, yes or no)").format(value=raw))


def choice(raw: Any, enum_cls: type[StrEnum]) -> str:
    s = str(raw).strip().lower()
    try:
        return enum_cls(s).value
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise FieldError(_("{value!r} is not one of: {allowed}").format(value=raw, allowed=allowed)) from None


def _bounded(value: DateOrTime) -> DateOrTime:
    """``value`` if it lies in the accepted range (``kizuna.domain.dates``), else a ``FieldError``."""
    if not in_range(value):
        raise FieldError(out_of_range_message(value))
    return value


def day(raw: Any) -> date:
    """``2024-09-18``, ``2024/09/18``, ``2024/9/8``, ``2024年9月18日`` (and a midnight time),
    between 1900-01-01 and 2200-12-31."""
    return _bounded(_day(raw))


def _day(raw: Any) -> date:
    s = str(raw).strip()
    try:
        return date.fromisoformat(s)
    except ValueError:
        pass
    m = _SLASH_DATE.match(s) or _KANJI_DATE.match(s)
    if m:
        parts = m.groups()
        # the kanji form has 3 groups (parts[3:] is empty), the slash form 7: `>= 3` or `> 4` decide alike
        if len(parts) > 3 and any(p and int(p) for p in parts[3:]):  # pragma: no mutate
            raise FieldError(_("a date is expected, not a time: {value!r}").format(value=raw))
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError:
            raise FieldError(_("no such date: {value!r}").format(value=raw)) from None
    try:
        moment = datetime.fromisoformat(s)
    except ValueError:
        raise FieldError(_("not a date: {value!r} (use 2024-09-18 or 2024/09/18)").format(value=raw)) from None
    if moment.time() != datetime.min.time():
        raise FieldError(_("a date is expected, not a time: {value!r}").format(value=raw))
    return moment.date()


def moment(raw: Any, zone: ZoneInfo) -> datetime:
    """An instant, stored in UTC. ISO 8601 (``2024-09-18T10:00:00+09:00``, ``…Z``) or
    ``2024/09/18 10:00``; a time without an offset is in the configured zone. Its day
    must lie between 1900-01-01 and 2200-12-31."""
    # str(raw) of a str is raw: the test only saves a call
    s = raw.strip() if raw.__class__ is str else str(raw).strip()  # pragma: no mutate
    try:
        value = datetime.fromisoformat(s)
    except ValueError:
        m = _SLASH_DATE.match(s)
        if not m:
            raise FieldError(
                _("not a date and time: {value!r} (use 2024-09-18T10:00:00+09:00 or 2024/09/18 10:00)").format(
                    value=raw
                )
            ) from None
        y, mo, d, hh, mm, ss, frac = m.groups()
        try:
            value = datetime(
                int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0),
                int((frac or "0").ljust(6, "0")),
            )  # fmt: skip
        except ValueError:
            raise FieldError(_("no such date or time: {value!r}").format(value=raw)) from None
    _bounded(value)  # by its own calendar day, before a conversion that could overflow
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=zone).astimezone(UTC)
    # a zero offset: both sides give the same instant in UTC (replace only saves the conversion)
    return value.astimezone(UTC) if offset else value.replace(tzinfo=UTC)  # pragma: no mutate


def email(raw: Any) -> str:
    s = str(raw).strip().lower()
    if len(s) > 254 or not _EMAIL.match(s):
        raise FieldError(_("not an email address: {value!r}").format(value=raw))
    return s


def domain_name(raw: Any) -> str:
    s = str(raw).strip().lower()
    for prefix in ("https://", "http://"):
        if s.startswith(prefix):
            s = s[len(prefix) :]
    s = s.split("/")[0].removeprefix("www.")
    if not s or " " in s or "." not in s or len(s) > 255:
        raise FieldError(_("not a domain name: {value!r}").format(value=raw))
    return s


def json_object(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    # a shortcut: json.loads would give the same empty object
    if raw == "{}":  # pragma: no mutate
        return {}
    try:
        value = json.loads(str(raw))
    except json.JSONDecodeError:
        raise FieldError(_("not valid JSON: {value!r}").format(value=raw)) from None
    if not isinstance(value, dict):
        raise FieldError(_("must be a JSON object ({...})"))
    return value


def currency(raw: Any) -> str:
    try:
        return check_currency(str(raw))
    except MoneyError as exc:
        raise FieldError(str(exc)) from None


def money(raw: Any, currency_code: str) -> int:
    """Major units as written (``¥12,000``, ``12000``, ``$12.50``) → minor units."""
    if isinstance(raw, bool):
        raise FieldError(_("not an amount: {value!r}").format(value=raw))
    # repr and str of a float are the same in Python 3: the test says which is meant
    text_value = repr(raw) if isinstance(raw, float) else str(raw)  # pragma: no mutate
    try:
        value = parse_amount(text_value, currency_code)
    except MoneyError as exc:
        raise FieldError(str(exc)) from None
    if value < 0:
        raise FieldError(_("must not be negative"))
    return value
