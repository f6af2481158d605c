"""The ingestion store (``services/usage/store.py``) called directly on a tiny SQLite
store, without an app: the order of a request's calls (group, identify, then events),
retried copies stored once (in one transaction and across them), what a group or
identify call changes, why an event waits in the quarantine, how it is attached later,
and the counters of the ingestion page — each value worked out by hand here.
"""

from __future__ import annotations

import importlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from kizuna.db import make_engine, session_scope
from kizuna.db.models import Account
from kizuna.services.usage import RollupConfig, apply_deferred
from kizuna.services.usage.payload import PAGE_EVENT, Message
from kizuna.services.usage.store import Directory, Outcome, attach_parked, count_rejected, store, usage_step

store_module = importlib.import_module("kizuna.services.usage.store")  # the package's `store` is the function
CONFIG = RollupConfig()  # days in Asia/Tokyo, the default mapping ("Signed In" is a login)
WHEN = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 10:30 in Tokyo: the day 2026-03-02
ARRIVED = datetime(2026, 3, 2, 1, 31, 5, tzinfo=UTC)
#: 10:47:12 in Tokyo is 01:47:12 UTC: counters go to the hour 01:00 UTC
NOW = datetime(2026, 3, 2, 10, 47, 12, tzinfo=timezone(timedelta(hours=9)))
HOUR = "2026-03-02 01:00:00.000000"


def msg(kind: str, mid: str, *, user: str | None = None, anon: str | None = None, group: str | None = None,
        event: str | None = None, when: datetime = WHEN, source: str = "web", **payload: Any) -> Message:  # fmt: skip
    if event is None and kind in ("track", "page"):
        event = "Signed In" if kind == "track" else PAGE_EVENT
    return Message(kind, source, mid, user, anon, group, event, when, ARRIVED, payload)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def put(engine: Engine, *requests: list[Message], now: datetime = NOW, **options: Any) -> list[Outcome]:
    with session_scope(engine) as session:
        return store(session, list(requests), CONFIG, now=now, **options)


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def events(engine: Engine) -> list[tuple[Any, ...]]:
    """``(message_id, account, contact, anonymous_id, event)`` of every stored event."""
    return rows(engine, "SELECT e.message_id, a.external_id, c.external_id, e.anonymous_id, e.event "
                        "FROM usage_events e JOIN accounts a ON a.id = e.account_id "
                        "LEFT JOIN contacts c ON c.id = e.contact_id ORDER BY e.message_id")  # fmt: skip


def parked(engine: Engine) -> list[tuple[str, str]]:
    return rows(engine, "SELECT message_id, reason FROM ingest_parked ORDER BY message_id")


def counts(engine: Engine) -> set[tuple[Any, ...]]:
    return set(rows(engine, "SELECT hour, source, outcome, reason, count FROM ingest_counts"))


def daily(engine: Engine) -> dict[tuple[str, str], float]:
    found = rows(engine, "SELECT a.external_id, d.metric, d.value FROM usage_daily d "
                         "JOIN accounts a ON a.id = d.account_id WHERE d.day = '2026-03-02'")  # fmt: skip
    return {(a, m): float(v) for a, m, v in found}


def account(engine: Engine, key: str) -> tuple[Any, ...]:
    return rows(
        engine, f"SELECT name, industry, employee_count, custom_fields FROM accounts WHERE external_id = '{key}'"
    )[0]


def contact(engine: Engine, key: str) -> tuple[Any, ...]:
    return rows(engine, "SELECT c.name, c.email, c.role, a.external_id FROM contacts c "
                        f"JOIN accounts a ON a.id = c.account_id WHERE c.external_id = '{key}'")[0]  # fmt: skip


