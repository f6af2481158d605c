"""Opening an analytics backend and reading the store's tables uniformly (issue 22,
kizuna.analytics.backend), on tiny SQLite files and in-memory DuckDB: the URLs and their
refusals, the casts a column needs and the ones it does not, a missing table or column
named, the copy to DuckDB and to Parquet, the temporary table of ``materialise``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pytest

from kizuna.analytics import backend
from kizuna.errors import InvalidInput


def test_which_columns_need_a_cast() -> None:
    same = backend._same_type
    assert same(dt.int32, dt.int64)  # any width of whole number
    assert same(dt.int8, dt.int64)
    assert same(dt.String(nullable=False), dt.string)
    assert same(dt.Date(nullable=False), dt.date)
    assert same(dt.float64, dt.float64)
    assert not same(dt.float64, dt.int64)
    assert not same(dt.int64, dt.float64)
    assert not same(dt.string, dt.date)
    assert not same(dt.timestamp, dt.date)
    assert not same(dt.int64, dt.string)


def sqlite_file(tmp_path: Path, ddl: str, rows: list[str] = ()) -> Path:  # type: ignore[assignment]
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:
        db.executescript(ddl)
        for row in rows:
            db.execute(row)
    return path


def test_a_table_read_in_the_uniform_types(tmp_path: Path) -> None:
    ddl = ("CREATE TABLE usage_daily (account_id INTEGER, day TEXT, metric TEXT, value INTEGER, extra TEXT);"
           " CREATE TABLE t (at TEXT, n SMALLINT);")
    rows = ["INSERT INTO usage_daily VALUES (7, '2026-01-31', 'logins', 3, 'x')",
            "INSERT INTO t VALUES ('2026-01-31 10:00:00', 2)"]  # fmt: skip
    path = sqlite_file(tmp_path, ddl, rows)
    con = backend.connect(f"sqlite:///{path}")
    table = backend.uniform_table(con, "usage_daily", backend.COLUMNS["usage_daily"])
    assert table.schema() == ibis.schema({"account_id": "int64", "day": "date", "metric": "string",
                                          "value": "float64"})  # fmt: skip
    frame = table.to_pandas()
    assert frame.to_dict("records") == [{"account_id": 7, "day": frame["day"][0], "metric": "logins", "value": 3.0}]
    assert str(frame["day"][0])[:10] == "2026-01-31"
    sql = str(ibis.to_sql(table, dialect="sqlite"))
    assert 'CAST("t0"."account_id"' not in sql  # an integer column is read as it is
    assert 'CAST("t0"."metric"' not in sql  # a text column too
    assert "CAST" in sql  # the day (text in SQLite) and the value (an integer) are cast
    stamped = backend._uniform(con.table("t"), {"at": "timestamp", "n": "int64"}, "t")
    assert stamped.schema() == ibis.schema({"at": "timestamp", "n": "int16"})  # any width of whole number: no cast
    assert str(stamped.to_pandas()["at"][0]) == "2026-01-31 10:00:00"


def test_a_missing_table_or_column_is_named(tmp_path: Path) -> None:
    path = sqlite_file(tmp_path, "CREATE TABLE users (id INTEGER);")
    con = backend.connect(f"sqlite:///{path}")
    with pytest.raises(InvalidInput) as no_table:
        backend.uniform_table(con, "accounts", backend.COLUMNS["accounts"])
    assert no_table.value.message == "the analytics backend has no table 'accounts'"
    assert no_table.value.field == "analytics_url"
    with pytest.raises(InvalidInput) as no_column:
        backend.uniform_table(con, "users", {"id": "int64", "name": "string", "email": "string"})
    assert no_column.value.message == "the analytics tables lack columns: users.name, email"
    assert no_column.value.field == "analytics_url"
    with pytest.raises(InvalidInput, match="no table 'accounts'"):
        backend.store_tables(con)


def duck_store(con: Any, *, tier: bool = False) -> None:
    for name, columns in backend.ALL_COLUMNS.items():
        cols = dict(columns)
        if name == "accounts" and tier:
            cols["touch_tier"] = "string"
        con.create_table(name, schema=ibis.schema(cols))


def test_the_store_tables_with_and_without_the_tier() -> None:
    con = backend.connect("duckdb://")
    duck_store(con)
    tables = backend.store_tables(con)
    assert tables.name == "duckdb"
    assert tables.backend is con
    assert list(tables.accounts.schema()) == list(backend.COLUMNS["accounts"])
    assert list(tables.users.schema()) == ["id", "name"]
    assert list(tables.segment_changes.schema()) == list(backend.COLUMNS["segment_changes"])
    tiered = backend.connect("duckdb://")
    duck_store(tiered, tier=True)
    assert list(backend.store_tables(tiered).accounts.schema())[-1] == "touch_tier"
    # only the accounts take the optional columns
    assert "touch_tier" not in backend.uniform_table(tiered, "users", {"id": "int64"}).schema()


def duck_tables(con: Any) -> list[str]:
    return [r[0] for r in con.raw_sql("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]


def test_the_urls_and_their_refusals(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as memory:
        backend.connect("sqlite:///:memory:")
    assert memory.value.message == "the analytics engine needs an SQLite file, not an in-memory database"
    assert memory.value.field == "url"
    with pytest.raises(InvalidInput, match="not an in-memory database"):
        backend.connect("sqlite://")
    with pytest.raises(InvalidInput) as missing:
        backend.connect(f"sqlite:///{tmp_path}/nope%20here.db")
    assert missing.value.message == f"no SQLite file at {tmp_path}/nope here.db"  # the path unquoted
    with pytest.raises(InvalidInput) as unknown:
        backend.connect("mysql://h/db")
    assert unknown.value.message == ("unknown analytics URL 'mysql://h/db': use sqlite:///FILE, postgresql://…, "
                                     "duckdb:///FILE or pyspark:///FOLDER")  # fmt: skip
    assert unknown.value.field == "url"
    path = sqlite_file(tmp_path, "CREATE TABLE users (id INTEGER);")
    lite = backend.connect(f"  SQLite+pysqlite:///{path}?mode=ro  ")  # spaces, a driver, a query string
    assert lite.name == "sqlite"
    assert lite._kizuna_compiled is True
    assert lite.list_tables() == ["users"]
    duck_file = backend.connect(f"duckdb:///{tmp_path / 'd.duckdb'}")
    duck_file.create_table("users", schema=ibis.schema({"id": "int64"}))
    duck_file.disconnect()
    assert (tmp_path / "d.duckdb").exists()
    assert duck_tables(backend.connect(f"duckdb:///{tmp_path / 'd.duckdb'}")) == ["users"]
    assert duck_tables(backend.connect("duckdb://")) == []


def test_copied_to_duckdb_and_to_parquet_and_read_in_place(tmp_path: Path) -> None:
    source = backend.connect("duckdb://")
    duck_store(source)
    source.raw_sql("INSERT INTO users VALUES (1, 'Aiko'), (2, 'Ben')")
    source.raw_sql("INSERT INTO usage_daily VALUES (1, DATE '2026-01-31', 'logins', 3.5)")
    target = backend.connect("duckdb://")
    counts = backend.copy_tables(source, target)
    assert counts == dict.fromkeys(backend.ALL_COLUMNS, 0) | {"users": 2, "usage_daily": 1}
    assert target.table("users").to_pandas().to_dict("records") == [{"id": 1, "name": "Aiko"},
                                                                     {"id": 2, "name": "Ben"}]  # fmt: skip
    assert backend.copy_tables(source, target)["users"] == 2  # replaced, not added to
    assert target.table("users").count().execute() == 2
    folder = tmp_path / "pq" / "deeper"
    written = backend.write_parquet(source, folder)
    assert written == counts
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.parquet" for n in backend.ALL_COLUMNS)
    # a folder of Parquet files (one of them a folder of its own) read in place; others left out
    (folder / "users.parquet").rename(folder / "users")
    (folder / "tickets.parquet").unlink()
    (folder / "notes.parquet").write_bytes((folder / "products.parquet").read_bytes())
    read = backend.connect(f"duckdb:///{folder}")
    assert duck_tables(read) == sorted(n for n in backend.ALL_COLUMNS if n != "tickets")
    assert read.table("users").count().execute() == 2
    assert read.table("usage_daily").to_pandas()["value"].tolist() == [3.5]


def test_materialise_a_temporary_table_on_sqlite_with_its_index(tmp_path: Path) -> None:
    path = sqlite_file(tmp_path, "CREATE TABLE t (a INTEGER, b TEXT);",
                       ["INSERT INTO t VALUES (1, 'x')", "INSERT INTO t VALUES (2, 'y')"])  # fmt: skip
    con = backend.connect(f"sqlite:///{path}")
    t = con.table("t")
    kept = backend.materialise(t.filter(t.a > 1), index=("a", "b"))
    assert kept.to_pandas().to_dict("records") == [{"a": 2, "b": "y"}]
    name = kept.op().name
    assert name.startswith("ibis_kizuna_cached_")
    found = con.raw_sql(f"SELECT name, sql FROM temp.sqlite_master WHERE tbl_name = '{name}' AND type = 'index'")
    indexes = found.fetchall()
    assert indexes == [(f"ix_{name}", f'CREATE INDEX "ix_{name}" ON "{name}" ("a", "b")')]
    plain = backend.materialise(t)
    found = con.raw_sql(f"SELECT count(*) FROM temp.sqlite_master WHERE tbl_name = '{plain.op().name}' AND type = 'index'")
    assert found.fetchall() == [(0,)]
    assert plain.count().execute() == 2
    with sqlite3.connect(path) as other:  # temporary: not in the file
        assert other.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
    duck = backend.connect("duckdb://")
    duck.create_table("t", schema=ibis.schema({"a": "int64"}))
    cached = backend.materialise(duck.table("t"))
    assert cached.count().execute() == 0
    assert cached.op().name != "t"  # Ibis' cache: a table of its own


def test_the_missing_file_refusal_names_the_url_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as missing:
        backend.connect(f"sqlite:///{tmp_path}/a.db?mode=ro?x=1")  # only the first "?" starts the query
    assert (missing.value.message, missing.value.field) == (f"no SQLite file at {tmp_path}/a.db", "url")
    with pytest.raises(InvalidInput) as nested:  # ":///" twice: the path is all after the first
        backend.connect(f"sqlite:///{tmp_path}/x:///y.db")
    assert nested.value.message == f"no SQLite file at {tmp_path}/x:///y.db"
    # a driver name with a "+" of its own: the scheme is what comes before the first "+"
    with pytest.raises(InvalidInput) as driver:
        backend.connect("sqlite+a+b:///nowhere.db")
    assert driver.value.message == "no SQLite file at nowhere.db"


class _Recorder:
    """Stands in for what a PostgreSQL or Spark connection would reach (no server, no JVM)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def connect(self, target: Any) -> Any:
        self.calls.append(("connect", target))
        return self

    def read_parquet(self, path: str, table_name: str) -> None:
        self.calls.append(("parquet", (Path(path).name, table_name)))


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "PostgreSQL+psycopg", "postgres+psycopg2"])
def test_a_postgresql_url_goes_to_ibis_as_postgres(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    fake = _Recorder()
    monkeypatch.setattr(ibis, "connect", fake.connect)
    assert backend._connect(f"{scheme}://kizuna:s3cret@db.example:5433/kz?sslmode=require") is fake
    # the driver dropped, everything after "://" kept as written (one "://" split only)
    assert fake.calls == [("connect", "postgres://kizuna:s3cret@db.example:5433/kz?sslmode=require")]
    fake.calls.clear()
    backend._connect(f"{scheme}://h/db?next=https://x")
    assert fake.calls == [("connect", "postgres://h/db?next=https://x")]


@pytest.mark.parametrize("scheme", ["pyspark", "spark", "PySpark", "SPARK"])
def test_a_spark_url_uses_the_given_session_or_a_local_one_and_reads_its_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scheme: str
) -> None:
    fake = _Recorder()
    monkeypatch.setattr(ibis.pyspark, "connect", fake.connect)
    monkeypatch.setattr(backend, "local_spark", lambda: "local session")
    (tmp_path / "accounts.parquet").write_bytes(b"")
    (tmp_path / "tickets").mkdir()  # a folder of parts, as Spark writes a table
    assert backend._connect(f"{scheme}:///{tmp_path}") is fake
    assert fake.calls[0] == ("connect", "local session")
    assert sorted(call for kind, call in fake.calls if kind == "parquet") == [
        ("accounts.parquet", "accounts"), ("tickets", "tickets")]  # fmt: skip
    fake.calls.clear()
    assert backend._connect(f"{scheme}://", spark_session="the caller's") is fake
    assert fake.calls == [("connect", "the caller's")]  # no folder: nothing read


