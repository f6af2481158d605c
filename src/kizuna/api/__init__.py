"""The JSON REST API under ``/api/`` (OpenAPI at ``/docs``): thin routes over the services."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from kizuna.api.routers import home

    return [home.router]
