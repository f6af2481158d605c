"""Signed unsubscribe links (配信停止): every non-transactional email to a contact carries one.

The token is ``<contact id>.<signature>``, the signature an HMAC-SHA256 of the contact id
under the app secret (``KIZUNA_SECRET_KEY``, else a random secret made once and kept in
the store), so nobody can unsubscribe someone else by changing the number. It needs no
expiry: an old email's link still works. Opening the link shows a confirmation page; the
POST (the page's button, or a mail client's one-click ``List-Unsubscribe-Post``) records
it. An unsubscribed contact gets no more playbook emails (the run's log says
"skipped: unsubscribed").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from kizuna.db import Session
from kizuna.db.queries import unsubscribe as q
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services.context import RunContext

TOKEN = re.compile(r"^([1-9][0-9]{0,17})\.([A-Za-z0-9_-]{22})$")


def secret(session: Session, context: RunContext) -> str:
    """The key that signs the links: the setting's, else the store's own (made once)."""
    return context.secret_key or q.app_secret(session, "unsubscribe", lambda: secrets.token_urlsafe(32))


def sign(key: str, purpose: str, ident: int) -> str:
    """The link signature of ``ident`` for one purpose (``unsubscribe``, ``survey``, ``article``):
    a signature made for one purpose is no good for another."""
    mac = hmac.new(key.encode(), f"{purpose}:{ident}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def signed_id(key: str, purpose: str, token: str) -> int | None:
    """The id a ``<id>.<signature>`` token names, or None when it is malformed, forged or altered."""
    m = TOKEN.fullmatch(token or "")
    if m is None:
        return None
    ident = int(m.group(1))
    return ident if hmac.compare_digest(m.group(2), sign(key, purpose, ident)) else None


def _signature(key: str, contact_id: int) -> str:
    return sign(key, "unsubscribe", contact_id)


def token_for(key: str, contact_id: int) -> str:
    return f"{contact_id}.{_signature(key, contact_id)}"


def link(context: RunContext, key: str, contact_id: int) -> str:
    return f"{context.public_url}/unsubscribe/{token_for(key, contact_id)}"


def headers(url: str) -> dict[str, str]:
    """RFC 2369 and RFC 8058 (one-click) headers for a non-transactional email."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _bad() -> InvalidInput:
    return InvalidInput(_("this unsubscribe link is not valid (it was changed or cut short); open the link "
                          "from the email again, or reply to the email to ask"),
                        code="invalid_unsubscribe_link", field="token")  # fmt: skip


def check(session: Session, context: RunContext, token: str) -> int:
    """The contact id a token names; ``InvalidInput`` (``invalid_unsubscribe_link``) when forged or altered."""
    contact_id = signed_id(secret(session, context), "unsubscribe", token)
    if contact_id is None:
        raise _bad()
    return contact_id


@dataclass(frozen=True)
class UnsubscribeState:
    email: str  # masked: j•••@example.com (the page is open to anyone holding the link)
    unsubscribed: bool


def _mask(email: str | None) -> str:
    if not email or "@" not in email:
        return "—"
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}•••@{domain}"


def state(session: Session, context: RunContext, token: str) -> UnsubscribeState:
    """What the confirmation page shows; the same 400 for a forged link and a deleted contact."""
    row = q.contact(session, check(session, context, token))
    if row is None:
        raise _bad()
    return UnsubscribeState(_mask(row.email), row.unsubscribed_at is not None)


def unsubscribe(session: Session, context: RunContext, token: str, *, now: datetime | None = None) -> UnsubscribeState:
    """Record the unsubscribe (again is fine: nothing changes)."""
    contact_id = check(session, context, token)
    row = q.contact(session, contact_id)
    if row is None:
        raise _bad()
    q.mark_unsubscribed(session, contact_id, now or datetime.now(UTC))
    return UnsubscribeState(_mask(row.email), True)
