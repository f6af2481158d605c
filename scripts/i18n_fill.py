"""Add translations from a Python dict file to the Japanese catalogue:
``python scripts/i18n_fill.py FILE`` where FILE defines ``T = {msgid: translation}``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parents[1] / "src/kizuna/locale/ja/LC_MESSAGES/kizuna.po"


def main(path: str) -> None:
    table = runpy.run_path(path)["T"]
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="ja")
    for message in catalog:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if key in table:
            message.string = table[key]
            message.flags.discard("fuzzy")
    with PO.open("wb") as fh:
        write_po(fh, catalog, width=100, sort_output=True, no_location=True, ignore_obsolete=False)


if __name__ == "__main__":
    main(sys.argv[1])
