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
