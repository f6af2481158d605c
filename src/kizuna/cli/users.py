"""``kizuna users`` and ``kizuna apikey``: who may sign in, and keys for the API."""

from __future__ import annotations

import getpass
import os

import typer
from rich.table import Table

from kizuna.cli.context import console, load_settings, open_store
from kizuna.db import session_scope
from kizuna.domain.auth import ApiKeyScope
from kizuna.domain.enums import UserRole
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services import auth as auth_service

users = typer.Typer(no_args_is_help=True)  # the helps of both: COMMANDS in kizuna.cli
apikeys = typer.Typer(no_args_is_help=True)


def _password(*, prompt: bool) -> str | None:
    """The password from ``KIZUNA_PASSWORD``, else asked twice without echo. Never an
    option: a command line is visible to every user of the machine (``ps``)."""
    from_env = os.environ.get("KIZUNA_PASSWORD")
    if from_env:
        return from_env
    if not prompt:
        return None
    first = getpass.getpass(_("Password: "))
    if first != getpass.getpass(_("Repeat the password: ")):
        raise InvalidInput(_("the two passwords differ"), field="password")
    return first


@users.command("create")
def create_user(
    email: str = typer.Option(..., "--email", help="Sign-in email address."),
    role: UserRole = typer.Option(UserRole.CSM, "--role", help="admin, lead, csm or viewer."),
    name: str = typer.Option("", "--name", help="Display name (default: the email)."),
    locale: str | None = typer.Option(None, "--locale", help="ja or en."),
) -> None:
    """Create a user. The first one should be an admin: `kizuna users create --email you@example.com --role admin`.

    The password is asked for (or read from the environment variable KIZUNA_PASSWORD)."""
    engine = open_store(load_settings())
    secret = _password(prompt=True)
    with session_scope(engine) as session:
        user = auth_service.create_user(session, email=email, name=name, role=role, password=secret, locale=locale)
        console.print(_("Created {role} {email}.").format(role=user.role.value, email=user.email))


@users.command("set-password")
def set_password(
    email: str = typer.Option(..., "--email", help="The user's sign-in email."),
) -> None:
    """Set (or reset) a user's password; every browser signed in as the user must sign in again.

    The password is asked for (or read from the environment variable KIZUNA_PASSWORD)."""
    engine = open_store(load_settings())
    secret = _password(prompt=True)
    assert secret is not None
    with session_scope(engine) as session:
        user = auth_service.get_user_by_email(session, email)
        ended = auth_service.set_password(session, user, secret)
    console.print(_("Password set for {email}; {n} sessions ended.").format(email=email, n=ended))


@users.command("set-role")
def set_role(
    email: str = typer.Option(..., "--email", help="The user's sign-in email."),
    role: UserRole = typer.Option(..., "--role", help="admin, lead, csm or viewer."),
) -> None:
    """Give a user another role. The last active admin keeps theirs (make another admin first)."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        user = auth_service.set_role(session, auth_service.get_user_by_email(session, email).id, role)
        console.print(_("{email} is now {role}.").format(email=user.email, role=role.value), markup=False)


@users.command("set-lead")
def set_lead(
    email: str = typer.Option(..., "--email", help="The user's sign-in email."),
    lead: str | None = typer.Option(None, "--lead", help="Their team lead's email; leave out to clear it."),
) -> None:
    """Set a user's team lead: playbook tasks with the assignee rule "lead" go to the owner's lead."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        user = auth_service.get_user_by_email(session, email)
        lead_id = auth_service.get_user_by_email(session, lead).id if lead else None
        auth_service.set_lead(session, user.id, lead_id)
    message = _("{lead} now leads {email}.") if lead else _("{email} has no team lead now.")
    console.print(message.format(lead=lead, email=email), markup=False)


@users.command("deactivate")
def deactivate(email: str = typer.Option(..., "--email", help="The user's sign-in email.")) -> None:
    """Stop a user from signing in and end their sessions at once (not the last active admin)."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        ended = auth_service.set_active(session, auth_service.get_user_by_email(session, email).id, False)
    console.print(_("{email} is deactivated; {n} sessions ended.").format(email=email, n=ended), markup=False)


@users.command("reactivate")
def reactivate(email: str = typer.Option(..., "--email", help="The user's sign-in email.")) -> None:
    """Let a deactivated user sign in again."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        auth_service.set_active(session, auth_service.get_user_by_email(session, email).id, True)
    console.print(_("{email} can sign in again.").format(email=email), markup=False)


sessions = typer.Typer(help="Sign-ins of a user: list them, end them all.", no_args_is_help=True)
users.add_typer(sessions, name="sessions")


@sessions.command("list")
def list_sessions(email: str = typer.Option(..., "--email", help="The user's sign-in email.")) -> None:
    """List a user's live sign-ins (when each started and ends)."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        user = auth_service.get_user_by_email(session, email)
        table = Table()
        for heading in ("id", _("started"), _("expires")):
            table.add_column(heading)
        found = auth_service.list_sessions(session, user)
        for s in found:
            table.add_row(str(s.id), s.created_at.isoformat(timespec="seconds"), s.expires_at.isoformat(timespec="seconds"))
    console.print(table)
    console.print(_("{n} live sessions for {email}.").format(n=len(found), email=email), markup=False)


@sessions.command("revoke")
def revoke_sessions(email: str = typer.Option(..., "--email", help="The user's sign-in email.")) -> None:
    """End every sign-in of a user at once (a lost laptop, a departure)."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        user = auth_service.get_user_by_email(session, email)
        ended = auth_service.revoke_sessions(session, user)
    console.print(_("{n} sessions of {email} ended.").format(n=ended, email=email), markup=False)


@users.command("list")
def list_users() -> None:
    """List the users and their roles."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        table = Table()
        for heading in (_("email"), _("name"), _("role"), _("language"), _("can sign in")):
            table.add_column(heading)
        for u in auth_service.list_users(session):
            table.add_row(
                u.email, u.name, u.role.value, u.locale or "-", _("yes") if u.password_hash and u.is_active else _("no")
            )
    console.print(table)


@apikeys.command("create")
def create_key(
    name: str = typer.Option(..., "--name", help="What the key is for, e.g. 'CRM sync'."),
    scope: ApiKeyScope = typer.Option(ApiKeyScope.READ, "--scope", help="read, write or ingest."),
) -> None:
    """Create an API key. It is shown once; Kizuna keeps only its hash."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        key, record = auth_service.create_api_key(session, name=name, scope=scope)
        key_id = record.id
    console.print(
        _("API key {id} ({scope}) created. Store it now; it will not be shown again:").format(
            id=key_id, scope=scope.value
        )
    )
    print(key)


@apikeys.command("list")
def list_keys() -> None:
    """List API keys (never the keys themselves)."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        table = Table()
        for heading in ("id", _("name"), _("scope"), _("prefix"), _("last used"), _("revoked")):
            table.add_column(heading)
        for k in auth_service.list_api_keys(session):
            table.add_row(str(k.id), k.name, k.scope.value, f"kz_{k.prefix}_…",
                          k.last_used_at.isoformat() if k.last_used_at else "-",
                          k.revoked_at.isoformat() if k.revoked_at else "-")  # fmt: skip
    console.print(table)


@apikeys.command("revoke")
def revoke_key(key_id: int = typer.Argument(..., help="The key's id (see `kizuna apikey list`).")) -> None:
    """Revoke an API key: it stops working at once."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        auth_service.revoke_api_key(session, key_id)
    console.print(_("API key {id} revoked.").format(id=key_id))
