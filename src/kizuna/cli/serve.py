"""``kizuna serve``: the web app and REST API."""

from __future__ import annotations

import typer

from kizuna.cli.context import console, load_settings
from kizuna.i18n import _


def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default KIZUNA_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default KIZUNA_PORT, 8000)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    reload: bool = typer.Option(False, "--reload", help="Restart on code changes (development)."),
) -> None:
    """Serve the web app and the REST API (OpenAPI at /docs)."""

    settings = load_settings()
    if host is not None or port is not None:
        settings = settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    run(settings, workers=workers, reload=reload)


def run(settings, *, workers: int = 1, reload: bool = False) -> None:  # type: ignore[no-untyped-def]
    import os

    import uvicorn

    from kizuna.main import create_app

    console.print(
        _("Kizuna is at http://{host}:{port}/  (Ctrl+C to stop)").format(host=settings.host, port=settings.port)
    )
    if workers > 1 or reload:
        # uvicorn needs an import string for several workers; settings travel by environment.
        os.environ["KIZUNA_DATABASE_URL"] = settings.database_url
        uvicorn.run("kizuna.main:app_from_environment", factory=True, host=settings.host, port=settings.port,
                    workers=workers, reload=reload, log_level="warning")  # fmt: skip
    else:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
