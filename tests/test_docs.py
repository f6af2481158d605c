"""The docs and the catalogue keep up with the code."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gen_docs  # noqa: E402


def test_generated_doc_sections_are_current() -> None:
    stale = [
        str(p.relative_to(ROOT)) for p, text in gen_docs.generate().items() if p.read_text(encoding="utf-8") != text
    ]
    assert stale == [], f"run `make docs`: {stale}"


def test_every_message_in_the_code_has_a_japanese_translation() -> None:
    keywords = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
    ids = set()
    method_map = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT / "src" / "kizuna"), method_map=method_map, options_map=options, keywords=keywords
    ):
        ids.add(message[0] if isinstance(message, tuple) else message)
    po = (ROOT / "src/kizuna/locale/ja/LC_MESSAGES/kizuna.po").read_bytes()
    catalog = read_po(io.BytesIO(po), locale="ja")
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog
        if m.id and m.string and not m.fuzzy and (not isinstance(m.string, tuple) or all(m.string))
    }
    missing = sorted(ids - translated)
    assert missing == [], f"untranslated (run `make i18n` and translate): {missing}"


def test_translations_keep_every_placeholder() -> None:
    import string

    catalog = read_po(io.BytesIO((ROOT / "src/kizuna/locale/ja/LC_MESSAGES/kizuna.po").read_bytes()), locale="ja")
    fmt = string.Formatter()
    broken = []
    for m in catalog:
        if not m.id or not m.string:
            continue
        source = m.id[-1] if isinstance(m.id, tuple) else m.id
        targets = m.string if isinstance(m.string, tuple) else (m.string,)
        want = {f for _t, f, _s, _c in fmt.parse(source) if f}
        for target in targets:
            got = {f for _t, f, _s, _c in fmt.parse(target) if f}
            if got != want:
                broken.append((source, target))
    assert broken == []


def test_every_cli_command_explains_itself() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kizuna", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    for command in ("import", "export", "db", "demo"):
        assert command in out
    out = subprocess.run(
        [sys.executable, "-m", "kizuna", "import", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    assert "FILE:LINE: column: reason" in out
