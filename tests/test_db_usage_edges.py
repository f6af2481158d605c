"""The ingestion's SQL (``kizuna.db.usage``) called directly, on both backends: the journals
in and out across a statement's row limit, the rollup upserts, the days with events not yet
rolled up across the ``IN`` list's limit, and the key check of every group commit."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from kizuna.db import make_engine, session_scope
from kizuna.db import usage as q
from kizuna.db.models import Account, ApiKey, UsageEvent
from kizuna.domain.auth import ApiKeyScope

TOKYO = ZoneInfo("Asia/Tokyo")
D1, D2 = date(2026, 3, 1), date(2026, 3, 2)


def _accounts(engine: Any, n: int) -> list[int]:
    with session_scope(engine) as session:
        session.add_all([Account(external_id=f"ACC-{i:04d}", name=f"A{i}") for i in range(n)])
    with session_scope(engine) as session:
        return [int(r[0]) for r in session.execute(text("SELECT id FROM accounts ORDER BY id"))]


def _rows(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_the_journals_in_and_out_across_the_row_limit(store_url: str) -> None:
    """301 users and 226 sums (one over a statement's rows: 300 for three columns, 225 for
    four) go into the journals and come back summed and deduplicated, without the rows of an
    account deleted meanwhile; the journals end empty (SQLite: take_deferred; PostgreSQL: the
    server applies them)."""
    engine = make_engine(store_url)
    a, b, gone = _accounts(engine, 3)
    daily = [(a, D1, f"m{i:03d}", 1.0) for i in range(226)] + [(a, D1, "m000", 2.5), (gone, D1, "events", 4.0)]
    users = [(b, D2, f"u{i:03d}") for i in range(301)] + [(b, D2, "u000"), (gone, D2, "x")]
    with session_scope(engine) as session:
        q.defer_daily(session, daily, users)
    assert _rows(engine, "SELECT count(*) FROM usage_daily_pending") == [(228,)]
    assert _rows(engine, "SELECT count(*) FROM usage_daily_users_pending") == [(303,)]
    with session_scope(engine) as session:
        session.execute(text(f"DELETE FROM accounts WHERE id = {gone}"))
    with session_scope(engine) as session:
        applied = q.apply_journals(session, "active_users")
        if applied is None:  # SQLite: taken here, then upserted as the rollups do
            taken_daily, taken_users = q.take_deferred(session)
            assert sorted(taken_daily)[:2] == [(a, D1, "m000", 3.5), (a, D1, "m001", 1.0)]  # 1.0 + 2.5
            assert (len(taken_daily), len(taken_users)) == (226, 301)
            assert sorted(taken_users)[0] == (b, D2, "u000")
            assert sorted(taken_users)[-1] == (b, D2, "u300")
            new = q.add_daily_users(session, taken_users)
            assert len(new) == 301
            assert set(new) == {(b, D2)}
            q.add_daily(session, [*taken_daily, (b, D2, "active_users", float(len(new)))])
        else:
            assert applied == 226 + 301  # sums per key, plus users once
    assert _rows(engine, "SELECT count(*) FROM usage_daily_pending") == [(0,)]
    assert _rows(engine, "SELECT count(*) FROM usage_daily_users_pending") == [(0,)]
    got = {(int(r[0]), r[2]): float(r[3]) for r in _rows(engine, "SELECT account_id, day, metric, value FROM usage_daily")}
    assert got[(a, "m000")] == 3.5
    assert got[(a, "m225")] == 1.0
    assert got[(b, "active_users")] == 301.0
    assert len(got) == 227
    assert not any(k[0] == gone for k in got)
    assert _rows(engine, "SELECT count(*) FROM usage_daily_users") == [(301,)]


def test_rollup_upserts_add_to_what_is_there_and_users_count_once(store_url: str) -> None:
    engine = make_engine(store_url)
    (a,) = _accounts(engine, 1)
    with session_scope(engine) as session:
        q.add_daily(session, [(a, D1, "events", 2.0), (a, D2, "events", 1.0)])
        assert q.add_daily_users(session, [(a, D1, "c:1"), (a, D1, "c:2")]) == [(a, D1), (a, D1)]
    with session_scope(engine) as session:
        q.add_daily(session, [(a, D1, "events", 0.5), (a, D1, "logins", 1.0)])
        q.add_daily(session, [])
        # c:1 known that day, c:1 new the next day
        assert q.add_daily_users(session, [(a, D1, "c:1"), (a, D2, "c:1")]) == [(a, D2)]
        assert q.add_daily_users(session, []) == []
    got = sorted((str(r[0])[:10], r[1], float(r[2])) for r in _rows(engine, "SELECT day, metric, value FROM usage_daily"))
    assert got == [("2026-03-01", "events", 2.5), ("2026-03-01", "logins", 1.0), ("2026-03-02", "events", 1.0)]
    # 601 rows in one call: three statements of at most 300 on SQLite
    many = [(a, D1 + timedelta(days=i % 3), f"m{i:03d}", 1.0) for i in range(601)]
    with session_scope(engine) as session:
        q.add_daily(session, many)
        q.add_daily(session, many[:1])
    assert _rows(engine, "SELECT count(*), sum(value) FROM usage_daily WHERE metric LIKE 'm%'") == [(601, 602.0)]
    # 901 users in one call: two statements of at most 900 on SQLite, every new one answered
    with session_scope(engine) as session:
        new = q.add_daily_users(session, [(a, D2, f"u{i:03d}") for i in range(901)])
    assert len(new) == 901
    assert set(new) == {(a, D2)}


def test_the_days_not_yet_rolled_up_of_more_accounts_than_an_in_list(store_url: str) -> None:
    """Events of 502 accounts, one each (the first, the 500th and the 501st among them),
    at 15:00 UTC: the next local day in Tokyo; a rolled-up event is not pending."""
    engine = make_engine(store_url)
    ids = _accounts(engine, 502)
    when = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)  # 2026-03-02 00:00 in Tokyo
    with session_scope(engine) as session:
        session.add_all([UsageEvent(source="t", message_id=f"m{i}", account_id=i, event="e", timestamp=when,
                                    received_at=when) for i in ids])  # fmt: skip
        session.add(UsageEvent(source="t", message_id="done", account_id=ids[0], event="e",
                               timestamp=when - timedelta(days=1), received_at=when, rolled_up=True))  # fmt: skip
    with session_scope(engine) as session:
        some = q.pending_days(session, [ids[0], ids[499], ids[500], ids[501]], TOKYO)
        every = q.pending_days(session, ids, TOKYO)
        all_pending = q.pending_days(session, None, TOKYO)
        none = q.pending_days(session, [], TOKYO)
    assert some == {(ids[0], D2), (ids[499], D2), (ids[500], D2), (ids[501], D2)}
    assert every == all_pending == {(i, D2) for i in ids}
    assert none == set()


def test_the_key_check_reads_active_keys_and_their_last_use(store_url: str) -> None:
    engine = make_engine(store_url)
    used = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    with session_scope(engine) as session:
        for i, (last, revoked) in enumerate([(None, None), (used, None), (used, used)]):
            session.add(ApiKey(name=f"k{i}", prefix=f"p{i}", key_hash=f"h{i}", scope=ApiKeyScope.INGEST,
                               last_used_at=last, revoked_at=revoked))  # fmt: skip
    ids = [int(r[0]) for r in _rows(engine, "SELECT id FROM api_keys ORDER BY id")]
    with session_scope(engine) as session:
        # the revoked one is left out; an unknown id too; a key asked twice once
        got = q.active_api_keys(session, [ids[2], ids[1], ids[0], ids[0], 999_999])
        assert got == {ids[0]: None, ids[1]: used}
        assert q.active_api_keys(session, []) == {}
        later = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        q.touch_api_keys(session, [ids[0], ids[0]], later)
        q.touch_api_keys(session, [], later)
    with session_scope(engine) as session:
        assert q.active_api_keys(session, ids) == {ids[0]: datetime(2026, 3, 2, 9, 0, tzinfo=UTC), ids[1]: used}
    if store_url.startswith("sqlite"):  # a last use written with an offset is read as the same instant in UTC
        with session_scope(engine) as session:
            session.execute(text(f"UPDATE api_keys SET last_used_at = '2026-03-02 18:00:00+09:00' WHERE id = {ids[1]}"))
        with session_scope(engine) as session:
            nine = datetime(2026, 3, 2, 18, 0, tzinfo=timezone(timedelta(hours=9)))
            assert q.active_api_keys(session, [ids[1]]) == {ids[1]: nine.astimezone(UTC)}


def test_events_inserted_once_per_key_the_first_copy_winning(store_url: str) -> None:
    """Keys are (source, message id): a second copy in the same call is dropped (the first
    wins), the same id from another source is another event, and the rows after a copy are
    still stored; a later call answers only its new keys."""
    engine = make_engine(store_url)
    (a,) = _accounts(engine, 1)
    t = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)

    def row(source: str, mid: str, event: str) -> tuple[Any, ...]:
        return (source, mid, a, None, None, event, t, t, {"n": event})

    with session_scope(engine) as session:
        new = q.insert_events(session, [row("s", "m1", "first"), row("s", "m1", "second"), row("s2", "m1", "other"),
                                        row("s", "m2", "after")])  # fmt: skip
    assert new == {("s", "m1"), ("s2", "m1"), ("s", "m2")}
    stored = _rows(engine, "SELECT source, message_id, event FROM usage_events ORDER BY source, message_id")
    assert stored == [("s", "m1", "first"), ("s", "m2", "after"), ("s2", "m1", "other")]
    with session_scope(engine) as session:
        assert q.insert_events(session, [row("s", "m2", "again"), row("s", "m3", "new")]) == {("s", "m3")}
        assert q.insert_events(session, []) == set()
    assert _rows(engine, "SELECT count(*) FROM usage_events") == [(4,)]


def test_a_last_use_stored_without_an_offset_is_utc_whatever_the_machine_zone(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("PostgreSQL returns aware times itself")
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        session.add(ApiKey(name="k", prefix="p", key_hash="h", scope=ApiKeyScope.INGEST))
    (key_id,) = (int(r[0]) for r in _rows(engine, "SELECT id FROM api_keys"))
    with session_scope(engine) as session:
        session.execute(text(f"UPDATE api_keys SET last_used_at = '2026-03-02 09:00:00' WHERE id = {key_id}"))
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # a naive time read as local would be 00:00 UTC
    time.tzset()
    try:
        with session_scope(engine) as session:
            assert q.active_api_keys(session, [key_id]) == {key_id: datetime(2026, 3, 2, 9, 0, tzinfo=UTC)}
    finally:
        monkeypatch.undo()
        time.tzset()
