"""Opening an Ibis backend where the store's tables live, and reading them uniformly.

URLs (``KIZUNA_ANALYTICS_URL``, or the store's own ``KIZUNA_DATABASE_URL``):

- ``sqlite:///path/kizuna.db`` — the embedded store itself;
- ``postgresql+psycopg://user:pw@host:5432/db`` (or ``postgres://…``) — PostgreSQL;
- ``duckdb:///path/file.duckdb`` — a DuckDB file holding the tables, or
  ``duckdb:///path/folder`` — a folder of ``<table>.parquet`` files read in place;
- ``pyspark:///path/folder`` — a local Spark session over ``<table>.parquet`` files
  (``pyspark://`` alone: the tables must already be in Spark's catalogue).

Every backend must hold the tables and columns of :data:`COLUMNS` (money as integer
minor units, dates as dates, times as UTC timestamps); :func:`copy_tables` copies them
from one backend to another (e.g. the store into DuckDB or Parquet for Spark).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import ibis
import ibis.expr.datatypes as dt
from ibis.backends import BaseBackend

from kizuna.analytics import compiled, lazy_compilers
from kizuna.errors import InvalidInput
from kizuna.i18n import _

# each backend imports its own SQL compiler only (not Ibis' twenty), see lazy_compilers
lazy_compilers.install()

#: The tables and columns the KPIs read (the contract for an analytics warehouse).
COLUMNS: dict[str, dict[str, str]] = {
    "accounts": {"id": "int64", "external_id": "string", "name": "string", "industry": "string",
                 "owner_id": "int64", "plan_id": "int64", "status": "string", "mrr": "int64",
                 "currency": "string"},
    "products": {"id": "int64", "code": "string", "name": "string", "kind": "string", "rank": "int64"},
    "subscriptions": {"id": "int64", "account_id": "int64", "product_id": "int64", "monthly_amount": "int64",
                      "currency": "string", "status": "string", "started_on": "date", "trial_ends_on": "date",
                      "ended_on": "date"},
    "usage_daily": {"account_id": "int64", "day": "date", "metric": "string", "value": "float64"},
    "tickets": {"id": "int64", "account_id": "int64", "opened_at": "timestamp", "first_response_at": "timestamp",
                "resolved_at": "timestamp", "message_count": "int64", "csat": "int64"},
    "survey_responses": {"id": "int64", "account_id": "int64", "kind": "string", "score": "int64",
                         "answered_at": "timestamp"},
    "onboarding_milestones": {"id": "int64", "account_id": "int64", "completed_at": "timestamp"},
    # tier, stage, owner and fit periods (KPIs by the segment an account had at a month's start)
    "segment_changes": {"id": "int64", "account_id": "int64", "dimension": "string", "value": "string",
                        "from_on": "date", "to_on": "date"},
    "users": {"id": "int64", "name": "string"},
}  # fmt: skip

#: The columns the health measures read beyond the KPIs' (``kizuna.analytics.health_inputs``).
HEALTH_COLUMNS: dict[str, dict[str, str]] = {
    "subscriptions": {"billing_interval": "string", "quantity": "int64"},
    "products": {"seats_included": "int64"},
    "tickets": {"priority": "string"},
    "onboarding_milestones": {"due_on": "date"},
    "contacts": {"id": "int64", "account_id": "int64"},
    "health_sentiments": {"account_id": "int64", "value": "int64", "entered_at": "timestamp"},
}  # fmt: skip

#: Everything an analytics copy of the store holds (:func:`copy_tables`, :func:`write_parquet`).
ALL_COLUMNS: dict[str, dict[str, str]] = {
    name: {**COLUMNS.get(name, {}), **HEALTH_COLUMNS.get(name, {})} for name in [*COLUMNS, *HEALTH_COLUMNS]
}

#: Optional account columns used as segments when present (e.g. migration 0005's tier).
OPTIONAL_ACCOUNT_COLUMNS = {"touch_tier": "string"}

#: The monthly usage rollup kept by the store's own triggers (``kizuna.db.usage_months``):
#: read on the store itself (SQLite, PostgreSQL) when it has it; an analytics copy
#: (DuckDB, Spark) reads the daily rollups, which it scans fast enough.
MONTHLY_COLUMNS = {"account_id": "int64", "month": "date", "active_rows": "int64", "events": "float64"}
MONTHLY_BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class StoreTables:
    """The store's tables as Ibis expressions, with uniform column types."""

    backend: BaseBackend
    accounts: ibis.Table
    products: ibis.Table
    subscriptions: ibis.Table
    usage_daily: ibis.Table
    tickets: ibis.Table
    survey_responses: ibis.Table
    onboarding_milestones: ibis.Table
    segment_changes: ibis.Table
    users: ibis.Table
    #: ``usage_monthly`` where the store keeps it (:data:`MONTHLY_BACKENDS`), else None
    usage_monthly: ibis.Table | None = None

    @property
    def name(self) -> str:
        return str(self.backend.name)


