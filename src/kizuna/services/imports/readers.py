"""Reading import files as real exports come: CSV (UTF-8 with or without BOM, or
CP932/Shift_JIS from Japanese Excel) and JSON Lines, record by record, never whole."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from kizuna.domain.spreadsheet import restore
from kizuna.errors import InvalidInput, RowError
from kizuna.i18n import _

#: Encodings tried, in order, when none is given.
DETECTION_ORDER = ("utf-8", "cp932")
_SAMPLE = 1 << 20
_ALIASES = {"sjis": "cp932", "shift_jis": "cp932", "shift-jis": "cp932", "ms932": "cp932", "windows-31j": "cp932"}

csv.field_size_limit(16 * 1024 * 1024)


@dataclass(frozen=True)
class Record:
    """One input row: its first physical line, and its values by column name."""

    line: int
    values: dict[str, Any] | None  # None: the row could not be read (its problem is already reported)


def detect_format(path: Path, given: str | None) -> str:
    if given:
        fmt = given.lower()
        if fmt not in ("csv", "jsonl"):
            raise InvalidInput(_("unknown format {fmt!r}: use csv or jsonl").format(fmt=given), field="format")
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if any(s in (".jsonl", ".ndjson", ".json") for s in suffixes):
        return "jsonl"
    return "csv"


def resolve_encoding(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return codecs.lookup(key).name
    except LookupError as exc:
        raise InvalidInput(_("unknown encoding {name!r}").format(name=name), field="encoding") from exc


def detect_encoding(head: bytes) -> str:
    """UTF-8 (a BOM makes it ``utf-8-sig``), else CP932 — the two encodings real
    Japanese exports use. Decided on the first megabyte; a later undecodable byte is
    reported with its line."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for name in DETECTION_ORDER:
        decoder = codecs.getincrementaldecoder(name)()
        try:
            decoder.decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return name
    raise InvalidInput(_("cannot tell the file's encoding; give it with --encoding (e.g. utf-8, cp932)"))


class _CountingReader(io.RawIOBase):
    """Reports the bytes consumed, for a progress bar."""

    def __init__(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n and self._on_bytes:
            self._on_bytes(n)
        return n or 0


def open_records(
    path: Path,
    *,
    fmt: str,
    encoding: str | None,
    errors: list[RowError],
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[list[str], Iterator[Record]]:
    """Open ``path`` and return its column names and an iterator over its records.

    Problems that stop reading (undecodable bytes, broken JSON) are appended to
    ``errors`` with the line they occur on; the iterator then ends.
    """
    label = str(path)
    raw = path.open("rb")
    head = raw.read(_SAMPLE)
    raw.seek(0)
    enc = resolve_encoding(encoding) if encoding else detect_encoding(head)
    if enc == "utf-8" and head.startswith(codecs.BOM_UTF8):
        enc = "utf-8-sig"
    stream = io.TextIOWrapper(
        io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 16),
        encoding=enc,
        errors="strict",
        newline="" if fmt == "csv" else None,
    )
    if fmt == "csv":
        return _csv_records(label, stream, enc, errors)
    return _jsonl_records(label, stream, enc, errors)


def _first_undecodable_line(label: str, enc: str) -> int | None:
    """The physical line of the file's first bytes that are not ``enc`` text (None: none found).

    The text stream decodes ahead in large chunks, so the line being read when decoding
    fails is not where the bad bytes are (a UTF-8 BOM with CP932 bytes further down was
    blamed on line 1); reading the bytes line by line finds it."""
    decoder = codecs.getincrementaldecoder(enc)()
    try:
        with Path(label).open("rb") as fh:
            for number, chunk in enumerate(fh, start=1):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    return number
    except OSError:
        return None
    return None


def _decode_error(label: str, line: int, enc: str) -> RowError:
    line = _first_undecodable_line(label, enc) or line
    return RowError(
        label, line, "",
        _("bytes that are not valid {encoding} text; give the right --encoding").format(encoding=enc),
    )  # fmt: skip


def _csv_records(
    label: str, stream: io.TextIOWrapper, enc: str, errors: list[RowError]
) -> tuple[list[str], Iterator[Record]]:
    reader = csv.reader(stream)
    try:
        header = next(reader, None)
    except UnicodeDecodeError:
        errors.append(_decode_error(label, 1, enc))
        stream.close()
        return [], iter(())
    except csv.Error as exc:
        errors.append(RowError(label, 1, "", _("not a readable CSV header: {why}").format(why=exc)))
        stream.close()
        return [], iter(())
    if not header:
        stream.close()
        return [], iter(())
    columns = [c.strip() for c in header]

    def records() -> Iterator[Record]:
        last = reader.line_num
        width = len(columns)
        try:
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError:
                    errors.append(_decode_error(label, last + 1, enc))
                    return
                except csv.Error as exc:
                    errors.append(RowError(label, last + 1, "", _("not readable as CSV: {why}").format(why=exc)))
                    return
                start, last = last + 1, reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != width:
                    errors.append(RowError(
                        label, start, "",
                        _("{got} values, but the header has {want} columns").format(got=len(row), want=width),
                    ))  # fmt: skip
                    yield Record(start, None)
                    continue
                # A cell an export neutralised for spreadsheets ('=…) reads back as written (=…).
                yield Record(start, {
                    c: (None if not v or v.isspace() else restore(v) if v[0] == "'" else v)
                    for c, v in zip(columns, row, strict=True)
                })  # fmt: skip
        finally:
            stream.close()

    return columns, records()


def _jsonl_records(
    label: str, stream: io.TextIOWrapper, enc: str, errors: list[RowError]
) -> tuple[list[str], Iterator[Record]]:
    def records() -> Iterator[Record]:
        line = 0
        try:
            while True:
                try:
                    text = stream.readline()
                except UnicodeDecodeError:
                    errors.append(_decode_error(label, line + 1, enc))
                    return
                if not text:
                    return
                line += 1
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    errors.append(RowError(label, line, "", _("not valid JSON: {why}").format(why=exc.msg)))
                    yield Record(line, None)
                    continue
                if not isinstance(value, dict):
                    errors.append(RowError(label, line, "", _("each line must be a JSON object")))
                    yield Record(line, None)
                    continue
                yield Record(line, {k: (None if v == "" else v) for k, v in value.items()})
        finally:
            stream.close()

    return [], records()
