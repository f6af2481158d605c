"""Cells safe to open in a spreadsheet (Excel, LibreOffice, Google Sheets).

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which
some spreadsheets skip before reading one of those) is taken as a formula: a customer
named ``=HYPERLINK("http://evil.example", "click")`` would run when the export is opened.
Such text gets a leading ``'``, which spreadsheets read as "this is text" (OWASP's advice
for CSV injection).
"""

from __future__ import annotations

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
