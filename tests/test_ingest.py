"""The tracking API (``/v1/…``, Segment's HTTP Tracking API): what a Segment-style
client sees — stored events, retries that count once, bad events reported by index and
field, limits, keys — and what a CS team sees: the account's usage chart moves, events
for unknown accounts wait in the quarantine and are attached when the account appears.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.errors import ConfigurationError
from kizuna.services import usage
from kizuna.services.usage.payload import read_message
from tests.cli import run_cli
from tests.conftest import make_api_key

NOW = datetime.now(UTC).replace(microsecond=0)


def basic(key: str) -> dict[str, str]:
    """Segment's write-key convention: the key as the Basic user name, no password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def key(app: FastAPI) -> str:
    return make_api_key(app, "ingest")


def rows(app: FastAPI, sql: str) -> list[tuple[Any, ...]]:
    with app.state.kizuna.unit_of_work() as session:
        return [tuple(r) for r in session.execute(text(sql))]


def rollups(app: FastAPI) -> dict[tuple[str, str, str], float]:
    """The whole usage_daily table as ``{(account external_id, day, metric): value}``."""
    found = rows(
        app,
        "SELECT a.external_id, d.day, d.metric, d.value FROM usage_daily d JOIN accounts a ON a.id = d.account_id",
    )
    return {(a, str(d), m): float(v) for a, d, m, v in found}


def track(event: str, message_id: str, *, user: str = "U-1", group: str | None = "ACC-1", when: datetime = NOW,
          **properties: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"type": "track", "userId": user, "event": event, "messageId": message_id,
                            "timestamp": when.isoformat(), "properties": properties}  # fmt: skip
    if group is not None:
        body["context"] = {"groupId": group}
    return body


def setup_account(client: TestClient, key: str, account: str = "ACC-1", user: str = "U-1") -> None:
    r = client.post("/v1/group", headers=basic(key), json={"userId": user, "groupId": account,
                    "traits": {"name": "株式会社テスト", "industry": "製造", "employees": 120, "plan": "pro"}})  # fmt: skip
    assert r.status_code == 200, r.text
    r = client.post("/v1/identify", headers=basic(key), json={"userId": user, "context": {"groupId": account},
                    "traits": {"name": "山田 花子", "email": "hanako@example.co.jp", "title": "部長"}})  # fmt: skip
    assert r.status_code == 200, r.text


def test_a_segment_client_moves_the_account_usage_chart(client: TestClient, app: FastAPI, key: str) -> None:
    setup_account(client, key)
    account = rows(app, "SELECT id, name, industry, employee_count, custom_fields FROM accounts")
    assert [a[1:4] for a in account] == [("株式会社テスト", "製造", 120)]
    assert "pro" in str(account[0][4])
    assert rows(app, "SELECT external_id, name, email, role FROM contacts") == [
        ("U-1", "山田 花子", "hanako@example.co.jp", "部長")
    ]
    batch = {"batch": [track("Signed In", "m1", session_minutes=30), track("Report Created", "m2"),
                       {**track("Signed In", "m3", user="U-1"), "anonymousId": "dev-1"}]}  # fmt: skip
    r = client.post("/v1/batch", headers=basic(key), json=batch)
    assert r.status_code == 200
    assert r.json() == {"success": True, "stored": 3, "duplicates": 0, "parked": 0}
    reader = make_api_key(app, "read")
    page = client.get(f"/api/accounts/{account[0][0]}/360", headers={"Authorization": f"Bearer {reader}"})
    series = page.json()["usage"]["series"]
    assert series["logins"][-1] == 2
    assert series["active_users"][-1] == 1
    day = str(NOW.astimezone(usage.DEFAULT_ZONE).date())
    assert rollups(app) == {
        ("ACC-1", day, "events"): 3.0, ("ACC-1", day, "logins"): 2.0, ("ACC-1", day, "session_minutes"): 30.0,
        ("ACC-1", day, "active_users"): 1.0, ("ACC-1", day, "feature.reports"): 1.0,
    }  # fmt: skip


def test_a_retried_batch_stores_nothing_twice_and_answers_success(client: TestClient, app: FastAPI, key: str) -> None:
    setup_account(client, key)
    batch = {"batch": [track("Signed In", f"m{i}", session_minutes=5) for i in range(20)]}
    first = client.post("/v1/batch", headers=basic(key), json=batch)
    before = rollups(app)
    again = client.post("/v1/batch", headers=basic(key), json=batch)
    single = client.post("/v1/track", headers=basic(key), json=batch["batch"][0])
    assert first.json()["stored"] == 20
    assert again.status_code == 200
    assert again.json() == {"success": True, "stored": 0, "duplicates": 20, "parked": 0}
    assert single.status_code == 200
    assert single.json()["duplicates"] == 1
    assert rollups(app) == before
    assert rows(app, "SELECT count(*) FROM usage_events") == [(20,)]
    # the same messageId twice in one batch is one event
    twice = client.post(
        "/v1/batch", headers=basic(key), json={"batch": [track("Signed In", "x"), track("Signed In", "x")]}
    )
    assert twice.json() == {"success": True, "stored": 1, "duplicates": 1, "parked": 0}


