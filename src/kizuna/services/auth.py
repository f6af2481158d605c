"""Signing in: users and passwords (argon2), web sessions, API keys.

Secrets never touch the database in clear: passwords are argon2 hashes; session
tokens and API keys are random and stored as SHA-256 digests (they are long random
strings, so a fast hash is the right tool there).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kizuna.db import Session
from kizuna.db.models import ApiKey, User, WebSession
from kizuna.db.queries import auth as q
from kizuna.domain.auth import ApiKeyScope
from kizuna.domain.enums import UserRole
from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.i18n import _

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no such user (the same time either way);
    made on first use rather than at import, which every command pays for."""
    return _hasher.hash("kizuna-no-such-user")


MIN_PASSWORD_LENGTH = 10
#: The longest user or API key name (the columns' width).
MAX_NAME_LENGTH = 200
API_KEY_PREFIX = "kz_"
#: ``api_keys.last_used_at`` is written at most this often per key (so it costs no write per request).
KEY_USE_RESOLUTION = timedelta(minutes=1)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of the leaked-password corpora, as shipped by
    zxcvbn (Dropbox's strength estimator), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def check_password_strength(password: str) -> None:
    """At least ten characters, not only white space, not one of the most common passwords."""
    if not password.strip():
        raise InvalidInput(_("the password cannot be only spaces"), field="password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _("the password must be at least {n} characters").format(n=MIN_PASSWORD_LENGTH), field="password"
        )
    if password.strip().lower() in _common_passwords():
        raise InvalidInput(_("this password is one of the most common ones; choose another"), field="password")


def create_user(
    session: Session, *, email: str, name: str, role: UserRole, password: str | None = None, locale: str | None = None
) -> User:
    """Add a CS team member. Raises :class:`Conflict` if the email is taken."""
    from kizuna.services.imports.fields import FieldError
    from kizuna.services.imports.fields import email as parse_email

    try:
        address = parse_email(email)
    except FieldError as exc:
        raise InvalidInput(str(exc), field="email") from None
    if len(name.strip()) > MAX_NAME_LENGTH:
        raise InvalidInput(_("the name is longer than {n} characters").format(n=MAX_NAME_LENGTH), field="name")
    if q.user_by_email(session, address) is not None:
        raise Conflict(_("a user with email {email} already exists").format(email=address), field="email")
    # no name: the address, cut to a name's width (an address may be 254 characters)
    user = User(email=address, name=name.strip() or address[:MAX_NAME_LENGTH], role=role, locale=locale, is_active=True)
    if password is not None:
        check_password_strength(password)
        user.password_hash = _hasher.hash(password)
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> int:
    """Set a new password and end every session of the user (every browser signs in again);
    returns how many sessions were ended."""
    check_password_strength(password)
    user.password_hash = _hasher.hash(password)
    return revoke_sessions(session, user)


def list_sessions(session: Session, user: User, *, now: datetime | None = None) -> list[WebSession]:
    """The user's live sign-ins, newest first."""
    return q.web_sessions_of_user(session, user.id, now or datetime.now(UTC))


def revoke_sessions(session: Session, user: User) -> int:
    """End every sign-in of the user; returns how many there were."""
    return q.delete_web_sessions_of_user(session, user.id)


def password_works(session: Session, email: str, password: str) -> bool:
    """Whether this email signs in with this password (e.g. a published demo password)."""
    user = q.user_by_email(session, email)
    if user is None or not user.is_active or not user.password_hash:
        return False
    try:
        return bool(_hasher.verify(user.password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None (same cost either way)."""
    user = q.user_by_email(session, email)
    stored = user.password_hash if user is not None and user.is_active and user.password_hash else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or stored is _dummy_hash():
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = datetime.now(UTC)
    return user


@dataclass(frozen=True)
class Caller:
    """Who is calling, as plain values (no ORM object leaves the session): a signed-in
    user (``user_id`` … ``language`` and the session's ``csrf_token``) or an API key
    (``api_key_id``, ``api_key_name``, ``scope``)."""

    user_id: int | None = None
    email: str | None = None
    name: str | None = None
    role: UserRole | None = None
    language: str | None = None
    csrf_token: str | None = None
    api_key_id: int | None = None
    api_key_name: str | None = None
    scope: ApiKeyScope | None = None


def _user_caller(user: User, csrf_token: str) -> Caller:
    return Caller(user_id=user.id, email=user.email, name=user.name, role=UserRole(user.role),
                  language=user.locale, csrf_token=csrf_token)  # fmt: skip


def _key_caller(key: ApiKey) -> Caller:
    return Caller(api_key_id=key.id, api_key_name=key.name, scope=ApiKeyScope(key.scope))


def start_session(session: Session, user: User, *, days: int, now: datetime | None = None) -> tuple[str, str]:
    """Open a web session; return ``(cookie token, CSRF token)``."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_digest(token), user_id=user.id, csrf_token=csrf, created_at=now,
                           expires_at=now + timedelta(days=days)))  # fmt: skip
    q.delete_expired_sessions(session, now)
    return token, csrf


def resolve_session(session: Session, token: str, *, now: datetime | None = None) -> Caller | None:
    """The signed-in user behind a session cookie (None: no such session, or expired)."""
    found = q.web_session_by_hash(session, _digest(token), now or datetime.now(UTC))
    if found is None:
        return None
    web_session, user = found
    return _user_caller(user, web_session.csrf_token)


def end_session(session: Session, token: str) -> None:
    q.delete_web_session(session, _digest(token))


def create_api_key(
    session: Session, *, name: str, scope: ApiKeyScope, created_by: User | None = None
) -> tuple[str, ApiKey]:
    """Make an API key; return ``(the key, shown once, never stored; its record)``."""
    if not name.strip():
        raise InvalidInput(_("an API key needs a name"), field="name")
    if len(name.strip()) > MAX_NAME_LENGTH:
        raise InvalidInput(_("the name is longer than {n} characters").format(n=MAX_NAME_LENGTH), field="name")
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKey(name=name.strip(), prefix=prefix, key_hash=_digest(key), scope=scope,
                    created_by_id=created_by.id if created_by else None)  # fmt: skip
    session.add(record)
    session.flush()
    return key, record


def resolve_api_key(session: Session, key: str) -> Caller | None:
    """The API key behind a bearer token (None: unknown or revoked); notes its last use."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    record = q.api_key_by_hash(session, _digest(key))
    if record is None:
        return None
    now = datetime.now(UTC)
    last = record.last_used_at  # aware, in UTC, on every backend (db.types.UTCDateTime)
    if last is None or now - last >= KEY_USE_RESOLUTION:
        q.touch_api_key(session, record.id, now)  # an UPDATE of its own, not a change to the record
    return _key_caller(record)


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None:
        raise NotFound(_("no API key with id {id}").format(id=key_id), code="api_key_not_found")
    if record.revoked_at is None:
        record.revoked_at = datetime.now(UTC)
    return record


def list_api_keys(session: Session) -> list[ApiKey]:
    return q.list_api_keys(session)


def list_users(session: Session) -> list[User]:
    return q.list_users(session)


def count_users(session: Session) -> int:
    return q.count_users(session)


def get_user_by_email(session: Session, email: str) -> User:
    user = q.user_by_email(session, email)
    if user is None:
        raise NotFound(_("no user with email {email}").format(email=email), code="user_not_found", field="email")
    return user


def set_language(session: Session, user_id: int, language: str) -> None:
    """Remember a user's language (ja or en) for every device they sign in from."""
    user = session.get(User, user_id)
    if user is not None:
        user.locale = language


# --- administration: what `kizuna users` / `kizuna apikey` and the admin pages share ---

#: Letters and digits that cannot be mistaken for one another when read aloud or copied by hand.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class UserSummary:
    """One user as the admin pages and ``kizuna users list`` show them."""

    id: int
    email: str
    name: str
    role: UserRole
    locale: str | None
    is_active: bool
    has_password: bool
    last_login_at: datetime | None
    live_sessions: int

    @property
    def can_sign_in(self) -> bool:
        return self.is_active and self.has_password


@dataclass(frozen=True)
class ApiKeySummary:
    """One API key as listed (never the key itself)."""

    id: int
    name: str
    prefix: str
    scope: ApiKeyScope
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def shown_prefix(self) -> str:
        return f"{API_KEY_PREFIX}{self.prefix}_…"


@dataclass(frozen=True)
class SessionSummary:
    id: int
    created_at: datetime
    expires_at: datetime


def temporary_password() -> str:
    """A random password to hand over once (16 characters, about 79 bits), in groups of four."""
    raw = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("no user with id {id}").format(id=user_id), code="user_not_found", field="user")
    return user


def _summary(user: User, sessions: int) -> UserSummary:
    return UserSummary(id=user.id, email=user.email, name=user.name, role=UserRole(user.role), locale=user.locale,
                       is_active=bool(user.is_active), has_password=bool(user.password_hash),
                       last_login_at=user.last_login_at, live_sessions=sessions)  # fmt: skip


def user_summaries(session: Session, *, now: datetime | None = None) -> list[UserSummary]:
    counts = q.live_session_counts(session, now or datetime.now(UTC))
    return [_summary(u, counts.get(u.id, 0)) for u in q.list_users(session)]


def user_summary(session: Session, user_id: int, *, now: datetime | None = None) -> UserSummary:
    user = get_user(session, user_id)
    return _summary(user, len(list_sessions(session, user, now=now)))


def session_summaries(session: Session, user_id: int, *, now: datetime | None = None) -> list[SessionSummary]:
    return [SessionSummary(s.id, s.created_at, s.expires_at) for s in list_sessions(session, get_user(session, user_id), now=now)]


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave the store without an active admin (nobody could
    manage users any more, in the browser or, without shell access, at all)."""
    if user.role != UserRole.ADMIN or not user.is_active:
        return
    if [i for i in q.active_admin_ids(session) if i != user.id]:
        return
    raise Conflict(
        _("{email} is the last active admin: make another user an admin first").format(email=user.email),
        code="last_admin", field="role",
    )  # fmt: skip


def set_role(session: Session, user_id: int, role: UserRole) -> User:
    """Give a user another role (the last active admin keeps theirs)."""
    user = get_user(session, user_id)
    if role != UserRole.ADMIN:
        _keep_an_admin(session, user)
    user.role = role
    return user


def set_lead(session: Session, user_id: int, lead_id: int | None) -> User:
    """Set (or clear) a user's team lead: the ``lead`` assignee rule of playbook tasks goes to them."""
    user = get_user(session, user_id)
    if lead_id is not None:
        lead = get_user(session, lead_id)
        seen = {user.id}
        step: User | None = lead
        while step is not None:  # no circles: A leads B leads A
            if step.id in seen:
                raise InvalidInput(_("{lead} cannot lead {email}: that makes a circle").format(
                    lead=lead.email, email=user.email), code="invalid_lead", field="lead")  # fmt: skip
            seen.add(step.id)
            step = get_user(session, step.lead_id) if step.lead_id is not None else None
    user.lead_id = lead_id
    return user


def set_active(session: Session, user_id: int, active: bool, *, acting_user_id: int | None = None) -> int:
    """Deactivate a user (they cannot sign in; every sign-in ends at once; returns how many)
    or let them sign in again. Nobody deactivates themselves, nor the last active admin."""
    user = get_user(session, user_id)
    if active:
        user.is_active = True
        return 0
    if acting_user_id is not None and user.id == acting_user_id:
        raise Conflict(_("you cannot deactivate yourself: ask another admin"), code="cannot_deactivate_self",
                       field="user")  # fmt: skip
    _keep_an_admin(session, user)
    user.is_active = False
    return revoke_sessions(session, user)


def reset_password(session: Session, user_id: int) -> tuple[str, int]:
    """Give the user a new temporary password (shown once, to hand over) and end every
    sign-in; returns ``(the password, sessions ended)``."""
    user = get_user(session, user_id)
    password = temporary_password()
    return password, set_password(session, user, password)


def api_key_summaries(session: Session) -> list[ApiKeySummary]:
    names = {u.id: u.name for u in q.list_users(session)}
    return [
        ApiKeySummary(id=k.id, name=k.name, prefix=k.prefix, scope=ApiKeyScope(k.scope), created_at=k.created_at,
                      created_by=names.get(k.created_by_id) if k.created_by_id else None,
                      last_used_at=k.last_used_at, revoked_at=k.revoked_at)
        for k in q.list_api_keys(session)
    ]
