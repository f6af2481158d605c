"""Tables that fit the terminal: a wide table is split into several, each repeating the
first column, instead of letting Rich cut every cell to "…" (an 80-column terminal)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table


def _needed(header: str, cells: Sequence[str]) -> int:
    return max([cell_len(header), *(cell_len(c) for c in cells)])


def fitted_tables(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int, keep: int = 1,
    justify: str = "right",
) -> list[Table]:  # fmt: skip
    """The table as one or more tables no wider than ``width``; the first ``keep`` columns
    (the row labels) are repeated in each."""
    widths = [_needed(h, [r[i] for r in rows]) for i, h in enumerate(headers)]
    fixed = list(range(keep))
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(keep, len(headers)):
        candidate = fixed + current + [i]
        # each column takes its text, a space either side and a border
        if current and sum(widths[j] + 3 for j in candidate) + 1 > width:
            groups.append(current)
            current = [i]
        else:
            current.append(i)
    if current:
        groups.append(current)
    if len(groups) > 1:  # as many tables, but of even size when they fit
        rest = list(range(keep, len(headers)))
        size = -(-len(rest) // len(groups))
        even = [rest[i : i + size] for i in range(0, len(rest), size)]
        if all(sum(widths[j] + 3 for j in fixed + g) + 1 <= width for g in even):
            groups = even
    tables = []
    for n, group in enumerate(groups, 1):
        shown = f"{title} ({n}/{len(groups)})" if len(groups) > 1 else title
        table = Table(title=shown)
        for j in fixed + group:
            table.add_column(headers[j], justify="left" if j < keep else justify, no_wrap=True)  # type: ignore[arg-type]
        for r in rows:
            table.add_row(*(r[j] for j in fixed + group))
        tables.append(table)
    return tables


def print_fitted(console: Console, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                 keep: int = 1) -> None:  # fmt: skip
    for table in fitted_tables(title, headers, rows, width=console.width, keep=keep):
        console.print(table)
