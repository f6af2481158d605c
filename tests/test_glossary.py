"""One vocabulary: every Japanese message uses the glossary's word (docs/glossary.md), not
a banned variant, and full-width brackets around Japanese text."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"
PO = ROOT / "src" / "kizuna" / "locale" / "ja" / "LC_MESSAGES" / "kizuna.po"


def _glossary() -> dict[str, Any]:
    """The TOML block of docs/glossary.md."""
    blocks = re.findall(r"```toml\n(.*?)```", GLOSSARY.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "docs/glossary.md holds one ```toml block"
    return tomllib.loads(blocks[0])


def _messages() -> list[tuple[str, str]]:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="ja")
    out = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        out += [(str(msgid), str(s)) for s in strings if s]
    return out


def _violations(glossary: dict[str, Any], messages: list[tuple[str, str]]) -> list[str]:
    found = []
    for term in glossary["term"]:
        for variant in term["banned"]:
            pattern = re.compile(variant.get("pattern") or re.escape(variant["ja"]))
            where = re.compile(variant["where_en"]) if "where_en" in variant else None
            unless = re.compile(variant["unless_en"]) if "unless_en" in variant else None
            for msgid, msgstr in messages:
                if (where and not where.search(msgid)) or (unless and unless.search(msgid)):
                    continue
                text = msgstr
                for fixed in term.get("allowed", []):
                    text = text.replace(fixed, "")
                if match := pattern.search(text):
                    found.append(f"{term['en']} is {term['ja']}, not {match.group(0)}: {msgid!r} → {msgstr!r}")
    brackets = re.compile(glossary["brackets"]["pattern"])
    for msgid, msgstr in messages:
        if match := brackets.search(msgstr):
            found.append(f"full-width brackets （） around Japanese, not {match.group(0)!r}: {msgid!r} → {msgstr!r}")
    return found


def test_every_japanese_message_uses_the_glossary_terms() -> None:
    problems = _violations(_glossary(), _messages())
    assert problems == [], f"{len(problems)} messages off the glossary (docs/glossary.md):\n" + "\n".join(problems)


def test_the_check_catches_each_kind_of_variant() -> None:
    """The rules themselves: a banned word, a word allowed in a fixed term or where the
    English says so, a pattern limited to some msgids, and half-width brackets."""
    glossary = _glossary()
    bad = [
        ("paying accounts", "有料顧客数"),
        ("Accounts by grade", "評価別のアカウント数"),
        ("Any tier", "すべてのティア"),
        ("Renewal date", "更新日"),
        ("Sign in to Kizuna", "Kizuna にログイン"),
        ("(none)", "(なし)"),
        ("API key {id} ({scope}) created", "API キー {id}({scope})を作成しました"),
    ]
    good = [
        ("paying accounts", "有料取引先数"),
        ("How many customer accounts to create.", "作成する顧客の数。"),
        ("acquisition cost per account", "1社あたり新規顧客獲得コスト"),
        ("Renewal date", "契約更新日"),
        ("Updated", "更新日"),
        ("logins (90-day average)", "ログイン数（90日平均）"),
        ("(none)", "（なし）"),
        ("P(alive) of a customer", "顧客の P(alive)"),
    ]
    assert len(_violations(glossary, bad)) == len(bad)
    assert _violations(glossary, good) == []


TEMPLATES = ROOT / "src" / "kizuna" / "web" / "templates"


def _template_msgids() -> set[str]:
    """Every message a Jinja template passes to ``_()`` (Babel's Jinja extractor, as `make i18n`)."""
    from jinja2.ext import babel_extract

    found: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        with path.open("rb") as fh:
            for _line, _function, message, _comments in babel_extract(fh, ("_", "gettext", "ngettext"), [], {}):
                found.update(m for m in (message if isinstance(message, tuple) else (message,)) if m)
    return found


def _percent_problem(text: str) -> str | None:
    """What Jinja's new-style gettext does to a translation in an autoescaping template:
    ``Markup(text) % {}`` — a lone ``%`` there is a 500 on the page."""
    from markupsafe import Markup

    try:
        Markup(text) % {}
    except (ValueError, TypeError, KeyError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def test_no_template_message_breaks_on_a_percent_sign() -> None:
    shown = _template_msgids()
    assert "Preview the grades" in shown  # the extractor reads the templates
    problems = [f"{msgid!r} → {text!r}: {problem}" for msgid, text in _messages() if msgid in shown
                for candidate in (msgid, text) if (problem := _percent_problem(candidate))]  # fmt: skip
    assert problems == [], "write ％ (or %%) in these messages:\n" + "\n".join(problems)


def test_the_percent_check_catches_a_lone_percent_sign() -> None:
    assert _percent_problem("45 % 減") is not None
    assert _percent_problem("45 ％ 減") is None
    assert _percent_problem("45 %% 減") is None
