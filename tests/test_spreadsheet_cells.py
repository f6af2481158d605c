"""Formula injection in exported cells, by hand: the quote added and taken off again (pure
calls; ``test_data_hardening.py`` runs them through an export and an import)."""

from __future__ import annotations

import pytest

from kizuna.domain.spreadsheet import neutralise, restore

CASES = [
    # (a cell's text, as exported)
    ('=HYPERLINK("http://evil.example","Click")', '\'=HYPERLINK("http://evil.example","Click")'),
    ("+81 3 1234 5678", "'+81 3 1234 5678"),
    ("-5", "'-5"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("'=x", "''=x"),  # already quoted before a trigger: one more, so that restore is exact
    ("''-x", "'''-x"),
    ("'x", "'x"),  # a quote before text is text
    ("'", "'"),
    ("x=1", "x=1"),  # a trigger later in the cell is no formula
    ("株式会社=", "株式会社="),
    ("", ""),
]


@pytest.mark.parametrize(("text", "exported"), CASES)
def test_a_cell_exported_and_read_back(text: str, exported: str) -> None:
    assert neutralise(text) == exported
    assert restore(exported) == text


def test_restore_takes_off_one_quote_before_a_trigger_only() -> None:
    assert restore("'''=x") == "''=x"
    assert restore("'ab") == "'ab"
    assert restore("''") == "''"
    assert restore("=x") == "=x"  # written by hand, not by an export: left alone
