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

On disk too (:func:`use_folder`, set by the entry points from ``KIZUNA_CACHE_DIR``): a
new process (each ``kizuna kpis``) reads the templates an earlier one compiled instead
of compiling them again. One file per shape, named by the SHA-256 of a canonical text of
the shape (:func:`canonical`: every node's class and arguments, nodes numbered in the
order first met — the same text in every process, with no object ids or hash orders) and
of the versions of Kizuna, Ibis and sqlglot, the format of these files, the backend, its
dialect and the row limit; the file repeats them in a header that must match. Written to
a temporary file, then renamed; a file that cannot be read, is not Kizuna's, or belongs
to other versions is ignored (and rewritten); a folder that cannot be written, or that
others may write to, only costs the compile. The folder is kept under
:data:`MAX_DISK_BYTES` (the oldest files go first).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import hashlib
import json
import os
import re
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import sqlglot.expressions as sge
from ibis.backends import BaseBackend
from ibis.common.grounds import Annotable
from sqlglot import __version__ as SQLGLOT_VERSION  # type: ignore[attr-defined]

from kizuna.version import __version__ as KIZUNA_VERSION

#: Backends whose ``compile`` returns SQL text (Spark's goes through its own session).
BACKENDS = ("sqlite", "postgres", "duckdb")
#: Values a query may have to be kept (the stand-ins must stay in range).
MAX_VALUES = 150
#: Shapes kept per process (each a few kilobytes of SQL).
MAX_SHAPES = 2_000
#: The layout of the files on disk and of the templates in them: bump it when they change
#: (or when the stand-ins, or how a text is cut, change), so that no older file is read.
DISK_FORMAT = 1
#: Size the folder on disk is kept under (the oldest files are removed beyond it).
MAX_DISK_BYTES = 16 << 20
#: Larger files are neither written nor read.
MAX_FILE_BYTES = 1 << 20

_lock = threading.Lock()
_shapes: OrderedDict[Any, Template | None] = OrderedDict()
_stats = {"hits": 0, "misses": 0, "opaque": 0, "checked": 0, "read": 0, "written": 0}
_folder: Path | None = None  # use_folder()
_folder_usable: bool | None = None  # None: not looked at yet
_folder_writable = True  # False once a write failed (read-only, full): compiled without writing
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
    # equivalent mutant (replace with nothing to replace): the same op
    shape = op.replace(mapping) if mapping else op  # pragma: no mutate
    # the dialect's class (SQLite, DuckDB, Postgres); equivalent mutant of the fallback: no backend
    # compile() is installed on has a dialect object rather than a class
    dialect = getattr(con.dialect, "__name__", type(con.dialect).__name__)  # pragma: no mutate
    key = (con.name, dialect, limit, shape)
    with _lock:
        found = key in _shapes
        template = _shapes.get(key)
        if found:
            _shapes.move_to_end(key)
    if not found:
        header = _disk_header(con.name, dialect, limit, shape) if _folder is not None else None
        template = _read(header, len(literals), len(tables)) if header is not None else None
        if template is not None:
            _stats["read"] += 1
        else:
            _stats["misses"] += 1
            template = _template(con, shape, limit, original, literals, tables)
            if header is not None and template is not None:
                _write(header, template)
        with _lock:
            _shapes[key] = template
            while len(_shapes) > MAX_SHAPES:
                _shapes.popitem(last=False)  # pragma: no mutate - equivalent: last=None is false too
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


def use_folder(folder: Path | None) -> None:
    """Keep the templates in ``folder`` too (made when first written), or only in memory
    (None). For the whole process: the entry points call it with ``KIZUNA_CACHE_DIR``'s
    folder (``Settings.sql_cache_folder``)."""
    global _folder, _folder_usable, _folder_writable
    with _lock:
        _folder = folder
        _folder_usable = None
        _folder_writable = True


class _NotCanonical(Exception):
    """A value whose text may differ between processes: the shape is not kept on disk."""


_PLAIN = (str, int, float, bool, bytes, decimal.Decimal, _dt.date, _dt.time, uuid.UUID)


def canonical(op: ops.Node) -> str | None:
    """A text of ``op`` that is the same in every process, and differs for any other op:
    one line per node (its class and its arguments by name), numbered in the order first
    met, a node's arguments referring to earlier lines. None when a value has no such text
    (an object of another kind, or nesting too deep)."""
    lines: list[str] = []
    numbers: dict[ops.Node, int] = {}

    def text(value: Any) -> str:
        if isinstance(value, ops.Node):
            if value not in numbers:
                lines.append(concrete(value))
                numbers[value] = len(lines) - 1
            return f"#{numbers[value]}"
        if value is None or isinstance(value, _PLAIN):
            return f"{type(value).__name__}:{value!r}"  # the type tells True, 1 and 1.0 apart
        if isinstance(value, enum.Enum):  # a unit of time
            return f"{type(value).__module__}.{type(value).__qualname__}.{value.name}"
        if isinstance(value, Annotable):  # data types, schemas, namespaces
            return concrete(value)
        if isinstance(value, Mapping):  # in their order (columns, struct fields)
            return "{" + ", ".join(f"{text(k)}: {text(v)}" for k, v in value.items()) + "}"
        if isinstance(value, tuple):
            return "(" + ", ".join(text(v) for v in value) + ")"
        if isinstance(value, frozenset):  # the columns a query drops: sorted (a set's order varies by process)
            return "set{" + ", ".join(sorted(text(v) for v in value)) + "}"
        raise _NotCanonical

    def concrete(value: Any) -> str:
        kind = type(value)
        # equivalent mutants (strict): Ibis gives every argument its name
        arguments = ", ".join(f"{n}={text(a)}" for n, a in zip(value.__argnames__, value.__args__, strict=True))  # pragma: no mutate
        return f"{kind.__module__}.{kind.__qualname__}({arguments})"

    try:
        text(op)  # the root's line is the last
    except (_NotCanonical, RecursionError):
        return None
    return "\n".join(lines)


