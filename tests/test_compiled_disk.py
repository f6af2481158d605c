"""Compiled SQL kept on disk (issue 19, ``kizuna.analytics.compiled.use_folder``): a template
written by one process is read by a fresh one and gives Ibis' own SQL; a file that is
truncated, foreign, of other versions or tampered with is never used as it is; a folder
that cannot be written to, or that others may write to; the folder's bound; the off
switch and a bad ``KIZUNA_CACHE_DIR``. Every test runs inside ``compiled.checking()``
(tests/conftest.py): each SQL filled from disk is compared with Ibis' own compile."""

from __future__ import annotations

import datetime as dtm
import decimal
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import pytest
from pydantic import ValidationError

from kizuna.analytics import compiled
from kizuna.settings import Settings, user_cache_folder
from tests.cli import run_cli

ROOT = Path(__file__).resolve().parent.parent

SCHEMA = {"x": "int64", "s": "string", "d": "date"}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The process keeps its templates in a fresh folder (made when first written)."""
    for name in ("_folder", "_folder_usable", "_folder_writable"):
        monkeypatch.setattr(compiled, name, getattr(compiled, name))  # put back after the test
    compiled.clear()
    compiled.use_folder(tmp_path / "sql")
    yield tmp_path / "sql"
    compiled.clear()


@pytest.fixture
def con() -> Iterator[Any]:
    backend = compiled.install(ibis.sqlite.connect())
    backend.create_table("a", schema=ibis.schema(SCHEMA))
    yield backend
    backend.disconnect()


def query(con: Any, x: int, s: str, d: dtm.date) -> Any:
    a = con.table("a")
    return a.filter(a.x > x, a.s == s, a.d >= d).drop("s", "d")  # a set of columns dropped: in any order


def fresh_process() -> None:
    """What a new process starts with: nothing in memory, the folder not looked at yet."""
    compiled.clear()
    compiled.use_folder(compiled._folder)


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def changes(before: dict[str, int]) -> dict[str, int]:
    after = compiled.stats()
    return {k: after[k] - before[k] for k in ("misses", "read", "written")}


CHILD = """
import datetime as dtm, json, sys
from pathlib import Path
import ibis
from kizuna.analytics import compiled
compiled.use_folder(Path(sys.argv[1]))
con = compiled.install(ibis.sqlite.connect())
con.create_table("a", schema=ibis.schema({"x": "int64", "s": "string", "d": "date"}))
a = con.table("a")
expr = a.filter(a.x > 7_000_000, a.s == "o'saka", a.d >= dtm.date(2025, 12, 1)).drop("s", "d")
with compiled.checking():  # the SQL filled from the file is compared with Ibis' own
    sql = con.compile(expr)
