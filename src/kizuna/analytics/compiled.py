"""Compiled SQL kept per process, by backend dialect and query shape (issue 19).

Compiling an Ibis expression to SQL (its rewrites, then sqlglot) costs 10–100 ms a
query; the KPI report runs about 25 of them, and every report built the same queries
again with other values. :func:`install` makes a backend's ``compile`` keep, per
*shape*, the SQL text with a slot where each value goes:

- the shape is the expression with its values (dates, times, whole numbers of 32 bits
  or more, decimals, texts) replaced by placeholders and its tables by placeholders of
  the same schema; everything else — the operations, the columns, the small numbers
  that pick months and windows, true/false — stays in it, as do the backend's dialect
  and the row limit; so two reports with another day, another zone or another store
  of the same schema share every query, and another number of months or segment is
  another shape;
- the SQL of a shape is compiled once, with unlikely stand-in values and table names,
  and the text is cut where each stand-in's own SQL appears (a stand-in not found as a
  whole token: the shape is compiled each time, as before); the pieces are then filled
  with the real values' SQL (:func:`checking` compares every such text with Ibis' own:
  the tests do);
- a value's SQL is what the backend's compiler writes for that literal alone, the
  same function Ibis uses inside a query.

Nothing about the data is kept: only SQL text, keyed on the expression's shape.
"""

from __future__ import annotations

import datetime as _dt
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import sqlglot.expressions as sge
from ibis.backends import BaseBackend

#: Backends whose ``compile`` returns SQL text (Spark's goes through its own session).
BACKENDS = ("sqlite", "postgres", "duckdb")
#: Values a query may have to be kept (the stand-ins must stay in range).
MAX_VALUES = 150
#: Shapes kept per process (each a few kilobytes of SQL).
MAX_SHAPES = 2_000

_lock = threading.Lock()
_shapes: OrderedDict[Any, Template | None] = OrderedDict()
_stats = {"hits": 0, "misses": 0, "opaque": 0, "checked": 0}
_checking = 0  # depth of checking() blocks (the test suite runs inside one for the whole session)


@dataclass(frozen=True)
class Template:
    """A query's SQL cut at its values: ``parts[0] + slot[0] + parts[1] + …``; each
    slot names a placeholder (``("v", i)`` a value, ``("t", i)`` a table)."""

    parts: tuple[str, ...]
    slots: tuple[tuple[str, int], ...]

    def fill(self, values: list[str], tables: list[str]) -> str:
        out = [self.parts[0]]
        for (kind, index), part in zip(self.slots, self.parts[1:], strict=True):
            out.append(values[index] if kind == "v" else tables[index])
            out.append(part)
        return "".join(out)


def stats() -> dict[str, int]:
    """Hits, misses and shapes that could not be kept, since the process started (or :func:`clear`)."""
    return dict(_stats)


def clear() -> None:
    with _lock:
        _shapes.clear()
        for key in _stats:
            _stats[key] = 0


def install(con: BaseBackend) -> BaseBackend:
    """Make ``con.compile`` keep compiled SQL by shape (SQLite, PostgreSQL and DuckDB;
    other backends are left as they are). Returns ``con``."""
    if con.name not in BACKENDS or getattr(con, "_kizuna_compiled", False):
        return con
    original: Callable[..., str] = con.compile

    def compile(expr: Any, /, *, limit: Any = None, params: Any = None, **kwargs: Any) -> str:
        if params or kwargs:
            return original(expr, limit=limit, params=params, **kwargs)
        return compile_sql(con, expr, limit, original)

    con.compile = compile
    con._kizuna_compiled = True
    return con


def _bindable(dtype: dt.DataType) -> bool:
    """Values that never change the SQL around them: they become slots."""
    if dtype.is_integer():
        return bool(dtype.nbytes >= 4)  # small ones (months, windows, 0/1) pick the shape
    return bool(dtype.is_date() or dtype.is_timestamp() or dtype.is_string() or dtype.is_floating())


def _stand_in(dtype: dt.DataType, i: int) -> Any:
    if dtype.is_integer():
        return 1_987_600_013 + 1_000 * i  # fits 32 bits up to i = 159,000
    if dtype.is_floating():
        return 1_987_600.0625 + i
    if dtype.is_string():
        return f"kzv{i}q"
    if dtype.is_date():
        return _dt.date(2400 + i, 7, 13)
    return _dt.datetime(2400 + i, 7, 13, 1, 2, 3)


