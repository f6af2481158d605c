"""Playbooks (their saved versions) and the accounts enrolled in them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BoundedDate, UTCDateTime, utcnow


class PlaybookVersion(Base):
    """One saved version of a playbook (its TOML text); the newest version of a key is the one that runs."""

    __tablename__ = "playbook_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text)  # the [playbooks.<key>] table as TOML
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(500))  # why it changed (the editor's note)


class PlaybookEnrollment(Base):
    """An account's run through a playbook: where it is, and how it ended."""

    __tablename__ = "playbook_enrollments"
    __table_args__ = (Index("ix_playbook_enrollments_key_state", "playbook_key", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    playbook_key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)  # the version it entered under (edits do not re-fire it)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))  # active, completed, exited, holdout
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    entered_on: Mapped[date] = mapped_column(BoundedDate)
    step: Mapped[int] = mapped_column(Integer, default=0)  # the next step to do (0-based)
    next_on: Mapped[date | None] = mapped_column(BoundedDate)  # when the next step is due
    finished_on: Mapped[date | None] = mapped_column(BoundedDate)
    log: Mapped[str] = mapped_column(Text, default="")  # one line per action done, for the timeline


class PlaybookRotation(Base):
    """Round-robin state of one task step: how many tasks it has handed out (the next one
    goes to ``users[turns % len(users)]``), so the turn carries over between daily runs."""

    __tablename__ = "playbook_rotations"

    playbook_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)  # the step's path, e.g. steps[2]
    turns: Mapped[int] = mapped_column(Integer, default=0)


class AppSecret(Base):
    """A secret Kizuna made for itself when the settings name none (e.g. the key that signs
    unsubscribe links): made once, kept in the store, never shown."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
