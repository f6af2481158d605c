"""The compiled SQL kept per query shape (issue 19, kizuna.analytics.compiled), on in-memory
DuckDB and SQLite (issue 22): which values become slots, the stand-ins, the text filled in
(always compared with Ibis' own inside ``checking``), hits and misses by shape, the row
limit, the table names, the cap on values and on shapes, a shape that cannot be cut."""

from __future__ import annotations

import datetime as dtm
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import pytest

from kizuna.analytics import compiled


@pytest.fixture
def con() -> Iterator[Any]:
    compiled.clear()
    backend = compiled.install(ibis.duckdb.connect())
    backend.create_table("a", schema=ibis.schema({"x": "int64", "s": "string", "d": "date"}))
    backend.create_table("b", schema=ibis.schema({"x": "int64", "s": "string", "d": "date"}))
    yield backend
    backend.disconnect()
    compiled.clear()


def changes(before: dict[str, int]) -> dict[str, int]:
    after = compiled.stats()
    return {k: after[k] - before[k] for k in ("hits", "misses", "opaque")}


def test_a_template_filled_in_slot_order() -> None:
    t = compiled.Template(("SELECT ", " FROM ", " WHERE y = ", ""), (("v", 1), ("t", 0), ("v", 0)))
    assert t.fill(["7", "'x'"], ["tab"]) == "SELECT 'x' FROM tab WHERE y = 7"
    with pytest.raises(ValueError, match="zip"):  # a slot without its text: refused, not cut short
        compiled.Template(("a", "b"), ()).fill([], [])


def test_which_values_are_slots_and_their_stand_ins() -> None:
    assert [compiled._bindable(dt.dtype(t)) for t in ("int8", "int16", "int32", "int64", "uint32")] == [
        False, False, True, True, True]  # fmt: skip
    assert [compiled._bindable(dt.dtype(t)) for t in ("date", "timestamp", "string", "float64", "float32")] == [
        True] * 5
    assert [compiled._bindable(dt.dtype(t)) for t in ("boolean", "decimal(10, 2)", "interval('D')")] == [False] * 3
    assert compiled._stand_in(dt.int64, 2) == 1_987_602_013  # 1,987,600,013 + 1,000 · 2
    assert compiled._stand_in(dt.int32, 159_000) == 2_146_600_013  # under 2³¹ − 1 = 2,147,483,647
    assert compiled._stand_in(dt.float64, 3) == 1_987_603.0625
    assert compiled._stand_in(dt.string, 4) == "kzv4q"
    assert compiled._stand_in(dt.date, 5) == dtm.date(2405, 7, 13)
    assert compiled._stand_in(dt.timestamp, 6) == dtm.datetime(2406, 7, 13, 1, 2, 3)


def test_install_wraps_compile_once_and_only_for_sql_backends(con: Any) -> None:
    wrapped = con.compile
    assert con._kizuna_compiled is True
    assert compiled.install(con).compile is wrapped  # not wrapped twice
    other = SimpleNamespace(name="pyspark", compile=len)
    assert compiled.install(other) is other
    assert other.compile is len
    assert not hasattr(other, "_kizuna_compiled")
    # with parameters (or other options) the query is Ibis' own, nothing kept
    before = compiled.stats()
    param = ibis.param("int64")
    expr = con.table("a").filter(con.table("a").x > param)
    assert "WHERE" in con.compile(expr, params={param: 5_000_000})
    assert con.compile(expr, params={param: 5_000_000}, limit=7).rstrip().endswith("LIMIT 7")
    assert changes(before) == {"hits": 0, "misses": 0, "opaque": 0}


def test_another_value_or_table_is_the_same_shape_another_small_number_is_not(con: Any) -> None:
    a, b = con.table("a"), con.table("b")
    before = compiled.stats()
    first = con.compile(a.filter(a.x > 5_000_000, a.s == "tokyo", a.d >= dtm.date(2026, 1, 31)))
    assert changes(before) == {"hits": 0, "misses": 1, "opaque": 0}
    assert "5000000" in first
    assert "'tokyo'" in first
    assert "MAKE_DATE(2026, 1, 31)" in first
    assert '"a"' in first
    second = con.compile(b.filter(b.x > 6_000_000, b.s == "o'saka", b.d >= dtm.date(2025, 12, 1)))
    assert changes(before) == {"hits": 1, "misses": 1, "opaque": 0}
    assert "6000000" in second
    assert "'o''saka'" in second
    assert "MAKE_DATE(2025, 12, 1)" in second
    assert '"b"' in second
    assert '"a"' not in second
    assert "kzv" not in second
    assert "kzt" not in second
    # a small number (a month count, a window) is part of the shape: a miss
    con.compile(a.filter(a.x > 3))
    con.compile(a.filter(a.x > 4))
    assert changes(before) == {"hits": 1, "misses": 3, "opaque": 0}
    # a missing value is part of the shape too
    con.compile(a.filter(a.s == ibis.null("string")))
    assert changes(before)["misses"] == 4
    # the row limit is part of the key
    con.compile(b.filter(b.x > 6_000_000, b.s == "o'saka", b.d >= dtm.date(2025, 12, 1)), limit=10)
    assert changes(before) == {"hits": 1, "misses": 5, "opaque": 0}


