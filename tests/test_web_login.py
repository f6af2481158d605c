"""Login abuse and the smaller web findings of issue 12: throttling and a temporary lock,
a bound on password hashing, login CSRF, sessions ended on a password change, the password
policy, passwords never on the command line, the demo admin beyond loopback,
``Cache-Control: no-store``, and a 500 that keeps the connection and logs no user data."""

from __future__ import annotations

import asyncio
import http.client
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.http.throttle import LOCK_SECONDS, Busy, LoginGuard
from kizuna.main import create_app
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import PASSWORD, login_token, make_user, sign_in

EMAIL = "lead@kizuna.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    """The app's guard with a clock the test moves (the guard itself is the real one)."""
    c = Clock()
    app.state.kizuna.login_guard = LoginGuard(clock=c)
    return c


def attempt(client: TestClient, email: str = EMAIL, password: str = "wrong-password-1", **headers: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"email": email, "password": password, "csrf_token": login_token(client)},
                       headers=headers, follow_redirects=False)  # fmt: skip


# --- throttling ------------------------------------------------------------------------------------


def test_failed_sign_ins_slow_down_then_lock_the_account(app: FastAPI, client: TestClient, clock: Clock) -> None:
    make_user(app, EMAIL, "lead")
    for _ in range(5):  # the first five cost nothing
        assert attempt(client).status_code == 401
    assert attempt(client).status_code == 401  # the sixth is checked, and now a wait is due
    waiting = attempt(client, password=PASSWORD)
    assert waiting.status_code == 429, "even the right password waits"
    assert waiting.headers["Retry-After"] == "2"
    assert "Too many failed sign-ins. Try again in 2 seconds." in waiting.text
    clock.now += 2
    assert attempt(client).status_code == 401  # 7th: the next wait is longer
    assert attempt(client).headers["Retry-After"] == "4"
    for _ in range(4):  # 8th … 11th, each after its wait
        clock.now += 60
        assert attempt(client).status_code == 401
    locked = attempt(client, password=PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) == LOCK_SECONDS
    assert "Sign-in is locked for 15 minutes." in locked.text
    clock.now += LOCK_SECONDS
    assert attempt(client, password=PASSWORD).status_code == 303, "the lock is temporary"
    client.cookies.clear()
    assert attempt(client).status_code == 401, "a success clears the account's count"


def test_the_429_has_the_documented_shape_and_both_languages(app: FastAPI, client: TestClient, clock: Clock) -> None:
    for _ in range(6):
        attempt(client, email="ghost@kizuna.example")  # unknown emails are counted the same way
    answer = attempt(client, email="ghost@kizuna.example", Accept="application/json")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"
    assert answer.json() == {"errors": [{"code": "login_throttled", "field": None,
                                         "message": "Too many failed sign-ins. Try again in 2 seconds."}]}  # fmt: skip
    japanese = attempt(client, email="ghost@kizuna.example", **{"Accept-Language": "ja"})
    assert japanese.status_code == 429
    assert "サインインの失敗が続いたため、2 秒後にもう一度お試しください。" in japanese.text


def test_one_address_guessing_many_accounts_is_throttled(app: FastAPI, client: TestClient, clock: Clock) -> None:
    make_user(app, EMAIL, "lead")
    for n in range(10):
        assert attempt(client, email=f"user{n}@kizuna.example").status_code == 401
    assert attempt(client, email="user99@kizuna.example").status_code == 401
    assert attempt(client, password=PASSWORD).status_code == 429, "the address waits, whatever the account"


def test_password_hashes_at_once_are_bounded() -> None:
    guard = LoginGuard(hashes_at_once=2)

    async def scenario() -> tuple[int, bool]:
        running = 0
        peak = 0

        async def one() -> None:
            nonlocal running, peak
            async with guard.hash_slot():
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.05)
                running -= 1

        await asyncio.gather(*(one() for _ in range(10)))
        async with guard.hash_slot(), guard.hash_slot():
            try:
                async with guard.hash_slot(wait=0.05):
                    return peak, False
            except Busy:
                return peak, True

    peak, busy = asyncio.run(scenario())
    assert peak == 2
    assert busy, "a sign-in that cannot get a slot is turned away"