print(json.dumps({"sql": sql, "stats": compiled.stats()}))
"""


def test_a_template_written_by_one_process_is_read_by_a_fresh_one(folder: Path, con: Any) -> None:
    before = compiled.stats()
    first = con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert "5000000" in first
    assert changes(before) == {"misses": 1, "read": 0, "written": 1}
    (name,) = files(folder)
    assert name.endswith(".json")
    assert len(name) == 64 + 5
    kept = json.loads((folder / name).read_text())
    assert kept["header"]["ibis"] == ibis.__version__
    assert kept["header"]["backend"] == "sqlite"
    assert kept["header"]["dialect"] == "SQLite"
    text = "".join(kept["template"]["parts"])
    assert "5000000" not in text
    assert "tokyo" not in text
    assert oct(folder.stat().st_mode & 0o777) == "0o700"

    child = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, cwd=ROOT,
                           check=True, env={**os.environ, "PYTHONHASHSEED": "random"})  # fmt: skip
    out = json.loads(child.stdout.strip().splitlines()[-1])
    assert out["stats"] == {"hits": 0, "misses": 0, "opaque": 0, "checked": 1, "read": 1, "written": 0}
    expected = type(con).compile(con, query(con, 7_000_000, "o'saka", dtm.date(2025, 12, 1)))  # Ibis' own
    assert out["sql"] == expected
    assert "7000000" in expected
    assert "'o''saka'" in expected
    assert files(folder) == [name]  # read, not written again


def test_the_same_shape_is_read_back_in_this_process_too(folder: Path, con: Any) -> None:
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    fresh_process()
    before = compiled.stats()
    sql = con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))
    assert changes(before) == {"misses": 0, "read": 1, "written": 0}
    assert "6000000" in sql
    assert "'nagoya'" in sql
    con.compile(query(con, 6_000_001, "nagoya", dtm.date(2026, 2, 1)))  # from memory now
    assert changes(before) == {"misses": 0, "read": 1, "written": 0}
    assert compiled.stats()["hits"] == 1
    # another row limit is another file
    con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)), limit=10)
    assert changes(before) == {"misses": 1, "read": 1, "written": 1}
    assert len(files(folder)) == 2
    fresh_process()
    con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)), limit=10)
    con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))
    assert compiled.stats() == {"hits": 0, "misses": 0, "opaque": 0, "checked": 2, "read": 2, "written": 0}


def truncated(text: str) -> str:
    return text[: len(text) // 2]


def other_header(text: str, key: str, value: Any) -> str:
    doc = json.loads(text)
    doc["header"][key] = value
    return json.dumps(doc)


def other_parts(text: str, change: Any) -> str:
    doc = json.loads(text)
    doc["template"]["parts"] = change(doc["template"]["parts"])
    return json.dumps(doc)


def other_slots(text: str, slots: Any) -> str:
    doc = json.loads(text)
    doc["template"]["slots"] = slots
    return json.dumps(doc)


@pytest.mark.parametrize("damage", [
    pytest.param(truncated, id="truncated"),
    pytest.param(lambda text: "", id="empty"),
    pytest.param(lambda text: "\x00\xff not json", id="binary"),
    pytest.param(lambda text: "[1, 2]", id="a list"),
    pytest.param(lambda text: json.dumps({"header": json.loads(text)["header"]}), id="no template"),
    pytest.param(lambda text: other_header(text, "kizuna", "0.0.1"), id="another Kizuna"),
    pytest.param(lambda text: other_header(text, "sqlglot", "1.0.0"), id="another sqlglot"),
    pytest.param(lambda text: other_header(text, "format", 0), id="another format"),
    pytest.param(lambda text: other_slots(text, [["v", 0], ["v", 1]]), id="a slot short"),
    pytest.param(lambda text: other_slots(text, [["v", 0], ["v", 1], ["v", 1], ["t", 0]]), id="a slot twice"),
    pytest.param(lambda text: other_slots(text, [["v", 0], ["v", 1], ["v", 2.0], ["t", 0]]), id="a number not whole"),
    pytest.param(lambda text: other_slots(text, [["v", 0], ["v", 1], ["v", 2], ["t", 0, 1]]), id="a slot of three"),
    pytest.param(lambda text: other_slots(text, [["v", 0], ["v", 1], ["v", 2], "t0"]), id="a slot as text"),
    pytest.param(lambda text: other_slots(text, {"v": 0}), id="slots not a list"),
    pytest.param(lambda text: other_parts(text, lambda parts: [*parts, " -- more"]), id="a part too many"),
    pytest.param(lambda text: other_parts(text, lambda parts: "SELECT"[: len(parts)]), id="parts a string"),
    pytest.param(lambda text: other_parts(text, lambda parts: [*parts[:-1], 7]), id="a part a number"),
])  # fmt: skip
def test_a_damaged_or_foreign_file_is_ignored_and_rewritten(folder: Path, con: Any, damage: Any) -> None:
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    (name,) = files(folder)
    good = (folder / name).read_text()
    (folder / name).write_text(damage(good), encoding="latin-1")
    fresh_process()
    before = compiled.stats()
    sql = con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))
    assert changes(before) == {"misses": 1, "read": 0, "written": 1}  # compiled again, and the file rewritten
    assert "6000000" in sql
    assert "'nagoya'" in sql
    assert (folder / name).read_text() == good
    assert files(folder) == [name]  # no temporary file left


def test_a_file_whose_slots_are_right_but_text_is_not_is_caught_while_checking(folder: Path, con: Any) -> None:
    """A template read from disk is compared with Ibis' own compile like any other."""
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    (name,) = files(folder)
    doc = json.loads((folder / name).read_text())
    doc["template"]["parts"][0] = doc["template"]["parts"][0].replace("SELECT", "SELECT DISTINCT", 1)
    (folder / name).write_text(json.dumps(doc))
    fresh_process()
    with pytest.raises(AssertionError, match="kept SQL differs from Ibis' own:\nSELECT DISTINCT"):
        con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))


