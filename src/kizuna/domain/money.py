"""Money as integer minor units plus an ISO 4217 currency code (never float).

JPY has no minor unit, so ``¥12,000`` is ``12000``; USD has two, so ``$12.50`` is
``1250``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kizuna.i18n import _

#: Minor-unit exponents of the currencies Kizuna accepts (ISO 4217).
CURRENCY_EXPONENTS: dict[str, int] = {
    "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0,
    "USD": 2, "EUR": 2, "GBP": 2, "CNY": 2, "TWD": 2, "HKD": 2, "SGD": 2,
    "AUD": 2, "CAD": 2, "NZD": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2,
    "INR": 2, "THB": 2, "MYR": 2, "PHP": 2, "IDR": 2, "BRL": 2, "MXN": 2,
    "ZAR": 2, "PLN": 2, "CZK": 2, "ILS": 2, "AED": 2, "SAR": 2,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}  # fmt: skip

_SYMBOLS = {"¥": "JPY", "￥": "JPY", "円": "JPY", "$": "USD", "＄": "USD", "€": "EUR", "£": "GBP", "₩": "KRW"}
_STRIP = re.compile(r"[\s,，_]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class MoneyError(ValueError):
    """An amount that cannot be read; the message says why."""


@dataclass(frozen=True)
class Money:
    """An amount in minor units of ``currency``."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in CURRENCY_EXPONENTS:
            raise MoneyError(_("unknown currency {code!r}").format(code=self.currency))

    @property
    def major(self) -> Decimal:
        return Decimal(self.minor).scaleb(-CURRENCY_EXPONENTS[self.currency])


def check_currency(code: str) -> str:
    """Return the upper-cased ISO code, or raise :class:`MoneyError`."""
    upper = code.strip().upper()
    if upper not in CURRENCY_EXPONENTS:
        raise MoneyError(_("unknown currency {code!r} (an ISO 4217 code such as JPY)").format(code=code))
    return upper


def parse_amount(text: str, currency: str) -> int:
    """Read an amount as written in exports into minor units of ``currency``.

    Accepts ``12000``, ``12,000``, ``¥12,000``, ``￥12,000``, ``12,000円``,
    ``JPY 12000``, ``$12.50`` (for USD). A symbol or code that names another
    currency than the row's is an error; so is a fraction finer than the
    currency's minor unit (``¥12.5``).

    >>> parse_amount("¥1,234,567", "JPY")
    1234567
    >>> parse_amount("12.5", "USD")
    1250
    """
    raw = text.strip()
    if not raw:
        raise MoneyError(_("empty amount"))
    s = _STRIP.sub("", raw)
    # a sign before or after the number (``-500``, ``500-`` as SAP writes it) or accounting brackets
    negative = s.startswith("-") or s.endswith("-") or (s.startswith("(") and s.endswith(")"))
    if s.lstrip("-").startswith("(") != s.rstrip("-").endswith(")"):  # one bracket: not an amount
        raise MoneyError(_("not an amount: {value!r}").format(value=raw))
    s = s.strip("-()")
    named: str | None = None
    if s[:3].isalpha() and s[:3].upper() in CURRENCY_EXPONENTS:
        named, s = s[:3].upper(), s[3:]
    elif s[-3:].isalpha() and s[-3:].upper() in CURRENCY_EXPONENTS:
        named, s = s[-3:].upper(), s[:-3]
    for symbol, code in _SYMBOLS.items():
        if s.startswith(symbol) or s.endswith(symbol):
            named = named or code
            s = s.replace(symbol, "")
    if s.startswith("-") or s.endswith("-"):  # a sign after the currency: ``¥-500`` (Excel's yen format), ``JPY-500``
        negative = True
    s = s.strip("-")
    if named is not None and named != currency:
        raise MoneyError(
            _("amount {raw!r} is in {named}, but the row's currency is {currency}").format(
                raw=raw, named=named, currency=currency
            )
        )
    if not _NUMBER.match(s):
        raise MoneyError(_("not an amount: {value!r}").format(value=raw))
    try:
        value = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - the regex guards this
        raise MoneyError(_("not an amount: {value!r}").format(value=raw)) from exc  # pragma: no mutate (unreachable)
    exponent = CURRENCY_EXPONENTS[currency]
    scaled = value.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        unit = _("no minor unit") if exponent == 0 else _("only {n} decimal places").format(n=exponent)
        raise MoneyError(
            _("amount {raw!r} is finer than {currency} allows ({unit})").format(raw=raw, currency=currency, unit=unit)
        )
    minor = int(scaled)
    return -minor if negative else minor


def format_amount(minor: int, currency: str) -> str:
    """Plain text for exports: ``12000`` for JPY, ``12.50`` for USD (no symbol, no separators)."""
    exponent = CURRENCY_EXPONENTS[currency]
    if exponent == 0:  # pragma: no mutate (a shortcut: the f-string below writes the same digits with ".0f")
        return str(minor)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"