def test_the_local_spark_session_is_sized_for_one_core_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyspark.sql

    settings: list[tuple[str, str]] = []

    class Builder:
        def master(self, value: str) -> Builder:
            settings.append(("master", value))
            return self

        def appName(self, value: str) -> Builder:
            settings.append(("appName", value))
            return self

        def config(self, key: str, value: str) -> Builder:
            settings.append((key, value))
            return self

        def getOrCreate(self) -> str:
            return "session"

    class FakeSession:
        builder = Builder()

    monkeypatch.setattr(pyspark.sql, "SparkSession", FakeSession)
    assert backend.local_spark() == "session"
    assert settings == [
        ("master", "local[1]"), ("appName", "kizuna"), ("spark.ui.enabled", "false"),
        ("spark.sql.shuffle.partitions", "1"), ("spark.sql.adaptive.enabled", "false"),
        ("spark.sql.session.timeZone", "UTC"), ("spark.driver.memory", "1g"),
    ]  # fmt: skip
    settings.clear()
    backend.local_spark("parity")
    assert settings[1] == ("appName", "parity")


def test_a_timestamp_column_is_cast_only_when_it_carries_a_zone() -> None:
    con = backend.connect("duckdb://")
    con.raw_sql("CREATE TABLE t (naive TIMESTAMP, zoned TIMESTAMPTZ)")
    con.raw_sql("INSERT INTO t VALUES (TIMESTAMP '2026-01-31 10:00:00', TIMESTAMPTZ '2026-01-31 10:00:00+00')")
    assert con.table("t").schema() == ibis.schema({"naive": "timestamp(6)", "zoned": "timestamp('UTC', 6)"})
    table = backend._uniform(con.table("t"), {"naive": "timestamp", "zoned": "timestamp"}, "t")
    # the naive column is read as it is (DuckDB's microseconds kept), the zoned one loses its zone
    assert table.schema() == ibis.schema({"naive": "timestamp(6)", "zoned": "timestamp"})
    sql = str(ibis.to_sql(table, dialect="duckdb"))
    assert 'CAST("t0"."naive"' not in sql
    assert 'CAST("t0"."zoned" AS TIMESTAMP)' in sql


def test_connect_passes_the_callers_spark_session_on(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Recorder()
    monkeypatch.setattr(ibis.pyspark, "connect", fake.connect)
    monkeypatch.setattr(backend, "local_spark", lambda: "local session")
    fake.name = "pyspark"  # type: ignore[attr-defined]  # compiled.install leaves Spark as it is
    assert backend.connect("pyspark://", spark_session="the caller's") is fake
    assert fake.calls == [("connect", "the caller's")]


def test_parquet_written_again_into_the_same_folder(tmp_path: Path) -> None:
    source = backend.connect("duckdb://")
    duck_store(source)
    source.raw_sql("INSERT INTO users VALUES (1, 'Aiko')")
    assert backend.write_parquet(source, tmp_path)["users"] == 1  # the folder exists already
    source.raw_sql("INSERT INTO users VALUES (2, 'Ben')")
    assert backend.write_parquet(source, tmp_path)["users"] == 2  # 1 + 1 rows: replaced, not refused
    assert backend.connect(f"duckdb:///{tmp_path}").table("users").count().execute() == 2