def test_another_version_of_ibis_reads_none_of_the_files(folder: Path, con: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    (old,) = files(folder)
    monkeypatch.setattr(ibis, "__version__", "99.0.0")
    fresh_process()
    before = compiled.stats()
    con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))
    assert changes(before) == {"misses": 1, "read": 0, "written": 1}
    (new,) = set(files(folder)) - {old}  # another name: the versions are in the digest
    assert json.loads((folder / new).read_text())["header"]["ibis"] == "99.0.0"
    shape = ibis.table(SCHEMA, name="t").filter(ibis._.x > 3).op()
    digests = {compiled._disk_header("sqlite", "d", None, shape)["shape"]}  # type: ignore[index]
    for version in ("KIZUNA_VERSION", "SQLGLOT_VERSION", "DISK_FORMAT"):
        monkeypatch.setattr(compiled, version, "0")
        digests.add(compiled._disk_header("sqlite", "d", None, shape)["shape"])  # type: ignore[index]
    assert len(digests) == 4  # each version changes the file's name


def test_a_folder_that_cannot_be_written_to_only_costs_the_compile(folder: Path, con: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    fresh_process()

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Read-only file system")  # what mkstemp raises in a read-only folder

    monkeypatch.setattr(compiled.tempfile, "mkstemp", read_only)
    before = compiled.stats()
    assert "6000000" in con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))  # still read
    a = con.table("a")
    assert "7000000" in con.compile(a.filter(a.x < 7_000_000))  # a new shape: compiled, not written
    assert "8000000" in con.compile(a.filter(a.x != 8_000_000))  # no second try in this process
    assert changes(before) == {"misses": 2, "read": 1, "written": 0}
    assert compiled._folder_writable is False
    assert len(files(folder)) == 1


def test_a_folder_that_cannot_be_made_or_that_others_may_write_to_is_not_used(tmp_path: Path, folder: Path,
                                                                             con: Any) -> None:  # fmt: skip
    (tmp_path / "a-file").write_text("")
    compiled.use_folder(tmp_path / "a-file" / "sql")  # cannot be made
    before = compiled.stats()
    assert "5000000" in con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert changes(before) == {"misses": 1, "read": 0, "written": 0}
    assert compiled._folder_usable is False

    shared = tmp_path / "shared"
    shared.mkdir()
    for mode in (0o777, 0o770, 0o703):  # anyone, the group, others could put SQL there: neither read nor written
        shared.chmod(mode)
        compiled.clear()
        compiled.use_folder(shared)
        con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
        assert files(shared) == []
    shared.chmod(0o755)  # others may read: used
    fresh_process()
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert len(files(shared)) == 1
    (shared / files(shared)[0]).unlink()
    shared.chmod(0o700)
    fresh_process()
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    (name,) = files(shared)
    (shared / name).chmod(0o666)  # a file others may write to: not read
    fresh_process()
    before = compiled.stats()
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert changes(before) == {"misses": 1, "read": 0, "written": 1}
    assert oct((shared / name).stat().st_mode & 0o777) == "0o600"  # rewritten, private


