"""Users, sign-in sessions and API keys."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kizuna.db.models import ApiKey, User, WebSession


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name, User.id)))


def web_session_by_hash(session: Session, token_hash: str, now: datetime) -> tuple[WebSession, User] | None:
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash, WebSession.expires_at > now, User.is_active.is_(True))
    ).first()
    return (row[0], row[1]) if row else None


def delete_web_session(session: Session, token_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def delete_expired_sessions(session: Session, now: datetime) -> int:
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """The active (not revoked) key with this digest."""
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))).first()


def active_api_key_ids(session: Session, key_ids: Iterable[int]) -> set[int]:
    """Which of these keys are not revoked: the tracking API's check on every request."""
    ids = sorted(set(key_ids))
    if not ids:
        return set()
    return set(session.scalars(select(ApiKey.id).where(ApiKey.id.in_(ids), ApiKey.revoked_at.is_(None))))


def touch_api_key(session: Session, key_id: int, when: datetime) -> None:
    """Record that a key was used (callers throttle: at most once a minute per key)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
