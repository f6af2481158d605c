"""Email templates (メールテンプレート): Jinja in a sandbox, a plain-text part and an optional
HTML part, in Japanese and English.

A playbook's email step holds its templates (versioned with the playbook, see
``docs/playbooks.md``). The merge fields are :data:`EMAIL_FIELDS`; a template naming any
other is refused when the playbook is saved (:func:`check_playbook`, naming the playbook,
the step and the part), so a typo never reaches a customer as an empty gap. Templates render in a sandboxed environment (no
attribute tricks reach Python internals); the HTML part is autoescaped, so an account
named ``<b>`` arrives as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.environment import Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kizuna.domain.playbooks import LANGUAGES, MAIL_PARTS, Playbook
from kizuna.errors import ConfigurationError
from kizuna.i18n import _

#: The merge fields an email template may use, e.g. ``{{ contact }}`` or ``{{ renewal_on }}``.
EMAIL_FIELDS: dict[str, str] = {
    "account": "the account's name",
    "contact": "the recipient's name",
    "owner": "the CSM's name (the account's owner)",
    "owner_email": "the CSM's email address",
    "renewal_on": "the renewal date (YYYY-MM-DD)",
    "health_score": "the health score (0–100)",
    "health_grade": "the health grade (red, yellow, green)",
    "tier": "the touch tier (high, low, tech)",
    "stage": "the lifecycle stage",
    "plan": "the plan's name",
    "unsubscribe_url": "the recipient's signed unsubscribe link",
}

_TEXT = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True)
_HTML = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)


class TemplateProblem(ValueError):
    """A template that cannot be used: its syntax, or a merge field that does not exist."""


def check_template(source: str, *, html: bool = False) -> None:
    """Refuse a template with a syntax error or an unknown merge field (the message names it)."""
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(_("template error on line {line}: {why}").format(line=exc.lineno, why=exc.message)) from None
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        raise TemplateProblem(_("merge fields are plain values: write {{{{ name }}}}, not {{{{ name.x }}}} or "
                                "{{{{ name[x] }}}} (line {line})").format(line=node.lineno))  # fmt: skip
    names = meta.find_undeclared_variables(tree)
    unknown = sorted(names - set(EMAIL_FIELDS))
    if unknown:
        raise TemplateProblem(_("unknown merge field {{{{ {name} }}}}; known: {known}").format(
            name=unknown[0], known=", ".join(EMAIL_FIELDS)))  # fmt: skip


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


def render_template(source: str, values: Mapping[str, Any], *, html: bool = False) -> str:
    """A checked template filled in: every merge field is given (missing values show as —)."""
    filled = {name: ("—" if values.get(name) is None else values[name]) for name in EMAIL_FIELDS}
    return _compiled(source, html).render(filled)


def pick_language(available: tuple[str, ...], contact_language: str | None, default_language: str) -> str:
    """The version to send: the contact's language, else the company default, else the one written
    without a language (``""``), else the first there is."""
    for wanted in (contact_language, default_language, ""):
        if wanted is not None and wanted in available:
            return wanted
    return available[0]


def check_playbook(book: Playbook, source: str) -> None:
    """Every email template of a parsed playbook; ``ConfigurationError`` (``invalid_playbook``)
    names the file and the path, e.g. ``mine.toml: risk.steps[2].en.body: unknown merge field …``."""
    for path, step in book.flat:
        if step.kind != "email":
            continue
        for language in ("", *LANGUAGES):
            parts = step.params if not language else (step.params.get(language) or {})
            for part in MAIL_PARTS:
                text = parts.get(part)
                if not text:
                    continue
                where = f"{book.key}.{path}.{language + '.' if language else ''}{part}"
                try:
                    check_template(text, html=part == "html")
                except TemplateProblem as exc:
                    raise ConfigurationError(f"{source}: {where}: {exc}", code="invalid_playbook", field=where) from None