def test_bad_events_are_reported_by_index_and_field_and_good_ones_stored(
    client: TestClient, app: FastAPI, key: str
) -> None:
    setup_account(client, key)
    batch = {"batch": [
        track("Signed In", "ok-1"),
        {**track("Signed In", "bad-1"), "timestamp": "yesterday"},
        {"type": "track", "messageId": "bad-2", "event": "Signed In"},
        {**track("Signed In", "bad-3"), "event": ""},
        {"type": "alias", "userId": "U-1", "previousId": "x"},
        {**track("Signed In", "bad-4"), "properties": [1, 2]},
        {**track("Signed In", "bad-5"), "timestamp": "1999-12-31T00:00:00Z"},
        "not an object",
        track("Report Created", "ok-2"),
    ]}  # fmt: skip
    r = client.post("/v1/batch", headers=basic(key), json=batch)
    assert r.status_code == 400
    body = r.json()
    assert (body["stored"], body["rejected"]) == (2, 7)
    assert [(e["code"], e["field"]) for e in body["errors"]] == [
        ("invalid_timestamp", "batch[1].timestamp"),
        ("missing_user", "batch[2].userId"),
        ("missing_event", "batch[3].event"),
        ("unsupported_type", "batch[4].type"),
        ("invalid_value", "batch[5].properties"),
        ("timestamp_out_of_range", "batch[6].timestamp"),
        ("invalid_event", "batch[7]"),
    ]
    assert sorted(r[0] for r in rows(app, "SELECT message_id FROM usage_events")) == ["ok-1", "ok-2"]
    # what Segment's and RudderStack's libraries read: a top-level code and message
    assert body["success"] is False
    assert body["code"] == "invalid_timestamp"
    assert body["message"] == "batch[1].timestamp: not an ISO 8601 date and time: 'yesterday' (and 6 more errors)"
    bad_group = client.post("/v1/group", headers=basic(key), json={"userId": "U-1", "groupId": "ACC-2",
                            "traits": {"employees": "many"}})  # fmt: skip
    assert bad_group.status_code == 400
    assert bad_group.json()["errors"][0]["field"] == "traits.employees"
    bad_email = client.post("/v1/identify", headers=basic(key), json={"userId": "U-9", "traits": {"email": "nope"}})
    assert bad_email.json()["errors"][0]["field"] == "traits.email"
    assert rows(app, "SELECT count(*) FROM accounts") == [(1,)]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{not json", "malformed_json", None),
        (b"[1, 2]", "invalid_event", None),
        (b'{"batch": {"a": 1}}', "missing_batch", "batch"),
        (b'{"batch": [], "sentAt": 12}', "invalid_timestamp", "sentAt"),
    ],
)
def test_unreadable_requests_are_400_with_the_error_shape(
    client: TestClient, key: str, body: bytes, code: str, field: str | None
) -> None:
    r = client.post("/v1/batch", headers={**basic(key), "Content-Type": "application/json"}, content=body)
    assert r.status_code == 400
    assert [(e["code"], e["field"]) for e in r.json()["errors"]] == [(code, field)]
    assert (r.json()["success"], r.json()["code"]) == (False, code)


def deep_json(body: Any) -> bytes:
    """``body`` as JSON text, each string ``@DEEP<n>@`` replaced by an object nested n levels deep
    (written as text: no JSON library here writes that deep)."""
    text = json.dumps(body)
    for depth in {int(d) for d in re.findall(r'"@DEEP(\d+)@"', text)}:
        text = text.replace(f'"@DEEP{depth}@"', '{"a":' * depth + '"bottom"' + "}" * depth)
    return text.encode()


def test_deeply_nested_events_are_refused_one_by_one_never_500(client: TestClient, app: FastAPI, key: str) -> None:
    setup_account(client, key)
    batch = {"batch": [track("Signed In", "flat-1"), track("Signed In", "deep", deep="@DEEP400@"),
                       track("Signed In", "flat-2"), track("Signed In", "deep-ok", deep="@DEEP200@")]}  # fmt: skip
    r = client.post("/v1/batch", headers=basic(key), content=deep_json(batch))
    assert r.status_code == 400, r.text
    assert [(e["code"], e["field"]) for e in r.json()["errors"]] == [("too_deep", "batch[1]")]
    assert r.json()["message"] == "batch[1]: the event is nested more than 254 levels deep"
    assert sorted(m for (m,) in rows(app, "SELECT message_id FROM usage_events")) == ["deep-ok", "flat-1", "flat-2"]
    one = client.post("/v1/track", headers=basic(key), content=deep_json(track("Signed In", "d1", deep="@DEEP300@")))
    assert (one.status_code, one.json()["code"]) == (400, "too_deep")
    # deeper than the JSON parser goes: the request as a whole, still a clear 400
    r = client.post("/v1/batch", headers=basic(key), content=deep_json({"batch": [track("Signed In", "d2",
                                                                                       deep="@DEEP1500@")]}))  # fmt: skip
    assert (r.status_code, r.json()["code"]) == (400, "too_deep")


