"""The server-rendered web app (Jinja2 + htmx): thin routes over the services."""

from __future__ import annotations

from fastapi import APIRouter


def routes() -> list[APIRouter]:
    from kizuna.web.routes import accounts, auth, home

    return [auth.router, home.router, accounts.router]