def test_the_oldest_files_go_beyond_the_bound_and_others_files_stay(folder: Path, con: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    a = con.table("a")
    written: list[str] = []
    for n, expr in enumerate([a.filter(a.x > 5_000_000), a.filter(a.x < 5_000_000), a.filter(a.x != 5_000_000)]):
        con.compile(expr)
        (new,) = set(files(folder)) - set(written)
        os.utime(folder / new, (1_000 * (n + 1), 1_000 * (n + 1)))  # written in this order
        written.append(new)
    assert compiled.stats()["written"] == 3
    sizes = [(folder / name).stat().st_size for name in written]
    (folder / "notes.txt").write_text("x" * 10_000)  # not Kizuna's: never removed, not counted
    # the bound is exactly the two newest: the oldest goes, the others stay (at the bound)
    monkeypatch.setattr(compiled, "MAX_DISK_BYTES", sizes[1] + sizes[2])
    compiled._trim(folder)
    assert files(folder) == sorted([written[1], written[2], "notes.txt"])
    # the bound is the newest alone: both older ones go in one trim
    monkeypatch.setattr(compiled, "MAX_DISK_BYTES", sizes[2])
    (folder / written[0]).write_text("x" * sizes[0])
    os.utime(folder / written[0], (1_000, 1_000))
    compiled._trim(folder)
    assert files(folder) == sorted([written[2], "notes.txt"])
    # each write trims the folder (here down to nothing of Kizuna's)
    elsewhere = folder.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setattr(compiled, "MAX_DISK_BYTES", 1)
    con.compile(a.filter(a.x >= 5_000_000))
    assert compiled.stats()["written"] == 4
    assert files(folder) == ["notes.txt"]


def test_a_file_gone_while_the_folder_is_trimmed_is_skipped(folder: Path, con: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    a = con.table("a")
    con.compile(a.filter(a.x > 5_000_000))
    con.compile(a.filter(a.x < 5_000_000))
    old, new = sorted(files(folder), key=lambda name: (folder / name).stat().st_mtime_ns)
    os.utime(folder / old, (1_000, 1_000))
    listing = list(os.scandir(folder))

    class Gone:
        name = "f" * 64 + ".json"

        def stat(self, follow_symlinks: bool = True) -> Any:
            raise FileNotFoundError(2, "removed by another process")

    monkeypatch.setattr(compiled.os, "scandir", lambda path: iter([Gone(), *listing]))
    monkeypatch.setattr(compiled, "MAX_DISK_BYTES", (folder / new).stat().st_size)
    compiled._trim(folder)
    assert files(folder) == [new]
    compiled._remove(str(folder / old))  # already gone: nothing to do, no error


def test_a_file_larger_than_the_bound_is_neither_written_nor_read(folder: Path, con: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    (name,) = files(folder)
    size = (folder / name).stat().st_size
    monkeypatch.setattr(compiled, "MAX_FILE_BYTES", size - 1)
    fresh_process()
    before = compiled.stats()
    con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))
    assert changes(before) == {"misses": 1, "read": 0, "written": 0}
    monkeypatch.setattr(compiled, "MAX_FILE_BYTES", size)
    fresh_process()
    before = compiled.stats()
    con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))
    assert changes(before) == {"misses": 0, "read": 1, "written": 0}
    (folder / name).unlink()
    fresh_process()
    con.compile(query(con, 6_000_000, "nagoya", dtm.date(2026, 2, 1)))
    assert (folder / name).stat().st_size == size  # at the bound: written


def test_the_canonical_text_tells_shapes_apart_and_names_nothing_of_the_process(con: Any) -> None:
    a = ibis.table(SCHEMA, name="a")  # as in a shape: a table bound to no backend
    one = compiled.canonical(a.filter(a.x > 3).op())
    assert one == compiled.canonical(ibis.table(SCHEMA, name="a").filter(ibis._.x > 3).op())  # built again: the same
    assert one is not None
    assert one != compiled.canonical(a.filter(a.x > 4).op())
    assert "0x" not in one  # no object's address
    assert compiled.canonical(ops.Literal(1.5, "float64")) == (
        "ibis.expr.operations.generic.Literal(value=float:1.5, "
        "dtype=ibis.expr.datatypes.core.Float64(nullable=bool:True))"
    )
    lines = one.splitlines()
    assert lines[-1].startswith("ibis.expr.operations.relations.Filter(parent=#")  # the root last
    assert sum(line.startswith("ibis.expr.operations.relations.UnboundTable(") for line in lines) == 1  # once, though used twice
    kinds = [ops.Literal(value, dtype) for value, dtype in [
        (decimal.Decimal("1.5"), "decimal(10, 2)"), (uuid.UUID(int=5), "uuid"), (b"ab", "binary"),
        (dtm.time(1, 2), "time"), (dtm.date(2026, 1, 31), "date"), ({"k": 1}, "struct<k: int64>"),
        (("b", "a"), "array<string>"), (2, "interval('D')"), (2, "interval('M')"), (7, "int64"), (7, "int32"),
    ]]  # fmt: skip
    texts = [compiled.canonical(k) for k in kinds]
    assert len(set(texts)) == len(kinds)  # each its own
    assert texts[0] == ("ibis.expr.operations.generic.Literal(value=Decimal:Decimal('1.50'), dtype="
                        "ibis.expr.datatypes.core.Decimal(precision=int:10, scale=int:2, nullable=bool:True))")  # fmt: skip
    assert "value={str:'k': int:1}" in str(texts[5])
    assert "value=(str:'b', str:'a')" in str(texts[6])
    assert "unit=ibis.common.temporal.IntervalUnit.DAY" in str(texts[7])
    assert "value=bytes:b'ab'" in str(texts[2])
    # the columns a query drops are a set: in the same order whatever the order of the set
    dropped = compiled.canonical(a.drop("x", "s").op())
    assert "columns_to_drop=set{str:'s', str:'x'}" in str(dropped)
    assert compiled.canonical(ops.DropColumns(a.op(), frozenset(["x", "s"]))) == dropped
    assert compiled.canonical(ops.DropColumns(a.op(), frozenset(["s", "x"]))) == dropped
    assert compiled.canonical(a.drop("x").op()) != dropped
    # a table still bound to its backend (an object with no text of its own): not kept on disk
    assert compiled.canonical(con.table("a").op()) is None


