"""The REST API reference at ``/docs``: Swagger UI served from vendored files.

FastAPI's own docs page loads Swagger UI from a CDN with an inline script; both are
refused by Kizuna's content policy (and there is no network here), so the page is ours.
It is public, like ``/openapi.json``: it shows the API's shape, never data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kizuna.http.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def api_docs(request: Request) -> Response:
    return render(request, "api_docs.html")
