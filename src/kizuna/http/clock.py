"""The one place entry points read the clock: ``as_of`` is passed down from here."""

from __future__ import annotations

from datetime import date, datetime

from kizuna.settings import Settings


def today(settings: Settings) -> date:
    """Today in the configured time zone, or the day ``KIZUNA_TODAY`` fixes."""
    return settings.today or datetime.now(settings.zone).date()
