"""Authentication by hand, without an app: who may do what (roles and key scopes), the
principal of a request (bearer key or session cookie, in that order), CSRF, passwords,
sessions, API keys and the admin rules (the last admin, circles of leads) — the services
called directly on a copy of the migrated SQLite template, with a clock set by the test.
Every expected value is written out here, not computed by the code under test.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.requests import Request

from kizuna.db import make_engine, session_scope
from kizuna.db.models import ApiKey, User, WebSession
from kizuna.domain.auth import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, ApiKeyScope, Permission, role_allows
from kizuna.domain.enums import UserRole
from kizuna.errors import Conflict, InvalidInput, KizunaError, NotAuthenticated, NotFound, PermissionDenied
from kizuna.http.auth import Principal, _bearer, check_csrf, current_principal, manager, resolve_principal, writer
from kizuna.http.state import AppState
from kizuna.services import auth
from kizuna.services.auth import ApiKeySummary, Caller, SessionSummary, UserSummary
from kizuna.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "a long enough secret"
#: what each role may do, written out (domain/auth.py's table, read as a user would)
ROLES = {
    UserRole.ADMIN: {"read", "write", "manage", "administer"},
    UserRole.LEAD: {"read", "write", "manage"},
    UserRole.CSM: {"read", "write"},
    UserRole.VIEWER: {"read"},
}
SCOPES = {ApiKeyScope.READ: {"read"}, ApiKeyScope.WRITE: {"read", "write"}, ApiKeyScope.INGEST: set()}


def sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Clock(datetime):
    """``datetime`` for services/auth.py with ``now`` set by the test (naive without a zone)."""

    at = NOW

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        return cls.at.astimezone(tz) if tz is not None else cls.at.replace(tzinfo=None)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> type[Clock]:
    monkeypatch.setattr(auth, "datetime", Clock)
    Clock.at = NOW
    return Clock


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def refused(exc: pytest.ExceptionInfo[KizunaError]) -> tuple[str, str, str | None]:
    return exc.value.message, exc.value.code, exc.value.field


def add_user(engine: Engine, email: str, role: UserRole, *, active: bool = True, password: str | None = PASSWORD,
             name: str | None = None, locale: str | None = None) -> int:  # fmt: skip
    with session_scope(engine) as s:
        user = auth.create_user(s, email=email, name=name or email.split("@")[0].title(), role=role,
                                password=password, locale=locale)  # fmt: skip
        user.is_active = active
        return user.id


# --- domain/auth.py and the principal of a request (http/auth.py) ------------------------


def test_what_each_role_and_each_key_scope_may_do() -> None:
    for role in UserRole:
        for permission in Permission:
            assert role_allows(role, permission) is (permission.value in ROLES[role]), (role, permission)
    assert {r: {p.value for p in ps} for r, ps in ROLE_PERMISSIONS.items()} == ROLES
    assert {s: {p.value for p in ps} for s, ps in SCOPE_PERMISSIONS.items()} == SCOPES


def test_the_principal_of_a_user_and_of_a_key() -> None:
    for role, allowed in ROLES.items():
        p = Principal.of(Caller(user_id=7, email="ann@kizuna.example", name="Ann", role=role, language="ja",
                                csrf_token="c7"))  # fmt: skip
        assert {x.value for x in p.permissions} == allowed
        assert (p.user_id, p.email, p.name, p.role, p.language, p.csrf_token) == (7, "ann@kizuna.example", "Ann", role,
                                                                                 "ja", "c7")  # fmt: skip
        assert (p.api_key_id, p.api_key_name, p.scope) == (None, None, None)
        assert (p.is_user, p.is_api_key, p.label, p.can_write) == (True, False, "Ann", "write" in allowed)
    for scope, allowed in SCOPES.items():
        p = Principal.of(Caller(api_key_id=3, api_key_name="crm sync", scope=scope))
        assert {x.value for x in p.permissions} == allowed
        assert (p.api_key_id, p.api_key_name, p.scope, p.user_id, p.role, p.csrf_token) == (3, "crm sync", scope,
                                                                                           None, None, None)  # fmt: skip
        assert (p.is_user, p.is_api_key, p.label, p.can_write) == (False, True, "API key crm sync", "write" in allowed)
    nameless = Principal.of(Caller(user_id=1, role=UserRole.VIEWER))
    assert (nameless.label, nameless.can_write) == ("", False)
    nobody = Principal.of(Caller())  # neither a role nor a scope: allowed nothing
    assert (nobody.permissions, nobody.is_user, nobody.is_api_key, nobody.label) == (frozenset(), False, False, "?")


def test_a_write_key_writes_but_neither_manages_nor_administers() -> None:
    key = Principal.of(Caller(api_key_id=3, api_key_name="crm", scope=ApiKeyScope.WRITE))
    assert writer(key) is key
    with pytest.raises(PermissionDenied) as exc:
        manager(key)
    assert refused(exc) == ("your role does not allow this", "permission_denied", None)
    with pytest.raises(PermissionDenied):
        key.require(Permission.ADMINISTER)
    read_key = Principal.of(Caller(api_key_id=4, api_key_name="bi", scope=ApiKeyScope.READ))
    with pytest.raises(PermissionDenied):
        writer(read_key)
    lead = Principal.of(Caller(user_id=2, name="Lee", role=UserRole.LEAD, csrf_token="c2"))
    assert (manager(lead), writer(lead)) == (lead, lead)
    with pytest.raises(PermissionDenied):
        lead.require(Permission.ADMINISTER)
    admin = Principal.of(Caller(user_id=1, name="Ann", role=UserRole.ADMIN, csrf_token="c1"))
    admin.require(Permission.ADMINISTER)  # no error
    assert manager(admin) is admin


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": raw})


def test_the_bearer_token_of_a_request() -> None:
    assert _bearer(request({"Authorization": "Bearer kz_abc"})) == "kz_abc"
    assert _bearer(request({"Authorization": "bearer   kz_abc  "})) == "kz_abc"  # spaces after the first dropped
    assert _bearer(request({"Authorization": "BEARER kz_abc"})) == "kz_abc"
    for header in ("Basic dXNlcjpwdw==", "Bearer", "Bearer    ", "Bearerkz_abc", "Token kz_abc"):
        assert _bearer(request({"Authorization": header})) is None, header
    assert _bearer(request({})) is None


def test_the_principal_of_a_request_bearer_first_then_the_cookie(engine: Engine, sqlite_url: str) -> None:
    state = AppState(settings=Settings(database_url=sqlite_url), engine=engine)
    lee = add_user(engine, "lee@kizuna.example", UserRole.LEAD, locale="ja")
    with session_scope(engine) as s:
        user = s.get(User, lee)
        assert user is not None
        token, csrf = auth.start_session(s, user, days=14)
        write_key, _record = auth.create_api_key(s, name="crm", scope=ApiKeyScope.WRITE)
        ingest_key, _record = auth.create_api_key(s, name="tracker", scope=ApiKeyScope.INGEST)
        read_key, record = auth.create_api_key(s, name="bi", scope=ApiKeyScope.READ)
        read_id = record.id
    cookie = f"kizuna_session={token}"

    by_cookie = resolve_principal(request({"Cookie": cookie}), state)
    assert by_cookie == Principal(permissions=frozenset({Permission.READ, Permission.WRITE, Permission.MANAGE}),
                                  user_id=lee, email="lee@kizuna.example", name="Lee", role=UserRole.LEAD,
                                  language="ja", csrf_token=csrf)  # fmt: skip
    by_key = resolve_principal(request({"Authorization": f"Bearer {read_key}", "Cookie": cookie}), state)
    assert by_key == Principal(permissions=frozenset({Permission.READ}), api_key_id=read_id, api_key_name="bi",
                               scope=ApiKeyScope.READ)  # the key, not the cookie sent with it  # fmt: skip
    # a wrong key is not made good by a cookie
    assert resolve_principal(request({"Authorization": "Bearer kz_wrong", "Cookie": cookie}), state) is None
    assert resolve_principal(request({"Cookie": "kizuna_session="}), state) is None
    assert resolve_principal(request({"Cookie": "other=1"}), state) is None
    assert resolve_principal(request({}), state) is None

    # the answer is kept on the request: a session ended meanwhile does not change it
    req = request({"Cookie": cookie})
    first = resolve_principal(req, state)
    with session_scope(engine) as s:
        auth.end_session(s, token)
    assert resolve_principal(req, state) is first
    assert resolve_principal(request({"Cookie": cookie}), state) is None  # a new request sees it ended
    kept_none = request({"Authorization": f"Bearer {write_key}"})
    kept_none.state.principal = None
    assert resolve_principal(kept_none, state) is None

    with pytest.raises(NotAuthenticated) as exc:
        current_principal(request({}), state)
    assert refused(exc) == ("sign in, or send an API key as a bearer token", "not_authenticated", None)
    with pytest.raises(PermissionDenied):  # an ingest key reads nothing of the REST API
        current_principal(request({"Authorization": f"Bearer {ingest_key}"}), state)
    assert current_principal(request({"Authorization": f"Bearer {write_key}"}), state).api_key_name == "crm"


def test_the_csrf_token_of_a_signed_in_browser() -> None:
    user = Principal.of(Caller(user_id=1, name="Ann", role=UserRole.CSM, csrf_token="tok"))
    check_csrf(user, "tok")  # no error
    # "tök", "tokë": a token with a character past ASCII is refused like any wrong one (not a TypeError
    # from hmac.compare_digest, which compares str of ASCII only: a 500 for a form field or a header)
    for submitted in (None, "", "tok2", "to", "TOK", "tök", "tok\u00eb"):
        with pytest.raises(PermissionDenied) as exc:
            check_csrf(user, submitted)
        assert refused(exc) == ("the form has expired; reload the page and try again", "csrf_failed", None)
    tokenless = Principal.of(Caller(user_id=1, name="Ann", role=UserRole.CSM))
    for submitted in (None, "", "x", "XXXX", "None"):
        with pytest.raises(PermissionDenied):
            check_csrf(tokenless, submitted)
    key = Principal.of(Caller(api_key_id=3, api_key_name="crm", scope=ApiKeyScope.WRITE))
    check_csrf(key, None)  # bearer tokens need none
    check_csrf(key, "anything")


# --- services/auth.py ----------------------------------------------------------------------


def test_password_strength() -> None:
    for password, message in [
        ("", "the password cannot be only spaces"),
        (" " * 12, "the password cannot be only spaces"),
        ("\t \n" * 4, "the password cannot be only spaces"),
        ("abcdefghi", "the password must be at least 10 characters"),  # 9
        ("qwertyuiop", "this password is one of the most common ones; choose another"),
        ("QwertyUIOP", "this password is one of the most common ones; choose another"),  # lower-cased
        ("  1234567890  ", "this password is one of the most common ones; choose another"),  # stripped
    ]:
        with pytest.raises(InvalidInput) as exc:
            auth.check_password_strength(password)
        assert refused(exc) == (message, "invalid_input", "password"), password
    for password in ("kizuna-mut", "kizuna mut", "a long enough secret"):  # 10, 10 and 20 characters
        auth.check_password_strength(password)  # no error


def test_creating_a_user(engine: Engine) -> None:
    with session_scope(engine) as s:
        ann = auth.create_user(s, email="  Ann@Kizuna.Example ", name="  Ann  ", role=UserRole.ADMIN,
                               password=PASSWORD, locale="ja")  # fmt: skip
        assert (ann.email, ann.name, ann.role, ann.locale, ann.is_active) == ("ann@kizuna.example", "Ann",
                                                                              UserRole.ADMIN, "ja", True)  # fmt: skip
        assert ann.password_hash is not None
        assert ann.password_hash.startswith("$argon2id$")
        assert PasswordHasher().verify(ann.password_hash, PASSWORD) is True
        bob = auth.create_user(s, email="bob@kizuna.example", name="   ", role=UserRole.VIEWER)
        assert (bob.name, bob.password_hash, bob.locale) == ("bob@kizuna.example", None, None)  # named by the address
        long_name = auth.create_user(s, email="cy@kizuna.example", name=" " + "c" * 200 + " ", role=UserRole.CSM)
        assert long_name.name == "c" * 200  # 200 characters once stripped: the widest allowed
        assert auth.count_users(s) == 3

    for kwargs, expected in [
        ({"email": "not-an-email"}, ("not an email address: 'not-an-email'", "invalid_input", "email")),
        ({"name": "d" * 201}, ("the name is longer than 200 characters", "invalid_input", "name")),
        ({"email": " ANN@kizuna.example"},
         ("a user with email ann@kizuna.example already exists", "conflict", "email")),
        ({"password": "abcdefghi"}, ("the password must be at least 10 characters", "invalid_input", "password")),
    ]:  # fmt: skip
        with session_scope(engine) as s, pytest.raises(KizunaError) as exc:
            auth.create_user(s, **{"email": "dan@kizuna.example", "name": "Dan", "role": UserRole.CSM, **kwargs})
        assert refused(exc) == expected
        assert type(exc.value) is (Conflict if expected[1] == "conflict" else InvalidInput)
    with session_scope(engine) as s:
        assert auth.count_users(s) == 3  # none of the refused users was added
        assert [u.email for u in auth.list_users(s)] == ["ann@kizuna.example", "bob@kizuna.example",
                                                          "cy@kizuna.example"]  # by name: "Ann", "bob@…", "ccc…"  # fmt: skip


def test_passwords_sign_in_the_active_user_only(engine: Engine, clock: type[Clock]) -> None:
    add_user(engine, "ann@kizuna.example", UserRole.CSM)
    add_user(engine, "old@kizuna.example", UserRole.CSM, active=False)
    add_user(engine, "nopw@kizuna.example", UserRole.CSM, password=None)
    slow = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).hash(PASSWORD)  # other parameters
    with session_scope(engine) as s:
        s.add(User(email="garbled@kizuna.example", name="G", role=UserRole.CSM, is_active=True,
                   password_hash="not-an-argon2-hash"))  # fmt: skip
        s.add(User(email="slow@kizuna.example", name="S", role=UserRole.CSM, is_active=True, password_hash=slow))

    dummy = "kizuna-no-such-user"  # what the absent user's stand-in hash was made of
    with session_scope(engine) as s:
        assert auth.password_works(s, "ann@kizuna.example", PASSWORD) is True
        assert auth.password_works(s, "ANN@kizuna.example", PASSWORD) is True
        for email, password in [("ann@kizuna.example", "a long enough secreT"), ("old@kizuna.example", PASSWORD),
                                ("nopw@kizuna.example", dummy), ("nobody@kizuna.example", dummy),
                                ("garbled@kizuna.example", PASSWORD)]:  # fmt: skip
            assert auth.password_works(s, email, password) is False, email
            assert auth.authenticate(s, email, password) is None, email
        for email in ("old@kizuna.example", "nobody@kizuna.example"):
            assert auth.authenticate(s, email, dummy) is None, email
        assert s.scalars(select(User.last_login_at).where(User.last_login_at.is_not(None))).all() == []

        clock.at = NOW + timedelta(hours=1)
        ann = auth.authenticate(s, "ann@kizuna.example", PASSWORD)
        assert ann is not None
        assert ann.email == "ann@kizuna.example"
        assert ann.last_login_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        assert ann.last_login_at.tzinfo is UTC
        kept = ann.password_hash
        assert auth.authenticate(s, "ann@kizuna.example", PASSWORD) is ann
        assert ann.password_hash == kept  # already at the hasher's parameters: not hashed again

        slow_user = auth.authenticate(s, "slow@kizuna.example", PASSWORD)
        assert slow_user is not None
        assert slow_user.password_hash is not None
        # hashed again at the (test) hasher's parameters, and still the same password
        assert slow_user.password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
        assert PasswordHasher().verify(slow_user.password_hash, PASSWORD) is True


def test_a_session_its_cookie_its_expiry_and_its_end(engine: Engine, clock: type[Clock]) -> None:
    lee_id = add_user(engine, "lee@kizuna.example", UserRole.LEAD, locale="en")
    bob_id = add_user(engine, "bob@kizuna.example", UserRole.CSM)
    with session_scope(engine) as s:
        s.add_all([
            WebSession(token_hash="gone", user_id=bob_id, csrf_token="c", created_at=NOW - timedelta(days=14),
                       expires_at=NOW),  # expires at the very instant the next session starts
            WebSession(token_hash="left", user_id=bob_id, csrf_token="c", created_at=NOW - timedelta(days=14),
                       expires_at=NOW + timedelta(days=2)),  # outlives both of Lee's sign-ins below
        ])  # fmt: skip
    with session_scope(engine) as s:
        lee = s.get(User, lee_id)
        assert lee is not None
        token, csrf = auth.start_session(s, lee, days=14)  # now from the clock: NOW
        assert (len(token), len(csrf)) == (43, 43)  # 32 random bytes each, base64url without padding
        assert token != csrf
        stored = s.scalars(select(WebSession).where(WebSession.user_id == lee_id)).one()
        assert (stored.token_hash, stored.csrf_token) == (sha(token), csrf)
        assert (stored.created_at, stored.expires_at) == (NOW, datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
        assert sorted(s.scalars(select(WebSession.token_hash).where(WebSession.user_id == bob_id))) == ["left"]
        later = NOW + timedelta(days=1)
        token2, _csrf2 = auth.start_session(s, lee, days=1, now=later)
        assert s.scalars(select(WebSession.expires_at).where(WebSession.token_hash == sha(token2))).one() == \
            datetime(2026, 3, 4, 9, 0, tzinfo=UTC)  # fmt: skip
        assert s.scalars(select(WebSession.created_at).where(WebSession.token_hash == sha(token2))).one() == later

    expected = Caller(user_id=lee_id, email="lee@kizuna.example", name="Lee", role=UserRole.LEAD, language="en",
                      csrf_token=csrf)  # fmt: skip
    with session_scope(engine) as s:
        found = auth.resolve_session(s, token, now=NOW + timedelta(days=14) - timedelta(microseconds=1))
        assert found == expected
        assert found is not None
        assert type(found.role) is UserRole
        assert auth.resolve_session(s, token, now=NOW + timedelta(days=14)) is None  # its expiry: no longer
        assert auth.resolve_session(s, "not-a-token", now=NOW) is None
        clock.at = NOW + timedelta(days=20)  # without `now`, the clock's: expired
        assert auth.resolve_session(s, token) is None
        assert auth.resolve_session(s, token, now=NOW) == expected  # the given day, not the clock's

        lee = s.get(User, lee_id)
        assert lee is not None
        # sessions live on NOW + 12 h: both of Lee's, the newer first
        summaries = auth.session_summaries(s, lee_id, now=NOW + timedelta(hours=12))
        ids = {row.token_hash: row.id for row in s.execute(select(WebSession.token_hash, WebSession.id))}
        assert summaries == [
            SessionSummary(ids[sha(token2)], NOW + timedelta(days=1), datetime(2026, 3, 4, 9, 0, tzinfo=UTC)),
            SessionSummary(ids[sha(token)], NOW, datetime(2026, 3, 16, 9, 0, tzinfo=UTC)),
        ]
        assert len(auth.list_sessions(s, lee, now=NOW + timedelta(days=3))) == 1  # the one-day session ended
        assert auth.list_sessions(s, lee) == []  # the clock: day 20, both ended
        assert auth.user_summary(s, lee_id, now=NOW).live_sessions == 2
        assert auth.user_summary(s, lee_id).live_sessions == 0

    with session_scope(engine) as s:
        auth.end_session(s, token)
        assert sorted(s.scalars(select(WebSession.token_hash))) == sorted(["left", sha(token2)])
        bob = s.get(User, bob_id)
        assert bob is not None
        assert auth.revoke_sessions(s, bob) == 1
        assert auth.revoke_sessions(s, bob) == 0
        assert s.scalars(select(WebSession.token_hash)).all() == [sha(token2)]


def test_user_summaries_and_what_a_user_is_looked_up_by(engine: Engine, clock: type[Clock]) -> None:
    ann_id = add_user(engine, "ann@kizuna.example", UserRole.ADMIN, locale="ja")
    old_id = add_user(engine, "old@kizuna.example", UserRole.CSM, active=False)
    nopw_id = add_user(engine, "nopw@kizuna.example", UserRole.VIEWER, password=None)
    with session_scope(engine) as s:
        ann = s.get(User, ann_id)
        assert ann is not None
        ann.last_login_at = NOW
        auth.start_session(s, ann, days=2)
        auth.start_session(s, ann, days=1)
    with session_scope(engine) as s:
        summaries = auth.user_summaries(s, now=NOW + timedelta(hours=30))  # the one-day session has ended
        assert summaries == [
            UserSummary(id=ann_id, email="ann@kizuna.example", name="Ann", role=UserRole.ADMIN, locale="ja",
                        is_active=True, has_password=True, last_login_at=NOW, live_sessions=1),
            UserSummary(id=nopw_id, email="nopw@kizuna.example", name="Nopw", role=UserRole.VIEWER, locale=None,
                        is_active=True, has_password=False, last_login_at=None, live_sessions=0),
            UserSummary(id=old_id, email="old@kizuna.example", name="Old", role=UserRole.CSM, locale=None,
                        is_active=False, has_password=True, last_login_at=None, live_sessions=0),
        ]  # fmt: skip
        assert [type(x.role) for x in summaries] == [UserRole] * 3
        assert [type(x.is_active) for x in summaries] == [bool] * 3
        assert [x.can_sign_in for x in summaries] == [True, False, False]
        assert [x.live_sessions for x in auth.user_summaries(s)] == [2, 0, 0]  # the clock: NOW
        assert auth.user_summary(s, ann_id, now=NOW) == summaries[0].__class__(**{
            **summaries[0].__dict__, "live_sessions": 2})  # fmt: skip
        assert auth.get_user(s, old_id).email == "old@kizuna.example"
        assert auth.get_user_by_email(s, " OLD@kizuna.example").id == old_id
        with pytest.raises(NotFound) as exc:
            auth.get_user(s, 999)
        assert refused(exc) == ("no user with id 999", "user_not_found", "user")
        with pytest.raises(NotFound) as exc:
            auth.get_user_by_email(s, "nobody@kizuna.example")
        assert refused(exc) == ("no user with email nobody@kizuna.example", "user_not_found", "email")
        auth.set_language(s, old_id, "en")
        auth.set_language(s, 999, "en")  # nobody: nothing to remember, no error
    with session_scope(engine) as s:
        assert [u.locale for u in auth.list_users(s)] == ["ja", None, "en"]
    summary = UserSummary(id=1, email="x@y.z", name="X", role=UserRole.CSM, locale=None, is_active=True,
                          has_password=True, last_login_at=None, live_sessions=0)  # fmt: skip
    for active, has_password, can in [(True, True, True), (True, False, False), (False, True, False),
                                      (False, False, False)]:  # fmt: skip
        assert UserSummary(**{**summary.__dict__, "is_active": active, "has_password": has_password}).can_sign_in is can


def test_api_keys_made_resolved_noted_and_revoked(engine: Engine, clock: type[Clock]) -> None:
    ann_id = add_user(engine, "ann@kizuna.example", UserRole.ADMIN)
    with session_scope(engine) as s:
        ann = s.get(User, ann_id)
        key, record = auth.create_api_key(s, name="  crm sync ", scope=ApiKeyScope.WRITE, created_by=ann)
        match = re.fullmatch(r"kz_([0-9a-f]{8})_([A-Za-z0-9_-]{43})", key)  # 4 random bytes in hex, then 32
        assert match is not None, key
        assert (record.name, record.prefix, record.key_hash, record.scope, record.created_by_id) == (
            "crm sync", match.group(1), sha(key), ApiKeyScope.WRITE, ann_id)
        other, other_record = auth.create_api_key(s, name="t" * 200, scope=ApiKeyScope.INGEST)
        assert (other_record.name, other_record.created_by_id) == ("t" * 200, None)
        # a stored digest of a token without the key prefix is never looked up
        s.add(ApiKey(name="odd", prefix="odd", key_hash=sha("zz_secret"), scope=ApiKeyScope.WRITE))
        key_id, other_id = record.id, other_record.id
    for name, message in [("   ", "an API key needs a name"), ("", "an API key needs a name"),
                          ("k" * 201, "the name is longer than 200 characters")]:  # fmt: skip
        with session_scope(engine) as s, pytest.raises(InvalidInput) as exc:
            auth.create_api_key(s, name=name, scope=ApiKeyScope.READ)
        assert refused(exc) == (message, "invalid_input", "name")

    def last_used() -> datetime | None:
        with session_scope(engine) as s:
            return s.scalars(select(ApiKey.last_used_at).where(ApiKey.id == key_id)).one()

    def resolve(token: str) -> Caller | None:
        with session_scope(engine) as s:
            return auth.resolve_api_key(s, token)

    assert resolve(key) == Caller(api_key_id=key_id, api_key_name="crm sync", scope=ApiKeyScope.WRITE)
    assert last_used() == NOW  # first use noted
    clock.at = NOW + timedelta(seconds=59)
    assert resolve(key) is not None
    assert last_used() == NOW  # less than a minute later: not written again
    clock.at = NOW + timedelta(minutes=1)
    found = resolve(key)
    assert found is not None
    assert type(found.scope) is ApiKeyScope
    assert last_used() == NOW + timedelta(minutes=1)  # a minute to the microsecond: written
    assert resolve("zz_secret") is None
    assert resolve(key + "x") is None
    assert resolve("kz_") is None

    with session_scope(engine) as s:
        assert auth.revoke_api_key(s, other_id).revoked_at == NOW + timedelta(minutes=1)
    clock.at = NOW + timedelta(hours=1)
    with session_scope(engine) as s:
        assert auth.revoke_api_key(s, other_id).revoked_at == NOW + timedelta(minutes=1)  # the first revocation kept
        with pytest.raises(NotFound) as exc:
            auth.revoke_api_key(s, 999)
        assert refused(exc) == ("no API key with id 999", "api_key_not_found", None)
    assert resolve(other) is None

    with session_scope(engine) as s:
        created = {k.id: k.created_at for k in auth.list_api_keys(s)}
        summaries = auth.api_key_summaries(s)
    assert summaries[:2] == [
        ApiKeySummary(id=key_id, name="crm sync", prefix=match.group(1), scope=ApiKeyScope.WRITE,
                      created_at=created[key_id], created_by="Ann", last_used_at=NOW + timedelta(minutes=1),
                      revoked_at=None),
        ApiKeySummary(id=other_id, name="t" * 200, prefix=other_record.prefix, scope=ApiKeyScope.INGEST,
                      created_at=created[other_id], created_by=None, last_used_at=None,
                      revoked_at=NOW + timedelta(minutes=1)),
    ]  # fmt: skip
    assert [type(x.scope) for x in summaries] == [ApiKeyScope] * 3
    assert summaries[0].shown_prefix == f"kz_{match.group(1)}_…"


def test_the_last_admin_self_deactivation_and_circles_of_leads(engine: Engine, clock: type[Clock]) -> None:
    ann = add_user(engine, "ann@kizuna.example", UserRole.ADMIN)
    ben = add_user(engine, "ben@kizuna.example", UserRole.ADMIN, active=False)
    cat = add_user(engine, "cat@kizuna.example", UserRole.CSM)
    dan = add_user(engine, "dan@kizuna.example", UserRole.LEAD)
    eve = add_user(engine, "eve@kizuna.example", UserRole.VIEWER)
    last_admin = ("ann@kizuna.example is the last active admin: make another user an admin first", "last_admin")

    with session_scope(engine) as s:
        with pytest.raises(Conflict) as exc:
            auth.set_role(s, ann, UserRole.LEAD)
        assert refused(exc) == (*last_admin, "role")
        with pytest.raises(Conflict) as exc:
            auth.set_active(s, ann, False)
        assert refused(exc) == (*last_admin, "role")
        with pytest.raises(Conflict) as exc:
            auth.set_active(s, ann, False, acting_user_id=ann)
        assert refused(exc) == ("you cannot deactivate yourself: ask another admin", "cannot_deactivate_self", "user")
        assert auth.set_role(s, ann, UserRole.ADMIN).role == UserRole.ADMIN  # an admin staying one
        assert auth.set_role(s, ben, UserRole.CSM).role == UserRole.CSM  # an inactive admin is not the last one
        assert auth.set_role(s, cat, UserRole.ADMIN).role == UserRole.ADMIN
        assert auth.set_role(s, ann, UserRole.LEAD).role == UserRole.LEAD  # cat is an active admin now
        with pytest.raises(Conflict) as exc:  # cat is now the last active admin, deactivated by another user
            auth.set_active(s, cat, False, acting_user_id=dan)
        assert refused(exc)[:2] == ("cat@kizuna.example is the last active admin: make another user an admin first",
                                    "last_admin")  # fmt: skip

        eve_user = s.get(User, eve)
        assert eve_user is not None
        auth.start_session(s, eve_user, days=1)
        auth.start_session(s, eve_user, days=2)
    with session_scope(engine) as s:
        assert auth.set_active(s, eve, False, acting_user_id=ann) == 2  # both sign-ins ended
        assert s.scalars(select(WebSession.id)).all() == []
        assert auth.set_active(s, dan, False) == 0  # nobody acting: no self to refuse
        assert (s.get(User, eve).is_active, s.get(User, dan).is_active) == (False, False)  # type: ignore[union-attr]
        assert auth.set_active(s, eve, True) == 0
        assert auth.get_user(s, eve).is_active is True

        circle = "{} cannot lead {}: that makes a circle"
        assert auth.set_lead(s, cat, dan).lead_id == dan  # dan leads cat
        assert auth.set_lead(s, dan, ann).lead_id == ann  # ann leads dan leads cat
        assert auth.set_lead(s, eve, cat).lead_id == cat  # a chain of three above eve, no circle
        for user, lead, (lead_email, email) in [
            (dan, cat, ("cat", "dan")),  # cat -> dan -> cat
            (ann, cat, ("cat", "ann")),  # cat -> dan -> ann -> cat
            (ann, eve, ("eve", "ann")),  # four steps back to ann
            (dan, dan, ("dan", "dan")),  # oneself
        ]:
            with pytest.raises(InvalidInput) as exc:
                auth.set_lead(s, user, lead)
            message = circle.format(f"{lead_email}@kizuna.example", f"{email}@kizuna.example")
            assert refused(exc) == (message, "invalid_lead", "lead")
        assert [auth.get_user(s, i).lead_id for i in (ann, cat, dan, eve)] == [None, dan, ann, cat]  # unchanged
        with pytest.raises(NotFound):
            auth.set_lead(s, eve, 999)
        assert auth.set_lead(s, eve, None).lead_id is None
        assert auth.get_user(s, eve).lead_id is None


def test_new_and_temporary_passwords_end_every_sign_in(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = add_user(engine, "cat@kizuna.example", UserRole.CSM)
    with session_scope(engine) as s:
        user = s.get(User, cat)
        assert user is not None
        auth.start_session(s, user, days=1, now=NOW)
        auth.start_session(s, user, days=1, now=NOW)
        before = user.password_hash
        with pytest.raises(InvalidInput):
            auth.set_password(s, user, "qwertyuiop")
        assert user.password_hash == before
        assert len(s.scalars(select(WebSession.id)).all()) == 2  # a refused password ends nothing
        assert auth.set_password(s, user, "another long secret") == 2
        assert auth.password_works(s, "cat@kizuna.example", "another long secret") is True
        assert auth.password_works(s, "cat@kizuna.example", PASSWORD) is False
        auth.start_session(s, user, days=1, now=NOW)

    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
    asked: list[str] = []

    def choice(seq: str) -> str:  # the characters in order, to see where each lands
        asked.append(seq)
        return seq[(len(asked) - 1) % len(seq)]

    monkeypatch.setattr(auth.secrets, "choice", choice)
    assert auth.temporary_password() == "abcd-efgh-jkmn-pqrs"  # 16 characters, groups of four
    assert asked == [alphabet] * 16
    asked.clear()
    with session_scope(engine) as s:
        password, ended = auth.reset_password(s, cat)
        assert (password, ended) == ("abcd-efgh-jkmn-pqrs", 1)
        assert auth.password_works(s, "cat@kizuna.example", "abcd-efgh-jkmn-pqrs") is True
        assert s.scalars(select(WebSession.id)).all() == []
    monkeypatch.undo()
    for _ in range(20):
        assert re.fullmatch(r"[abcdefghjkmnpqrstuvwxyz2-9]{4}(-[abcdefghjkmnpqrstuvwxyz2-9]{4}){3}",
                            auth.temporary_password())  # fmt: skip


def test_a_store_without_an_active_admin_and_a_circle_already_stored(engine: Engine) -> None:
    """No active admin to keep (the first user made a lead, the only admin deactivated):
    others are still deactivated and demoted. A circle of leads written to the store by
    other means is refused when a chain reaches it, not followed for ever."""
    ben = add_user(engine, "ben@kizuna.example", UserRole.ADMIN, active=False)
    lee = add_user(engine, "lee@kizuna.example", UserRole.LEAD)
    cat = add_user(engine, "cat@kizuna.example", UserRole.CSM)
    dan = add_user(engine, "dan@kizuna.example", UserRole.CSM)
    eve = add_user(engine, "eve@kizuna.example", UserRole.CSM)
    with session_scope(engine) as s:
        assert auth.set_active(s, cat, False, acting_user_id=lee) == 0
        assert auth.set_role(s, ben, UserRole.CSM).role == UserRole.CSM  # an inactive admin, the only admin
        assert auth.set_role(s, lee, UserRole.VIEWER).role == UserRole.VIEWER
        assert [auth.get_user(s, i).is_active for i in (ben, lee, cat)] == [False, True, False]
    with session_scope(engine) as s:
        s.execute(User.__table__.update().where(User.id == cat).values(lead_id=dan))
        s.execute(User.__table__.update().where(User.id == dan).values(lead_id=cat))  # cat -> dan -> cat
    with session_scope(engine) as s:
        with pytest.raises(InvalidInput) as exc:
            auth.set_lead(s, eve, cat)  # cat, dan, then cat again: not eve, but a circle all the same
        assert refused(exc) == ("cat@kizuna.example cannot lead eve@kizuna.example: that makes a circle",
                                "invalid_lead", "lead")  # fmt: skip
        assert auth.get_user(s, eve).lead_id is None


def test_a_user_without_a_name_and_an_address_longer_than_a_name(store_url: str) -> None:
    """A blank name falls back to the address, and an address may be 254 characters while a
    name is at most 200 (the columns' widths): the fallback is cut to 200 characters, not
    handed to the store (PostgreSQL refused the insert: `value too long`, a 500 or a crash)."""
    address = "a" * 64 + "@" + "b" * 140 + ".example"  # 64 + 1 + 140 + 8 = 213 characters
    engine = make_engine(store_url)
    try:
        with session_scope(engine) as s:
            user = auth.create_user(s, email=address, name="  ", role=UserRole.CSM)
            user_id = user.id
        with session_scope(engine) as s:
            stored = auth.get_user(s, user_id)
            assert (stored.email, stored.name) == (address, "a" * 64 + "@" + "b" * 135)  # its first 200 characters
    finally:
        engine.dispose()