def test_the_off_switch_the_default_folder_and_a_bad_value(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    user_cache = Path(os.environ["XDG_CACHE_HOME"])  # the tests' (tests/conftest.py)
    assert Settings().sql_cache_folder == user_cache / "kizuna" / "sql"
    monkeypatch.setenv("KIZUNA_CACHE_DIR", str(tmp_path / "cache"))
    assert Settings().sql_cache_folder == tmp_path / "cache" / "sql"
    monkeypatch.setenv("KIZUNA_CACHE_DIR", " OFF ")
    assert Settings().cache_dir == "off"
    assert Settings().sql_cache_folder is None
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("KIZUNA_CACHE_DIR", str(tmp_path / "a-file"))
    with pytest.raises(ValidationError, match="is a file, not a folder"):
        Settings()
    result = run_cli(capsys, "db", "current")
    assert result.code == 1
    assert (f"KIZUNA_CACHE_DIR: '{tmp_path / 'a-file'}' is a file, not a folder (give a folder, or off to keep "
            "nothing on disk)") in result.err  # fmt: skip
    with pytest.raises(ValidationError, match="'a\\\\x00b' is not a folder's name"):
        Settings(cache_dir="a\x00b")  # from a program (an environment variable cannot hold it)


def test_the_user_cache_folder_by_platform(tmp_path: Path) -> None:
    home = Path.home()
    assert user_cache_folder({"XDG_CACHE_HOME": "/var/cache/me"}, "linux") == Path("/var/cache/me/kizuna")
    assert user_cache_folder({"XDG_CACHE_HOME": "relative"}, "linux") == home / ".cache" / "kizuna"
    assert user_cache_folder({}, "linux") == home / ".cache" / "kizuna"
    assert user_cache_folder({}, "darwin") == home / "Library" / "Caches" / "kizuna"
    assert user_cache_folder({"LOCALAPPDATA": str(tmp_path)}, "win32") == tmp_path / "kizuna" / "Cache"
    assert user_cache_folder({}, "win32") == home / "AppData" / "Local" / "kizuna" / "Cache"


def test_the_folder_and_its_parents_are_made_when_first_written(tmp_path: Path, folder: Path, con: Any) -> None:
    deep = tmp_path / "home" / ".cache" / "kizuna" / "sql"
    compiled.use_folder(deep)
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert len(files(deep)) == 1
    assert oct(deep.stat().st_mode & 0o777) == "0o700"
    # made by another process meanwhile (after this one found none): written all the same
    compiled.use_folder(tmp_path / "other")
    (tmp_path / "other").mkdir(mode=0o700)
    compiled._write({"shape": "0" * 64}, compiled.Template(("SELECT 1",), ()))
    assert files(tmp_path / "other") == ["0" * 64 + ".json"]


def test_the_off_switch_keeps_nothing_on_disk(folder: Path, con: Any) -> None:
    compiled.use_folder(Settings(cache_dir="off").sql_cache_folder)
    before = compiled.stats()
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert changes(before) == {"misses": 1, "read": 0, "written": 0}
    assert not folder.exists()


def test_the_web_app_and_the_kpi_commands_use_the_configured_folder(tmp_path: Path, folder: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from kizuna.cli.kpis import open_kpi_backend
    from kizuna.main import create_app
    from kizuna.services import kpis

    create_app(Settings(database_url=f"sqlite:///{tmp_path / 'web.db'}", cache_dir=str(tmp_path / "web")))
    assert compiled._folder == tmp_path / "web" / "sql"
    monkeypatch.setattr(kpis, "open_backend", lambda *args: "backend")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'web.db'}", cache_dir="off")
    assert open_kpi_backend(settings) == "backend"
    assert compiled._folder is None


def test_writers_at_once_leave_one_whole_file_and_readers_see_it_whole_or_not_at_all(folder: Path) -> None:
    """Each writer renames its own temporary file over the shape's file (threads here, processes
    alike): a reader finds no file or a whole one, never a part."""
    import threading

    header = {"shape": "a" * 64, "format": compiled.DISK_FORMAT}
    template = compiled.Template(("SELECT * FROM ", " WHERE x > ", " -- " + "y" * 50_000), (("t", 0), ("v", 0)))
    seen: list[Any] = []

    def write() -> None:
        for _ in range(20):
            compiled._write(header, template)

    def read() -> None:
        for _ in range(200):
            seen.append(compiled._read(header, 1, 1))

    compiled._usable(create=True)
    threads = [threading.Thread(target=write) for _ in range(4)] + [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {found for found in seen if found is not None} <= {template}
    assert files(folder) == ["a" * 64 + ".json"]  # no temporary file left
    assert compiled._read(header, 1, 1) == template


def test_a_failed_rename_leaves_no_temporary_file_and_stops_the_writes(folder: Path, con: Any,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    renamed: list[tuple[str, str]] = []

    def replace(source: Any, target: Any) -> None:
        renamed.append((str(source), str(target)))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(compiled.os, "replace", replace)
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    ((source, target),) = renamed
    shape = Path(target).name.removesuffix(".json")
    assert Path(target).parent == folder
    assert Path(source).parent == folder  # beside it: the rename stays within one file system
    assert re.fullmatch(re.escape(shape) + r"\.\w{8}\.tmp", Path(source).name)  # trimmed if ever left behind
    assert files(folder) == []  # the temporary file removed
    assert compiled._folder_writable is False
    assert compiled.stats()["written"] == 0


def test_nothing_is_made_before_something_is_written_and_the_folder_is_looked_at_once(
        tmp_path: Path, folder: Path, con: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(compiled, "MAX_FILE_BYTES", 10)  # nothing fits
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert not folder.exists()
    monkeypatch.undo()
    compiled.use_folder(folder)
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 2, 1)))  # from memory: nothing read or written
    assert not folder.exists()
    compiled.clear()
    con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert compiled._usable(False) is True
    folder.chmod(0o777)  # once found private, the process keeps using it
    assert compiled._usable(False) is True
    folder.chmod(0o700)
    compiled.use_folder(None)
    assert compiled._usable(True) is False  # no folder: nothing to use


def test_without_a_folder_no_canonical_text_is_made(folder: Path, con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    canonical = compiled.canonical
    monkeypatch.setattr(compiled, "canonical", lambda op: made.append(op) or canonical(op))
    compiled.use_folder(None)
    assert "5000000" in con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert made == []


def test_a_shape_with_no_canonical_text_or_that_cannot_be_cut_is_not_written(folder: Path, con: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(compiled, "canonical", lambda op: None)
    assert "5000000" in con.compile(query(con, 5_000_000, "tokyo", dtm.date(2026, 1, 31)))
    assert compiled.stats()["misses"] == 1
    assert files(folder) == []
    monkeypatch.undo()
    compiled.use_folder(folder)
    monkeypatch.setattr(compiled, "_stand_in", lambda dtype, i: "same")  # two values, one stand-in: opaque
    a = con.table("a")
    sql = con.compile(a.filter(a.s == "x", a.s != "y"))
    assert "'x'" in sql
    assert "'y'" in sql
    assert compiled.stats()["opaque"] == 1
    assert files(folder) == []


def test_every_shape_of_the_kpi_report_goes_to_disk_and_comes_back(folder: Path, tmp_path: Path,
                                                                  sqlite_template: Path) -> None:  # fmt: skip
    """The KPI report's queries all have a canonical text (a value of a kind it does not know
    keeps a shape off the disk, silently): the second report, in a "new process", compiles none."""
    from kizuna.services import kpis
    from tests.conftest import migrated_sqlite
    from tests.metrics_fixture import AS_OF, load_fixture

    url = load_fixture(migrated_sqlite(sqlite_template, tmp_path / "kizuna.db"))
    backend = kpis.open_backend(url)
    first = kpis.kpi_report(backend, AS_OF, kpis.KpiOptions(months=3))
    kpis.close_backend(backend)
    written = compiled.stats()
    assert written["misses"] == 6  # the lines, onboarding, NPS answers, usage, tickets, other currencies
    assert written["written"] == written["misses"]
    fresh_process()
    backend = kpis.open_backend(url)
    second = kpis.kpi_report(backend, AS_OF, kpis.KpiOptions(months=3))
    kpis.close_backend(backend)
    assert compiled.stats()["misses"] == 0
    assert compiled.stats()["read"] == written["written"]
    assert compiled.stats()["checked"] == written["written"] + compiled.stats()["hits"]  # each compared with Ibis'
    assert second.headline == first.headline
    assert second.revenue.equals(first.revenue)
    assert second.support.equals(first.support)