# --- login CSRF, sessions ------------------------------------------------------------------------------


def test_the_sign_in_form_needs_its_csrf_token(app: FastAPI, client: TestClient) -> None:
    make_user(app, EMAIL, "lead")
    forged = client.post("/login", data={"email": EMAIL, "password": PASSWORD}, follow_redirects=False)
    assert forged.status_code == 403
    assert "The sign-in form has expired. Please sign in again." in forged.text
    assert "kizuna_session" not in client.cookies
    other = client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": "x" * 43},
                        follow_redirects=False)  # fmt: skip
    assert other.status_code == 403, "a token that is not this browser's cookie"
    assert attempt(client, password=PASSWORD).status_code == 303


def test_a_password_change_ends_every_session(app: FastAPI, client: TestClient, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    make_user(app, EMAIL, "lead")
    sign_in(client, EMAIL)
    other = TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"})
    sign_in(other, EMAIL)
    assert client.get("/", follow_redirects=False).status_code == 200
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    listed = run_cli(capsys, "users", "sessions", "list", "--email", EMAIL)
    assert listed.code == 0, listed.out + listed.err
    assert "2 live sessions for lead@kizuna.example." in listed.out
    monkeypatch.setenv("KIZUNA_PASSWORD", "a-new-long-passphrase")
    changed = run_cli(capsys, "users", "set-password", "--email", EMAIL)
    assert changed.code == 0, changed.out + changed.err
    assert "2 sessions ended" in changed.out
    assert client.get("/", follow_redirects=False).status_code == 303, "signed out"
    assert other.get("/", follow_redirects=False).status_code == 303, "signed out everywhere"
    sign_in(client, EMAIL, "a-new-long-passphrase")
    revoked = run_cli(capsys, "users", "sessions", "revoke", "--email", EMAIL)
    assert "1 sessions of lead@kizuna.example ended." in revoked.out
    assert client.get("/", follow_redirects=False).status_code == 303


# --- password policy and the command line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        (" " * 12, "the password cannot be only spaces"),
        ("\t" * 10, "the password cannot be only spaces"),
        ("short", "the password must be at least 10 characters"),
        ("1234567890", "this password is one of the most common ones; choose another"),
        ("Password123", "this password is one of the most common ones; choose another"),
        ("qwertyuiop", "this password is one of the most common ones; choose another"),
    ],
)
def test_weak_passwords_are_refused(sqlite_url: str, capsys, monkeypatch, password: str, message: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("KIZUNA_PASSWORD", password)
    result = run_cli(capsys, "users", "create", "--email", "a@kizuna.example", "--role", "admin")
    assert result.code == 1
    assert message in result.out + result.err


def test_passwords_come_from_the_environment_or_a_prompt_never_an_option(sqlite_url: str, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    refused = run_cli(capsys, "users", "create", "--email", "a@kizuna.example", "--password", "visible-in-ps-1")
    assert refused.code != 0, "the option is gone"
    assert "No such option: --password" in refused.out + refused.err
    monkeypatch.setenv("KIZUNA_PASSWORD", "from-the-environment")
    created = run_cli(capsys, "users", "create", "--email", "a@kizuna.example", "--role", "admin")
    assert created.code == 0, created.out + created.err
    app = create_app(Settings(database_url=sqlite_url))
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, "a@kizuna.example", "from-the-environment")


# --- the demo admin beyond loopback --------------------------------------------------------------------------


def test_the_demo_admin_is_not_served_beyond_loopback(sqlite_url: str, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from kizuna.cli.demo import DEMO_EMAIL, DEMO_PASSWORD, ensure_demo_admin
    from kizuna.cli.serve import check_demo_admin
    from kizuna.db import make_engine, session_scope

    with session_scope(make_engine(sqlite_url)) as session:
        ensure_demo_admin(session)
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    refused = run_cli(capsys, "serve", "--host", "0.0.0.0")
    assert refused.code == 1
    assert "The demo admin demo@kizuna.example still has its published password" in refused.out + refused.err
    demo = run_cli(capsys, "demo", "--accounts", "5", "--months", "2", "--reset", "--host", "0.0.0.0")
    assert demo.code == 1
    assert "would let anyone sign in as an admin" in demo.out + demo.err
    settings = Settings(database_url=sqlite_url, host="0.0.0.0")
    check_demo_admin(settings, allow=True)  # allowed on purpose: a loud warning only
    assert "WARNING" in capsys.readouterr().err
    check_demo_admin(settings.model_copy(update={"host": "127.0.0.1"}), allow=False)  # loopback: fine
    check_demo_admin(settings.model_copy(update={"host": "::1"}), allow=False)
    # the demo still signs in with its documented password on 127.0.0.1
    app = create_app(Settings(database_url=sqlite_url))
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, DEMO_EMAIL, DEMO_PASSWORD)
    monkeypatch.setenv("KIZUNA_PASSWORD", "a-private-passphrase")
    assert run_cli(capsys, "users", "set-password", "--email", DEMO_EMAIL).code == 0
    check_demo_admin(settings, allow=False)  # its password changed: nothing to refuse


# --- caching, errors ----------------------------------------------------------------------------------------


def test_signed_in_pages_and_json_are_not_stored(app: FastAPI, client: TestClient, csm: str) -> None:
    for path in ("/", "/accounts", "/api/home", "/api/accounts", "/login"):
        assert client.get(path).headers.get("cache-control") == "no-store", path
    assert "no-store" not in client.get("/static/kizuna.css").headers.get("cache-control", "")


def _failing_app(tmp_path: Path) -> FastAPI:
    """The real app plus one route whose SQL fails with customer data in its parameters."""
    url = f"sqlite:///{tmp_path / 'kizuna.db'}"
    app = create_app(Settings(database_url=url))

    def boom() -> dict[str, str]:
        with app.state.kizuna.unit_of_work() as session:
            session.execute(text("INSERT INTO no_such_table (email) VALUES (:email)"), {"email": "secret@customer.jp"})
        return {}

    app.add_api_route("/api/boom", boom, methods=["GET"])
    return app


def test_a_500_logs_no_user_data_and_names_a_request_id(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = _failing_app(tmp_path)
    with TestClient(app, base_url="http://testserver") as client:
        client.headers["Authorization"] = "Bearer " + _key(app)
        with caplog.at_level(logging.ERROR):
            answer = client.get("/api/boom?q=also-secret")
    assert answer.status_code == 500
    assert answer.json()["errors"][0]["code"] == "internal_error"
    request_id = answer.headers["X-Request-ID"]
    logged = "\n".join(r.getMessage() + (str(r.exc_info) if r.exc_info else "") for r in caplog.records)
    assert request_id in logged
    assert "sqlalchemy.exc.OperationalError" in logged
    assert "secret@customer.jp" not in logged
    assert "also-secret" not in logged


def _key(app: FastAPI) -> str:
    from tests.conftest import make_api_key

    return make_api_key(app, "read")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[int, FastAPI]]:
    app = _failing_app(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield port, app
    finally:
        server.should_exit = True
        thread.join(10)


def test_after_a_500_the_keep_alive_connection_serves_the_next_request(live: tuple[int, FastAPI]) -> None:
    port, app = live
    key = _key(app)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/api/boom", headers={"Authorization": f"Bearer {key}"})
    first = conn.getresponse()
    assert first.status == 500
    first.read()
    assert first.getheader("connection", "").lower() != "close"
    sock = conn.sock
    conn.request("GET", "/api/home", headers={"Authorization": f"Bearer {key}"})
    second = conn.getresponse()
    assert second.status == 200
    assert re.search(rb'"accounts"', second.read())
    assert conn.sock is sock, "the same connection answered"
    conn.close()