def test_sqlite_keeps_its_own_shapes() -> None:
    compiled.clear()
    lite = compiled.install(ibis.sqlite.connect())
    duck = compiled.install(ibis.duckdb.connect())
    try:
        for backend in (lite, duck):
            backend.create_table("a", schema=ibis.schema({"x": "int64", "d": "date"}))
        before = compiled.stats()
        on_lite = lite.compile(lite.table("a").filter(lite.table("a").d == dtm.date(2026, 1, 31)))
        on_duck = duck.compile(duck.table("a").filter(duck.table("a").d == dtm.date(2026, 1, 31)))
        assert changes(before) == {"hits": 0, "misses": 2, "opaque": 0}
        assert "'2026-01-31'" in on_lite
        assert "MAKE_DATE(2026, 1, 31)" in on_duck
    finally:
        lite.disconnect()
        duck.disconnect()
        compiled.clear()


def test_too_many_values_are_compiled_each_time(con: Any) -> None:
    a = con.table("a")
    before = compiled.stats()
    many = a.filter(a.x.isin([5_000_000 + i for i in range(151)]))
    assert "5000150" in con.compile(many)
    assert changes(before) == {"hits": 0, "misses": 0, "opaque": 0}  # 151 values: not kept
    assert con.compile(many, limit=5).rstrip().endswith("LIMIT 5")  # with its row limit
    enough = a.filter(a.x.isin([5_000_000 + i for i in range(150)]))
    assert "5000149" in con.compile(enough)
    assert changes(before) == {"hits": 0, "misses": 1, "opaque": 0}


def test_the_oldest_shape_unused_goes_first(con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "MAX_SHAPES", 2)
    a = con.table("a")

    def shape(n: int) -> Any:
        return a.filter(a.x > n)  # n < 2³¹ fits int32: one shape per n below 128 (int8)

    before = compiled.stats()
    con.compile(shape(1))
    con.compile(shape(2))
    con.compile(shape(1))  # used again: now the newest
    con.compile(shape(3))  # the third: shape 2 goes
    assert changes(before) == {"hits": 1, "misses": 3, "opaque": 0}
    assert len(compiled._shapes) == 2
    con.compile(shape(1))
    assert changes(before) == {"hits": 2, "misses": 3, "opaque": 0}
    con.compile(shape(2))
    assert changes(before) == {"hits": 2, "misses": 4, "opaque": 0}


def test_a_shape_whose_values_cannot_be_found_is_compiled_each_time(con: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    a = con.table("a")
    monkeypatch.setattr(compiled, "_stand_in", lambda dtype, i: "same")  # two values, one stand-in
    before = compiled.stats()
    expr = a.filter(a.s == "x", a.s != "y")
    for _ in range(2):
        sql = con.compile(expr)
        assert "'x'" in sql
        assert "'y'" in sql
    assert changes(before) == {"hits": 0, "misses": 1, "opaque": 2}
    assert con.compile(expr, limit=3).rstrip().endswith("LIMIT 3")


def test_kept_text_that_differs_from_ibis_is_caught_while_checking(con: Any) -> None:
    a = con.table("a")
    expr = a.filter(a.x > 5_000_000)
    calls: list[int] = []

    def original(e: Any, limit: Any = None) -> str:
        calls.append(1)
        return str(type(con).compile(con, e, limit=limit)) if len(calls) == 1 else "SELECT 1"  # Ibis' own, then not

    before_checked = compiled.stats()["checked"]
    with compiled.checking():
        depth = compiled._checking
        with compiled.checking():
            assert compiled._checking == depth + 1
        assert compiled._checking == depth
        with pytest.raises(AssertionError, match=r"(?s)kept SQL differs from Ibis' own:\n.*\nSELECT 1$"):
            compiled.compile_sql(con, expr, None, original)
    assert compiled.stats()["checked"] == before_checked
    con.compile(expr)
    con.compile(expr)
    assert compiled.stats()["checked"] == before_checked + 2  # the suite runs inside checking()


def test_stats_are_a_copy_and_clear_resets_them(con: Any) -> None:
    a = con.table("a")
    con.compile(a.filter(a.x > 5_000_000))
    shown = compiled.stats()
    shown["misses"] = 99
    assert compiled.stats()["misses"] == 1
    compiled.clear()
    assert compiled.stats() == {"hits": 0, "misses": 0, "opaque": 0, "checked": 0, "read": 0, "written": 0}
    assert len(compiled._shapes) == 0


def test_a_table_in_memory_and_a_temporary_one_keep_their_place() -> None:
    """A memtable has no namespace of its own; a temporary table (SQLite's ``temp``) keeps its
    namespace in the kept SQL (compared with Ibis' own inside ``checking``)."""
    compiled.clear()
    lite = compiled.install(ibis.sqlite.connect())
    try:
        lite.raw_sql("CREATE TEMP TABLE t (x INTEGER)")
        temp = ops.DatabaseTable("t", schema=ibis.schema({"x": "int64"}), source=lite,
                                 namespace=ops.Namespace(database="temp")).to_expr()  # fmt: skip
        before = compiled.stats()
        sql = lite.compile(temp.filter(temp.x > 5_000_000))
        assert '"temp"."t"' in sql
        assert '"temp"."t"' in lite.compile(temp.filter(temp.x > 6_000_000))
        mem = ibis.memtable({"x": [1, 2]})
        assert "5000000" in lite.compile(mem.filter(mem.x > 5_000_000))
        assert changes(before) == {"hits": 1, "misses": 2, "opaque": 0}
    finally:
        lite.disconnect()
        compiled.clear()
