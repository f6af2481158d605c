"""The composition root: ``create_app(settings)`` builds the web app and its API.

Run it with ``kizuna serve`` (or ``uvicorn --factory kizuna.main:app_from_environment``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from kizuna.api import routers as api_routers
from kizuna.api.routers import usage as usage_api
from kizuna.api.routers._common import json_body_keys_once
from kizuna.db import ensure_schema, make_engine
from kizuna.http import errors
from kizuna.http.middleware import RequestContext
from kizuna.http.state import AppState
from kizuna.http.templating import make_environment
from kizuna.http.throttle import LoginGuard
from kizuna.settings import Settings
from kizuna.version import __version__
from kizuna.web import routes as web_routes

WEB = Path(__file__).parent / "web"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.kizuna
    scheduler = None
    if getattr(app.state, "run_scheduler", False):
        from kizuna.jobs.scheduler import Scheduler

        scheduler = Scheduler(state.engine, state.context).start()
    try:
        yield
    finally:
        if scheduler is not None:
            scheduler.stop()
        usage_api.shutdown(app)  # store the events still queued before the process ends


@cache
def _routes() -> APIRouter:
    """The API's and the pages' routes, included once per process and shared by every app.

    FastAPI builds an included route's state (its dependencies, the validators of its
    parameters and answer) on the first request that reaches it, once per inclusion; including
    the routers in each app paid that again for every app a process builds (0.3–0.8 s of CPU,
    most of the tests' cost of a fresh app). Nothing in that state belongs to one app: a
    handler reads its app from the request (``request.app.state.kizuna``). The one thing that
    would is ``app.dependency_overrides``, which Kizuna does not use and these shared routes
    ignore (this router, not the app, is their provider)."""
    root = APIRouter()
    for router in api_routers():
        # /api/ refuses a JSON body naming a key twice (duplicate_key); /v1/ reads its own bodies.
        root.include_router(router, dependencies=[Depends(json_body_keys_once)])
    for router in web_routes():
        root.include_router(router)
    return root


def create_app(settings: Settings | None = None, *, scheduler: bool = False) -> FastAPI:
    """The web app and API on the store ``settings`` name. ``scheduler``: also run the
    scheduled jobs in this process while it serves (``kizuna serve`` does, per
    ``KIZUNA_SCHEDULER``; tests and embedding do not unless asked)."""
    from kizuna.analytics import compiled

    settings = settings or Settings()
    context = settings.run_context()  # configuration files read once, here
    compiled.use_folder(settings.sql_cache_folder)  # the KPI queries' SQL, compiled by an earlier process
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    app = FastAPI(
        title="Kizuna",
        version=__version__,
        description=(
            "The Kizuna REST API: accounts, contacts, products, subscriptions, tickets, survey responses "
            "and activities. Authenticate with an API key as a bearer token (`kizuna apikey create`). "
            'Every error has the shape `{"errors": [{"code", "message", "field"}]}`.'
        ),
        docs_url=None,  # served by kizuna.web.routes.api_docs from vendored Swagger UI
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=_lifespan,
    )
    app.state.kizuna = AppState(settings=settings, engine=engine, templates=make_environment(WEB / "templates"),
                                context=context, login_guard=LoginGuard(settings.login_hashes_at_once))  # fmt: skip
    app.state.run_scheduler = scheduler
    usage_api.install(app, app.state.kizuna)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    errors.install(app)
    app.add_middleware(RequestContext)
    app.add_middleware(usage_api.FastPath)  # /v1/ skips the router and RequestContext
    app.add_middleware(errors.ErrorBoundary)  # outermost: a 500 is answered and the connection kept
    app.router.routes.extend(_routes().routes)  # the inclusions themselves, with their built state
    app.router._mark_routes_changed()  # as include_router does (FastAPI ≥ 0.165 keeps a routes version)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from ``KIZUNA_*``."""
    settings = Settings()
    return create_app(settings, scheduler=settings.scheduler)
