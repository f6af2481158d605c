"""``import_file``: validate every row of a file and upsert it, all or nothing.

One pass over the file, in batches: parse each field, check each row, find keys
repeated in the file and references to records that do not exist. While no problem
has been found, each batch is upserted in the caller's transaction; after the first
problem nothing more is written but every row is still checked, so the user gets the
full list. Any problem raises :class:`ImportRejected` and the caller rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

from kizuna.db import Session, bulk
from kizuna.errors import ImportRejected, RowError
from kizuna.i18n import _
from kizuna.services.imports import mapping as column_mapping
from kizuna.services.imports import parallel
from kizuna.services.imports.fields import FieldError, ParseContext
from kizuna.services.imports.mapping import ColumnMapping
from kizuna.services.imports.readers import Record, detect_format, open_records
from kizuna.services.imports.specs import EntitySpec, Field, entity

BATCH_SIZE = 2000
#: Files at least this big are parsed in a second process (see ``parallel``).
PARALLEL_FROM_BYTES = 16 << 20
CUSTOM_PREFIX = column_mapping.CUSTOM_PREFIX
_KEY_SEP = "\x1f"
_CACHE_LIMIT = 200_000


@dataclass
class ImportSummary:
    entity: str
    path: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    dry_run: bool = False
    refused: int = 0  # rows with at least one problem (then nothing is written)

    @property
    def unchanged(self) -> int:
        return max(0, self.rows - self.inserted - self.updated - self.refused)


@dataclass
class _RefCache:
    """Natural key → id, per referenced table, bounded so memory stays flat."""

    session: Session
    known: dict[tuple[str, str], dict[Any, int]] = field(default_factory=dict)

    def resolve(self, table: str, key: str, values: Iterable[Any]) -> dict[Any, int]:
        cache = self.known.setdefault((table, key), {})
        wanted = {v for v in values if v not in cache}
        if wanted:
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
            cache.update(bulk.lookup_ids(self.session, table, key, wanted))
        return cache


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while batch := list(islice(records, size)):
        yield batch


def check_columns(
    spec: EntitySpec, label: str, columns: list[str], *, line: int = 1, header: bool = True
) -> list[RowError]:
    """Problems with a CSV header (or a JSON object's keys): unknown, missing, repeated."""
    problems: list[RowError] = []
    known = set(spec.columns) | ({spec.self_ref.column} if spec.self_ref else set())
    if spec.custom_fields and not header:
        known.add("custom_fields")  # JSON Lines may carry them as one object
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            problems.append(RowError(label, line, column, _("column appears twice")))
        seen.add(column)
        if column in known or (
            spec.custom_fields and column.startswith(CUSTOM_PREFIX) and len(column) > len(CUSTOM_PREFIX)
        ):
            continue
        hint = _(" (custom fields are columns named custom.<name>)") if spec.custom_fields else ""
        problems.append(RowError(label, line, column, _("unknown column; expected one of: {columns}").format(
            columns=", ".join(sorted(known))) + hint))  # fmt: skip
    for fd in spec.fields:
        if header and fd.required and fd.column not in seen:
            problems.append(RowError(label, line, fd.column, _("required column is missing")))
    return problems


def _plan(spec: EntitySpec) -> tuple[tuple[str, Any, bool, Any], ...]:
    """The fields as plain tuples: the per-row loop is the hot path of a large import.
    (Cached by name: hashing the spec itself on every row costs more than parsing.)"""
    return _plan_by_name(spec.name)


@cache
def _plan_by_name(name: str) -> tuple[tuple[str, Any, bool, Any], ...]:
    spec = entity(name)
    return tuple((fd.column, fd.parse or (lambda raw, ctx, row: raw), fd.required, fd.default) for fd in spec.fields)


def _stored_columns(spec: EntitySpec) -> tuple[str, ...]:
    return tuple(fd.attr for fd in spec.fields) + (("custom_fields",) if spec.custom_fields else ())


def _parse(
    spec: EntitySpec, record: Record, ctx: ParseContext, label: str, errors: list[RowError]
) -> tuple[dict[str, Any], bool]:
    """The row's values (None where a field is bad) and whether the row is good so far."""
    raw = record.values or {}
    values: dict[str, Any] = {}
    ok = True
    for column, parse, required, default in _plan(spec):
        value = raw.get(column)
        if value is None:
            if required:
                errors.append(RowError(label, record.line, column, _("required, but empty")))
                ok = False
            values[column] = default(ctx) if callable(default) else default
            continue
        if value.__class__ is str and "\x00" in value:  # PostgreSQL cannot store it; nor should SQLite
            errors.append(RowError(label, record.line, column, _("must not contain NUL characters")))
            ok = False
            values[column] = None
            continue
        try:
            values[column] = parse(value, ctx, values)
        except FieldError as exc:
            errors.append(RowError(label, record.line, column, str(exc)))
            ok = False
            values[column] = None
    if spec.self_ref is not None:
        parent = raw.get(spec.self_ref.column)
        values[spec.self_ref.column] = str(parent).strip() if parent is not None else None
    if spec.custom_fields:
        custom: dict[str, Any] = {}
        given = raw.get("custom_fields")
        if given is not None:
            if isinstance(given, dict):
                custom.update(given)
            else:
                errors.append(RowError(label, record.line, "custom_fields", _("must be a JSON object ({...})")))
                ok = False
        for column, value in raw.items():
            if column.startswith(CUSTOM_PREFIX) and value is not None:
                if isinstance(value, str) and "\x00" in value:
                    errors.append(RowError(label, record.line, column, _("must not contain NUL characters")))
                    ok = False
                    continue
                custom[column[len(CUSTOM_PREFIX) :]] = value.strip() if isinstance(value, str) else value
        values["custom_fields"] = custom
    if ok and spec.check is not None:
        for column, reason in spec.check(values):
            errors.append(RowError(label, record.line, column, reason))
            ok = False
    return values, ok


def _keys(spec: EntitySpec, parsed: list[tuple[int, dict[str, Any]]]) -> list[tuple[str, int]]:
    """``(key text, line)`` for each row whose key columns all parsed (a hot loop)."""
    columns = spec.key
    out = []
    if len(columns) == 1:
        (c,) = columns
        for line, v in parsed:
            value = v.get(c)
            if value is not None:
                out.append((str(value), line))
        return out
    for line, v in parsed:
        values = [v.get(c) for c in columns]
        if None not in values:
            out.append((_KEY_SEP.join(map(str, values)), line))
    return out


@dataclass
class ParsedBatch:
    """What the parsing stage hands the writing stage: rows read, good-so-far values by
    line, and the problems found (including ones the reader found)."""

    rows: int
    parsed: list[tuple[int, dict[str, Any]]]
    errors: list[RowError]
    bytes_read: int = 0


def parse_batches(
    spec: EntitySpec, label: str, records: Iterator[Record], *, ctx: ParseContext,
    reader_errors: list[RowError], check_keys: bool = False,
) -> Iterator[ParsedBatch]:  # fmt: skip
    """Stage one: parse and check each row on its own (types, required, cross-field)."""
    for batch in _batches(records, BATCH_SIZE):
        errors: list[RowError] = []
        parsed: list[tuple[int, dict[str, Any]]] = []
        for record in batch:
            if record.values is None:
                continue
            if check_keys:
                errors.extend(check_columns(spec, label, list(record.values), line=record.line, header=False))
            values, _ok = _parse(spec, record, ctx, label, errors)
            parsed.append((record.line, values))
        if reader_errors:
            errors.extend(reader_errors)
            reader_errors.clear()
        yield ParsedBatch(len(batch), parsed, errors)
    if reader_errors:
        yield ParsedBatch(0, [], list(reader_errors))
        reader_errors.clear()


def import_records(
    session: Session,
    spec: EntitySpec,
    label: str,
    records: Iterator[Record],
    *,
    ctx: ParseContext,
    errors: list[RowError],
    dry_run: bool = False,
    check_keys: bool = False,
) -> ImportSummary:
    """The engine behind :func:`import_file`, for any source of records (in-process)."""
    reader_errors = errors  # the reader appends to the list it was given
    own: list[RowError] = []
    batches = parse_batches(spec, label, records, ctx=ctx, reader_errors=reader_errors, check_keys=check_keys)
    summary = write_batches(session, spec, label, batches, errors=own, dry_run=dry_run)
    errors.extend(own)
    return summary


def write_batches(
    session: Session, spec: EntitySpec, label: str, batches: Iterable[ParsedBatch], *,
    errors: list[RowError], dry_run: bool = False, on_bytes: Callable[[int], None] | None = None,
) -> ImportSummary:  # fmt: skip
    """Stage two: keys repeated in the file, references, and the upsert — in the
    caller's transaction, and only while no problem at all has been found."""
    summary = ImportSummary(spec.name, label, dry_run=dry_run)
    tracker = bulk.KeyTracker(session)
    refs = _RefCache(session)
    ref_fields = [fd for fd in spec.fields if fd.ref is not None]
    parents: list[tuple[int, str, str]] = []  # (line, key, parent key)
    try:
        for batch in batches:
            first_error = len(errors)
            summary.rows += batch.rows
            errors.extend(batch.errors)
            if on_bytes is not None and batch.bytes_read:
                on_bytes(batch.bytes_read)
            parsed = batch.parsed
            keyed = _keys(spec, parsed)
            for key, line, first in tracker.add(keyed):
                shown = key.replace(_KEY_SEP, ", ")
                errors.append(RowError(label, line, ", ".join(spec.key), _(
                    "{value} appears more than once in the file (also on line {first})").format(
                    value=shown, first=first)))  # fmt: skip
            for fd in ref_fields:
                _resolve(fd, parsed, refs, label, errors)
            if spec.self_ref is not None:
                col = spec.self_ref.column
                parents += [(ln, str(v[spec.key[0]]), v[col]) for ln, v in parsed if v.get(col) and v.get(spec.key[0])]
            if dry_run:
                # Write the good rows anyway (the caller rolls back): the counts of new,
                # updated and unchanged rows are then the ones a real import would give,
                # and later files of the same dry run see these rows.
                bad = {e.line for e in errors[first_error:]}
                rows = [v for ln, v in parsed if ln not in bad] if bad else [v for _ln, v in parsed]
            else:
                rows = [] if errors else [v for _ln, v in parsed]
            if rows:
                inserted, updated = bulk.upsert(
                    session, spec.table, rows, columns=_stored_columns(spec),
                    conflict=spec.conflict, immutable=spec.immutable,
                )  # fmt: skip
                summary.inserted += inserted
                summary.updated += updated
        if spec.self_ref is not None:
            _link_parents(session, spec, parents, tracker, label, errors, write=not errors and not dry_run)
    finally:
        tracker.close()
    summary.refused = len({e.line for e in errors})
    return summary


def _resolve(
    fd: Field, parsed: list[tuple[int, dict[str, Any]]], refs: _RefCache, label: str, errors: list[RowError]
) -> None:
    assert fd.ref is not None
    wanted = [v[fd.column] for _ln, v in parsed if v.get(fd.column) is not None]
    if not wanted:
        for _ln, v in parsed:
            v[fd.attr] = None
        return
    found = refs.resolve(fd.ref.table, fd.ref.key, wanted)
    for line, v in parsed:
        k = v.get(fd.column)
        if k is None:
            v[fd.attr] = None
        elif k in found:
            v[fd.attr] = found[k]
        else:
            errors.append(RowError(label, line, fd.column, _("no {noun} with {key} {value!r}; import it first").format(
                noun=_(fd.ref.noun), key=fd.ref.key, value=k)))  # fmt: skip


def _link_parents(session: Session, spec: EntitySpec, parents: list[tuple[int, str, str]], tracker: bulk.KeyTracker,
                  label: str, errors: list[RowError], *, write: bool) -> None:  # fmt: skip
    assert spec.self_ref is not None
    assert spec.self_ref.ref is not None
    ref = spec.self_ref.ref
    column = spec.self_ref.column
    wanted = {p for _ln, _k, p in parents}
    in_db = bulk.lookup_ids(session, ref.table, ref.key, wanted)
    in_file = tracker.contains(wanted)
    for line, k, parent in parents:
        if parent == k:
            errors.append(RowError(label, line, column, _("an account cannot be its own parent")))
        elif parent not in in_db and parent not in in_file:
            errors.append(RowError(label, line, column, _("no {noun} with {key} {value!r}; import it first").format(
                noun=_(ref.noun), key=ref.key, value=parent)))  # fmt: skip
    if write and not errors and parents:
        ids = bulk.lookup_ids(session, ref.table, ref.key, wanted)
        bulk.set_references(
            session, spec.table, spec.self_ref.attr, spec.key[0], [(k, ids[p]) for _ln, k, p in parents]
        )


def import_file(
    session: Session,
    entity_name: str,
    path: Path,
    *,
    ctx: ParseContext,
    encoding: str | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    mapping: ColumnMapping | None = None,
    label: str | None = None,
    keep_dry_run: bool = False,
) -> ImportSummary:
    """Import one CSV or JSON Lines file of ``entity_name`` into the caller's transaction.

    Raises :class:`ImportRejected` listing every bad row; the caller must then roll
    back (``session_scope`` does), so nothing of the file is written. A dry run writes
    the good rows in a savepoint it rolls back (so its counts are real and nothing
    stays); with ``keep_dry_run`` it leaves them in the caller's transaction, which the
    caller must roll back (``kizuna import all --dry-run``: later files see earlier ones).
    ``mapping`` renames the file's columns first (see ``mapping``); ``label`` is the
    file name problems are reported with (default: ``path``).
    """
    summary, errors = check_file(session, entity_name, path, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=dry_run,
                                 on_bytes=on_bytes, mapping=mapping, label=label,
                                 keep_dry_run=keep_dry_run)  # fmt: skip
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.path, e.line)), rows_read=summary.rows)
    return summary


