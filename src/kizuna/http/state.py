"""What a running app holds: settings, the store's engine, the templates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from kizuna.db import Session, session_scope
from kizuna.http.throttle import LoginGuard
from kizuna.services.context import RunContext
from kizuna.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Any  # sqlalchemy Engine; typed loosely so http needs no SQLAlchemy import
    templates: Any = None
    context: RunContext = field(default_factory=RunContext)  # what the services read from the settings
    login_guard: LoginGuard = field(default_factory=LoginGuard)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction for one request: commit if the handler succeeds."""
        with session_scope(self.engine) as session:
            yield session


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.kizuna
    return state