def test_a_request_stores_its_group_then_identify_then_events_and_a_retry_once(engine: Engine) -> None:
    """A batch sent in the "wrong" order [track, identify, group] is stored whole: the group
    call goes first, the identify next, then the track under its new account and contact.
    A second copy of the track in the same transaction, and the whole batch sent again,
    are duplicates: one event, one login in the rollups."""
    batch = [
        msg("track", "t1", user="U-1", group="ACC-A"),
        msg("identify", "i1", user="U-1", group="ACC-A", name="  Aiko Sato ", email="aiko@example.com", title=" CTO "),
        msg("group", "g1", user="U-1", group="ACC-A", name=" Acme ", industry=" SaaS ", employees=120, id="x",
            plan="pro"),
    ]  # fmt: skip
    again = [msg("track", "t1", user="U-1", group="ACC-A")]
    other = [msg("page", "p1", user="U-1", source="app")]  # a page view, from another source
    outcomes = put(engine, batch, again, [], other)
    assert outcomes == [Outcome(stored=3), Outcome(duplicates=1), Outcome(), Outcome(stored=1)]
    assert account(engine, "ACC-A") == ("Acme", "SaaS", 120, '{"plan": "pro"}')
    assert contact(engine, "U-1") == ("Aiko Sato", "aiko@example.com", "CTO", "ACC-A")
    assert events(engine) == [("p1", "ACC-A", "U-1", None, PAGE_EVENT), ("t1", "ACC-A", "U-1", None, "Signed In")]
    assert daily(engine) == {("ACC-A", "events"): 2.0, ("ACC-A", "logins"): 1.0, ("ACC-A", "active_users"): 1.0}
    assert counts(engine) == {(HOUR, "web", "stored", "", 3), (HOUR, "web", "duplicate", "", 1),
                              (HOUR, "app", "stored", "", 1)}  # fmt: skip
    # the whole batch again, an hour later: the group and identify apply again (nothing
    # changes), the track is a duplicate
    assert put(engine, batch, now=NOW + timedelta(hours=1)) == [Outcome(stored=2, duplicates=1)]
    assert len(events(engine)) == 2
    assert daily(engine)[("ACC-A", "logins")] == 1.0
    later = "2026-03-02 02:00:00.000000"
    assert counts(engine) - {(HOUR, "web", "stored", "", 3), (HOUR, "web", "duplicate", "", 1),
                             (HOUR, "app", "stored", "", 1)} == {(later, "web", "stored", "", 2),
                                                                 (later, "web", "duplicate", "", 1)}  # fmt: skip


def test_a_group_call_changes_only_the_traits_it_gives(engine: Engine) -> None:
    put(engine, [msg("group", "g1", group="ACC-A")])
    assert account(engine, "ACC-A") == ("ACC-A", None, None, "{}")  # no name: the id stands in
    put(engine, [msg("group", "g2", group="ACC-A", name="Acme", industry="SaaS", employees=10, tier="gold",
                     region="east")])  # fmt: skip
    assert account(engine, "ACC-A") == ("Acme", "SaaS", 10, '{"tier": "gold", "region": "east"}')
    # blank or missing traits leave the stored ones; a custom trait is merged into the others
    put(engine, [msg("group", "g3", group="ACC-A", name="  ", industry="", tier="platinum")])
    assert account(engine, "ACC-A") == ("Acme", "SaaS", 10, '{"tier": "platinum", "region": "east"}')
    put(engine, [msg("group", "g4", group="ACC-A", name=7, industry=["x"], employees=None)])
    assert account(engine, "ACC-A") == ("Acme", "SaaS", 10, '{"tier": "platinum", "region": "east"}')
    put(engine, [msg("group", "g5", group="ACC-A", name="Acme KK", industry="Retail", employees=11)])
    assert account(engine, "ACC-A") == ("Acme KK", "Retail", 11, '{"tier": "platinum", "region": "east"}')
    put(engine, [msg("group", "g6", group="ACC-B", name="  ", industry="  ")])
    assert account(engine, "ACC-B") == ("ACC-B", None, None, "{}")


