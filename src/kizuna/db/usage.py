"""Storage for product-event ingestion and usage rollups, on SQLite and PostgreSQL.

The hot path (the ingestion writer) sends driver-level SQL. On SQLite: multi-row
``INSERT … VALUES`` of a few hundred rows after one probe for the keys already stored.
On PostgreSQL, where every statement is a round trip to the server: ``COPY`` (psycopg 3)
into a temporary staging table and **one** set-based ``INSERT … SELECT … ON CONFLICT DO
NOTHING RETURNING`` per call, and array parameters (``unnest``, ``= ANY``) instead of
statements with thousands of placeholders; both in PostgreSQL's binary format. Everything runs in the caller's transaction;
nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.orm import Session

from kizuna.db.models import Account, ApiKey, Contact, IngestCount, ParkedEvent

_ROWS = 300  # rows per multi-row statement: ~3,000 parameters, under every backend's limit
_IN = 500


def _conn(session: Session) -> tuple[Connection, bool]:
    conn = session.connection()
    return conn, conn.dialect.name == "postgresql"


def _mark(pg: bool) -> str:
    return "%s" if pg else "?"


def ts_param(value: datetime, pg: bool) -> Any:
    """A timezone-aware datetime as the driver stores it (UTC text on SQLite, like ``UTCDateTime``)."""
    if pg:
        return value
    if value.tzinfo is not UTC and value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def _day_param(value: date, pg: bool) -> Any:
    return value if pg else value.isoformat()


def _as_day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


class _LocalDay:
    """UTC timestamps (aware datetimes, or SQLite's UTC text) → local days, memoised per minute."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.cache: dict[Any, date] = {}

    def __call__(self, value: Any) -> date:
        key = value[:16] if isinstance(value, str) else value.replace(second=0, microsecond=0)
        day = self.cache.get(key)
        if day is None:
            moment = datetime.fromisoformat(value).replace(tzinfo=UTC) if isinstance(value, str) else value
            day = self.cache[key] = moment.astimezone(self.zone).date()
        return day


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where a local day starts and the next one starts."""
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def json_value(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value if value is not None else {}


def json_param(value: Any) -> str:
    return orjson.dumps(value).decode()


#: The writer's connection checkpoints the WAL into the database every this many pages
#: (SQLite's default is 1,000, about 4 MB). A group commit dirties a page per account
#: touched in several B-trees, so with the default nearly every commit would end with a
#: checkpoint (and its fsync); with ~40 MB of WAL, a page rewritten by many commits is
#: copied back once. Durability is the same: a commit is in the WAL either way.
WAL_CHECKPOINT_PAGES = 10_000


class PinnedUnitOfWork:
    """Units of work on **one** connection, kept for the ingestion writer's life.

    SQLite keeps a page cache per connection and drops it whenever another connection
    has written since: a writer that took whichever pooled connection came next would
    start most transactions with a cold cache (every index page read again). Holding
    one connection keeps the indexes' hot pages in memory between group commits. Each
    unit commits when its block ends and rolls back on error; a connection that failed
    is replaced on the next unit."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._engine.connect()
            if self._conn.dialect.name == "sqlite":
                self._conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
                self._conn.commit()
        session = Session(bind=self._conn, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            self.close()  # start again on a fresh connection
            raise
        finally:
            session.close()

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                if conn.dialect.name == "sqlite" and not conn.invalidated:
                    conn.rollback()
                    conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")  # SQLite's default, for the pool's next user
                    conn.commit()
                conn.close()
            except Exception:  # a broken connection: nothing more to release
                pass


# --- accounts and contacts ------------------------------------------------------------------


def account_ids(session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    conn, pg = _conn(session)
    m = _mark(pg)
    wanted = list(dict.fromkeys(external_ids))
    out: dict[str, int] = {}
    for start in range(0, len(wanted), _IN):
        chunk = wanted[start : start + _IN]
        sql = f"SELECT external_id, id FROM accounts WHERE external_id IN ({', '.join([m] * len(chunk))})"
        out.update(conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
    return out


def contacts(session: Session, external_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """``external_id → (contact id, account id)``."""
    conn, pg = _conn(session)
    m = _mark(pg)
    wanted = list(dict.fromkeys(external_ids))
    out: dict[str, tuple[int, int]] = {}
    for start in range(0, len(wanted), _IN):
        chunk = wanted[start : start + _IN]
        sql = f"SELECT external_id, id, account_id FROM contacts WHERE external_id IN ({', '.join([m] * len(chunk))})"
        out.update((k, (i, a)) for k, i, a in conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
    return out


def account_by_key(session: Session, external_id: str) -> Account | None:
    return session.scalars(select(Account).where(Account.external_id == external_id)).first()


def contact_by_key(session: Session, external_id: str) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.external_id == external_id)).first()


def add(session: Session, record: Any) -> Any:
    session.add(record)
    session.flush()
    return record


# --- events ----------------------------------------------------------------------------------

EVENT_COLUMNS = (
    "source", "message_id", "account_id", "contact_id", "anonymous_id", "event", "timestamp", "received_at",
    "properties", "rolled_up",
)  # fmt: skip


class ConcurrentInsert(RuntimeError):
    """Another writer stored some of these events between our check and our insert
    (PostgreSQL with a second writer): the caller's transaction must be retried."""


def _stored_keys(conn: Connection, pg: bool, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these ``(source, message_id)`` are in ``usage_events`` already."""
    m = _mark(pg)
    by_source: dict[str, list[str]] = {}
    for source, message_id in keys:
        by_source.setdefault(source, []).append(message_id)
    out: set[tuple[str, str]] = set()
    for source, ids in by_source.items():
        for start in range(0, len(ids), _IN):
            chunk = ids[start : start + _IN]
            sql = (
                f"SELECT message_id FROM usage_events WHERE source = {m} "
                f"AND message_id IN ({', '.join([m] * len(chunk))})"
            )
            out.update((source, k) for (k,) in conn.exec_driver_sql(sql, (source, *chunk)).fetchall())
    return out


def insert_events(session: Session, rows: Sequence[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """Store events (tuples in ``EVENT_COLUMNS`` order, timestamps aware, properties as
    a dict); one already stored under its ``(source, message_id)`` (or earlier in
    ``rows``) is left alone. Returns the ``(source, message_id)`` of the rows that were new."""
    conn, pg = _conn(session)
    if pg:
        return _insert_events_pg(conn, rows)
    return _insert_events_sqlite(conn, rows)


def _insert_events_sqlite(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """One index probe finds the stored ones, then the new rows go in with multi-row
    ``VALUES`` statements of a few hundred rows (not the driver's ``executemany``: on
    SQLite that releases and retakes the GIL for every row, and the web server's event
    loop thread then makes the writer wait a switch interval for each one); properties
    are turned into JSON only for the new ones. ``ON CONFLICT DO NOTHING`` stays as a
    guard: if the number of rows written is not the number expected, another writer got
    in between and :class:`ConcurrentInsert` asks the caller to retry its transaction."""
    pg = False
    old = _stored_keys(conn, pg, ((r[0], r[1]) for r in rows))
    new: set[tuple[str, str]] = set()
    params: list[Any] = []  # the rows' values one after the other, as the statements take them
    dumps = orjson.dumps
    last: Any = None
    last_param: Any = None
    for r in rows:
        key = (r[0], r[1])
        if key in old or key in new:
            continue
        new.add(key)
        if r[7] is not last:  # one received_at per request: convert it once
            last, last_param = r[7], ts_param(r[7], pg)
        params += (r[0], r[1], r[2], r[3], r[4], r[5], ts_param(r[6], pg), last_param, dumps(r[8]).decode())
    if not params:
        return new
    columns = ", ".join(EVENT_COLUMNS)
    conflict = "ON CONFLICT (source, message_id) DO NOTHING"
    one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
    width = 9
    written = 0
    for start in range(0, len(params), _ROWS * width):
        chunk = params[start : start + _ROWS * width]
        sql = f"INSERT INTO usage_events ({columns}) VALUES {', '.join([one] * (len(chunk) // width))} {conflict}"
        written += conn.exec_driver_sql(sql, tuple(chunk)).rowcount
    if written != len(new):
        raise ConcurrentInsert(f"{len(new) - written} of {len(new)} events were stored by another writer")
    return new


#: The PostgreSQL staging table of :func:`insert_events`: temporary (per connection, no
#: WAL), emptied by the merge that reads it, so it is empty between calls; and cut back
#: to nothing at each commit (``ON COMMIT DELETE ROWS``: truncated in place), because
#: autovacuum never visits temporary tables and the deleted rows would otherwise pile
#: up for the connection's life, each merge scanning more of them.
#: Its properties are staged as JSON text (``COPY``'s binary format has no cheap way in for a
#: ``jsonb`` from text) and read as ``jsonb`` by the merge: the same parse, once per row.
_STAGING_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS usage_events_staging (source varchar(64), message_id varchar(128), "
    "account_id integer, contact_id integer, anonymous_id varchar(128), event varchar(200), "
    "timestamp timestamptz, received_at timestamptz, properties text) ON COMMIT DELETE ROWS"
)
_STAGED = "source, message_id, account_id, contact_id, anonymous_id, event, timestamp, received_at, properties"
_STAGED_TYPES = ("varchar", "varchar", "int4", "int4", "varchar", "varchar", "timestamptz", "timestamptz", "text")
_MERGE = (
    f"WITH staged AS (DELETE FROM usage_events_staging RETURNING {_STAGED}) "
    f"INSERT INTO usage_events ({', '.join(EVENT_COLUMNS)}) SELECT {_STAGED.replace('properties', 'properties::jsonb')}, "
    "TRUE FROM staged ORDER BY source, message_id ON CONFLICT (source, message_id) DO NOTHING RETURNING source, message_id"
)


def _copy(conn: Connection, table: str, columns: str, types: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` in PostgreSQL's binary format, on the session's
    own psycopg connection (so in its transaction): one stream instead of a statement per
    few hundred rows, and no value written out as text by us nor parsed by the server (a
    timestamp, a date, a number go as their bytes: less than half the CPU of the text
    format on either side). ``types`` names each column's type, as the format needs."""
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        write = copy.write_row
        for row in rows:
            write(row)


def _insert_events_pg(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """``COPY`` the rows (each key once: the first copy wins, as on SQLite) into the
    staging table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``
    moves them into ``usage_events`` and says which were new. The rows are merged in key
    order (two writers lock keys in the same order); a key another writer stored first,
    even one committing meanwhile, is simply not returned: it counts as a duplicate here
    and was rolled up by that writer."""
    seen: set[tuple[str, str]] = set()
    staged: list[tuple[Any, ...]] = []
    dumps = orjson.dumps
    for r in rows:
        key = (r[0], r[1])
        if key in seen:
            continue
        seen.add(key)
        staged.append((r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], dumps(r[8]).decode()))
    if not staged:
        return set()
    conn.exec_driver_sql(_STAGING_DDL)
    _copy(conn, "usage_events_staging", _STAGED, _STAGED_TYPES, staged)
    return {(s, k) for s, k in conn.exec_driver_sql(_MERGE).fetchall()}


def pending_days(session: Session, account_ids: Iterable[int] | None, zone: ZoneInfo) -> set[tuple[int, date]]:
    """(account, local day) pairs with events not yet rolled up (of some accounts, or all)."""
    conn, pg = _conn(session)
    m = _mark(pg)
    to_day = _LocalDay(zone)
    out: set[tuple[int, date]] = set()
    if account_ids is None:
        result = conn.exec_driver_sql("SELECT account_id, timestamp FROM usage_events WHERE NOT rolled_up")
        out.update((a, to_day(t)) for a, t in result)
        return out
    ids = sorted(account_ids)
    if pg:
        sql = "SELECT account_id, timestamp FROM usage_events WHERE NOT rolled_up AND account_id = ANY(%b::integer[])"
        out.update((a, to_day(t)) for a, t in conn.exec_driver_sql(sql, (ids,)))
        return out
    for start in range(0, len(ids), _IN):
        chunk = ids[start : start + _IN]
        sql = (
            "SELECT account_id, timestamp FROM usage_events WHERE NOT rolled_up "
            f"AND account_id IN ({', '.join([m] * len(chunk))})"
        )
        out.update((a, to_day(t)) for a, t in conn.exec_driver_sql(sql, tuple(chunk)))
    return out


def add_daily_users(session: Session, rows: Sequence[tuple[int, date, str]]) -> list[tuple[int, date]]:
    """Record active users; returns ``(account, day)`` once per user who was new that day."""
    conn, pg = _conn(session)
    m = _mark(pg)
    out: list[tuple[int, date]] = []
    if pg:
        if rows:
            sql = (
                "INSERT INTO usage_daily_users (account_id, day, user_key) "
                "SELECT * FROM unnest(%b::integer[], %b::date[], %b::text[]) "
                "ON CONFLICT (account_id, day, user_key) DO NOTHING RETURNING account_id, day"
            )
            columns = ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
            out = [(a, _as_day(d)) for a, d in conn.exec_driver_sql(sql, columns).fetchall()]
        return out
    for start in range(0, len(rows), _ROWS * 3):
        chunk = rows[start : start + _ROWS * 3]
        params: list[Any] = []
        for a, d, u in chunk:
            params += (a, _day_param(d, pg), u)
        sql = (
            f"INSERT INTO usage_daily_users (account_id, day, user_key) VALUES {', '.join([f'({m}, {m}, {m})'] * len(chunk))} "
            "ON CONFLICT (account_id, day, user_key) DO NOTHING RETURNING account_id, day"
        )
        out += [(a, _as_day(d)) for a, d in conn.exec_driver_sql(sql, tuple(params)).fetchall()]
    return out


def add_daily(session: Session, rows: Sequence[tuple[int, date, str, float]]) -> None:
    """``usage_daily.value += delta`` (a new row if there was none); one key per row.
    Multi-row upserts (see :func:`insert_events`), in key order."""
    if not rows:
        return
    conn, pg = _conn(session)
    ordered = sorted(rows)
    upsert = "ON CONFLICT (account_id, day, metric) DO UPDATE SET value = usage_daily.value + excluded.value"
    if pg:  # one statement with four array parameters (binary: see _copy), in key order
        conn.exec_driver_sql(
            "INSERT INTO usage_daily (account_id, day, metric, value) "
            f"SELECT * FROM unnest(%b::integer[], %b::date[], %b::text[], %b::float8[]) {upsert}",
            ([r[0] for r in ordered], [r[1] for r in ordered], [r[2] for r in ordered],
             [float(r[3]) for r in ordered]),  # a binary array is of one type: no whole number among the floats
        )  # fmt: skip
        return
    days: dict[date, Any] = {}
    m = _mark(pg)
    for start in range(0, len(ordered), _ROWS * 2):
        chunk = ordered[start : start + _ROWS * 2]
        flat: list[Any] = []
        for a, d, k, v in chunk:
            day = days.get(d)
            if day is None:
                day = days[d] = _day_param(d, pg)
            flat += (a, day, k, v)
        values = ", ".join([f"({m}, {m}, {m}, {m})"] * len(chunk))
        conn.exec_driver_sql(f"INSERT INTO usage_daily (account_id, day, metric, value) VALUES {values} {upsert}",
                             tuple(flat))  # fmt: skip


def defer_daily(
    session: Session, daily: Sequence[tuple[int, date, str, float]], users: Sequence[tuple[int, date, str]]
) -> None:
    """Append rollup contributions (``usage_daily`` deltas, active-user keys) to the
    journals that :func:`take_deferred` empties: multi-row inserts (``COPY`` on
    PostgreSQL) at the end of two append-only tables."""
    conn, pg = _conn(session)
    if pg:  # append-only journals: a COPY each
        if daily:
            _copy(conn, "usage_daily_pending", "account_id, day, metric, value", ("int4", "date", "varchar", "float8"),
                  daily)  # fmt: skip
        if users:
            _copy(conn, "usage_daily_users_pending", "account_id, day, user_key", ("int4", "date", "varchar"), users)
        return
    m = _mark(pg)
    days: dict[date, Any] = {}
    for table, columns, rows in (("usage_daily_pending", "account_id, day, metric, value", daily),
                                 ("usage_daily_users_pending", "account_id, day, user_key", users)):  # fmt: skip
        width = columns.count(",") + 1
        one = "(" + ", ".join([m] * width) + ")"
        step = _ROWS * 3 // width
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            flat: list[Any] = []
            for r in chunk:
                day = days.get(r[1])
                if day is None:
                    day = days[r[1]] = _day_param(r[1], pg)
                flat += (r[0], day, *r[2:])
            conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}", tuple(flat))


def take_deferred(session: Session) -> tuple[list[tuple[int, date, str, float]], list[tuple[int, date, str]]]:
    """Empty the journals and return their contents summed per (account, day, metric)
    and deduplicated per (account, day, user); rows of accounts deleted meanwhile go
    without being returned. SQLite's way (on PostgreSQL :func:`apply_journals` does all of
    it on the server): exactly what is deleted is returned even with another writer
    appending meanwhile, as the transaction's snapshot cannot move once read (a write that
    came in between makes our delete fail, and the caller retry)."""
    conn, _pg = _conn(session)
    alive = "WHERE account_id IN (SELECT id FROM accounts)"
    daily_sql = f"SELECT account_id, day, metric, SUM(value) FROM usage_daily_pending {alive} GROUP BY account_id, day, metric"
    users_sql = f"SELECT DISTINCT account_id, day, user_key FROM usage_daily_users_pending {alive}"
    daily_rows = conn.exec_driver_sql(daily_sql).fetchall()
    user_rows = conn.exec_driver_sql(users_sql).fetchall()
    conn.exec_driver_sql("DELETE FROM usage_daily_pending")
    conn.exec_driver_sql("DELETE FROM usage_daily_users_pending")
    days: dict[Any, date] = {}  # a few days, read thousands of times (SQLite's are text)
    for d in {r[1] for r in daily_rows} | {r[1] for r in user_rows}:
        days[d] = _as_day(d)
    daily = [(a, days[d], k, float(v)) for a, d, k, v in daily_rows]
    users = [(a, days[d], u) for a, d, u in user_rows]
    return daily, users


#: :func:`take_deferred` and the upserts of what it takes, in one statement on PostgreSQL:
#: the journals are emptied, their sums and new users added, and only a count comes back.
_APPLY_PG = (
    "WITH taken_users AS (DELETE FROM usage_daily_users_pending RETURNING account_id, day, user_key), "
    "users AS (SELECT DISTINCT account_id, day, user_key FROM taken_users "
    "WHERE account_id IN (SELECT id FROM accounts)), "
    "added AS (INSERT INTO usage_daily_users (account_id, day, user_key) "
    "SELECT account_id, day, user_key FROM users ORDER BY account_id, day, user_key "
    "ON CONFLICT (account_id, day, user_key) DO NOTHING RETURNING account_id, day), "
    "taken AS (DELETE FROM usage_daily_pending RETURNING account_id, day, metric, value), "
    "daily AS (SELECT account_id, day, metric, SUM(value) AS value FROM taken "
    "WHERE account_id IN (SELECT id FROM accounts) GROUP BY account_id, day, metric), "
    "sums AS (SELECT account_id, day, metric, SUM(value) AS value FROM (SELECT account_id, day, metric, value "
    "FROM daily UNION ALL SELECT account_id, day, CAST(%s AS varchar(100)), CAST(count(*) AS float8) FROM added "
    "GROUP BY account_id, day) AS contributions GROUP BY account_id, day, metric), "
    "upserted AS (INSERT INTO usage_daily (account_id, day, metric, value) "
    "SELECT account_id, day, metric, value FROM sums ORDER BY account_id, day, metric "
    "ON CONFLICT (account_id, day, metric) DO UPDATE SET value = usage_daily.value + excluded.value) "
    "SELECT (SELECT count(*) FROM daily) + (SELECT count(*) FROM users)"
)


def apply_journals(session: Session, active_users: str) -> int | None:
    """On PostgreSQL, apply the journals on the server in **one** statement — what
    :func:`take_deferred`, :func:`add_daily_users` and :func:`add_daily` do for the
    caller, the same rows in the same key order, with nothing sent back and forth but a
    count (the journal rows taken, summed per key and users once, as the caller counts
    them). Each new (account, day, user) adds 1 to the ``active_users`` metric. ``None`` on
    SQLite: the caller does it in Python."""
    conn, pg = _conn(session)
    if not pg:
        return None
    return int(conn.exec_driver_sql(_APPLY_PG, (active_users,)).scalar_one())


_EVENT_FIELDS = "account_id, timestamp, contact_id, anonymous_id, event, properties"


def _event_rows(result: Any, to_day: _LocalDay) -> Iterator[tuple[int, date, int | None, str | None, str, Any]]:
    for a, t, c, anon, event, props in result:
        yield a, to_day(t), c, anon, event, props


def events_of_days(
    session: Session, pairs: Sequence[tuple[int, date]], zone: ZoneInfo
) -> Iterator[tuple[int, date, int | None, str | None, str, Any]]:
    """The raw events of these (account, local day) pairs."""
    conn, pg = _conn(session)
    m = _mark(pg)
    to_day = _LocalDay(zone)
    sql = f"SELECT {_EVENT_FIELDS} FROM usage_events WHERE account_id = {m} AND timestamp >= {m} AND timestamp < {m}"
    for account_id, day in pairs:
        start, end = day_bounds(day, zone)
        yield from _event_rows(conn.exec_driver_sql(sql, (account_id, ts_param(start, pg), ts_param(end, pg))), to_day)


def _scope(pg: bool, zone: ZoneInfo, account_ids: Sequence[int] | None, since: date | None) -> tuple[str, list[Any]]:
    m = _mark(pg)
    where: list[str] = []
    params: list[Any] = []
    if account_ids is not None:
        where.append(f"account_id IN ({', '.join([m] * len(account_ids))})" if account_ids else "1 = 0")
        params += list(account_ids)
    if since is not None:
        where.append(f"timestamp >= {m}")
        params.append(ts_param(day_bounds(since, zone)[0], pg))
    return (" WHERE " + " AND ".join(where)) if where else "", params


def events_for_rebuild(
    session: Session, zone: ZoneInfo, account_ids: Sequence[int] | None, since: date | None
) -> Iterator[tuple[int, date, int | None, str | None, str, Any]]:
    conn, pg = _conn(session)
    where, params = _scope(pg, zone, account_ids, since)
    result = conn.exec_driver_sql(
        f"SELECT {_EVENT_FIELDS} FROM usage_events{where}", tuple(params), execution_options={"yield_per": 10_000}
    )
    yield from _event_rows(result, _LocalDay(zone))


def replace_daily(
    session: Session,
    pairs: Sequence[tuple[int, date]],
    daily: Sequence[tuple[int, date, str, float]],
    users: Sequence[tuple[int, date, str]],
) -> None:
    """Replace the event-derived metrics (the core ones and ``feature.*``) and the active
    users of these account-days; other metrics of those days stay."""
    from kizuna.domain.usage import CORE_METRICS, FEATURE_PREFIX

    conn, pg = _conn(session)
    m = _mark(pg)
    keys = [(a, _day_param(d, pg)) for a, d in pairs]
    core = ", ".join(f"'{k}'" for k in CORE_METRICS)
    like = FEATURE_PREFIX + ("%%" if pg else "%")  # psycopg's placeholders are %s: escape a literal %
    if keys:
        conn.exec_driver_sql(
            f"DELETE FROM usage_daily WHERE account_id = {m} AND day = {m} AND (metric IN ({core}) OR metric LIKE '{like}')",
            keys,
        )
        conn.exec_driver_sql(f"DELETE FROM usage_daily_users WHERE account_id = {m} AND day = {m}", keys)
    if daily:
        conn.exec_driver_sql(
            f"INSERT INTO usage_daily (account_id, day, metric, value) VALUES ({m}, {m}, {m}, {m})",
            [(a, _day_param(d, pg), k, v) for a, d, k, v in daily],
        )
    if users:
        conn.exec_driver_sql(
            f"INSERT INTO usage_daily_users (account_id, day, user_key) VALUES ({m}, {m}, {m})",
            [(a, _day_param(d, pg), u) for a, d, u in users],
        )


def mark_rolled_up_days(session: Session, pairs: Sequence[tuple[int, date]], zone: ZoneInfo) -> None:
    conn, pg = _conn(session)
    m = _mark(pg)
    params = []
    for account_id, day in pairs:
        start, end = day_bounds(day, zone)
        params.append((account_id, ts_param(start, pg), ts_param(end, pg)))
    if params:
        conn.exec_driver_sql(
            "UPDATE usage_events SET rolled_up = TRUE "
            f"WHERE NOT rolled_up AND account_id = {m} AND timestamp >= {m} AND timestamp < {m}",
            params,
        )


def mark_rolled_up(session: Session, zone: ZoneInfo, account_ids: Sequence[int] | None, since: date | None) -> None:
    conn, pg = _conn(session)
    where, params = _scope(pg, zone, account_ids, since)
    where = where + (" AND NOT rolled_up" if where else " WHERE NOT rolled_up")
    conn.exec_driver_sql(f"UPDATE usage_events SET rolled_up = TRUE{where}", tuple(params))


# --- parked events ------------------------------------------------------------------------------

PARKED_COLUMNS = (
    "source", "message_id", "kind", "reason", "group_id", "user_id", "anonymous_id", "event", "timestamp",
    "received_at", "payload",
)  # fmt: skip


def park(session: Session, rows: Sequence[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """Keep messages whose account or user is unknown (tuples in ``PARKED_COLUMNS``
    order, payload as JSON text). Returns the ``(source, message_id)`` newly parked."""
    conn, pg = _conn(session)
    m = _mark(pg)
    one = "(" + ", ".join([m] * 10) + (", CAST(%s AS JSONB))" if pg else ", ?)")
    new: set[tuple[str, str]] = set()
    for start in range(0, len(rows), _ROWS):
        chunk = rows[start : start + _ROWS]
        params: list[Any] = []
        for r in chunk:
            params += (*r[:8], ts_param(r[8], pg), ts_param(r[9], pg), r[10])
        sql = (
            f"INSERT INTO ingest_parked ({', '.join(PARKED_COLUMNS)}) VALUES {', '.join([one] * len(chunk))} "
            "ON CONFLICT (source, message_id) DO NOTHING RETURNING source, message_id"
        )
        new.update((s, k) for s, k in conn.exec_driver_sql(sql, tuple(params)))
    return new


def parked_for(
    session: Session, group_ids: Iterable[str] = (), user_ids: Iterable[str] = (), *, everything: bool = False,
    after_id: int = 0, limit: int = 5000,
) -> list[ParkedEvent]:  # fmt: skip
    """Parked messages naming one of these accounts or users (or all, from ``after_id``), oldest first."""
    query = select(ParkedEvent).where(ParkedEvent.id > after_id).order_by(ParkedEvent.id).limit(limit)
    if not everything:
        groups, users = list(dict.fromkeys(group_ids)), list(dict.fromkeys(user_ids))
        conditions = []
        if groups:
            conditions.append(ParkedEvent.group_id.in_(groups))
        if users:
            conditions.append(ParkedEvent.user_id.in_(users))
        if not conditions:
            return []
        from sqlalchemy import or_

        query = query.where(or_(*conditions))
    return list(session.scalars(query))


def unpark(session: Session, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), _IN):
        session.execute(delete(ParkedEvent).where(ParkedEvent.id.in_(ids[start : start + _IN])))


def set_parked_reason(session: Session, ids: Sequence[int], reason: str) -> None:
    for start in range(0, len(ids), _IN):
        session.execute(
            update(ParkedEvent)
            .where(ParkedEvent.id.in_(ids[start : start + _IN]), ParkedEvent.reason != reason)
            .values(reason=reason)
        )


def parked_by_reason(session: Session) -> list[tuple[str, int, datetime | None]]:
    rows = session.execute(
        select(ParkedEvent.reason, func.count(), func.min(ParkedEvent.received_at))
        .group_by(ParkedEvent.reason)
        .order_by(ParkedEvent.reason)
    )
    return [(r, int(n), first) for r, n, first in rows]


def parked_list(session: Session, reason: str | None, limit: int) -> list[ParkedEvent]:
    query = select(ParkedEvent).order_by(ParkedEvent.id).limit(limit)
    if reason is not None:
        query = query.where(ParkedEvent.reason == reason)
    return list(session.scalars(query))


# --- counters and keys ------------------------------------------------------------------------


def add_counts(session: Session, rows: Sequence[tuple[datetime, str, str, str, int]]) -> None:
    """``ingest_counts.count += n`` per (hour, source, outcome, reason)."""
    if not rows:
        return
    conn, pg = _conn(session)
    m = _mark(pg)
    sql = (
        f"INSERT INTO ingest_counts (hour, source, outcome, reason, count) VALUES ({m}, {m}, {m}, {m}, {m}) "
        "ON CONFLICT (hour, source, outcome, reason) DO UPDATE SET count = ingest_counts.count + excluded.count"
    )
    conn.exec_driver_sql(sql, [(ts_param(h, pg), s, o, r, n) for h, s, o, r, n in sorted(rows)])


def counts_since(session: Session, since: datetime) -> list[tuple[datetime, str, str, str, int]]:
    rows = session.execute(
        select(IngestCount.hour, IngestCount.source, IngestCount.outcome, IngestCount.reason, IngestCount.count)
        .where(IngestCount.hour >= since)
        .order_by(IngestCount.hour)
    )
    return [(h, s, o, r, int(n)) for h, s, o, r, n in rows]


def active_api_keys(session: Session, key_ids: Iterable[int]) -> dict[int, datetime | None]:
    """Which of these keys are not revoked, with when each was last used (aware UTC): the
    ingestion writer asks in every group commit, in its own transaction, so in plain SQL
    (the ORM's statement costs a millisecond of Python; this one a few microseconds)."""
    ids = sorted(set(key_ids))
    if not ids:
        return {}
    conn, pg = _conn(session)
    params: tuple[Any, ...]
    if pg:
        sql, params = "SELECT id, last_used_at FROM api_keys WHERE id = ANY(%s) AND revoked_at IS NULL", (ids,)
    else:
        sql, params = f"SELECT id, last_used_at FROM api_keys WHERE id IN ({', '.join('?' * len(ids))}) " \
                      "AND revoked_at IS NULL", tuple(ids)  # fmt: skip
    out: dict[int, datetime | None] = {}
    for key_id, last in conn.exec_driver_sql(sql, params):
        if isinstance(last, str):  # SQLite: UTC text (db.types.UTCDateTime), or with its offset
            last = datetime.fromisoformat(last)
            last = last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
        out[key_id] = last
    return out


def touch_api_keys(session: Session, key_ids: Iterable[int], when: datetime) -> None:
    ids = sorted(set(key_ids))
    if ids:
        session.execute(update(ApiKey).where(ApiKey.id.in_(ids)).values(last_used_at=when))


def api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.last_used_at.desc().nulls_last(), ApiKey.id)))
