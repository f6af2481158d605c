"""Daily usage rollups: what ingestion adds incrementally is exactly what
``kizuna usage rebuild`` recomputes from the raw events — with late and out-of-order
events, retries, several users and anonymous ones — and a rebuild leaves the days that
have no raw events (history loaded as rollups) alone.
"""

from __future__ import annotations

import base64
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.demo import generate_demo
from kizuna.main import create_app
from kizuna.services import usage
from kizuna.services.pipeline import STEPS, step_named
from kizuna.services.usage.store import usage_step
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import make_api_key

AS_OF = date(2025, 3, 31)
EVENTS = ["Signed In", "Report Created", "Dashboard Viewed", "Workflow Run", "Invite Sent", "Something Else"]


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def table(engine: Any, name: str = "usage_daily") -> list[tuple[Any, ...]]:
    order = {"usage_daily": "account_id, day, metric", "usage_daily_users": "account_id, day, user_key"}[name]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {name} ORDER BY {order}"))]


def deferred_rows(engine: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT (SELECT count(*) FROM usage_daily_pending) "
                                     "+ (SELECT count(*) FROM usage_daily_users_pending)")).scalar())  # fmt: skip


def rebuild_all(engine: Any, **options: Any) -> usage.RebuildSummary:
    with session_scope(engine) as session:
        return usage.rebuild(session, usage.RollupConfig(), **options)


def random_events(
    rng: random.Random, n: int, accounts: list[str], users: list[str], start: datetime
) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        when = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 6))  # six days, across midnights (JST)
        event: dict[str, Any] = {"type": rng.choice(["track", "track", "track", "page"]),
                                 "messageId": f"r-{i}", "timestamp": when.isoformat(),
                                 "context": {"groupId": rng.choice(accounts)}}  # fmt: skip
        if rng.random() < 0.2:
            event["anonymousId"] = f"anon-{rng.randrange(5)}"
        else:
            event["userId"] = rng.choice(users)
        if event["type"] == "track":
            event["event"] = rng.choice(EVENTS)
            if event["event"] == "Signed In":
                event["properties"] = {"session_minutes": rng.choice([0.5, 3, 12.25, 1 / 3, "n/a", 47.1])}
        out.append(event)
    return out


@pytest.mark.parametrize("defer_rate", [0, 1], ids=["in-each-commit", "journaled"])
def test_incremental_rollups_equal_a_rebuild_with_late_events_and_retries(store_url: str, defer_rate: int) -> None:
    """Also with the writer journaling its sums (as under load: here from the second
    commit of each second on), a rebuild in the middle included: same figures."""
    app = create_app(Settings(database_url=store_url, rollup_defer_rate=defer_rate))
    app.state.ingest.writer.apply_every = 3600  # only the rebuild below and the writer's stop apply them
    key = make_api_key(app, "ingest")
    engine = app.state.kizuna.engine
    rng = random.Random(4)
    accounts = ["ACC-A", "ACC-B", "ACC-C"]
    users = [f"U-{i}" for i in range(8)]
    events = random_events(rng, 600, accounts, users, datetime(2026, 3, 1, 12, tzinfo=UTC))
    with TestClient(app) as client:
        for account in accounts:
            client.post("/v1/group", headers=basic(key), json={"userId": "U-0", "groupId": account})
        for i, user in enumerate(users[:-1]):  # U-7 is never identified: its events wait
            client.post("/v1/identify", headers=basic(key),
                        json={"userId": user, "context": {"groupId": accounts[i % 3]}})  # fmt: skip
        rng.shuffle(events)  # out of order: late events land on days already rolled up
        batches = [events[i : i + 50] for i in range(0, len(events), 50)]
        for i, b in enumerate(batches + rng.sample(batches, 4)):  # some batches retried
            r = client.post("/v1/batch", headers=basic(key), json={"batch": b})
            assert r.status_code == 200, r.text
            if i == len(batches) // 2 and defer_rate:
                assert deferred_rows(engine) > 0, "the last commits' sums wait in the journals"
                rebuild_all(engine)  # applies them first: nothing counted twice
                assert deferred_rows(engine) == 0
        writer = app.state.ingest.writer
    assert (writer.deferred_commits > 0) == bool(defer_rate)
    assert deferred_rows(engine) == 0, "the writer applies the journals when it stops"
    incremental = table(engine)
    users_incremental = table(engine, "usage_daily_users")
    assert incremental, "events were rolled up"
    result = rebuild_all(engine)
    assert table(engine) == incremental
    assert table(engine, "usage_daily_users") == users_incremental
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM usage_events")).scalar()
        parked = conn.execute(text("SELECT count(*) FROM ingest_parked")).scalar()
    assert stored + parked == len(events)
    assert result.events == stored
    engine.dispose()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    with session_scope(engine) as session:
        generate_demo(session, accounts=40, months=3, seed=11, as_of=AS_OF)
    engine.dispose()
    return path


def _copy(demo_db: Path, tmp_path: Path) -> str:
    target = tmp_path / "demo.db"
    target.write_bytes(demo_db.read_bytes())
    return f"sqlite:///{target}"


