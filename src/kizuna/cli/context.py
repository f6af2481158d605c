"""What every command shares: the console, settings, and the opened store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from rich.console import Console

from kizuna.db import ensure_schema, make_engine
from kizuna.services.context import RunContext
from kizuna.settings import Settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    debug: bool = False


state = _State()


def load_settings() -> Settings:
    from pydantic import ValidationError

    from kizuna.errors import ConfigurationError

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"KIZUNA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(problems) from None
    return settings


def load_context(settings: Settings) -> RunContext:
    """The run context for the services this command calls (configuration files read now)."""
    return settings.run_context()


def bounded_day(day: date, option: str = "--as-of") -> date:
    """``day`` if it lies in the accepted range (``kizuna.domain.dates``), else ``InvalidInput``
    (``date_out_of_range``) naming the option."""
    from kizuna.domain.dates import DATE_OUT_OF_RANGE, in_range, out_of_range_message
    from kizuna.errors import InvalidInput

    if not in_range(day):
        raise InvalidInput(
            f"{option}: {out_of_range_message(day)}", code=DATE_OUT_OF_RANGE, field=option.lstrip("-").replace("-", "_")
        )
    return day


def today(settings: Settings) -> date:
    """Today in the configured time zone: the ``as_of`` of commands run now."""
    return datetime.now(settings.zone).date()


def open_store(settings: Settings):  # type: ignore[no-untyped-def]
    """The engine for the configured store, its schema brought up to date."""
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    return engine
