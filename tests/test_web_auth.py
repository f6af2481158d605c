"""Signing in and out, roles, CSRF, the language switcher, the error shapes."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, login_token, make_api_key, make_user, sign_in


def test_pages_need_a_sign_in_and_the_api_says_401(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/"
    response = client.get("/api/home")
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {"code": "not_authenticated", "message": "sign in, or send an API key as a bearer token", "field": None}
        ]
    }


def test_sign_in_with_the_right_password_only(app: FastAPI, client: TestClient) -> None:
    make_user(app, "lead@kizuna.example", "lead", name="山田 花子")
    token = login_token(client)
    wrong = client.post("/login", data={"email": "lead@kizuna.example", "password": "nope-nope-nope", "csrf_token": token})
    assert wrong.status_code == 401
    assert "Wrong email or password." in wrong.text
    unknown = client.post("/login", data={"email": "ghost@kizuna.example", "password": PASSWORD, "csrf_token": token})
    assert unknown.status_code == 401
    # a form token with a character past ASCII is a wrong one (it was a TypeError in hmac.compare_digest: a 500)
    odd = client.post("/login", data={"email": "lead@kizuna.example", "password": PASSWORD, "csrf_token": "tök"})
    assert odd.status_code == 403
    assert "The sign-in form has expired. Please sign in again." in odd.text
    sign_in(client, "lead@kizuna.example")
    home = client.get("/")
    assert home.status_code == 200
    assert "山田 花子" in home.text
    cookie = next(c for c in client.cookies.jar if c.name == "kizuna_session")
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_sign_out_needs_the_csrf_token_and_ends_the_session(app: FastAPI, client: TestClient) -> None:
    make_user(app, "csm@kizuna.example")
    token = sign_in(client, "csm@kizuna.example")
    forged = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_next_parameter_never_leaves_the_site(app: FastAPI, client: TestClient) -> None:
    make_user(app, "csm@kizuna.example")
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        client.cookies.clear()  # signed out again
        response = client.post("/login", data={"email": "csm@kizuna.example", "password": PASSWORD, "next": target,
                                               "csrf_token": login_token(client)}, follow_redirects=False)  # fmt: skip
        assert response.headers["location"] == "/"


def test_language_follows_accept_language_then_the_switcher_then_the_users_setting(
    app: FastAPI, client: TestClient
) -> None:
    assert 'lang="en"' in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    assert "Kizuna にサインイン" in client.get("/login", headers={"Accept-Language": "ja,en;q=0.5"}).text
    make_user(app, "csm@kizuna.example")
    token = sign_in(client, "csm@kizuna.example")
    client.post("/language", data={"language": "en", "csrf_token": token, "next": "/"})
    page = client.get("/", headers={"Accept-Language": "ja"})
    assert 'lang="en"' in page.text
    assert "Paying accounts" in page.text or "No customers yet" in page.text
    client.post("/language", data={"language": "ja", "csrf_token": token, "next": "/"})
    client.cookies.delete("kizuna_lang")
    assert 'lang="ja"' in client.get("/", headers={"Accept-Language": "en"}).text  # the user's own setting wins


def test_api_keys_authenticate_and_their_scope_is_enforced(app: FastAPI, client: TestClient) -> None:
    key = make_api_key(app, "read")
    assert client.get("/api/home", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.get("/api/home", headers={"Authorization": "Bearer kz_nope_nope"}).status_code == 401
    ingest = make_api_key(app, "ingest")  # for sending product events only
    response = client.get("/api/home", headers={"Authorization": f"Bearer {ingest}"})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"


def test_unknown_pages_get_a_helpful_page_and_unknown_api_paths_json(app: FastAPI, client: TestClient) -> None:
    make_user(app, "csm@kizuna.example")
    sign_in(client, "csm@kizuna.example")
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "There is no page at this address." in page.text or "このアドレスのページはありません" in page.text
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404
    assert api.json()["errors"][0]["code"] == "not_found"


@pytest.mark.parametrize("header", ["X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy"])
def test_pages_carry_security_headers(client: TestClient, header: str) -> None:
    assert header in client.get("/login").headers


def test_the_sign_in_and_key_queries_answer_for_the_right_row_only(store_url: str) -> None:
    """Each query of db/queries/auth.py on a real store with two users, three sessions and
    three keys: a session is found by its own token only and only while it lives (its
    expiry is the first instant it no longer works), revoked keys are never active."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from kizuna.db import make_engine
    from kizuna.db.models import ApiKey, User, WebSession
    from kizuna.db.queries import auth as q
    from kizuna.domain.auth import ApiKeyScope
    from kizuna.domain.enums import UserRole

    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    engine = make_engine(store_url)
    with Session(engine) as s:
        assert q.count_users(s) == 0
        ann = User(email="ann@kizuna.example", name="Ann", role=UserRole.ADMIN, is_active=True)
        bob = User(email="bob@kizuna.example", name="Bob", role=UserRole.CSM, is_active=True)
        old = User(email="old@kizuna.example", name="Old", role=UserRole.ADMIN, is_active=False)
        zed = User(email="zed@kizuna.example", name="Zed", role=UserRole.VIEWER, is_active=True)
        ann2 = User(email="ann2@kizuna.example", name="Ann", role=UserRole.CSM, is_active=True)
        s.add_all([zed, ann, bob, old, ann2])  # ids not in name order; two of the same name
        s.flush()
        s.add_all([
            WebSession(token_hash="a1", user_id=ann.id, csrf_token="ca1", created_at=now - timedelta(days=1),
                       expires_at=now + timedelta(days=5)),
            WebSession(token_hash="a2", user_id=ann.id, csrf_token="ca2", created_at=now - timedelta(days=2),
                       expires_at=now + timedelta(days=6)),
            WebSession(token_hash="a3", user_id=ann.id, csrf_token="ca3", created_at=now - timedelta(days=1),
                       expires_at=now + timedelta(days=6)),  # signed in at the same moment as a1, later id
            WebSession(token_hash="b1", user_id=bob.id, csrf_token="cb1", created_at=now - timedelta(days=3),
                       expires_at=now),  # expires this very instant
            WebSession(token_hash="o1", user_id=old.id, csrf_token="co1", created_at=now,
                       expires_at=now + timedelta(days=1)),  # a deactivated user's
        ])  # fmt: skip
        keys = [ApiKey(name=n, prefix=n, key_hash=f"h-{n}", scope=ApiKeyScope.INGEST) for n in ("k1", "k2", "k3")]
        keys[1].revoked_at = now
        s.add_all(keys)
        s.flush()
        k1, k2, k3 = (k.id for k in keys)

        assert q.count_users(s) == 5
        assert [u.email.split("@")[0] for u in q.list_users(s)] == ["ann", "ann2", "bob", "old", "zed"]  # by name, id
        assert q.user_by_email(s, "  BOB@kizuna.example ").name == "Bob"
        found = q.web_session_by_hash(s, "a2", now)
        assert found is not None
        assert (found[0].csrf_token, found[1].name) == ("ca2", "Ann")
        assert q.web_session_by_hash(s, "nope", now) is None  # another user's live session is not a match
        assert q.web_session_by_hash(s, "b1", now) is None  # expired at `now`
        assert q.web_session_by_hash(s, "b1", now - timedelta(seconds=1)) is not None
        assert q.web_session_by_hash(s, "o1", now) is None  # the user was deactivated
        assert [w.token_hash for w in q.web_sessions_of_user(s, ann.id, now)] == ["a3", "a1", "a2"]  # newest first, then the later id
        assert q.web_sessions_of_user(s, bob.id, now) == []
        assert q.live_session_counts(s, now) == {ann.id: 3, old.id: 1}
        assert q.active_admin_ids(s) == [ann.id]

        assert q.api_key_by_hash(s, "h-k1").name == "k1"
        assert q.api_key_by_hash(s, "h-k2") is None  # revoked
        assert q.active_api_key_ids(s, [k3, k2, k1, k1]) == {k1, k3}
        assert q.active_api_key_ids(s, [k2, k3]) == {k3}  # only the keys asked about
        assert q.active_api_key_ids(s, []) == set()
        assert [k.name for k in q.list_api_keys(s)] == ["k1", "k2", "k3"]  # revoked ones are listed too
        q.touch_api_key(s, k3, now)
        s.commit()
        assert s.scalar(select(ApiKey.last_used_at).where(ApiKey.id == k3)).replace(tzinfo=UTC) == now
        assert s.scalar(select(ApiKey.last_used_at).where(ApiKey.id == k1)) is None

        active = q.ActiveKeys(engine)
        assert active.inline is (engine.dialect.name == "sqlite")  # PostgreSQL: asked off the event loop
        assert active([k1, k2, k3]) == {k1, k3}
        assert active([k2]) == set()
        assert active([]) == set()
        s.execute(ApiKey.__table__.update().where(ApiKey.id == k1).values(revoked_at=now))
        s.commit()
        assert active([k1, k3]) == {k3}  # a revocation committed elsewhere is seen on the next call
        assert engine.pool.checkedout() == 1  # the reader's own connection (the session's went back on commit)
        active.close()
        assert engine.pool.checkedout() == 0  # and back it went
        assert active([k3]) == {k3}  # a closed reader opens a new connection
        active.close()

        q.delete_web_session(s, "a1")
        assert [w.token_hash for w in q.web_sessions_of_user(s, ann.id, now)] == ["a3", "a2"]
        assert q.delete_expired_sessions(s, now) == 1  # b1, expiring at `now`
        assert sorted(s.scalars(select(WebSession.token_hash))) == ["a2", "a3", "o1"]
        assert q.delete_expired_sessions(s, now) == 0
        assert q.delete_web_sessions_of_user(s, ann.id) == 2
        assert q.delete_web_sessions_of_user(s, bob.id) == 0
        assert sorted(s.scalars(select(WebSession.token_hash))) == ["o1"]
    engine.dispose()