def test_dates_outside_the_accepted_range_reject_their_event_by_field(
    client: TestClient, app: FastAPI, key: str
) -> None:
    setup_account(client, key)
    batch = {"batch": [
        track("Signed In", "ok"),
        {**track("Signed In", "t"), "timestamp": "0001-01-01T00:00:00+09:00"},
        {**track("Signed In", "s"), "sentAt": "9999-12-31T23:59:59Z"},
        {**track("Signed In", "o"), "originalTimestamp": "2201-01-01T00:00:00Z"},
        {**track("Signed In", "r"), "receivedAt": "1899-12-31T23:00:00Z"},
        # both in range, but the skew correction lands three centuries back: refused, no overflow
        {**track("Signed In", "k", when=datetime(1900, 1, 1, tzinfo=UTC)), "sentAt": "2200-12-31T00:00:00Z"},
    ]}  # fmt: skip
    r = client.post("/v1/batch", headers=basic(key), json=batch)
    assert r.status_code == 400, r.text
    assert [(e["code"], e["field"]) for e in r.json()["errors"]] == [
        ("date_out_of_range", "batch[1].timestamp"),
        ("date_out_of_range", "batch[2].sentAt"),
        ("date_out_of_range", "batch[3].originalTimestamp"),
        ("date_out_of_range", "batch[4].receivedAt"),
        ("timestamp_out_of_range", "batch[5].timestamp"),
    ]
    assert r.json()["errors"][0]["message"] == "0001-01-01 is outside the accepted range 1900-01-01 … 2200-12-31"
    assert rows(app, "SELECT message_id FROM usage_events") == [("ok",)]
    whole = client.post("/v1/batch", headers=basic(key), json={"batch": [track("Signed In", "x")],
                                                               "sentAt": "0000-12-31T00:00:00Z"})  # fmt: skip
    assert (whole.status_code, whole.json()["code"]) == (400, "invalid_timestamp")
    whole = client.post("/v1/batch", headers=basic(key), json={"batch": [track("Signed In", "x")],
                                                               "sentAt": "1800-01-01T00:00:00Z"})  # fmt: skip
    assert [(e["code"], e["field"]) for e in whole.json()["errors"]] == [("date_out_of_range", "sentAt")]