def test_an_identify_creates_updates_or_waits_for_its_account(engine: Engine) -> None:
    put(engine, [msg("group", "g1", group="ACC-A")])
    first = [
        msg("identify", "i1", user="U-1", group="ACC-A", email="u1@example.com"),  # no name: the e-mail stands in
        msg("identify", "i2", user="U-2", group="ACC-A", name=" ", title=" "),  # nothing: the id stands in
        msg("identify", "i3", user="U-3", group="ACC-Z"),  # its account is not known yet
        msg("identify", "i4", user="U-4"),  # no account at all
        msg("identify", "i5", anon="dev-1", group="ACC-A"),  # anonymous: nothing to keep, counted as stored
    ]
    assert put(engine, first) == [Outcome(stored=3, parked=2)]
    assert contact(engine, "U-1") == ("u1@example.com", "u1@example.com", None, "ACC-A")
    assert contact(engine, "U-2") == ("U-2", None, None, "ACC-A")
    assert rows(engine, "SELECT count(*) FROM contacts") == [(2,)]
    assert parked(engine) == [("i3", "unknown_account"), ("i4", "no_account")]
    assert counts(engine) == {(HOUR, "web", "stored", "", 4), (HOUR, "web", "parked", "", 2)}
    # a known contact is updated without naming its account; blank traits keep the stored ones
    assert put(engine, [msg("identify", "i6", user="U-1", name="Ume", email="ume@example.com", title="CEO")]) == [
        Outcome(stored=1)
    ]  # fmt: skip
    assert contact(engine, "U-1") == ("Ume", "ume@example.com", "CEO", "ACC-A")
    put(engine, [msg("identify", "i7", user="U-1", name="", email=None, title=5)])
    assert contact(engine, "U-1") == ("Ume", "ume@example.com", "CEO", "ACC-A")
    put(engine, [msg("identify", "i8", user="U-1", name="Ume S.", email="u@example.com", title="COO")])
    assert contact(engine, "U-1") == ("Ume S.", "u@example.com", "COO", "ACC-A")
    # the same identify parked again is a duplicate, not a second row
    assert put(engine, [msg("identify", "i3", user="U-3", group="ACC-Z")]) == [Outcome(duplicates=1)]


def test_an_event_is_placed_by_its_group_then_its_user_or_waits_with_the_reason(engine: Engine) -> None:
    # U-0 first: the contact ids (U-0 1, U-1 2) are not the account ids (ACC-A 1, ACC-B 2)
    setup = [
        msg("group", "g1", group="ACC-A"),
        msg("group", "g2", group="ACC-B"),
        msg("identify", "i0", user="U-0", group="ACC-B"),
        msg("identify", "i1", user="U-1", group="ACC-A"),
    ]
    assert put(engine, setup) == [Outcome(stored=4)]
    assert rows(engine, "SELECT external_id, id, account_id FROM contacts ORDER BY id") == [
        ("U-0", 1, 2),
        ("U-1", 2, 1),
    ]
    batch = [
        msg("track", "e1", user="U-1"),  # no group: the contact's account
        msg("track", "e2", user="U-1", group="ACC-B"),  # a group names the account, the user the contact
        msg("track", "e3", anon="dev-1", group="ACC-A", event="Report Created"),  # anonymous, with its account
        msg("track", "e4", user="U-1", group="ACC-Z"),  # unknown account
        msg("track", "e5", user="U-9", group="ACC-A"),  # unknown user
        msg("track", "e6", anon="dev-2"),  # neither account nor user
        msg("track", "e7", user="U-9"),  # unknown user, no group
        msg("track", "e8", anon="dev-3", group="ACC-Y"),  # unknown account, no user
    ]
    assert put(engine, batch) == [Outcome(stored=3, parked=5)]
    assert events(engine) == [("e1", "ACC-A", "U-1", None, "Signed In"), ("e2", "ACC-B", "U-1", None, "Signed In"),
                              ("e3", "ACC-A", None, "dev-1", "Report Created")]  # fmt: skip
    assert parked(engine) == [("e4", "unknown_account"), ("e5", "unknown_user"), ("e6", "no_account"),
                              ("e7", "unknown_user"), ("e8", "unknown_account")]  # fmt: skip
    assert daily(engine) == {("ACC-A", "events"): 2.0, ("ACC-A", "logins"): 1.0, ("ACC-A", "active_users"): 2.0,
                             ("ACC-A", "feature.reports"): 1.0, ("ACC-B", "events"): 1.0,
                             ("ACC-B", "logins"): 1.0, ("ACC-B", "active_users"): 1.0}  # fmt: skip
    assert put(engine, batch[:3]) == [Outcome(duplicates=3)]  # sent again


