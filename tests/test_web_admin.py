"""The admin pages: users, API keys, settings (``/admin/…``); admins change, leads look."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.main import create_app
from kizuna.settings import Settings
from tests.conftest import PASSWORD, login_token, make_user, sign_in


def _secret(page: str) -> str:
    match = re.search(r'data-testid="secret">([^<]+)<', page)
    assert match, "the page shows the secret"
    return match.group(1)


def _can_sign_in(client: TestClient, email: str, password: str) -> bool:
    client.cookies.delete("kizuna_session")
    response = client.post("/login", data={"email": email, "password": password, "next": "/",
                                           "csrf_token": login_token(client)}, follow_redirects=False)  # fmt: skip
    return response.status_code == 303


@pytest.fixture
def admin(app: FastAPI, client: TestClient) -> str:
    """A signed-in admin; returns the CSRF token."""
    make_user(app, "admin@kizuna.example", "admin", name="管理 太郎")
    return sign_in(client, "admin@kizuna.example")


def _user_id(app: FastAPI, email: str) -> int:
    from kizuna.services import auth

    with app.state.kizuna.unit_of_work() as session:
        return auth.get_user_by_email(session, email).id


def test_an_admin_creates_a_user_whose_temporary_password_is_shown_once(
    app: FastAPI, client: TestClient, admin: str
) -> None:
    created = client.post("/admin/users", data={"email": "Hana@Kizuna.example", "name": "山田 花子", "role": "lead",
                                                "csrf_token": admin})  # fmt: skip
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    assert "Created hana@kizuna.example." in created.text
    password = _secret(created.text)
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
    listed = client.get("/admin/users").text
    assert password not in listed  # once
    assert 'data-testid="user-hana@kizuna.example"' in listed
    assert "山田 花子" in listed
    assert _can_sign_in(client, "hana@kizuna.example", password)
    assert client.get("/admin/users").status_code == 200  # a lead sees the page …
    assert client.post("/admin/users", data={"email": "x@kizuna.example", "csrf_token": sign_in(
        client, "hana@kizuna.example", password)}).status_code == 403  # … but cannot add users  # fmt: skip


def test_bad_input_is_shown_on_the_form_and_nothing_is_written(app: FastAPI, client: TestClient, admin: str) -> None:
    make_user(app, "taken@kizuna.example")
    cases = {
        ("taken@kizuna.example", "csm"): "a user with email taken@kizuna.example already exists",
        ("not-an-email", "csm"): "not-an-email",
        ("new@kizuna.example", "owner"): "role must be one of admin, lead, csm, viewer",
    }
    for (email, role), message in cases.items():
        page = client.post("/admin/users", data={"email": email, "name": "<b>x</b>", "role": role,
                                                 "csrf_token": admin})  # fmt: skip
        assert page.status_code == 422, email
        error = re.search(r'data-testid="form-error">([^<]*)<', page.text)
        assert error, page.text
        assert message in error.group(1).replace("&#39;", "'")
        assert 'value="&lt;b&gt;x&lt;/b&gt;"' in page.text  # what was typed stays, escaped
    emails = re.findall(r'data-testid="user-([^"]+)"', client.get("/admin/users").text)
    assert sorted(emails) == ["admin@kizuna.example", "taken@kizuna.example"]
    assert client.post("/admin/users", data={"email": "c@kizuna.example"}).status_code == 403  # no CSRF token


def test_roles_admins_change_leads_look_others_are_refused(app: FastAPI, client: TestClient) -> None:
    make_user(app, "lead@kizuna.example", "lead")
    make_user(app, "csm@kizuna.example", "csm")
    make_user(app, "viewer@kizuna.example", "viewer")
    lead = sign_in(client, "lead@kizuna.example")
    for path in (
        "/admin/users",
        "/admin/api-keys",
        "/admin/settings",
        f"/admin/users/{_user_id(app, 'csm@kizuna.example')}",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'action="/admin/' not in page.text, path  # no form to change anything
    target = _user_id(app, "csm@kizuna.example")
    for path in ("/admin/api-keys", f"/admin/users/{target}/role", f"/admin/users/{target}/deactivate",
                 f"/admin/users/{target}/password", f"/admin/users/{target}/sessions/revoke"):  # fmt: skip
        assert client.post(path, data={"csrf_token": lead, "role": "admin", "name": "k"}).status_code == 403, path
    for email in ("csm@kizuna.example", "viewer@kizuna.example"):
        sign_in(client, email)
        for path in ("/admin/users", "/admin/api-keys", "/admin/settings"):
            assert client.get(path).status_code == 403, (email, path)


def test_the_last_admin_stays_an_admin_and_nobody_deactivates_themselves(
    app: FastAPI, client: TestClient, admin: str
) -> None:
    me = _user_id(app, "admin@kizuna.example")
    demoted = client.post(f"/admin/users/{me}/role", data={"role": "lead", "csrf_token": admin})
    assert demoted.status_code == 422
    assert "admin@kizuna.example is the last active admin: make another user an admin first" in demoted.text
    off = client.post(f"/admin/users/{me}/deactivate", data={"csrf_token": admin})
    assert off.status_code == 422
    assert "you cannot deactivate yourself" in off.text
    assert client.get("/admin/users").status_code == 200  # still an admin, still signed in
    other = make_user(app, "second@kizuna.example", "admin")
    # the other admin can be demoted while I remain; then I am the last one again
    assert client.post(f"/admin/users/{other}/role", data={"role": "csm", "csrf_token": admin},
                       follow_redirects=False).status_code == 303  # fmt: skip
    assert '<option value="csm" selected>' in client.get(f"/admin/users/{other}").text
    assert client.post(f"/admin/users/{me}/role", data={"role": "lead", "csrf_token": admin}).status_code == 422
    # with a second active admin, I may step down
    client.post(f"/admin/users/{other}/role", data={"role": "admin", "csrf_token": admin})
    assert client.post(f"/admin/users/{me}/role", data={"role": "lead", "csrf_token": admin},
                       follow_redirects=False).status_code == 303  # fmt: skip
    assert client.post(f"/admin/users/{other}/role", data={"role": "csm", "csrf_token": admin}).status_code == 403


def test_a_deactivated_admin_does_not_count_and_deactivation_ends_sessions(app: FastAPI, admin: str) -> None:
    make_user(app, "csm@kizuna.example")
    csm_id = _user_id(app, "csm@kizuna.example")
    with TestClient(app, headers={"Accept-Language": "en"}) as other:
        sign_in(other, "csm@kizuna.example")
        assert other.get("/", follow_redirects=False).status_code == 200
        with TestClient(app, headers={"Accept-Language": "en"}) as me:
            token = sign_in(me, "admin@kizuna.example")
            user_page = me.get(f"/admin/users/{csm_id}").text
            assert user_page.count("<tr><td>") == 1  # one live session listed
            done = me.post(f"/admin/users/{csm_id}/deactivate", data={"csrf_token": token})
            assert 'data-testid="done"' in done.text
            assert "deactivated" in done.text
            assert other.get("/", follow_redirects=False).status_code == 303  # signed out at once
            assert not _can_sign_in(other, "csm@kizuna.example", PASSWORD)
            me.post(f"/admin/users/{csm_id}/reactivate", data={"csrf_token": token})
            assert _can_sign_in(other, "csm@kizuna.example", PASSWORD)
            # a deactivated second admin is no admin: the only active one still cannot step down
            second = make_user(app, "second@kizuna.example", "admin")
            me.post(f"/admin/users/{second}/deactivate", data={"csrf_token": token})
            me_id = _user_id(app, "admin@kizuna.example")
            assert me.post(f"/admin/users/{me_id}/role", data={"role": "csm", "csrf_token": token}).status_code == 422


def test_reset_password_and_end_sessions(app: FastAPI, admin: str) -> None:
    make_user(app, "csm@kizuna.example")
    csm_id = _user_id(app, "csm@kizuna.example")
    with (
        TestClient(app, headers={"Accept-Language": "en"}) as other,
        TestClient(app, headers={"Accept-Language": "en"}) as me,
    ):
        token = sign_in(me, "admin@kizuna.example")
        sign_in(other, "csm@kizuna.example")
        ended = me.post(f"/admin/users/{csm_id}/sessions/revoke", data={"csrf_token": token})
        assert "Every session of the user has ended." in ended.text
        assert other.get("/", follow_redirects=False).status_code == 303
        sign_in(other, "csm@kizuna.example")
        reset = me.post(f"/admin/users/{csm_id}/password", data={"csrf_token": token})
        assert reset.headers["cache-control"] == "no-store"
        assert "New temporary password; 1 sessions ended." in reset.text
        password = _secret(reset.text)
        assert other.get("/", follow_redirects=False).status_code == 303
        assert not _can_sign_in(other, "csm@kizuna.example", PASSWORD)
        assert _can_sign_in(other, "csm@kizuna.example", password)
        assert password not in me.get(f"/admin/users/{csm_id}").text


def test_an_unknown_user_is_404(client: TestClient, admin: str) -> None:
    assert client.get("/admin/users/99999").status_code == 404
    assert client.post("/admin/users/99999/password", data={"csrf_token": admin}).status_code == 404
    assert client.post("/admin/api-keys/99999/revoke", data={"csrf_token": admin}).status_code == 404


def test_api_keys_created_once_used_and_revoked(app: FastAPI, client: TestClient, admin: str) -> None:
    empty = client.post("/admin/api-keys", data={"name": "  ", "scope": "read", "csrf_token": admin})
    assert empty.status_code == 422
    assert "an API key needs a name" in empty.text
    bad = client.post("/admin/api-keys", data={"name": "CRM", "scope": "root", "csrf_token": admin})
    assert bad.status_code == 422
    assert "scope must be one of read, write, ingest" in bad.text
    long = client.post("/admin/api-keys", data={"name": "鍵" * 201, "scope": "read", "csrf_token": admin})
    assert long.status_code == 422
    assert "the name is longer than 200 characters" in long.text
    assert "No API key yet." in client.get("/admin/api-keys").text  # nothing was written
    created = client.post("/admin/api-keys", data={"name": "CRM sync", "scope": "read", "csrf_token": admin})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    key = _secret(created.text)
    assert key.startswith("kz_")
    listed = client.get("/admin/api-keys").text
    assert key not in listed
    assert "CRM sync" in listed
    assert "管理 太郎" in listed
    assert re.search(r'data-testid="key-\d+">.*?never', listed, re.S)
    with TestClient(app) as program:
        assert program.get("/api/home", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        listed = client.get("/admin/api-keys").text
        assert not re.search(r'data-testid="key-\d+">.*?never', listed, re.S)  # last used is set
        key_id = int(re.search(r'data-testid="key-(\d+)"', listed).group(1))  # type: ignore[union-attr]
        revoked = client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": admin})
        assert "The key is revoked" in revoked.text
        assert program.get("/api/home", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_settings_show_their_source_and_hide_secrets(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("KIZUNA_KPI_MONTHS=24\nKIZUNA_WEBHOOK_SECRET=whsec-from-dotenv\n")
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("KIZUNA_SMTP_PASSWORD", "hunter2-smtp")
    monkeypatch.setenv("KIZUNA_ANALYTICS_URL", "postgresql://kizuna:s3cret-pw@db.example/kizuna")
    app = create_app(Settings())
    make_user(app, "admin@kizuna.example", "admin")
    with TestClient(app, headers={"Accept-Language": "en"}) as client:
        sign_in(client, "admin@kizuna.example")
        page = client.get("/admin/settings").text
    rows = dict(re.findall(r'data-testid="setting-(KIZUNA_\w+)" data-source="(\w+)"', page))
    assert rows["KIZUNA_DATABASE_URL"] == "environment"
    assert rows["KIZUNA_KPI_MONTHS"] == "dotenv"
    assert rows["KIZUNA_TIMEZONE"] == "default"
    assert rows["KIZUNA_WEBHOOK_SECRET"] == "dotenv"
    for secret in ("hunter2-smtp", "whsec-from-dotenv", "s3cret-pw"):
        assert secret not in page
    assert "postgresql://kizuna:•••@db.example/kizuna" in page
    assert re.search(r"KIZUNA_KPI_MONTHS</code></td>\s*<td><code>24</code>", page)
    assert re.search(r"KIZUNA_SMTP_PASSWORD</code></td>\s*<td>set \(hidden\)</td>\s*<td>environment variable", page)
    assert re.search(
        r"KIZUNA_SMTP_USERNAME</code></td>\s*<td><span class=\"muted\">not set</span></td>\s*<td>default", page
    )


def test_the_command_line_uses_the_same_rules(sqlite_url: str, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.cli import run_cli

    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    app = create_app(Settings(database_url=sqlite_url))
    make_user(app, "admin@kizuna.example", "admin")
    make_user(app, "csm@kizuna.example", "csm")
    last = run_cli(capsys, "users", "set-role", "--email", "admin@kizuna.example", "--role", "lead")
    assert last.code == 1
    assert "admin@kizuna.example is the last active admin: make another user an admin first" in last.err
    assert run_cli(capsys, "users", "deactivate", "--email", "admin@kizuna.example").code == 1
    promoted = run_cli(capsys, "users", "set-role", "--email", "csm@kizuna.example", "--role", "admin")
    assert "csm@kizuna.example is now admin." in promoted.out
    with TestClient(app, headers={"Accept-Language": "en"}) as client:
        sign_in(client, "csm@kizuna.example")
        off = run_cli(capsys, "users", "deactivate", "--email", "csm@kizuna.example")
        assert "csm@kizuna.example is deactivated; 1 sessions ended." in off.out
        assert client.get("/", follow_redirects=False).status_code == 303
        assert not _can_sign_in(client, "csm@kizuna.example", PASSWORD)
        assert run_cli(capsys, "users", "reactivate", "--email", "csm@kizuna.example").code == 0
        assert _can_sign_in(client, "csm@kizuna.example", PASSWORD)
