"""The importer's rows in the driver's form (issue 19): values are converted where the
file is parsed, and what is stored is what the importer stored before, on SQLite and
PostgreSQL, in one process or with a parsing process."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from kizuna.db import make_engine, session_scope
from kizuna.errors import ImportRejected, RowError
from kizuna.services.imports import ParseContext, import_file, runner
from kizuna.services.imports.specs import entity

CTX = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")

#: A properties cell as a file spells it → the object it holds.
PROPERTIES = {
    "m-empty": ("{}", {}),
    "m-canonical": ('{"a": 1}', {"a": 1}),  # what json.dumps writes
    "m-compact": ('{"a":1,"b":"x"}', {"a": 1, "b": "x"}),  # another program's spelling
    "m-spaced": ('{ "b" : [1, 2, {"c": null}] }', {"b": [1, 2, {"c": None}]}),
    "m-japanese": ('{"名前": "さくら", "u": "\\u3042"}', {"名前": "さくら", "u": "あ"}),
    "m-none": ("", None),  # an empty cell
}


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _load(url: str, entity_name: str, path: Path) -> runner.ImportSummary:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return import_file(session, entity_name, path, ctx=CTX)
    finally:
        engine.dispose()


def _rejected(url: str, entity_name: str, path: Path) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        _load(url, entity_name, path)
    return [str(e) for e in info.value.errors]


def _stored_properties(url: str) -> dict[str, object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT message_id, properties FROM usage_events")).all())  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _account_a(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process: str) -> None:
    """The account ``A`` imported; events parsed in a second process when ``process`` says so."""
    if process == "parsing-process":
        monkeypatch.setattr(runner, "PARALLEL_FROM_BYTES", 0)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("external_id,name\nA,株式会社さくら\n", encoding="utf-8")
    _load(url, "accounts", accounts)


@pytest.mark.parametrize("process", ["in-process", "parsing-process"])
def test_properties_are_stored_as_the_object_they_spell_whatever_the_spelling(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process: str
) -> None:
    _account_a(store_url, tmp_path, monkeypatch, process)
    events = tmp_path / "events.csv"
    events.write_text(
        "message_id,account_external_id,event,timestamp,properties\n"
        + "".join(f"{m},A,Signed In,2026-01-01T00:00:00Z,{_csv_cell(cell)}\n" for m, (cell, _v) in PROPERTIES.items()),
        encoding="utf-8",
    )
    assert _load(store_url, "usage-events", events).inserted == len(PROPERTIES)
    stored = _stored_properties(store_url)
    if store_url.startswith("sqlite"):
        # SQLite keeps the text: exactly what SQLAlchemy's JSON type writes for the object
        # (so the spelling in the file never leaks into the store), and JSON null for none
        assert stored == {m: json.dumps(v) for m, (_cell, v) in PROPERTIES.items()}
    else:
        assert stored == {m: v for m, (_cell, v) in PROPERTIES.items()}


@pytest.mark.parametrize("process", ["in-process", "parsing-process"])
def test_a_malformed_properties_cell_names_its_line_and_column_and_nothing_is_written(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process: str
) -> None:
    _account_a(sqlite_url, tmp_path, monkeypatch, process)
    events = tmp_path / "events.csv"
    events.write_text(
        "message_id,account_external_id,event,timestamp,properties\n"
        'm1,A,Signed In,2026-01-01T00:00:00Z,"{""a"": 1}"\n'
        'm2,A,Signed In,2026-01-01T00:00:00Z,"{""a"": }"\n'
        "m3,A,Signed In,2026-01-01T00:00:00Z,[1]\n",
        encoding="utf-8",
    )
    assert _rejected(sqlite_url, "usage-events", events) == [
        f"{events}:3: properties: not valid JSON: '{{\"a\": }}'",
        f"{events}:4: properties: must be a JSON object ({{...}})",
    ]
    assert _stored_properties(sqlite_url) == {}


def test_a_key_repeated_in_a_later_batch_is_found_on_each_backend(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches of 3 rows: m2 comes back in the second batch, m5 in the third
    monkeypatch.setattr(runner, "BATCH_SIZE", 3)
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("external_id,name\nA,x\n", encoding="utf-8")
    _load(store_url, "accounts", accounts)
    events = tmp_path / "events.csv"
    ids = ["m1", "m2", "m3", "m4", "m2", "m5", "m5", "m6"]
    events.write_text(
        "message_id,account_external_id,event,timestamp\n"
        + "".join(f"{m},A,Signed In,2026-01-01T00:00:0{i}Z\n" for i, m in enumerate(ids)),
        encoding="utf-8",
    )
    assert _rejected(store_url, "usage-events", events) == [
        f"{events}:6: source, message_id: import, m2 appears more than once in the file (also on line 3)",
        f"{events}:8: source, message_id: import, m5 appears more than once in the file (also on line 7)",
    ]
    assert _stored_properties(store_url) == {}
    # without the repeats, every batch is written
    events.write_text(
        "message_id,account_external_id,event,timestamp\n"
        + "".join(f"m{i},A,Signed In,2026-01-01T00:00:0{i}Z\n" for i in range(8)),
        encoding="utf-8",
    )
    assert _load(store_url, "usage-events", events).inserted == 8


def test_a_value_its_column_cannot_store_is_a_problem_of_its_row(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with session_scope(engine) as session:
            layout = runner.RowLayout.of(session, entity("usage_events"))
    finally:
        engine.dispose()
    values = {"message_id": "m1", "account_external_id": "A", "contact_external_id": None, "anonymous_id": None,
              "event": "Signed In", "timestamp": datetime(2026, 1, 1, 9), "properties": {}, "source": "import"}  # fmt: skip
    errors: list[RowError] = []
    rows = layout.rows([(7, values)], "events.csv", errors)
    assert [str(e) for e in errors] == [
        "events.csv:7: timestamp: cannot be stored: naive datetime datetime.datetime(2026, 1, 1, 9, 0): "
        "Kizuna stores timezone-aware UTC only"
    ]
    assert rows[0][layout.format.columns.index("message_id")] == "m1"
    assert rows[0][layout.format.columns.index("timestamp")] is None
