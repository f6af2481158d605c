"""The one place entry points read the clock: ``as_of`` is passed down from here."""

from __future__ import annotations

from datetime import date, datetime

from kizuna.settings import Settings


def today(settings: Settings) -> date:
    """Today in the configured time zone, or the day ``KIZUNA_TODAY`` fixes."""
    return settings.today or datetime.now(settings.zone).date()


def now(settings: Settings) -> datetime:
    """This moment (UTC), on the day ``KIZUNA_TODAY`` fixes when it is set."""
    from datetime import UTC

    moment = datetime.now(UTC)
    return moment if settings.today is None else datetime.combine(settings.today, moment.timetz())
