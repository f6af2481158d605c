"""Japanese and English: every user-facing string goes through :func:`gettext`.

Message ids are English; ``locale/<lang>/LC_MESSAGES/kizuna.po`` holds the
translations, read once at first use (no compiled ``.mo`` files to keep in step).
The active language is a context variable, set by the entry point (the CLI from
``KIZUNA_LANGUAGE``/``LANG``, the web app per request), so that code below the entry
points never needs to know who it is talking to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

SUPPORTED_LANGUAGES: tuple[str, ...] = ("ja", "en")
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).with_name("locale")

_current: ContextVar[str] = ContextVar("kizuna_language", default=DEFAULT_LANGUAGE)


def normalize_language(value: str | None) -> str | None:
    """``ja_JP.UTF-8`` → ``ja``; anything unsupported → None."""
    if not value:
        return None
    code = value.strip().replace("-", "_").split(".")[0].split("_")[0].lower()
    return code if code in SUPPORTED_LANGUAGES else None


def language_from_environment(explicit: str | None = None) -> str:
    """The CLI's language: an explicit setting, else ``LC_ALL``/``LC_MESSAGES``/``LANG``."""
    for candidate in (explicit, os.environ.get("LC_ALL"), os.environ.get("LC_MESSAGES"), os.environ.get("LANG")):
        code = normalize_language(candidate)
        if code:
            return code
    return DEFAULT_LANGUAGE


@cache
def _catalogue(language: str) -> dict[str, str | tuple[str, ...]]:
    # imported here: a process that never translates (the English command line, a KPI report
    # in a fresh process) does not load Babel's catalogue reader (~0.01–0.03 s of CPU)
    from babel.messages.pofile import read_po

    path = LOCALE_DIR / language / "LC_MESSAGES" / "kizuna.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    out: dict[str, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = str(message.id[0] if isinstance(message.id, tuple | list) else message.id)
        if isinstance(message.string, tuple | list):
            if all(message.string):
                out[key] = tuple(str(s) for s in message.string)
        elif message.string:
            out[key] = str(message.string)
    return out


def get_language() -> str:
    return _current.get()


def set_language(language: str) -> None:
    _current.set(normalize_language(language) or DEFAULT_LANGUAGE)


@contextmanager
def language(code: str) -> Iterator[None]:
    token = _current.set(normalize_language(code) or DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    """Translate ``message`` into the active language (English ids pass through)."""
    lang = _current.get()
    if lang == DEFAULT_LANGUAGE:
        return message
    found = _catalogue(lang).get(message)
    if isinstance(found, str):
        return found
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    lang = _current.get()
    if lang != DEFAULT_LANGUAGE:
        found = _catalogue(lang).get(singular)
        if isinstance(found, tuple):
            # Japanese has one plural form; other languages would need the plural rule.
            return found[0] if len(found) == 1 else found[0 if n == 1 else 1]
        if isinstance(found, str):
            return found
    return singular if n == 1 else plural


def N_(message: str) -> str:
    """Mark a string for the catalogue without translating it yet (translate at use)."""
    return message


_ = gettext
