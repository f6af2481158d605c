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
from itertools import islice
from pathlib import Path
from typing import Any

from kizuna.db import Session, bulk
from kizuna.errors import ImportRejected, RowError
from kizuna.i18n import _
from kizuna.services.imports.fields import FieldError, ParseContext
from kizuna.services.imports.readers import Record, detect_format, open_records
from kizuna.services.imports.specs import EntitySpec, Field, entity

BATCH_SIZE = 2000
CUSTOM_PREFIX = "custom."
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

    @property
    def unchanged(self) -> int:
        return self.rows - self.inserted - self.updated


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


def _parse(
    spec: EntitySpec, record: Record, ctx: ParseContext, label: str, errors: list[RowError]
) -> tuple[dict[str, Any], bool]:
    """The row's values (None where a field is bad) and whether the row is good so far."""
    raw = record.values or {}
    values: dict[str, Any] = {}
    ok = True
    for fd in spec.fields:
        value = raw.get(fd.column)
        if value is None:
            if fd.required:
                errors.append(RowError(label, record.line, fd.column, _("required, but empty")))
                ok = False
            values[fd.column] = fd.default
            continue
        try:
            values[fd.column] = fd.parse(value, ctx, values) if fd.parse else value
        except FieldError as exc:
            errors.append(RowError(label, record.line, fd.column, str(exc)))
            ok = False
            values[fd.column] = None
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
                custom[column[len(CUSTOM_PREFIX) :]] = value.strip() if isinstance(value, str) else value
        values["custom_fields"] = custom
    if ok and spec.check is not None:
        for column, reason in spec.check(values):
            errors.append(RowError(label, record.line, column, reason))
            ok = False
    return values, ok


def _key(spec: EntitySpec, values: dict[str, Any]) -> str:
    return _KEY_SEP.join(str(values[c]) for c in spec.key)


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
    """The engine behind :func:`import_file`, for any source of records."""
    summary = ImportSummary(spec.name, label, dry_run=dry_run)
    tracker = bulk.KeyTracker(session)
    refs = _RefCache(session)
    ref_fields = [fd for fd in spec.fields if fd.ref is not None]
    parents: list[tuple[int, str, str]] = []  # (line, key, parent key)
    try:
        for batch in _batches(records, BATCH_SIZE):
            parsed: list[tuple[int, dict[str, Any]]] = []
            for record in batch:
                summary.rows += 1
                if record.values is None:
                    continue
                if check_keys:
                    errors.extend(check_columns(spec, label, list(record.values), line=record.line, header=False))
                values, _ok = _parse(spec, record, ctx, label, errors)
                parsed.append((record.line, values))
            keyed = [(_key(spec, v), ln) for ln, v in parsed if all(v.get(c) is not None for c in spec.key)]
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
            if not errors and not dry_run:
                rows = [_stored(spec, v) for _ln, v in parsed]
                inserted, updated = bulk.upsert(
                    session, spec.table, rows, conflict=spec.conflict, immutable=spec.immutable
                )
                summary.inserted += inserted
                summary.updated += updated
        if spec.self_ref is not None:
            _link_parents(session, spec, parents, tracker, label, errors, write=not errors and not dry_run)
    finally:
        tracker.close()
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


def _stored(spec: EntitySpec, values: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for fd in spec.fields:
        if fd.ref is not None:
            row[fd.attr] = values.get(fd.attr)
        else:
            row[fd.attr] = values[fd.column]
    if spec.custom_fields:
        row["custom_fields"] = values["custom_fields"]
    return row


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
) -> ImportSummary:
    """Import one CSV or JSON Lines file of ``entity_name`` into the caller's transaction.

    Raises :class:`ImportRejected` listing every bad row; the caller must then roll
    back (``session_scope`` does), so nothing of the file is written.
    """
    spec = entity(entity_name)
    label = str(path)
    errors: list[RowError] = []
    file_format = detect_format(path, fmt)
    columns, records = open_records(path, fmt=file_format, encoding=encoding, errors=errors, on_bytes=on_bytes)
    if file_format == "csv":
        if not errors:  # an unreadable header is reported alone
            errors.extend(check_columns(spec, label, columns))
        if errors:
            raise ImportRejected(sorted(errors), rows_read=0)
    summary = import_records(
        session, spec, label, records, ctx=ctx, errors=errors, dry_run=dry_run, check_keys=file_format == "jsonl"
    )
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.path, e.line)), rows_read=summary.rows)
    return summary
