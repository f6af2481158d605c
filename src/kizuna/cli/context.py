"""What every command shares: the console, settings, and the opened store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from rich.console import Console

from kizuna.db import ensure_schema, make_engine
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.settings import Settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class _State:
    debug: bool = False
    #: the process runs this one command and ends (the ``kizuna`` entry point; not a test
    #: calling ``main([...])`` in its own process)
    one_shot: bool = False


state = _State()


def settle_imports() -> None:
    """After a one-shot command's heavy imports (pandas, Ibis): freeze what is tracked so
    far, so that the cycle collector never walks the imported modules again — neither
    during the command nor at the process's exit, where that walk cost ~0.2 s of CPU
    of a KPI report (issue 19, docs/benchmarks.md ``pipeline``). What is frozen lives
    until the process ends anyway. Nothing is done in a process that goes on (tests)."""
    if state.one_shot:
        import gc

        gc.freeze()


def load_settings() -> Settings:
    from pydantic import ValidationError

    from kizuna.errors import ConfigurationError

    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigurationError(plain_validation_message(exc, prefix="KIZUNA_")) from None
    return settings



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


def plain_validation_message(exc: Any, *, prefix: str = "") -> str:
    """A pydantic ``ValidationError`` as plain sentences: ``FIELD: reason; …`` without
    pydantic's "Value error," prefixes, its type names or its documentation links."""
    from kizuna.i18n import _

    parts = []
    for e in exc.errors():
        where = "_".join(str(p) for p in e.get("loc", ()))
        kind = e.get("type", "")
        ctx = e.get("ctx") or {}
        if kind == "value_error" and "error" in ctx:
            reason = str(ctx["error"])
        elif kind in ("greater_than_equal", "greater_than") and ("ge" in ctx or "gt" in ctx):
            reason = _("must be at least {n}").format(n=ctx.get("ge", ctx.get("gt")))
        elif kind in ("less_than_equal", "less_than") and ("le" in ctx or "lt" in ctx):
            reason = _("must be at most {n}").format(n=ctx.get("le", ctx.get("lt")))
        elif kind in ("int_parsing", "int_from_float"):
            reason = _("not a whole number: {value!r}").format(value=e.get("input"))
        elif kind in ("float_parsing", "float_type"):
            reason = _("not a number: {value!r}").format(value=e.get("input"))
        elif kind == "bool_parsing":
            reason = _("not true/false: {value!r} (use true, false, 1, 0, yes or no)").format(value=e.get("input"))
        else:
            reason = str(e.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{prefix}{where.upper()}: {reason}" if where else reason)
    return "; ".join(parts)


def today(settings: Settings) -> date:
    """Today in the configured time zone, or the day ``KIZUNA_TODAY`` fixes: the ``as_of``
    of commands run now (the same clock as the web app's)."""
    return settings.today or datetime.now(settings.zone).date()


def open_store(settings: Settings):  # type: ignore[no-untyped-def]
    """The engine for the configured store, its schema brought up to date."""
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    return engine


def check_format(value: str, formats: tuple[str, ...] = ("table", "json")) -> str:
    """``--format``: one of ``formats`` (refused with the list, naming the option)."""
    if value not in formats:
        raise InvalidInput(
            _("--format must be one of {formats}, not {value!r}").format(formats=", ".join(formats), value=value),
            field="format",
        )
    return value