def test_rebuild_on_the_demo_changes_nothing(demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    url = _copy(demo_db, tmp_path)
    engine = make_engine(url)
    before = table(engine)
    with engine.connect() as conn:
        days_with_events = conn.execute(text("SELECT count(*) FROM usage_events")).scalar()
    assert days_with_events
    assert len(before) > 1000
    monkeypatch.setenv("KIZUNA_DATABASE_URL", url)
    result = run_cli(capsys, "usage", "rebuild")
    assert result.code == 0
    assert "Rebuilt" in result.out
    assert table(engine) == before
    with session_scope(engine) as session:  # the daily pipeline's usage step: nothing pending any more
        assert usage.roll_up_pending(session, usage.RollupConfig()) == 0
    assert run_cli(capsys, "usage", "rebuild", "--since", "2025-03-25").code == 0
    assert run_cli(capsys, "usage", "rebuild", "--account", "ACC-000003").code == 0
    assert table(engine) == before
    missing = run_cli(capsys, "usage", "rebuild", "--account", "NOPE")
    assert missing.code == 1
    assert "no account with external_id 'NOPE'" in missing.err
    engine.dispose()


def test_the_usage_step_runs_before_anything_reads_usage() -> None:
    names = [step.key for step in STEPS]
    assert names.index("usage") < names.index("summaries")
    assert "usage" in step_named("health").after


def test_the_pipeline_rolls_up_generated_events_and_api_events_then_match_a_rebuild(
    demo_db: Path, tmp_path: Path
) -> None:
    url = _copy(demo_db, tmp_path)
    engine = make_engine(url)
    before = table(engine)
    with engine.connect() as conn:
        pending = conn.execute(text("SELECT count(*) FROM usage_events WHERE NOT rolled_up")).scalar()
        contacts = [tuple(r) for r in conn.execute(text(
            "SELECT c.external_id, a.external_id FROM contacts c JOIN accounts a ON a.id = c.account_id "
            "WHERE a.id IN (SELECT account_id FROM usage_events) ORDER BY c.id LIMIT 20"))]  # fmt: skip
    assert pending  # generated events wait for the pipeline
    app = create_app(Settings(database_url=url))
    key = make_api_key(app, "ingest")
    rng = random.Random(9)
    batch = []
    for i in range(200):  # into the demo's last days, some of which still have pending events
        user, account = rng.choice(contacts)
        when = datetime(2025, 3, 31, 0, tzinfo=UTC) - timedelta(minutes=rng.randrange(0, 60 * 24 * 4))
        batch.append({"type": "track", "userId": user, "context": {"groupId": account}, "messageId": f"api-{i}",
                      "event": rng.choice(EVENTS), "timestamp": when.isoformat(),
                      "properties": {"session_minutes": 5}})  # fmt: skip
    with TestClient(app) as client:
        assert client.post("/v1/batch", headers=basic(key), json={"batch": batch[:100]}).status_code == 200
        with session_scope(engine) as session:
            assert usage_step(session, AS_OF, usage.RollupConfig()) > 0  # the daily pipeline's usage step
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM usage_events WHERE NOT rolled_up")).scalar() == 0
        assert client.post("/v1/batch", headers=basic(key), json={"batch": batch[100:]}).status_code == 200
        assert client.post("/v1/batch", headers=basic(key), json={"batch": batch}).json()["duplicates"] == 200
    incremental = table(engine)
    assert incremental != before
    rebuild_all(engine)
    assert table(engine) == incremental
    app.state.kizuna.engine.dispose()
    engine.dispose()


def test_sums_a_killed_server_left_in_the_journals_are_applied_when_the_writer_starts(store_url: str) -> None:
    """A commit that journaled its sums is durable like the events: a server killed before
    applying them applies them when it starts again; those of an account deleted
    meanwhile go with it."""
    from kizuna.db.models import Account
    from kizuna.services.usage.payload import read_request
    from kizuna.services.usage.store import store

    app = create_app(Settings(database_url=store_url))
    key = make_api_key(app, "ingest")
    engine = app.state.kizuna.engine
    with TestClient(app) as client:
        for account, user in (("ACC-A", "U-1"), ("ACC-B", "U-2")):
            assert client.post("/v1/group", headers=basic(key), json={"userId": user, "groupId": account}).status_code == 200
            assert client.post("/v1/identify", headers=basic(key),
                               json={"userId": user, "context": {"groupId": account}}).status_code == 200  # fmt: skip
    start = datetime(2026, 3, 2, 1, tzinfo=UTC)
    batch = [{"type": "track", "userId": "U-1" if i % 3 else "U-2", "event": "Signed In", "messageId": f"k-{i}",
              "timestamp": (start + timedelta(minutes=i)).isoformat(), "properties": {"session_minutes": 2}}
             for i in range(30)]  # fmt: skip
    config = usage.RollupConfig()
    messages, problems = read_request("batch", {"batch": batch}, source="test", received_at=start, zone=config.zone)
    assert not problems
    with session_scope(engine) as session:  # the commit of a writer under load, then the kill
        store(session, [messages], config, defer_rollups=True)
    assert table(engine) == []
    assert deferred_rows(engine) > 0
    with session_scope(engine) as session:
        session.delete(session.query(Account).filter_by(external_id="ACC-B").one())
    app = create_app(Settings(database_url=store_url))  # the server starts again
    with TestClient(app) as client:
        late = {"userId": "U-1", "event": "Signed In", "messageId": "k-late", "timestamp": start.isoformat()}
        assert client.post("/v1/track", headers=basic(key), json=late).json()["stored"] == 1
    assert deferred_rows(engine) == 0
    figures = {(metric, value) for _a, _d, metric, value in table(engine)}
    assert figures == {("events", 21.0), ("logins", 21.0), ("session_minutes", 40.0), ("active_users", 1.0)}
    applied = table(engine)
    rebuild_all(engine)
    assert table(engine) == applied
    app.state.kizuna.engine.dispose()


def test_deleting_a_contact_keeps_who_sent_its_events(store_url: str) -> None:
    """An event's contact is history: deleting the contact leaves the events and the
    active users of their days as they were, also through a rebuild."""
    app = create_app(Settings(database_url=store_url))
    key, writer = make_api_key(app, "ingest"), make_api_key(app, "write")
    engine = app.state.kizuna.engine
    with TestClient(app) as client:
        client.post("/v1/group", headers=basic(key), json={"userId": "U-1", "groupId": "ACC-A"})
        for user in ("U-1", "U-2"):
            client.post("/v1/identify", headers=basic(key), json={"userId": user, "context": {"groupId": "ACC-A"}})
        for i, user in enumerate(["U-1", "U-2", "U-1"]):
            r = client.post("/v1/track", headers=basic(key), json={"userId": user, "event": "Report Created",
                            "messageId": f"d-{i}", "timestamp": "2026-03-02T01:00:00Z"})  # fmt: skip
            assert r.json()["stored"] == 1
        with engine.connect() as conn:
            gone = conn.execute(text("SELECT id FROM contacts WHERE external_id = 'U-1'")).scalar()
        r = client.delete(f"/api/contacts/{gone}", headers={"Authorization": f"Bearer {writer}"})
        assert r.status_code == 204, r.text
    with engine.connect() as conn:
        senders = sorted(r[0] for r in conn.execute(text("SELECT contact_id FROM usage_events")))
    assert senders.count(gone) == 2
    before = table(engine)
    assert ("active_users", 2.0) in {(m, v) for _a, _d, m, v in before}
    rebuild_all(engine)
    assert table(engine) == before
    app.state.kizuna.engine.dispose()


def test_applying_the_journals_adds_their_sums_and_new_users_once(store_url: str) -> None:
    """``apply_deferred`` on each backend (PostgreSQL does it in one statement on the server):
    journal rows summed per key and added to what is there, a user new to the day adds 1 to
    ``active_users`` (one already known, or journaled twice, adds nothing), rows of an account
    that no longer exists are dropped, the journals end empty; the count is of journal rows
    summed per key plus distinct users."""
    from kizuna.db.models import Account

    engine = make_engine(store_url)
    with session_scope(engine) as session:
        session.add(Account(external_id="ACC-A", name="A"))
    with session_scope(engine) as session:
        a = session.execute(text("SELECT id FROM accounts WHERE external_id = 'ACC-A'")).scalar_one()
        gone = a + 1000  # deleted since its events were journaled
        session.execute(text(f"INSERT INTO usage_daily (account_id, day, metric, value) VALUES ({a}, '2026-03-02', 'events', 5)"))
        session.execute(text(f"INSERT INTO usage_daily_users (account_id, day, user_key) VALUES ({a}, '2026-03-02', 'c:1')"))
        for account, metric, value in ((a, "events", 2.0), (a, "events", 1.0), (a, "logins", 1.0), (gone, "events", 4.0)):
            session.execute(text("INSERT INTO usage_daily_pending (account_id, day, metric, value) "
                                 f"VALUES ({account}, '2026-03-02', '{metric}', {value})"))  # fmt: skip
        for account, user in ((a, "c:1"), (a, "c:2"), (a, "c:2"), (a, "a:x"), (gone, "c:9")):
            session.execute(text("INSERT INTO usage_daily_users_pending (account_id, day, user_key) "
                                 f"VALUES ({account}, '2026-03-02', '{user}')"))  # fmt: skip
    with session_scope(engine) as session:
        assert usage.apply_deferred(session) == 2 + 3  # (events, logins) of ACC-A; c:1, c:2, a:x
    assert {(m, v) for _a, _d, m, v in table(engine)} == {("events", 8.0), ("logins", 1.0), ("active_users", 2.0)}
    assert sorted(u for _a, _d, u in table(engine, "usage_daily_users")) == ["a:x", "c:1", "c:2"]
    assert deferred_rows(engine) == 0
    with session_scope(engine) as session:
        assert usage.apply_deferred(session) == 0
    engine.dispose()