def _disk_header(backend: str, dialect: str, limit: Any, shape: ops.Node) -> dict[str, Any] | None:
    """What a shape's file must begin with: the versions, the backend and its dialect, the
    row limit and the digest of all these and the shape's canonical text (the file's name)."""
    if limit is not None and type(limit) not in (int, str):  # None, a number of rows or "default"
        return None
    text = canonical(shape)
    if text is None:
        return None
    header: dict[str, Any] = {"format": DISK_FORMAT, "kizuna": KIZUNA_VERSION, "ibis": ibis.__version__,
                              "sqlglot": SQLGLOT_VERSION, "backend": backend, "dialect": dialect, "limit": limit}  # fmt: skip
    preamble = json.dumps(header, sort_keys=True)
    header["shape"] = hashlib.sha256(f"{preamble}\n{text}".encode()).hexdigest()
    return header


def _private(st: os.stat_result) -> bool:
    """Owned by this user, and no one else may write to it (always so where there are no owners)."""
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows: the user's own folder
        return True  # pragma: no mutate - Windows only
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _usable(create: bool) -> bool:
    """Whether the folder exists (made when ``create``) and is this user's alone (looked at
    once a process)."""
    global _folder_usable
    if _folder_usable is not None or _folder is None:
        return bool(_folder_usable)
    try:
        if create:
            _folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(_folder)
    except OSError:
        if create:
            _folder_usable = False  # cannot be made: no disk in this process
        # equivalent mutant (True): reading then finds no file, writing no folder to write in
        return False  # pragma: no mutate
    _folder_usable = S_ISDIR(st.st_mode) and _private(st)
    return _folder_usable


def _read(header: dict[str, Any], values: int, tables: int) -> Template | None:
    """The template in the shape's file, if there is one that is Kizuna's, of these
    versions, whole, and has one slot for each of the query's values and tables."""
    # equivalent mutant: None is false too (the other one, True, makes the folder before anything is
    # written: test_nothing_is_made_before_something_is_written_and_the_folder_is_looked_at_once)
    if not _usable(False):  # pragma: no mutate
        return None
    assert _folder is not None
    try:
        # equivalent mutant (text mode): the files are ASCII (JSON escapes the rest)
        with open(_folder / f"{header['shape']}.json", "rb") as file:  # pragma: no mutate
            st = os.fstat(file.fileno())
            if not _private(st) or st.st_size > MAX_FILE_BYTES:
                return None
            doc = json.loads(file.read())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("header") != header or not isinstance(doc.get("template"), dict):
        return None
    parts, slots = doc["template"].get("parts"), doc["template"].get("slots")
    if not isinstance(parts, list) or not isinstance(slots, list) or len(parts) != len(slots) + 1:
        return None
    if not all(type(p) is str for p in parts):
        return None
    if not all(type(s) is list and len(s) == 2 and type(s[0]) is str and type(s[1]) is int for s in slots):
        return None
    kept = tuple((s[0], s[1]) for s in slots)
    if set(kept) != {("v", i) for i in range(values)} | {("t", i) for i in range(tables)}:
        return None
    return Template(tuple(parts), kept)


#: The names of the files this module writes (a template, or one being written).
_OURS = re.compile(r"[0-9a-f]{64}(\.json|\.\w+\.tmp)")


def _write(header: dict[str, Any], template: Template) -> None:
    """Write the shape's file: a temporary file renamed over it (a reader sees the old file
    or the new one, whole). Any failure: no more writing in this process."""
    global _folder_writable
    data = json.dumps({"header": header, "template": {"parts": template.parts, "slots": template.slots}}).encode()
    if len(data) > MAX_FILE_BYTES or not _folder_writable or not _usable(create=True):
        return
    assert _folder is not None
    try:
        fd, temporary = tempfile.mkstemp(prefix=f"{header['shape']}.", suffix=".tmp", dir=_folder)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, _folder / f"{header['shape']}.json")
        except BaseException:
            _remove(temporary)
            raise
    except OSError:
        _folder_writable = False
        return
    _stats["written"] += 1
    _trim(_folder)


def _remove(path: str) -> None:
    """Remove the file, if it is still there."""
    with suppress(OSError):
        os.unlink(path)


def _trim(folder: Path) -> None:
    """Remove the oldest of this module's files until they take at most :data:`MAX_DISK_BYTES`."""
    files = []
    try:
        for entry in os.scandir(folder):
            if _OURS.fullmatch(entry.name):
                try:
                    # equivalent mutants: this module writes no links; one another program made counts by
                    # its own size or its target's, the folder is bounded either way
                    st = entry.stat(follow_symlinks=False)  # pragma: no mutate
                except OSError:
                    continue  # removed by another process meanwhile
                files.append((st.st_mtime, entry.name, st.st_size))
    except OSError:
        return
    total = sum(size for _, _, size in files)
    for _, name, size in sorted(files):
        if total <= MAX_DISK_BYTES:
            break  # pragma: no mutate - equivalent: return (nothing follows the loop)
        _remove(str(folder / name))
        total -= size
