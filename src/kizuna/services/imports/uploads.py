"""Files uploaded in the browser for import: streamed to a private folder with a size
limit (never held in memory whole), previewed, checked (a dry run) and imported with
the same engine as ``kizuna import``.

An upload is ``<token>.upload`` (the bytes) and ``<token>.json`` (who uploaded it, for
which entity, its file name, and the last dry run). Tokens are random; only the user
who uploaded a file can use its token. Uploads older than a day are removed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kizuna.db import Session
from kizuna.errors import ImportRejected, InvalidInput, NotFound, RowError
from kizuna.i18n import _
from kizuna.services.imports import mapping as column_mapping
from kizuna.services.imports import saved
from kizuna.services.imports.fields import ParseContext
from kizuna.services.imports.mapping import ColumnMapping, Suggestion
from kizuna.services.imports.readers import detect_format, open_records
from kizuna.services.imports.runner import ImportSummary, check_file, import_file
from kizuna.services.imports.specs import EntitySpec, entity

PREVIEW_ROWS = 5
#: Rows read to find the columns of a JSON Lines file (its objects may differ).
JSONL_SCAN_ROWS = 200
KEEP_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def too_large(max_bytes: int) -> InvalidInput:
    mb = max_bytes / (1 << 20)
    return InvalidInput(
        _("the file is larger than the upload limit of {mb} MB (setting KIZUNA_UPLOAD_MAX_BYTES); "
          "import it with kizuna import instead").format(mb=f"{mb:,.0f}" if mb >= 10 else f"{mb:,.1f}"),
        code="upload_too_large", field="file",
    )  # fmt: skip


@dataclass
class Upload:
    token: str
    entity: str
    filename: str
    size: int
    user_id: int | None
    created: float
    mapping: dict[str, str] | None = None  # the mapping of the last dry run
    mapping_name: str = ""
    check: dict[str, Any] | None = None  # the last dry run: counts and problems

    @property
    def format(self) -> str:
        return detect_format(Path(self.filename), None)


@dataclass(frozen=True)
class Preview:
    """The first rows of an upload, and a suggested mapping for its columns."""

    columns: list[str]
    rows: list[list[str]]
    suggestions: list[Suggestion]
    saved: saved.SavedMapping | None
    problems: list[RowError] = field(default_factory=list)


class UploadStore:
    """The folder uploads wait in between their steps."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    def _paths(self, token: str) -> tuple[Path, Path]:
        if not _TOKEN.match(token):
            raise NotFound(_("no such upload; upload the file again"))
        return self.folder / f"{token}.upload", self.folder / f"{token}.json"

    def receive(self, chunks: Iterable[bytes], *, filename: str, entity_name: str, user_id: int | None) -> Upload:
        """Write the uploaded bytes to a new upload, refusing past ``max_bytes``."""
        spec = entity(entity_name)
        name = Path(filename.replace("\\", "/")).name.strip() or "upload.csv"
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.sweep()
        token = secrets.token_hex(16)
        data, _meta = self._paths(token)
        size = 0
        try:
            with data.open("xb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise too_large(self.max_bytes)
                    out.write(chunk)
        except BaseException:
            data.unlink(missing_ok=True)
            raise
        if size == 0:
            data.unlink(missing_ok=True)
            raise InvalidInput(_("the file is empty"), field="file")
        upload = Upload(token, spec.name, name, size, user_id, time.time())
        self._write(upload)
        return upload

    def _write(self, upload: Upload) -> None:
        _data, meta = self._paths(upload.token)
        tmp = meta.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(upload), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, meta)

    def get(self, token: str, user_id: int | None) -> Upload:
        data, meta = self._paths(token)
        try:
            upload = Upload(**json.loads(meta.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            raise NotFound(_("no such upload; upload the file again")) from None
        if upload.user_id != user_id or not data.is_file():
            raise NotFound(_("no such upload; upload the file again"))
        return upload

    def path(self, upload: Upload) -> Path:
        return self._paths(upload.token)[0]

    def remove(self, upload: Upload) -> None:
        for p in self._paths(upload.token):
            p.unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove uploads left more than a day ago."""
        limit = time.time() - KEEP_SECONDS
        for p in self.folder.glob("*.*"):
            try:
                if p.stat().st_mtime < limit:
                    p.unlink(missing_ok=True)
            except OSError:
                continue

    # --- the steps --------------------------------------------------------------------

    def preview(self, session: Session, upload: Upload) -> Preview:
        """The file's columns and first rows, and the mapping to start from: the one
        saved for the same columns, else suggestions."""
        spec = entity(upload.entity)
        errors: list[RowError] = []
        columns, records = open_records(self.path(upload), fmt=upload.format, encoding=None, errors=errors)
        rows: list[list[str]] = []
        if upload.format == "jsonl":
            seen: dict[str, None] = {}
            sample: list[dict[str, Any]] = []
            for i, record in enumerate(records):
                if i >= JSONL_SCAN_ROWS:
                    break
                if record.values is not None:
                    seen.update(dict.fromkeys(record.values))
                    sample.append(record.values)
            records.close()  # type: ignore[attr-defined]
            columns = list(seen)
            rows = [[_cell(v.get(c)) for c in columns] for v in sample[:PREVIEW_ROWS]]
        else:
            for i, record in enumerate(records):
                if i >= PREVIEW_ROWS:
                    break
                if record.values is not None:
                    rows.append([_cell(record.values.get(c)) for c in columns])
            close = getattr(records, "close", None)
            if close is not None:
                close()
        problems = [RowError(upload.filename, e.line, e.column, e.reason) for e in errors]
        if not columns and not problems:
            problems.append(RowError(upload.filename, 1, "", _("the file has no columns")))
        found = saved.for_headers(session, spec.name, columns) if columns else None
        start: ColumnMapping | None = None
        if upload.mapping is not None:
            start = ColumnMapping(spec.name, upload.mapping)
        else:
            start = found.mapping if found is not None else None
        suggestions = column_mapping.suggest(spec, columns, start)
        return Preview(columns, rows, suggestions, found, problems)

    def check(
        self, session: Session, upload: Upload, mapping: ColumnMapping, *, ctx: ParseContext,
        save_as: str = "", user_id: int | None = None,
    ) -> Upload:  # fmt: skip
        """A dry run with ``mapping`` (saved as ``save_as`` when given): counts and
        problems are kept with the upload. Nothing of the file is written; a saved
        mapping is, in the caller's transaction."""
        spec = entity(upload.entity)
        columns = self.columns(upload)
        if upload.format == "csv":
            problems = column_mapping.check(spec, columns, mapping, label=upload.filename)
            if problems:
                raise MappingRejected(problems)
        summary, errors = check_file(session, spec.name, self.path(upload), ctx=ctx, dry_run=True,
                                     mapping=mapping, label=upload.filename, fmt=upload.format)  # fmt: skip
        if save_as.strip():
            saved.save(session, mapping, save_as, columns, user_id=user_id)
        upload.mapping = dict(mapping.columns)
        upload.mapping_name = " ".join(save_as.split())
        upload.check = _check_record(summary, errors)
        self._write(upload)
        return upload

    def columns(self, upload: Upload) -> list[str]:
        errors: list[RowError] = []
        columns, records = open_records(self.path(upload), fmt=upload.format, encoding=None, errors=errors)
        close = getattr(records, "close", None)
        if upload.format == "jsonl":
            seen: dict[str, None] = {}
            for i, record in enumerate(records):
                if i >= JSONL_SCAN_ROWS:
                    break
                if record.values is not None:
                    seen.update(dict.fromkeys(record.values))
            columns = list(seen)
        if close is not None:
            close()
        return columns

    def run(self, session: Session, upload: Upload, *, ctx: ParseContext) -> ImportSummary:
        """Import the upload with the mapping of its dry run, all or nothing. Raises
        :class:`ImportRejected` (the caller rolls back); on success the upload is removed
        once the caller's transaction commits (see :meth:`remove`)."""
        if upload.mapping is None:
            raise InvalidInput(_("check the file (a dry run) before importing it"), field="mapping")
        mapping = ColumnMapping(upload.entity, upload.mapping, upload.mapping_name)
        try:
            return import_file(session, upload.entity, self.path(upload), ctx=ctx, mapping=mapping,
                               label=upload.filename, fmt=upload.format)  # fmt: skip
        except ImportRejected as exc:
            upload.check = _check_record(ImportSummary(upload.entity, upload.filename, rows=exc.rows_read),
                                         exc.errors)  # fmt: skip
            self._write(upload)
            raise


class MappingRejected(InvalidInput):
    """The mapping itself is wrong (a column mapped twice, a required one missing…)."""

    def __init__(self, problems: list[RowError]) -> None:
        super().__init__(_("the column mapping has problems; nothing was checked"), field="mapping")
        self.problems = problems


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"


def _check_record(summary: ImportSummary, errors: list[RowError]) -> dict[str, Any]:
    return {
        "rows": summary.rows, "new": summary.inserted, "updated": summary.updated,
        "unchanged": summary.unchanged, "refused": summary.refused,
        "problems": [[e.path, e.line, e.column, e.reason] for e in sorted(errors, key=lambda e: (e.line, e.column))],
    }  # fmt: skip


def mapping_from_form(spec: EntitySpec, columns: list[str], targets: list[str]) -> ColumnMapping:
    """The mapping a form submitted: one target per file column, in file order."""
    if len(targets) != len(columns):
        raise InvalidInput(_("the form does not match the file's columns; upload the file again"), field="mapping")
    return ColumnMapping(spec.name, {c: t.strip() for c, t in zip(columns, targets, strict=True)})