def _same_type(have: dt.DataType, want: dt.DataType) -> bool:
    """Whether a column needs no cast: the same type up to nullability, string length
    and integer width. A needless cast (``DATE(day)``, ``CAST(metric AS TEXT)``) costs a
    function call per row and, on SQLite, hides the column from its indexes."""
    if have.is_integer() and want.is_integer():
        return True
    if have.is_string() and want.is_string():
        return True
    return bool(have.copy(nullable=True) == want.copy(nullable=True))


def _uniform(table: ibis.Table, columns: dict[str, str], name: str) -> ibis.Table:
    schema = table.schema()
    missing = [c for c in columns if c not in schema]
    if missing:
        raise InvalidInput(
            _("the analytics tables lack columns: {table}.{columns}").format(table=name, columns=", ".join(missing)),
            field="analytics_url",
        )
    out = {}
    for column, kind in columns.items():
        expr = table[column]
        want = dt.dtype(kind)
        if kind == "timestamp":
            # UTC instants; drop any zone so that every backend compares the same way
            if not schema[column].is_timestamp() or schema[column].timezone is not None:
                expr = expr.cast(dt.Timestamp())
        elif not _same_type(schema[column], want):
            expr = expr.cast(want)
        out[column] = expr
    return table.select(**out)


def uniform_table(con: BaseBackend, name: str, columns: dict[str, str]) -> ibis.Table:
    """Table ``name`` of ``con`` with ``columns`` in their uniform types; raises
    :class:`InvalidInput` naming a missing table or column."""
    try:
        table = con.table(name)
    except Exception:  # each backend has its own "no such table" error
        raise InvalidInput(
            _("the analytics backend has no table {table!r}").format(table=name), field="analytics_url"
        ) from None
    cols = dict(columns)
    if name == "accounts":
        cols.update({c: k for c, k in OPTIONAL_ACCOUNT_COLUMNS.items() if c in table.schema()})
    return _uniform(table, cols, name)


def store_tables(con: BaseBackend) -> StoreTables:
    """The KPI tables of ``con``; raises :class:`InvalidInput` naming a missing table or column."""
    monthly = None
    if con.name in MONTHLY_BACKENDS and "usage_monthly" in con.list_tables():
        monthly = uniform_table(con, "usage_monthly", MONTHLY_COLUMNS)
    tables = {name: uniform_table(con, name, columns) for name, columns in COLUMNS.items()}
    return StoreTables(backend=con, usage_monthly=monthly, **tables)


def materialise(expr: ibis.Table, index: tuple[str, ...] = ()) -> ibis.Table:
    """Compute a table reused by several queries once (a temporary table, a Spark cache).

    On SQLite the temporary table also gets an index on ``index``: joined to other
    tables without one, SQLite's planner may scan it once per outer row; and its query
    is compiled through the backend's ``compile`` (kept per shape, see
    :mod:`kizuna.analytics.compiled`) rather than Ibis' own ``cache()``, which compiles
    it every time."""
    backend = expr._find_backend()
    if backend.name == "sqlite":
        return _sqlite_temporary_table(backend, expr, index)
    try:
        return expr.cache()
    except Exception:  # pragma: no cover - a backend without caching computes it each time
        return expr