def _literal_sql(con: BaseBackend, op: ops.Literal) -> str:
    return str(con.compiler.visit_Literal(op, value=op.value, dtype=op.dtype).sql(dialect=con.dialect))


def _table_sql(con: BaseBackend, name: str) -> str:
    return str(sge.to_identifier(name, quoted=con.compiler.quoted).sql(dialect=con.dialect))


def compile_sql(con: BaseBackend, expr: Any, limit: Any, original: Callable[..., str]) -> str:
    """The SQL of ``expr`` on ``con``: from the kept shape when there is one."""
    op = expr.as_table().op()
    literals: list[ops.Literal] = []
    tables: list[ops.PhysicalTable] = []
    for node in op.find((ops.Literal, ops.DatabaseTable, ops.InMemoryTable)):
        if isinstance(node, ops.Literal):
            if node.value is not None and _bindable(node.dtype):
                literals.append(node)
        else:
            tables.append(node)
    if len(literals) > MAX_VALUES:
        return original(expr, limit=limit)
    mapping: dict[Any, Any] = {lit: ops.Literal(_stand_in(lit.dtype, i), lit.dtype) for i, lit in enumerate(literals)}
    for i, table in enumerate(tables):
        namespace = table.namespace if isinstance(table, ops.DatabaseTable) else ops.Namespace()
        mapping[table] = ops.DatabaseTable(f"kzt{i}q", schema=table.schema, source=None, namespace=namespace)
    shape = op.replace(mapping) if mapping else op
    key = (con.name, con.dialect if isinstance(con.dialect, str) else type(con.dialect).__name__, limit, shape)
    with _lock:
        found = key in _shapes
        template = _shapes.get(key)
        if found:
            _shapes.move_to_end(key)
    if not found:
        _stats["misses"] += 1
        template = _template(con, shape, limit, original, literals, tables)
        with _lock:
            _shapes[key] = template
            while len(_shapes) > MAX_SHAPES:
                _shapes.popitem(last=False)
    elif template is not None:
        _stats["hits"] += 1
    if template is None:  # a shape that cannot be cut at its values: compiled each time
        _stats["opaque"] += 1
        return original(expr, limit=limit)
    sql = template.fill([_literal_sql(con, lit) for lit in literals], [_table_sql(con, str(t.name)) for t in tables])
    if _checking:
        expected = original(expr, limit=limit)
        if sql != expected:
            raise AssertionError(f"kept SQL differs from Ibis' own:\n{sql}\n{expected}")
        _stats["checked"] += 1
    return sql


@contextmanager
def checking() -> Iterator[None]:
    """Within: every SQL taken from a kept shape is also compiled by Ibis and must be the
    same text (an AssertionError otherwise) — for tests (``tests/conftest.py`` runs the
    whole suite inside one; blocks nest)."""
    global _checking
    _checking += 1
    try:
        yield
    finally:
        _checking -= 1


def _template(
    con: BaseBackend,
    shape: Any,
    limit: Any,
    original: Callable[..., str],
    literals: list[ops.Literal],
    tables: list[ops.PhysicalTable],
) -> Template | None:
    """The shape's SQL cut where each stand-in appears; None if a stand-in is not found
    as a whole token."""
    sql = original(shape.to_expr(), limit=limit)
    tokens: dict[str, tuple[str, int]] = {}
    for i, lit in enumerate(literals):
        tokens[_literal_sql(con, ops.Literal(_stand_in(lit.dtype, i), lit.dtype))] = ("v", i)
    for i in range(len(tables)):
        tokens[_table_sql(con, f"kzt{i}q")] = ("t", i)
    if len(tokens) != len(literals) + len(tables):
        return None
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(t)}(?!\w)" for t in sorted(tokens, key=len, reverse=True)))
    parts: list[str] = []
    slots: list[tuple[str, int]] = []
    position = 0
    for match in pattern.finditer(sql):
        parts.append(sql[position : match.start()])
        slots.append(tokens[match.group(0)])
        position = match.end()
    parts.append(sql[position:])
    if set(slots) != set(tokens.values()):
        return None
    return Template(tuple(parts), tuple(slots))