def test_journaled_rollups_wait_for_the_writer_to_apply_them(engine: Engine) -> None:
    """``defer_rollups``: a commit journals its events' sums (the writer applies them later)."""
    put(engine, [msg("group", "g1", group="ACC-A"), msg("track", "j1", anon="d", group="ACC-A")], defer_rollups=True)
    assert daily(engine) == {}
    assert rows(engine, "SELECT count(*) FROM usage_daily_pending") != [(0,)]
    with session_scope(engine) as session:
        apply_deferred(session)
    assert daily(engine) == {("ACC-A", "events"): 1.0, ("ACC-A", "logins"): 1.0, ("ACC-A", "active_users"): 1.0}


def test_parked_messages_are_attached_when_their_account_and_user_appear(engine: Engine) -> None:
    """Events of an unknown account wait; the group call of that account lets in those
    whose user is known (or who have none), the identify it lets in brings the user's
    events in a second round, and the others wait with their new reason. The attached
    events keep what was sent (time, anonymous id, event, properties)."""
    waiting = [
        msg("track", "w1", anon="dev-1", group="ACC-Z", event="Report Created", when=WHEN - timedelta(days=1)),
        msg("track", "w2", user="U-9", group="ACC-Z"),  # its user waits too
        msg("identify", "w3", user="U-9", group="ACC-Z", name="Nine"),
        msg("track", "w4", user="U-8", group="ACC-Z"),  # a user no identify names
        msg("track", "w5", user="U-9", group="ACC-Q"),  # another account
    ]
    assert put(engine, waiting) == [Outcome(parked=5)]
    assert put(engine, waiting[:2]) == [Outcome(duplicates=2)]  # a retry of parked events
    # two copies of a new one in one request: parked once; counters add up over requests
    assert put(engine, [msg("track", "w6", user="U-8"), msg("track", "w6", user="U-8")], [waiting[0]]) == [
        Outcome(parked=1, duplicates=1), Outcome(duplicates=1)
    ]  # fmt: skip
    assert counts(engine) == {(HOUR, "web", "parked", "", 6), (HOUR, "web", "duplicate", "", 4)}
    outcomes = put(engine, [msg("track", "n1", anon="dev-5", group="ACC-Q")], [msg("group", "g1", group="ACC-Z")])
    assert outcomes == [Outcome(parked=1, attached=3), Outcome(stored=1)]  # attached: on the first request
    assert parked(engine) == [("n1", "unknown_account"), ("w4", "unknown_user"), ("w5", "unknown_account"),
                              ("w6", "unknown_user")]  # fmt: skip
    assert contact(engine, "U-9") == ("Nine", None, None, "ACC-Z")
    assert events(engine) == [
        ("w1", "ACC-Z", None, "dev-1", "Report Created"),
        ("w2", "ACC-Z", "U-9", None, "Signed In"),
    ]
    assert rows(engine, "SELECT timestamp, received_at, properties FROM usage_events WHERE message_id = 'w1'") == [
        ("2026-03-01 01:30:00.000000", "2026-03-02 01:31:05.000000", "{}")
    ]  # fmt: skip
    assert daily(engine) == {("ACC-Z", "events"): 1.0, ("ACC-Z", "logins"): 1.0, ("ACC-Z", "active_users"): 1.0}
    assert (HOUR, "web", "attached", "", 3) in counts(engine)


def test_an_identify_attached_lets_in_its_users_earlier_events(engine: Engine) -> None:
    """An event of U-9 parked before U-9's identify (whose account was unknown): when the
    account comes, the identify is attached, then in a second round the earlier event."""
    put(engine, [msg("track", "x1", user="U-9")])  # no group, unknown user
    put(engine, [msg("identify", "x2", user="U-9", group="ACC-Z")])
    assert parked(engine) == [("x1", "unknown_user"), ("x2", "unknown_account")]
    assert put(engine, [msg("group", "g1", group="ACC-Z")]) == [Outcome(stored=1, attached=2)]
    assert events(engine) == [("x1", "ACC-Z", "U-9", None, "Signed In")]
    assert parked(engine) == []


def test_an_event_of_an_unknown_user_is_attached_by_the_users_identify(engine: Engine) -> None:
    put(engine, [msg("group", "g1", group="ACC-A")])
    assert put(engine, [msg("track", "u1", user="U-7", group="ACC-A")]) == [Outcome(parked=1)]
    assert put(engine, [msg("identify", "i1", user="U-7", group="ACC-A")]) == [Outcome(stored=1, attached=1)]
    assert events(engine) == [("u1", "ACC-A", "U-7", None, "Signed In")]
    assert parked(engine) == []


