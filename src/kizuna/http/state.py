"""What a running app holds: settings, the store's engine, the templates."""

from __future__ import annotations

import threading
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

#: KPI reports (and drill-downs) the API keeps per process while the store is unchanged.
REPORTS_KEPT = 8
#: The accounts list's counts kept (one per search and filters, the most recent ones).
COUNTS_KEPT = 256


class StoreCache:
    """Values computed from the store, kept per process while the store is unchanged: a
    value is reused only while :class:`kizuna.db.StoreVersion` is what it was before
    the value was read, so any committed change — here, in another server process, by
    the CLI — makes the next request compute it again. Nothing is kept where the store
    has no such version (PostgreSQL). Issue 19: the accounts list's filter menus (a
    count per owner over every account) on each page, the list's count of matches per
    search and filters (a search for a word most accounts have counts them all), and the
    KPI report of ``/api/kpis`` (``entries`` keeps the most recently used ones only)."""

    def __init__(self, version: StoreVersion, entries: int | None = None) -> None:
        self._version = version
        self._limit = entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[object, Any]] = {}

    def version(self) -> object | None:
        """Read before the request's transaction reads anything, so that what it then
        reads is at least as new as this version."""
        return self._version.current()

    def clear(self) -> None:
        """Forget every value (the benchmarks measure a first request this way)."""
        with self._lock:
            self._entries.clear()

    def get(self, key: str, version: object | None, compute: Callable[[], T]) -> T:
        if version is None:
            return compute()
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None and entry[0] == version:
                self._entries[key] = entry  # the most recently used last
                return entry[1]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._entries[key] = (version, value)
            while self._limit is not None and len(self._entries) > self._limit:
                del self._entries[next(iter(self._entries))]
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
    #: the KPI reports of the API, the same way (a few: each holds a report's tables)
    reports: StoreCache = field(init=False)
    #: the accounts list's counts of matches per search and filters, the same way
    counts: StoreCache = field(init=False)

    def __post_init__(self) -> None:
        version = StoreVersion(self.settings.database_url)
        self.store_cache = StoreCache(version)
        self.reports = StoreCache(version, entries=REPORTS_KEPT)
        self.counts = StoreCache(version, entries=COUNTS_KEPT)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction for one request: commit if the handler succeeds."""
        with session_scope(self.engine) as session:
            yield session


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.kizuna
    return state
