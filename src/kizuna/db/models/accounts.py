"""Accounts (customer companies) and their contacts (people)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import JsonDoc


class Account(Timestamped, Base):
    """A customer company (取引先). ``external_id`` is the key in the source system."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    industry: Mapped[str | None] = mapped_column(String(100))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class Contact(Timestamped, Base):
    """A person at an account; the champion (推進者) is flagged."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    role: Mapped[str | None] = mapped_column(String(100))
    is_champion: Mapped[bool] = mapped_column(Boolean, default=False)