def test_attach_parked_by_account_then_everything_and_the_usage_step(engine: Engine) -> None:
    put(engine, [msg("track", "a1", anon="d", group="ACC-X", plan="pro"),
                 msg("track", "a2", anon="d", group="ACC-Y"), msg("track", "a3", anon="d", group="ACC-Y")])  # fmt: skip
    with session_scope(engine) as session:  # accounts that come from an import, not a group call
        session.add_all([Account(external_id="ACC-X", name="X"), Account(external_id="ACC-Y", name="Y")])
    with session_scope(engine) as session:
        assert attach_parked(session, CONFIG, group_ids=["ACC-W"], now=NOW) == 0
        assert attach_parked(session, CONFIG, group_ids=["ACC-Y"], now=NOW) == 2
    assert parked(engine) == [("a1", "unknown_account")]
    assert counts(engine) == {(HOUR, "web", "parked", "", 3), (HOUR, "", "attached", "", 2)}
    with session_scope(engine) as session:  # an imported event, not rolled up yet, on another day
        session.execute(text(
            "INSERT INTO usage_events (source, message_id, account_id, anonymous_id, event, timestamp, received_at, "
            "properties, rolled_up) SELECT 'import', 'imp-1', id, 'd', 'Signed In', '2026-03-05 01:00:00.000000', "
            "'2026-03-05 01:00:00.000000', '{}', 0 FROM accounts WHERE external_id = 'ACC-Y'"
        ))  # fmt: skip
    with session_scope(engine) as session:
        # the pipeline: the one parked event that can now be placed, and the imported one rolled up
        assert usage_step(session, date(2026, 3, 5), CONFIG) == 2
    assert parked(engine) == []
    assert [e[:2] for e in events(engine)] == [("a1", "ACC-X"), ("a2", "ACC-Y"), ("a3", "ACC-Y"), ("imp-1", "ACC-Y")]
    assert rows(engine, "SELECT properties FROM usage_events WHERE message_id = 'a1'") == [('{"plan":"pro"}',)]
    assert daily(engine)[("ACC-Y", "events")] == 2.0
    before = counts(engine)
    assert sum(n for *_k, n in before) == 6  # and the usage step's 1 attached, in the hour it ran
    with session_scope(engine) as session:
        assert attach_parked(session, CONFIG, now=NOW) == 0  # nothing left: no counter row either
    assert counts(engine) == before


