"""Users, sign-in sessions and API keys."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from kizuna.db.models import ApiKey, User, WebSession
from kizuna.domain.enums import UserRole


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name, User.id)))


def web_session_by_hash(session: Session, token_hash: str, now: datetime) -> tuple[WebSession, User] | None:
    row = session.execute(
        select(WebSession, User)
        # equivalent without the ON clause: SQLAlchemy infers it from the one foreign key between the two tables
        .join(User, User.id == WebSession.user_id)  # pragma: no mutate
        .where(WebSession.token_hash == token_hash, WebSession.expires_at > now, User.is_active.is_(True))
    ).first()
    return (row[0], row[1]) if row else None


def delete_web_session(session: Session, token_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def web_sessions_of_user(session: Session, user_id: int, now: datetime) -> list[WebSession]:
    return list(session.scalars(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at > now)
        .order_by(WebSession.created_at.desc(), WebSession.id.desc())
    ))  # fmt: skip


def delete_web_sessions_of_user(session: Session, user_id: int) -> int:
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def delete_expired_sessions(session: Session, now: datetime) -> int:
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def api_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """The active (not revoked) key with this digest."""
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))).first()


def active_api_key_ids(session: Session, key_ids: Iterable[int]) -> set[int]:
    """Which of these keys are not revoked (the ingestion writer asks in every commit)."""
    ids = sorted(set(key_ids))
    if not ids:
        return set()
    return set(session.scalars(select(ApiKey.id).where(ApiKey.id.in_(ids), ApiKey.revoked_at.is_(None))))


class ActiveKeys:
    """Which of these keys are not revoked, for the tracking API's requests that do not reach
    the ingestion writer (a retried body answered from memory, an unreadable one): on a
    connection of its own, in plain SQL, so it costs microseconds, not a session (~1 ms).
    Each call is a new read, so a revocation committed by any process is seen at once.
    ``inline``: cheap enough to run on the event loop itself (SQLite: no network round trip)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._raw: Any = None
        self._lock = threading.Lock()
        self._mark = "%s" if engine.dialect.name == "postgresql" else "?"
        self.inline = engine.dialect.name == "sqlite"

    def __call__(self, key_ids: Iterable[int]) -> set[int]:
        ids = sorted(set(key_ids))
        if not ids:
            return set()
        sql = f"SELECT id FROM api_keys WHERE id IN ({', '.join([self._mark] * len(ids))}) AND revoked_at IS NULL"
        with self._lock:
            try:
                if self._raw is None:
                    self._raw = self._engine.raw_connection()
                cursor = self._raw.cursor()
                try:
                    cursor.execute(sql, tuple(ids))
                    found = {int(row[0]) for row in cursor.fetchall()}
                finally:
                    cursor.close()
                self._raw.rollback()  # end the read: the next one sees what was committed meanwhile
                return found
            except Exception:
                self.close()  # a broken connection is replaced on the next call
                raise

    def close(self) -> None:
        raw, self._raw = self._raw, None
        if raw is not None:
            with contextlib.suppress(Exception):
                raw.close()


def touch_api_key(session: Session, key_id: int, when: datetime) -> None:
    """Record that a key was used (callers throttle: at most once a minute per key)."""
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def active_admin_ids(session: Session) -> list[int]:
    """The active admins' ids, their rows locked until the transaction ends (PostgreSQL:
    two admins demoting each other at once cannot both pass the last-admin check)."""
    return list(session.scalars(
        select(User.id).where(User.role == UserRole.ADMIN, User.is_active.is_(True)).order_by(User.id).with_for_update()
    ))  # fmt: skip


def live_session_counts(session: Session, now: datetime) -> dict[int, int]:
    """How many live sign-ins each user has (users without any are left out)."""
    rows = session.execute(
        select(WebSession.user_id, func.count()).where(WebSession.expires_at > now).group_by(WebSession.user_id)
    )
    return {int(user_id): int(n) for user_id, n in rows}
