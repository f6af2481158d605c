"""Fill the Japanese catalogue from the template: `make i18n` runs this after extraction.

Translations live in ``src/kizuna/locale/ja/LC_MESSAGES/kizuna.po``; this script merges
new msgids from ``kizuna.pot`` into it (keeping existing translations) and reports the
msgids still untranslated (exit status 0: fill them with `scripts/i18n_fill.py`; the test
suite fails while any is).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
POT = ROOT / "src/kizuna/locale/kizuna.pot"
PO = ROOT / "src/kizuna/locale/ja/LC_MESSAGES/kizuna.po"


def main() -> int:
    with POT.open("rb") as fh:
        template = read_po(fh)
    if PO.exists():
        with PO.open("rb") as fh:
            catalog = read_po(fh, locale="ja")
    else:
        catalog = Catalog(locale="ja", project="kizuna")
    if len(template) == 0:
        print("the template holds no messages: was extraction run from src/kizuna?", file=sys.stderr)
        return 2
    catalog.update(template, no_fuzzy_matching=True)
    missing = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True, no_location=True, ignore_obsolete=False)
    for msgid in missing:
        print(f"untranslated: {msgid!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