def check_file(
    session: Session,
    entity_name: str,
    path: Path,
    *,
    ctx: ParseContext,
    encoding: str | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    mapping: ColumnMapping | None = None,
    label: str | None = None,
    keep_dry_run: bool = False,
) -> tuple[ImportSummary, list[RowError]]:
    """:func:`import_file` returning its problems instead of raising them (the web
    upload's dry run shows the counts and the problems together)."""
    if dry_run and not keep_dry_run:
        savepoint = session.begin_nested()
        try:
            return _check_file(session, entity_name, path, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=True,
                               on_bytes=on_bytes, mapping=mapping, label=label)  # fmt: skip
        finally:
            savepoint.rollback()
    return _check_file(session, entity_name, path, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=dry_run,
                       on_bytes=on_bytes, mapping=mapping, label=label)  # fmt: skip


def _check_file(
    session: Session, entity_name: str, path: Path, *, ctx: ParseContext, encoding: str | None, fmt: str | None,
    dry_run: bool, on_bytes: Callable[[int], None] | None, mapping: ColumnMapping | None, label: str | None,
) -> tuple[ImportSummary, list[RowError]]:  # fmt: skip
    spec = entity(entity_name)
    label = label or str(path)
    errors: list[RowError] = []
    file_format = detect_format(path, fmt)
    columns, records = open_records(path, fmt=file_format, encoding=encoding, errors=errors, on_bytes=on_bytes)
    opened = records
    if mapping is not None and mapping.columns:
        if not errors and file_format == "csv":
            errors.extend(column_mapping.check(spec, columns, mapping, label=label))
        columns = mapping.renamed(columns)
        records = column_mapping.apply(records, mapping)
    if file_format == "csv":
        if not errors:  # an unreadable header is reported alone
            errors.extend(check_columns(spec, label, columns))
        if errors:
            return ImportSummary(spec.name, label, dry_run=dry_run), _relabel(sorted(errors), path, label)
    check_keys = file_format == "jsonl"
    if path.stat().st_size >= PARALLEL_FROM_BYTES and parallel.available():
        # A large file: parse in a second process while this one writes (2 cores → ~2×).
        opened.close()  # type: ignore[attr-defined]
        batches = parallel.parse_in_worker(
            spec.name, path, fmt=file_format, encoding=encoding, ctx=ctx, check_keys=check_keys,
            mapping=mapping if mapping is not None and mapping.columns else None,
        )
        summary = write_batches(session, spec, label, batches, errors=errors, dry_run=dry_run, on_bytes=on_bytes)
    else:
        summary = import_records(
            session, spec, label, records, ctx=ctx, errors=errors, dry_run=dry_run, check_keys=check_keys
        )
    return summary, _relabel(errors, path, label)


def _relabel(errors: list[RowError], path: Path, label: str) -> list[RowError]:
    """The reader names problems after the path it opened; report them under ``label``."""
    opened = str(path)
    if opened == label:
        return errors
    return [RowError(label, e.line, e.column, e.reason) if e.path == opened else e for e in errors]
