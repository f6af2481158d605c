"""Cells that a spreadsheet would run: CSV injection ("formula injection").

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-`` or
``@`` (and, in some versions, a tab or a carriage return) as a formula, so an account
named ``=HYPERLINK("http://evil.example","Click")`` becomes a live link, or worse, when
a CSV export is opened. OWASP's rule: prefix such a cell with a single quote ``'``,
which the spreadsheet shows as text.

:func:`neutralise` applies the rule to text; :func:`restore` undoes it exactly, so a
file exported by Kizuna imports back unchanged. To keep the pair a bijection, text that
already starts with quotes followed by a trigger (``'=x``) gets one more quote too.
Numbers in numeric columns (``-5``) are data, not formulas: exports leave them alone.
"""

from __future__ import annotations

import re

#: The first characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_ESCAPED = re.compile(r"^'*[=+\-@\t\r]")
_RESTORABLE = re.compile(r"^'+[=+\-@\t\r]")


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would read it as a formula."""
    if text and (text[0] in FORMULA_TRIGGERS or (text[0] == "'" and _ESCAPED.match(text))):
        return "'" + text
    return text


def restore(text: str) -> str:
    """The inverse of :func:`neutralise`: one leading ``'`` dropped before a trigger."""
    if text and text[0] == "'" and _RESTORABLE.match(text):
        return text[1:]
    return text
