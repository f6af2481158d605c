"""Server-rendered pages: Jinja2 with the gettext catalogue and locale formatting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kizuna.domain.enums import LABELS
from kizuna.http.i18n import Formatter
from kizuna.http.state import app_state
from kizuna.i18n import SUPPORTED_LANGUAGES, get_language, gettext, ngettext
from kizuna.version import __version__


def _label(value: object) -> str:
    """``{{ status|label }}``: an enum value shown in the reader's language."""
    key = str(getattr(value, "value", value))
    return gettext(LABELS.get(key, key))


def make_environment(directory: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(directory)),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["version"] = __version__
    env.filters["label"] = _label
    env.globals["languages"] = SUPPORTED_LANGUAGES
    return env


def page_context(request: Request) -> dict[str, Any]:
    """What every page may use: the caller, the CSRF token, formatting, the language."""
    state = app_state(request)
    principal = getattr(request.state, "principal", None)
    language = get_language()
    return {
        "request": request,
        "principal": principal,
        "user": principal.user if principal is not None else None,
        "csrf_token": principal.csrf_token if principal is not None else "",
        "lang": language,
        "fmt": Formatter(language, state.settings.zone),
        "path": request.url.path,
    }


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    env: Environment = app_state(request).templates
    html = env.get_template(template).render({**page_context(request), **(context or {})})
    return HTMLResponse(html, status_code=status)


def render_fragment(request: Request, template: str, context: dict[str, Any] | None = None) -> str:
    env: Environment = app_state(request).templates
    return env.get_template(template).render({**page_context(request), **(context or {})})