def test_everything_is_attached_page_by_page(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """More parked messages than a page (5,000; here 2): all are attached, a page at a
    time, also past ten pages (it stopped at ten: 50,000 messages a run)."""
    monkeypatch.setattr(store_module, "ATTACH_PAGE", 2)
    put(engine, [msg("track", f"m{i:02}", anon="d", group="ACC-P") for i in range(23)])
    put(engine, [msg("track", f"q{i}", anon="d", group="ACC-Q") for i in range(2)])
    with session_scope(engine) as session:
        session.add(Account(external_id="ACC-P", name="P"))
    with session_scope(engine) as session:
        assert attach_parked(session, CONFIG, now=NOW) == 23
    assert parked(engine) == [("q0", "unknown_account"), ("q1", "unknown_account")]
    assert daily(engine)[("ACC-P", "events")] == 23.0
    with session_scope(engine) as session:
        session.add(Account(external_id="ACC-Q", name="Q"))
    with session_scope(engine) as session:
        assert attach_parked(session, CONFIG, now=NOW) == 2
    assert parked(engine) == []


def test_rejected_messages_are_counted_by_source_and_code_in_the_hour(engine: Engine) -> None:
    with session_scope(engine) as session:
        count_rejected(
            session, Counter({("web", "invalid_event"): 2, ("app", "too_large"): 1, ("web", "x"): 0}), now=NOW
        )
        count_rejected(session, Counter({("web", "invalid_event"): 1}), now=NOW + timedelta(minutes=12))
    assert counts(engine) == {(HOUR, "web", "rejected", "invalid_event", 3), (HOUR, "app", "rejected", "too_large", 1)}


def test_outcomes_add_up() -> None:
    total = Outcome(stored=1, duplicates=2, parked=3, attached=4)
    total.add(Outcome(stored=10, duplicates=20, parked=30, attached=40))
    assert total == Outcome(stored=11, duplicates=22, parked=33, attached=44)


def test_the_counters_hour_is_the_utc_hour_whatever_the_servers_zone(engine: Engine) -> None:
    """Truncated in UTC, not in the server's zone (India's +05:30 would start hours at :30)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        with session_scope(engine) as session:
            count_rejected(session, Counter({("web", "x"): 1}), now=datetime(2026, 3, 2, 1, 47, 12, 345678, tzinfo=UTC))
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    assert counts(engine) == {(HOUR, "web", "rejected", "x", 1)}


def test_the_directory_remembers_accounts_and_contacts_until_cleared(engine: Engine) -> None:
    directory = Directory()
    put(engine, [msg("group", "g1", group="ACC-A"), msg("identify", "i1", user="U-1", group="ACC-A")],
        directory=directory)  # fmt: skip
    ids = rows(engine, "SELECT a.id, c.id FROM accounts a JOIN contacts c ON c.account_id = a.id")[0]
    assert directory.accounts == {"ACC-A": ids[0]}
    assert directory.contacts == {"U-1": (ids[1], ids[0])}
    put(engine, [msg("track", "t1", user="U-1")], directory=directory)
    assert directory.users.known == set()  # only committed triples: the writer commits them
    assert directory.users.pending == {(ids[0], date(2026, 3, 2), f"c:{ids[1]}")}
    directory.users.commit()
    directory.clear()
    assert (directory.accounts, directory.contacts, directory.users.known) == ({}, {}, set())


def test_a_retry_in_a_later_commit_is_a_duplicate_from_the_writers_memory(engine: Engine) -> None:
    """The writer remembers the keys of the events it committed (``Directory.events``): a
    copy sent again in a later commit is a duplicate without being looked up. Shown by
    taking the stored row away behind the writer's back: with the memory the copy is still
    a duplicate (nothing stored, nothing rolled up), without it the store takes it anew."""
    directory = Directory()
    first = [msg("group", "g1", group="ACC-A"), msg("identify", "i1", user="U-1", group="ACC-A"),
             msg("track", "t0", user="U-1"), msg("track", "t1", user="U-1")]  # fmt: skip
    assert put(engine, first, directory=directory) == [Outcome(stored=4)]
    assert (directory.events.pending, directory.events.known) == ([("web", "t0"), ("web", "t1")], set())  # not committed yet
    directory.commit()
    assert (directory.events.pending, directory.events.known) == ([], {("web", "t0"), ("web", "t1")})
    with session_scope(engine) as session:
        session.execute(text("DELETE FROM usage_events"))
    retry = [msg("track", "t1", user="U-1"), msg("track", "t2", user="U-1"), msg("track", "t0", user="U-1")]
    assert put(engine, retry, directory=directory) == [Outcome(stored=1, duplicates=2)]
    assert events(engine) == [("t2", "ACC-A", "U-1", None, "Signed In")]
    assert daily(engine)[("ACC-A", "events")] == 3.0  # t0 and t1 once (before), t2: the duplicates add nothing
    assert counts(engine) == {(HOUR, "web", "stored", "", 5), (HOUR, "web", "duplicate", "", 2)}
    assert directory.events.pending == [("web", "t2")]
    directory.clear()  # what the writer does on an error: the memory starts again empty
    assert (directory.events.pending, directory.events.known) == ([], set())
    assert put(engine, [msg("track", "t1", user="U-1")], directory=directory) == [Outcome(stored=1)]


def test_the_writers_memory_of_keys_starts_again_when_full() -> None:
    memory = store_module.StoredKeys(limit=3)
    memory.pending = [("web", "a"), ("web", "b")]
    memory.commit()
    memory.pending = [("web", "c")]
    memory.commit()  # 3 keys: at the limit, all kept
    assert memory.known == {("web", "a"), ("web", "b"), ("web", "c")}
    memory.pending = [("web", "d")]
    memory.commit()  # a fourth: the older ones are forgotten (a retry of them is looked up in the store)
    assert (memory.known, memory.pending) == ({("web", "d")}, [])
    assert store_module.StoredKeys().limit == 100_000