def test_a_revoked_key_is_refused_on_the_next_request_on_v1_and_api(client: TestClient, app: FastAPI) -> None:
    from kizuna.services import auth

    ingest, reader = make_api_key(app, "ingest"), make_api_key(app, "read")
    assert client.post("/v1/track", headers=basic(ingest), json=track("Signed In", "r1")).status_code == 200
    assert client.get("/api/accounts", headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    with app.state.kizuna.unit_of_work() as session:
        for (key_id,) in session.execute(text("SELECT id FROM api_keys")):
            auth.revoke_api_key(session, key_id)
    # a retry of the very same body (answered from memory, without the writer) is refused too
    r = client.post("/v1/track", headers=basic(ingest), json=track("Signed In", "r1"))
    assert (r.status_code, r.json()["code"]) == (401, "not_authenticated")
    r = client.post("/v1/track", headers=basic(ingest), json=track("Signed In", "r2"))
    assert (r.status_code, r.json()["code"]) == (401, "not_authenticated")
    r = client.get("/api/accounts", headers={"Authorization": f"Bearer {reader}"})
    assert (r.status_code, r.json()["errors"][0]["code"]) == (401, "not_authenticated")
    assert [m for (m,) in rows(app, "SELECT message_id FROM ingest_parked")] == ["r1"]


def test_api_key_use_on_api_is_recorded_at_most_once_a_minute(client: TestClient, app: FastAPI) -> None:
    reader = make_api_key(app, "read")
    bearer = {"Authorization": f"Bearer {reader}"}

    def last_used() -> datetime | None:
        [(value,)] = rows(app, "SELECT last_used_at FROM api_keys")
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    assert last_used() is None
    assert client.get("/api/accounts", headers=bearer).status_code == 200
    first = last_used()
    assert first is not None
    assert abs(first - datetime.now(UTC)) < timedelta(seconds=30)
    with app.state.kizuna.unit_of_work() as session:  # as if used 30 s ago: not written again
        session.execute(text("UPDATE api_keys SET last_used_at = :t"), {"t": datetime.now(UTC) - timedelta(seconds=30)})
    stamped = last_used()
    assert client.get("/api/accounts", headers=bearer).status_code == 200
    assert last_used() == stamped
    with app.state.kizuna.unit_of_work() as session:  # used 2 minutes ago: written again
        session.execute(text("UPDATE api_keys SET last_used_at = :t"), {"t": datetime.now(UTC) - timedelta(minutes=2)})
    assert client.get("/api/accounts", headers=bearer).status_code == 200
    again = last_used()
    assert again is not None
    assert abs(again - datetime.now(UTC)) < timedelta(seconds=30)


def test_ingest_key_use_is_recorded_by_the_writer_at_most_once_a_minute(client: TestClient, app: FastAPI,
                                                                         key: str) -> None:  # fmt: skip
    """The writer reads each key's last use with its revocation (one query per commit) and
    writes it only when it is a minute old or more, as ``/api/`` does."""

    def last_used() -> datetime | None:
        [(value,)] = rows(app, "SELECT last_used_at FROM api_keys")
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def mark(ago: timedelta) -> datetime | None:
        with app.state.kizuna.unit_of_work() as session:
            session.execute(text("UPDATE api_keys SET last_used_at = :t"), {"t": datetime.now(UTC) - ago})
        return last_used()

    assert last_used() is None
    assert client.post("/v1/track", headers=basic(key), json=track("Signed In", "u1")).status_code == 200
    first = last_used()
    assert first is not None
    assert abs(first - datetime.now(UTC)) < timedelta(seconds=30)
    stamped = mark(timedelta(seconds=50))  # used 50 s ago: not written again
    assert client.post("/v1/track", headers=basic(key), json=track("Signed In", "u2")).status_code == 200
    assert last_used() == stamped
    mark(timedelta(seconds=61))  # a minute ago and more: written
    assert client.post("/v1/track", headers=basic(key), json=track("Signed In", "u3")).status_code == 200
    again = last_used()
    assert again is not None
    assert abs(again - datetime.now(UTC)) < timedelta(seconds=30)
    assert rows(app, "SELECT count(*) FROM ingest_parked") == [(3,)]  # each of them reached the writer


def test_limits_are_segments_32_kb_per_event_and_500_kb_per_batch(client: TestClient, app: FastAPI, key: str) -> None:
    setup_account(client, key)
    big = track("Signed In", "big", blob="x" * 33_000)
    assert client.post("/v1/track", headers=basic(key), json=big).status_code == 413
    r = client.post("/v1/batch", headers=basic(key), json={"batch": [big, track("Signed In", "small")]})
    assert r.status_code == 400
    assert [(e["code"], e["field"]) for e in r.json()["errors"]] == [("event_too_large", "batch[0]")]
    huge = {"batch": [track("Signed In", f"h{i}", blob="x" * 20_000) for i in range(30)]}
    r = client.post("/v1/batch", headers=basic(key), json=huge)
    assert r.status_code == 413
    assert r.json()["errors"][0]["code"] == "payload_too_large"
    assert rows(app, "SELECT message_id FROM usage_events") == [("small",)]


def test_keys_ingest_and_write_keys_send_read_keys_and_strangers_do_not(
    client: TestClient, app: FastAPI, key: str
) -> None:
    event = track("Signed In", "k1", group=None)
    none = client.post("/v1/track", json=event)
    assert none.status_code == 401
    assert none.json()["errors"][0]["code"] == "not_authenticated"
    assert client.post("/v1/track", json=event, headers=basic("kz_nope_nothing")).status_code == 401
    assert client.post("/v1/track", json=event, headers={"Authorization": "Basic !!!"}).status_code == 401
    read = make_api_key(app, "read")
    denied = client.post("/v1/track", json=event, headers=basic(read))
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["code"] == "permission_denied"
    write = make_api_key(app, "write")
    assert client.post("/v1/track", json=event, headers={"Authorization": f"Bearer {write}"}).status_code == 200
    assert client.post("/v1/track", json={**event, "messageId": "k2", "writeKey": key}).status_code == 200
    # an ingest key reaches nothing but the tracking API
    assert client.get("/api/accounts", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    used = rows(app, "SELECT scope FROM api_keys WHERE last_used_at IS NOT NULL ORDER BY scope")
    assert used == [("ingest",), ("write",)]


def test_the_fast_path_answers_like_the_app_in_the_callers_language(client: TestClient, key: str) -> None:
    """``/v1/…`` skips the router and the per-request middleware (``FastPath``): its answers
    must still carry the app's error shape, the negotiated language and the security headers."""
    event = track("Signed In", "fp1", group=None)
    english = client.post("/v1/track", json=event)
    japanese = client.post("/v1/track", json=event, headers={"Accept-Language": "ja"})
    assert english.status_code == japanese.status_code == 401
    assert english.json()["errors"][0]["code"] == japanese.json()["errors"][0]["code"] == "not_authenticated"
    assert english.json()["errors"][0]["message"] != japanese.json()["errors"][0]["message"]
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in japanese.json()["errors"][0]["message"])
    ok = client.post("/v1/track", json=event, headers=basic(key))
    for answer in (english, ok):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
    # other methods and paths still go through the app
    assert client.get("/v1/track").status_code == 405
    assert client.post("/v1/nothing", json=event, headers=basic(key)).status_code == 404


def test_clock_skew_is_corrected_with_sent_at(client: TestClient, app: FastAPI, key: str) -> None:
    setup_account(client, key)
    # the client's clock is 3 hours fast: it says the event happened at 13:00 and was sent at 13:05
    client_now = datetime.now(UTC) + timedelta(hours=3)
    event = {**track("Signed In", "skew", when=client_now - timedelta(minutes=5)), "sentAt": client_now.isoformat()}
    assert client.post("/v1/track", headers=basic(key), json=event).status_code == 200
    (stored,) = rows(app, "SELECT timestamp FROM usage_events")
    moment = stored[0] if isinstance(stored[0], datetime) else datetime.fromisoformat(stored[0])
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    assert abs(moment - (datetime.now(UTC) - timedelta(minutes=5))) < timedelta(minutes=1)


def test_events_for_unknown_accounts_wait_and_are_attached_when_the_account_appears(
    client: TestClient, app: FastAPI, key: str
) -> None:
    batch = {"batch": [
        track("Signed In", "p1", user="U-1", group="ACC-9", session_minutes=10),
        track("Signed In", "p2", user="U-2", group=None),
        {"type": "track", "anonymousId": "dev-7", "event": "Report Created", "messageId": "p3"},
    ]}  # fmt: skip
    r = client.post("/v1/batch", headers=basic(key), json=batch)
    assert r.json() == {"success": True, "stored": 0, "duplicates": 0, "parked": 3}
    assert client.post("/v1/batch", headers=basic(key), json=batch).json()["duplicates"] == 3
    assert sorted(rows(app, "SELECT message_id, reason FROM ingest_parked")) == [
        ("p1", "unknown_account"), ("p2", "unknown_user"), ("p3", "no_account")
    ]  # fmt: skip
    assert rollups(app) == {}
    setup_account(client, key, account="ACC-9", user="U-1")  # group, then identify U-1
    assert sorted(rows(app, "SELECT message_id, reason FROM ingest_parked")) == [
        ("p2", "unknown_user"), ("p3", "no_account")
    ]  # fmt: skip
    day = str(NOW.astimezone(usage.DEFAULT_ZONE).date())
    assert rollups(app)[("ACC-9", day, "session_minutes")] == 10.0
    # identify of U-2 with its account lets p2 in too (its account is the contact's)
    client.post("/v1/identify", headers=basic(key), json={"userId": "U-2", "context": {"groupId": "ACC-9"}})
    assert rows(app, "SELECT message_id FROM ingest_parked") == [("p3",)]
    assert rollups(app)[("ACC-9", day, "logins")] == 2.0
    assert rows(app, "SELECT count(*) FROM usage_events") == [(2,)]


def test_the_quarantine_in_the_cli_and_import_accounts_attaches(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kizuna.main import create_app
    from kizuna.settings import Settings

    app = create_app(Settings(database_url=sqlite_url))
    key = make_api_key(app, "ingest")
    with TestClient(app) as client:
        client.post("/v1/batch", headers=basic(key), json={"batch": [
            {"type": "track", "anonymousId": "d1", "event": "Signed In", "messageId": "q1",
             "context": {"groupId": "ACC-NEW"}},
            {"type": "track", "anonymousId": "d2", "event": "Signed In", "messageId": "q2"},
        ]})  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    listed = run_cli(capsys, "usage", "quarantine")
    assert listed.code == 0
    assert "unknown_account" in listed.out
    assert "no_account" in listed.out
    assert "ACC-NEW" in listed.out
    only = run_cli(capsys, "usage", "quarantine", "--reason", "no_account")
    assert "q2" in only.out
    assert "q1" not in only.out.split("Oldest parked events")[1]
    bad = run_cli(capsys, "usage", "quarantine", "--reason", "lost")
    assert bad.code == 1
    assert "--reason must be one of" in bad.err
    csv = tmp_path / "accounts.csv"
    csv.write_text("external_id,name\nACC-NEW,新しい会社\n", encoding="utf-8")
    assert run_cli(capsys, "import", "accounts", str(csv)).code == 0
    assert rows(app, "SELECT message_id FROM ingest_parked") == [("q2",)]
    assert rows(app, "SELECT e.message_id FROM usage_events e") == [("q1",)]
    stats = run_cli(capsys, "usage", "stats")
    assert stats.code == 0
    assert "attached" in stats.out
    old = run_cli(capsys, "ingest", "stats")  # the old name still answers, for scripts
    assert old.code == 0
    assert old.out == stats.out
    app.state.kizuna.engine.dispose()


def test_a_mapping_file_changes_what_counts(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(
        '[login]\nevents = ["Logged In", "SSO Login"]\nsession_minutes_property = "minutes"\n'
        '[features]\nreports = ["Report Created", "Report Shared"]\nchat = "Message Sent"\n',
        encoding="utf-8",
    )
    mapping = usage.load_mapping(path)
    assert mapping.login_events == {"Logged In", "SSO Login"}
    assert usage.contributions(mapping, "SSO Login", {"minutes": 7}) == [
        ("events", 1.0), ("logins", 1.0), ("session_minutes", 7.0)
    ]  # fmt: skip
    assert usage.contributions(mapping, "Report Shared", {}) == [("events", 1.0), ("feature.reports", 1.0)]
    assert usage.contributions(mapping, "Signed In", {}) == [("events", 1.0)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[login\n", "not valid TOML"),
        ("[logins]\n", "logins: unknown section"),
        ("[login]\nevent = 3\n", "login.event: expected an event name"),
        ("[login]\nsecret = 1\n", "login.secret: unknown key"),
        ('[features]\n"bad key!" = "X"\n', "features.bad key!: a feature key"),
        ('[features]\na = "X"\nb = ["X"]\n', "features.b: event 'X' already counts for feature 'a'"),
    ],
)
def test_a_bad_mapping_file_names_the_file_and_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        usage.load_mapping(path)
    assert str(path) in caught.value.message
    assert message in caught.value.message


def test_a_missing_mapping_file_stops_the_cli_with_its_name(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("KIZUNA_USAGE_MAPPING", str(tmp_path / "nowhere.toml"))
    result = run_cli(capsys, "usage", "rebuild")
    assert result.code == 1
    assert "nowhere.toml: no such mapping file" in result.err


def test_the_usage_page_and_its_json_twin(client: TestClient, app: FastAPI, key: str, csm: str) -> None:
    setup_account(client, key)
    client.post("/v1/batch", headers=basic(key), json={"batch": [
        track("Signed In", "w1"), track("Signed In", "w2", group="ACC-UNKNOWN"), {"type": "track", "event": "x"},
    ]})  # fmt: skip
    page = client.get("/usage")
    assert page.status_code == 200
    html = page.text
    assert 'data-chart="ingest-chart-data"' in html
    assert "unknown_account" in html
    assert "missing_user" in html
    assert "test ingest" in html
    assert "key:" in html
    reader = make_api_key(app, "read")
    twin = client.get("/api/usage", headers={"Authorization": f"Bearer {reader}"}).json()
    assert twin["totals"]["stored"] >= 3
    assert twin["totals"]["parked"] == 1
    assert twin["totals"]["rejected"] == 1
    assert twin["rejected_by_reason"] == [{"reason": "missing_user", "count": 1}]
    assert [p["reason"] for p in twin["parked_by_reason"]] == ["unknown_account"]
    assert any(k["name"] == "test ingest" and k["last_used_at"] for k in twin["keys"])
    assert client.get("/api/usage", headers={"Authorization": f"Bearer {key}"}).status_code == 403
    old = client.get("/ingestion", follow_redirects=False)  # the page's old address
    assert (old.status_code, old.headers["location"]) == (301, "/usage")
    assert client.get("/api/ingestion", headers={"Authorization": f"Bearer {reader}"}).json() == twin


def test_an_event_stored_by_another_writer_meanwhile_is_a_duplicate_not_a_double(
    client: TestClient, app: FastAPI, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer looks up which events are stored, then inserts the others; if another
    writer stored one in between, the insert's guard notices and the group is retried."""
    from kizuna.db import usage as q

    setup_account(client, key)
    assert client.post("/v1/track", headers=basic(key), json=track("Signed In", "m1")).json()["stored"] == 1
    before = rollups(app)
    real = q._stored_keys
    blind = iter([True])  # the first look-up misses m1, as if it had been stored just after it

    def racing(conn: Any, pg: bool, keys: Any) -> set[tuple[str, str]]:
        return set() if next(blind, False) else real(conn, pg, keys)

    monkeypatch.setattr(q, "_stored_keys", racing)
    r = client.post(
        "/v1/batch", headers=basic(key), json={"batch": [track("Signed In", "m1"), track("Signed In", "m2")]}
    )
    assert r.json() == {"success": True, "stored": 1, "duplicates": 1, "parked": 0}
    assert rows(app, "SELECT message_id, count(*) FROM usage_events GROUP BY message_id ORDER BY 1") == [
        ("m1", 1), ("m2", 1)
    ]  # fmt: skip
    day = str(NOW.astimezone(usage.DEFAULT_ZONE).date())
    after = rollups(app)
    assert after[("ACC-1", day, "events")] == before[("ACC-1", day, "events")] + 1
    assert after[("ACC-1", day, "logins")] == before[("ACC-1", day, "logins")] + 1


HOSTILE: list[Any] = [
    {"messageId": 1.5}, {"userId": ["a"]}, {"context": []}, {"context": {"groupId": {"a": 1}}},
    {"timestamp": "2024-01-01T00:00:00+25:00"}, {"timestamp": "9" * 5000}, {"timestamp": 1e308},
    {"sentAt": "2024-13-01"}, {"event": ["x"]}, {"event": "\u0000"}, {"type": None}, {"type": "alias"},
    {"type": "group", "groupId": "g", "traits": []}, {"type": "group", "groupId": "g", "traits": {"employees": True}},
    {"type": "identify", "traits": {"email": "a" * 10_000}}, {"type": "identify", "traits": {"email": ["x"]}},
    {"anonymousId": True, "userId": None}, {"userId": 10**30}, {"messageId": "m" * 129}, {"event": "e" * 201},
    {"timestamp": "0001-01-01"}, {"timestamp": "9999-12-31T23:59:59-23:59"},
    {"timestamp": "2024-01-01", "sentAt": "1900-01-01T00:00:00-23:59"},
    {"originalTimestamp": "0001-01-01T00:00:00Z"}, {"receivedAt": []}, {"properties": "text"},
]  # fmt: skip


def test_hostile_events_are_refused_one_by_one_and_never_answered_500(client: TestClient, app: FastAPI, key: str) -> None:
    setup_account(client, key)
    for i, hostile in enumerate(HOSTILE):
        batch = {"batch": [{**track("Signed In", f"bad-{i}"), **hostile}, track("Signed In", f"good-{i}")]}
        r = client.post("/v1/batch", headers=basic(key), json=batch)
        assert r.status_code == 400, (hostile, r.text)
        assert [e["field"].split(".")[0] for e in r.json()["errors"]] == ["batch[0]"], hostile
        assert r.json()["stored"] == 1, hostile
    stored = {m for (m,) in rows(app, "SELECT message_id FROM usage_events")}
    assert stored == {f"good-{i}" for i in range(len(HOSTILE))}


def test_a_retry_without_message_id_is_stored_once(client: TestClient, app: FastAPI, key: str) -> None:
    """Without ``messageId`` the content is the key: the same event sent again later (in
    another request, so not caught by the recent-bodies cache) is a duplicate."""
    setup_account(client, key)
    event = track("Signed In", "unused", session_minutes=7)
    del event["messageId"]
    other = {**event, "event": "Report Created"}
    first = client.post("/v1/track", headers=basic(key), json=event)
    assert first.json() == {"success": True, "stored": 1, "duplicates": 0, "parked": 0}
    again = client.post("/v1/batch", headers=basic(key), json={"batch": [event, other]})
    assert again.json() == {"success": True, "stored": 1, "duplicates": 1, "parked": 0}
    ids = [r[0] for r in rows(app, "SELECT message_id FROM usage_events ORDER BY id")]
    assert len(ids) == 2
    assert all(i.startswith("sha1:") and len(i) == 45 for i in ids)
    day = str(NOW.astimezone(usage.DEFAULT_ZONE).date())
    assert rollups(app)[("ACC-1", day, "logins")] == 1.0
    assert rollups(app)[("ACC-1", day, "session_minutes")] == 7.0


def test_the_fallback_message_id_is_the_content_not_the_arrival() -> None:
    event = {"type": "track", "userId": "U-1", "event": "Signed In", "timestamp": "2026-01-15T10:00:00+09:00",
             "properties": {"b": 1, "a": 2}}  # fmt: skip
    zone = ZoneInfo("Asia/Tokyo")
    at = datetime(2026, 1, 15, 1, 0, 5, tzinfo=UTC)
    one = read_message(event, None, "", source="s", received_at=at, zone=zone)
    later = read_message(event, None, "", source="s", received_at=at + timedelta(minutes=10), zone=zone)
    reordered = {**event, "properties": {"a": 2, "b": 1}}
    assert one.message_id == later.message_id == read_message(
        reordered, None, "", source="s", received_at=at, zone=zone).message_id  # fmt: skip
    assert one.message_id != read_message({**event, "event": "Signed Out"}, None, "", source="s", received_at=at,
                                          zone=zone).message_id  # fmt: skip
    assert one.message_id == "sha1:" + hashlib.sha1(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()
    # an explicit messageId wins
    assert read_message({**event, "messageId": " m-9 "}, None, "", source="s", received_at=at,
                        zone=zone).message_id == "m-9"  # fmt: skip


def test_the_key_in_each_header_form_the_cache_and_the_revocation_check(sqlite_url: str) -> None:
    """services/usage/keys.py by hand: the key read from each ``Authorization`` form, a key
    looked up once and then remembered (unknown and revoked ones as None), forgotten on
    revocation, and the revocation check asked inline (SQLite) and in shared queries."""
    import asyncio
    import sqlite3
    import time

    from kizuna.db import Session, make_engine
    from kizuna.db.queries.auth import ActiveKeys
    from kizuna.domain.auth import ApiKeyScope
    from kizuna.services import auth
    from kizuna.services.usage.keys import TTL, KeyCache, RevocationCheck, Sender, credentials

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    assert credentials(None) is None
    assert credentials("") is None
    assert credentials("Bearer kz_abc") == "kz_abc"
    assert credentials("  bEaReR   kz_abc  ") == "kz_abc"
    assert credentials("Bearer ") is None
    assert credentials(f"Basic {b64('kz_abc:')}") == "kz_abc"
    assert credentials(f"BASIC {b64('kz_abc:ignored')}") == "kz_abc"
    assert credentials(f"Basic {b64('kz_abc:pass:word')}") == "kz_abc"  # up to the first colon
    assert credentials("Basic a3pf*YWJjOg==") is None  # base64 of "kz_abc:" with a stray "*": refused, not skipped
    assert credentials(f"Basic {b64(':pw')}") is None  # no user name, no key
    assert credentials("Basic !!!") is None  # not base64
    not_utf8 = base64.b64encode(b"\xff\xfe:").decode()
    assert credentials(f"Basic {not_utf8}") is None  # not UTF-8
    assert credentials("Token kz_abc") is None
    assert TTL == 30.0

    assert Sender(7, "n", "ingest").source == "key:7"
    assert [Sender(1, "n", s).may_ingest for s in ("ingest", "write", "read")] == [True, True, False]

    engine = make_engine(sqlite_url)
    with Session(engine) as s:
        live, record = auth.create_api_key(s, name="live", scope=ApiKeyScope.INGEST)
        gone, revoked = auth.create_api_key(s, name="gone", scope=ApiKeyScope.WRITE)
        revoked.revoked_at = datetime.now(UTC)
        s.commit()
        live_id, gone_id = record.id, revoked.id
        cache = KeyCache()
        assert cache.cached(live) == (False, None)
        assert cache.lookup(s, live) == Sender(live_id, "live", "ingest")
        assert cache.cached(live) == (True, Sender(live_id, "live", "ingest"))
        assert cache.lookup(s, gone) is None
        assert cache.cached(gone) == (True, None)  # known to be no key
        assert cache.lookup(s, "not-a-kizuna-key") is None
        cache.forget(live)
        assert cache.cached(live) == (False, None)
        cache.forget(live)  # twice, or a key never looked up: nothing to forget, no error
        assert cache.cached(gone) == (True, None)
        short = KeyCache(ttl=0.05)
        short.lookup(s, live)
        assert short.cached(live)[0] is True
        time.sleep(0.06)
        assert short.cached(live) == (False, None)  # remembered for the TTL only

    active = ActiveKeys(engine)

    def revoke(key_id: int) -> None:
        with Session(engine) as s:
            s.execute(text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE id = :i"), {"i": key_id})
            s.commit()

    async def ask() -> tuple[list[bool], list[bool], bool]:
        inline = RevocationCheck(active, inline=True)
        shared = RevocationCheck(active)
        first = [await inline.active(live_id), await inline.active(gone_id)]
        second = list(await asyncio.gather(shared.active(live_id), shared.active(gone_id), shared.active(live_id)))
        revoke(live_id)
        return first, second, await shared.active(live_id)  # a new query, not the last one's answer

    assert asyncio.run(ask()) == ([True, False], [True, False, True], False)
    active.close()
    broken = ActiveKeys(make_engine(f"sqlite:///{Path(sqlite_url.removeprefix('sqlite:///')).parent / 'none.db'}"))

    async def ask_broken() -> bool:
        return await asyncio.wait_for(RevocationCheck(broken).active(live_id), 5)

    with pytest.raises(sqlite3.OperationalError, match="no such table: api_keys"):  # the store's error reaches the request
        asyncio.run(ask_broken())
    engine.dispose()
