"""What a running app holds: settings, the store's engine, the templates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request

from kizuna.db import Session, StoreVersion, session_scope
from kizuna.http.throttle import LoginGuard
from kizuna.services.context import RunContext
from kizuna.settings import Settings

T = TypeVar("T")


class StoreCache:
    """Values computed from the store, kept per process while the store is unchanged: a
    value is reused only while :class:`kizuna.db.StoreVersion` is what it was before
    the value was read, so any committed change — here, in another server process, by
    the CLI — makes the next request compute it again. Nothing is kept where the store
    has no such version (PostgreSQL). Issue 19: the accounts list's filter menus (a
    count per owner over every account) on each page."""

    def __init__(self, version: StoreVersion) -> None:
        self._version = version
        self._entries: dict[str, tuple[object, Any]] = {}

    def version(self) -> object | None:
        """Read before the request's transaction reads anything, so that what it then
        reads is at least as new as this version."""
        return self._version.current()

    def get(self, key: str, version: object | None, compute: Callable[[], T]) -> T:
        if version is None:
            return compute()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == version:
            return entry[1]  # type: ignore[no-any-return]
        value = compute()
        self._entries[key] = (version, value)
        return value


@dataclass
class AppState:
    settings: Settings
    engine: Any  # sqlalchemy Engine; typed loosely so http needs no SQLAlchemy import
    templates: Any = None
    context: RunContext = field(default_factory=RunContext)  # what the services read from the settings
    login_guard: LoginGuard = field(default_factory=LoginGuard)
    #: what pages keep from the store while it is unchanged (see :class:`StoreCache`)
    store_cache: StoreCache = field(init=False)

    def __post_init__(self) -> None:
        self.store_cache = StoreCache(StoreVersion(self.settings.database_url))

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction for one request: commit if the handler succeeds."""
        with session_scope(self.engine) as session:
            yield session


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.kizuna
    return state
