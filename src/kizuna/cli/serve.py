"""``kizuna serve``: the web app and REST API."""

from __future__ import annotations

import typer

from kizuna.cli.context import console, load_settings
from kizuna.errors import ConfigurationError
from kizuna.i18n import _


def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default KIZUNA_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port (default KIZUNA_PORT, 8000)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    reload: bool = typer.Option(False, "--reload", help="Restart on code changes (development)."),
    allow_demo_admin: bool = typer.Option(
        False, "--allow-demo-admin", help="Serve beyond this machine even while the demo admin has its public password."
    ),
) -> None:
    settings = with_address(load_settings(), host, port)
    check_address(settings.host, settings.port)
    run(settings, workers=workers, reload=reload, allow_demo_admin=allow_demo_admin)


def with_address(settings, host: str | None, port: int | None):  # type: ignore[no-untyped-def]
    """The settings with ``--host`` / ``--port`` applied where given."""
    if host is None and port is None:
        return settings
    return settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})


def check_address(host: str, port: int) -> None:
    """Refuse plainly, before any work, when the server could not listen on ``host:port``.

    Without it uvicorn prints ``[Errno 98] address already in use`` after Kizuna has
    already announced its address. The probe binds as uvicorn does (``SO_REUSEADDR``),
    so a port left in TIME_WAIT by a stopped server is not reported as taken.
    """
    import errno
    import socket

    def can_bind(candidate: int) -> OSError | None:
        try:
            infos = socket.getaddrinfo(host, candidate, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            return OSError(errno.EADDRNOTAVAIL, str(exc))
        family, kind, proto, _name, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return exc
        return None

    problem = can_bind(port)
    if problem is None:
        return
    if problem.errno == errno.EADDRINUSE:
        free = next((p for p in range(port + 1, min(port + 50, 65535) + 1) if can_bind(p) is None), None)
        hint = (
            _("Choose another port with --port, e.g. --port {port}.").format(port=free)
            if free is not None
            else _("Choose another port with --port.")
        )
        raise ConfigurationError(
            _("Port {port} on {host} is already in use by another program.").format(port=port, host=host) + " " + hint,
            field="port",
        )
    raise ConfigurationError(
        _("Cannot listen on {host}:{port}: {reason}").format(host=host, port=port, reason=problem.strerror or problem),
        field="host",
    )


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach the address (127.0.0.1, ::1, localhost)."""
    import ipaddress

    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume others can reach it


def check_demo_admin(settings, *, allow: bool) -> None:  # type: ignore[no-untyped-def]
    """Refuse to serve beyond loopback while the demo admin signs in with its published
    password (anyone who read the README would be an admin); with ``allow``, warn loudly."""
    if is_loopback(settings.host):
        return
    from kizuna.cli.context import err_console, open_store
    from kizuna.cli.demo import DEMO_EMAIL, DEMO_PASSWORD
    from kizuna.db import session_scope
    from kizuna.errors import InvalidInput
    from kizuna.services import auth as auth_service

    with session_scope(open_store(settings)) as session:
        exposed = auth_service.password_works(session, DEMO_EMAIL, DEMO_PASSWORD)
    if not exposed:
        return
    message = _(
        "The demo admin {email} still has its published password, and {host} is reachable from other "
        "machines: anyone could sign in as an admin. Change it (`kizuna users set-password --email {email}`), "
        "serve on 127.0.0.1, or pass --allow-demo-admin."
    ).format(email=DEMO_EMAIL, host=settings.host)
    if not allow:
        raise InvalidInput(message, field="host")
    from rich.text import Text

    err_console.print(Text(_("WARNING: {message}").format(message=message), style="bold red"))


def run(settings, *, workers: int = 1, reload: bool = False, allow_demo_admin: bool = False) -> None:  # type: ignore[no-untyped-def]
    import os

    import uvicorn

    check_demo_admin(settings, allow=allow_demo_admin)

    console.print(
        _("Kizuna is at http://{host}:{port}/  (Ctrl+C to stop)").format(host=settings.host, port=settings.port)
    )
    if workers > 1 or reload:
        # uvicorn needs an import string for several workers; settings travel by environment.
        os.environ["KIZUNA_DATABASE_URL"] = settings.database_url
        uvicorn.run("kizuna.main:app_from_environment", factory=True, host=settings.host, port=settings.port,
                    workers=workers, reload=reload, log_level="warning")  # fmt: skip
    else:
        from kizuna.main import create_app  # only here: with workers, each imports the app, not this process

        uvicorn.run(create_app(settings, scheduler=settings.scheduler), host=settings.host, port=settings.port, log_level="warning")