def _sqlite_temporary_table(con: Any, expr: ibis.Table, index: tuple[str, ...]) -> ibis.Table:
    """What Ibis' ``cache()`` does on SQLite (a typed temporary table filled by one
    ``INSERT … SELECT``), with the SELECT from ``con.compile``; gone with the connection."""
    import ibis.expr.operations as ops
    import sqlglot.expressions as sge

    con._run_pre_execute_hooks(expr)
    schema = expr.schema()
    name = ibis.util.gen_name("kizuna_cached")
    # equivalent mutants: the generated name (ibis_kizuna_cached_ + lower-case letters and digits)
    # needs no quotes, and SQLite's schema names ignore case ("TEMP" is "temp")
    table = sge.table_(name, catalog="temp", quoted=True)  # pragma: no mutate
    # equivalent mutant .sql(None): the generic type names (TINYINT, BIGINT, FLOAT, DOUBLE, VARCHAR)
    # have the same SQLite affinities as SQLite's own (INTEGER, REAL, TEXT), and the table is read
    # back with ``schema`` anyway; the table's name renders alike in both dialects ("temp"."…")
    create = con._generate_create_table(table, schema).sql(con.dialect)  # pragma: no mutate
    insert = f"INSERT INTO {table.sql(con.dialect)} {con.compile(expr)}"  # pragma: no mutate
    with con.begin() as cur:
        cur.execute(create)
        cur.execute(insert)
        if index:
            columns = ", ".join(f'"{c}"' for c in index)
            cur.execute(f'CREATE INDEX "temp"."ix_{name}" ON "{name}" ({columns})')
    # equivalent mutants (no namespace, None, "TEMP"): SQLite looks an unqualified name up in
    # "temp" first, ignores the case of schema names, and no other table has the generated name
    return ops.DatabaseTable(name, schema=schema, source=con, namespace=ops.Namespace(database="temp")).to_expr()  # pragma: no mutate


def connect(url: str, *, spark_session: Any = None) -> BaseBackend:
    """Open the Ibis backend for ``url`` (see the module docstring); its compiled SQL is
    kept per query shape (:mod:`kizuna.analytics.compiled`)."""
    return compiled.install(_connect(url, spark_session=spark_session))


def _connect(url: str, *, spark_session: Any = None) -> BaseBackend:
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.partition("+")[0].lower()
    # SQLAlchemy's convention: scheme:///relative/path, scheme:////absolute/path (no ":///": no path)
    path = unquote(url.partition(":///")[2].partition("?")[0])
    if scheme == "sqlite":
        if not path or path == ":memory:":
            raise InvalidInput(_("the analytics engine needs an SQLite file, not an in-memory database"), field="url")
        if not Path(path).exists():
            raise InvalidInput(_("no SQLite file at {path}").format(path=path), field="url")
        return ibis.sqlite.connect(path)
    if scheme in ("postgresql", "postgres"):
        return ibis.connect("postgres://" + url.split("://", 1)[1])
    if scheme == "duckdb":
        if path and Path(path).is_dir():
            con = ibis.duckdb.connect()
            _register_parquet(con, Path(path))
            return con
        return ibis.duckdb.connect(path or ":memory:")
    if scheme in ("pyspark", "spark"):
        session = spark_session or local_spark()
        con = ibis.pyspark.connect(session)
        if path:
            _register_parquet(con, Path(path))
        return con
    raise InvalidInput(
        _(
            "unknown analytics URL {url!r}: use sqlite:///FILE, postgresql://…, duckdb:///FILE or pyspark:///FOLDER"
        ).format(url=url),
        field="url",
    )


def _register_parquet(con: BaseBackend, folder: Path) -> None:
    for name in ALL_COLUMNS:
        candidates = [folder / f"{name}.parquet", folder / name]
        for candidate in candidates:
            if candidate.exists():
                con.read_parquet(str(candidate), table_name=name)
                break


def local_spark(app_name: str = "kizuna") -> Any:
    """A local Spark session in UTC (timestamps are UTC instants), no UI, and sized for one
    core: one partition per shuffle (more only queue up on the one core) and no adaptive
    query execution (AQE re-plans a query after each shuffle stage to coalesce partitions and
    handle skew on a cluster; on one core with one partition it is planning work only: the
    KPI report by tier on the test fixture took 29 % less CPU on a warm session, 7 % on a
    fresh one, where loading and compiling Spark's classes dominates)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )


def copy_tables(source: BaseBackend, target: BaseBackend) -> dict[str, int]:
    """Copy the tables and columns of :data:`ALL_COLUMNS` (the KPIs' and the health
    measures') from ``source`` into ``target``, replacing them; returns rows copied per table."""
    counts: dict[str, int] = {}
    for name, columns in ALL_COLUMNS.items():
        frame = uniform_table(source, name, columns).to_pyarrow()
        target.create_table(name, frame, overwrite=True)
        counts[name] = frame.num_rows
    return counts


def write_parquet(source: BaseBackend, folder: Path) -> dict[str, int]:
    """Write the tables of :data:`ALL_COLUMNS` as ``folder/<table>.parquet`` (for Spark or DuckDB)."""
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, columns in ALL_COLUMNS.items():
        frame = uniform_table(source, name, columns).to_pyarrow()
        pq.write_table(frame, folder / f"{name}.parquet")
        counts[name] = frame.num_rows
    return counts
