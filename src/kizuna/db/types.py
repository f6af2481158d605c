"""Column types shared by the models: UTC timestamps, dates, JSON, enums stored as strings.

Dates and timestamps come back inside Kizuna's accepted range (``kizuna.domain.dates``):
a row written before the range was enforced (``0001-01-01`` typed into an old import,
or put in by hand) is read as the range's first or last day, with a warning in the
log, so that one bad row cannot crash a page, the analytics or the daily pipeline.
``kizuna db check`` lists such rows so they can be corrected.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, Dialect, Enum, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from kizuna.domain.dates import MAX_DATE, MIN_DATE

#: A 64-bit primary key that is still SQLite's rowid alias (INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")

#: JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


log = logging.getLogger("kizuna.db")

#: The first and the last instant of the accepted range, in UTC.
FIRST_MOMENT = datetime.combine(MIN_DATE, time(), tzinfo=UTC)
LAST_MOMENT = datetime.combine(MAX_DATE, time.max, tzinfo=UTC)

_warned: set[object] = set()


def _warn_clamped(value: object, read_as: object) -> None:
    if value in _warned or len(_warned) > 1000:
        return
    _warned.add(value)
    log.warning("stored value %s is outside the accepted date range; read as %s (run `kizuna db check`)",
                value, read_as)  # fmt: skip


def clamp_day(value: date) -> date:
    """``value`` moved into ``MIN_DATE`` … ``MAX_DATE`` (a warning is logged when it moves)."""
    if value < MIN_DATE:
        _warn_clamped(value, MIN_DATE)
        return MIN_DATE
    if value > MAX_DATE:
        _warn_clamped(value, MAX_DATE)
        return MAX_DATE
    return value


def clamp_moment(value: datetime) -> datetime:
    """An aware UTC ``value`` moved into the accepted range (a warning is logged when it moves)."""
    if value < FIRST_MOMENT:
        _warn_clamped(value, FIRST_MOMENT)
        return FIRST_MOMENT
    if value > LAST_MOMENT:
        _warn_clamped(value, LAST_MOMENT)
        return LAST_MOMENT
    return value


class BoundedDate(TypeDecorator[date]):
    """A calendar date, read back inside the accepted range (see the module's docstring)."""

    impl = Date
    cache_ok = True

    def process_result_value(self, value: date | None, dialect: Dialect) -> date | None:
        if value is None or MIN_DATE <= value <= MAX_DATE:
            return value
        return clamp_day(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores ``timestamptz``; SQLite, which has no time zones, stores the UTC
    wall time. Naive datetimes are refused on the way in, so a local time can never
    be stored as if it were UTC; values come back aware, in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Kizuna stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # One step instead of two (TypeDecorator + SQLite DATETIME): the same text,
        # ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, at a fraction of the cost in bulk loads.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            offset = value.utcoffset()
            if offset is None:
                raise ValueError(f"naive datetime {value!r}: Kizuna stores timezone-aware UTC only")
            if offset:
                value = value.astimezone(UTC)
            return value.isoformat(" ", "microseconds")[:26]  # drop the "+00:00"

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if FIRST_MOMENT <= value <= LAST_MOMENT:
            return value
        return clamp_moment(value)


def str_enum(enum_cls: type[StrEnum], name: str) -> Enum:
    """Store a StrEnum by its value, as a VARCHAR with a CHECK constraint (both backends)."""

    def values(members: Any) -> list[str]:
        return [m.value for m in members]

    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        values_callable=values,
        length=max(len(m.value) for m in enum_cls),
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
