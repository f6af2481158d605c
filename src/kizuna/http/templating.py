"""Server-rendered pages: Jinja2 with the gettext catalogue and locale formatting."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from kizuna.domain.enums import LABELS
from kizuna.domain.segments import rule_reason
from kizuna.http.i18n import Formatter
from kizuna.http.state import app_state
from kizuna.i18n import SUPPORTED_LANGUAGES, get_language, gettext, ngettext
from kizuna.services import freshness as freshness_service
from kizuna.version import __version__


def _label(value: object) -> str:
    """``{{ status|label }}``: an enum value shown in the reader's language (an unknown
    value is shown as it is, never looked up in the catalogue)."""
    key = str(getattr(value, "value", value))
    return gettext(LABELS[key]) if key in LABELS else key


def _reason(text: str | None) -> str:
    """``{{ p.reason|reason }}``: a reason the rules wrote, translated; one a person wrote,
    as it is (escaped by the template like any other value)."""
    if not text:
        return ""
    msgid = rule_reason(text)
    return gettext(msgid) if msgid is not None else text


def _escaped_gettext(message: str) -> Markup:
    """``{{ _("…") }}`` in a template. Jinja marks what the gettext callable returns as
    safe HTML, so a translation is escaped here first: even if a value that is not a
    literal reached ``_()``, it would be shown as text, never parsed as markup."""
    return escape(gettext(message))


def _template_gettext(message: str, **variables: Any) -> Markup:
    """``{{ _("…") }}``: what the i18n extension's own ``_`` returns (the escaped
    translation, ``%`` placeholders filled from ``variables``), without taking the
    template's context: Jinja copies the whole context for each call, in a loop, of a
    function that takes it — a few hundred copies on a list page (issue 19)."""
    return _escaped_gettext(message) % variables


def _escaped_ngettext(singular: str, plural: str, n: int) -> Markup:
    return escape(ngettext(singular, plural, n))


@cache
def make_environment(directory: Path) -> Environment:
    """The pages' Jinja environment, one per folder and process: every app built in the
    same process (the tests build hundreds) shares the compiled templates instead of
    compiling each page again (~0.3 s for the first page of an app). Nothing in it
    depends on an app's settings."""
    env = Environment(
        loader=FileSystemLoader(str(directory)),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_escaped_gettext, _escaped_ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["_"] = _template_gettext
    env.globals["version"] = __version__
    env.filters["label"] = _label
    env.filters["reason"] = _reason
    env.globals["languages"] = SUPPORTED_LANGUAGES
    return env


def _late_feeds(request: Request, signed_in: bool) -> list[dict[str, Any]]:
    """The feeds the daily job last found late (the banner on every page, for a signed-in
    user). Read once per process while the store is unchanged (``StoreCache``; on
    PostgreSQL once per request); a store that cannot say (not migrated yet) shows none."""
    if not signed_in:
        return []
    cached = getattr(request.state, "late_feeds", None)
    if cached is None:
        state = app_state(request)
        try:
            # what the daily job last found: kept while the store is unchanged (issue 19)
            version = state.store_cache.version()
            feeds = state.store_cache.get("late_feeds", version, lambda: _read_late_feeds(state))
            cached = [feed | {"name": gettext(feed["label"])} for feed in feeds]
        except Exception:  # the banner never breaks a page (an error page least of all)
            cached = []
        request.state.late_feeds = cached
    return list(cached)


def _read_late_feeds(state: Any) -> list[dict[str, Any]]:
    with state.unit_of_work() as session:
        return freshness_service.late_feeds(session)


def page_context(request: Request) -> dict[str, Any]:
    """What every page may use: the caller, the CSRF token, formatting, the language,
    the late data feeds."""
    state = app_state(request)
    principal = getattr(request.state, "principal", None)
    language = get_language()
    return {
        "late_feeds": _late_feeds(request, principal is not None),
        "request": request,
        "principal": principal,
        "user": principal if principal is not None and principal.is_user else None,
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
