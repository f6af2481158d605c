"""``kizuna email test``: check the SMTP settings by sending one email now."""

from __future__ import annotations

import typer

from kizuna.cli.context import console, load_settings
from kizuna.i18n import _
from kizuna.services import outbox

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


@app.command("test")
def send_test(to: str = typer.Option(..., "--to", metavar="ADDRESS", help="Where to send the test email.")) -> None:
    """Send a test email now with the SMTP settings (KIZUNA_SMTP_*), and say what failed if it does not
    go: the connection, the host name, TLS, the login, or the server refusing the address."""
    settings = load_settings()
    mail = settings.run_context().mail
    console.print(_("Sending a test email to {to} through {host}:{port} ({security})…").format(
        to=to, host=mail.host, port=mail.port, security=mail.security), markup=False)  # fmt: skip
    message_id = outbox.send_test_email(mail, to)
    console.print(_("Sent: the SMTP server accepted it ({id}).").format(id=message_id), markup=False)
