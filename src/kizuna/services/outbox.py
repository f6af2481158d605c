"""The transactional outbox: emails and webhooks queued with the change that causes them,
delivered after commit.

A service that wants something to leave the building calls :func:`enqueue_email` or
:func:`enqueue_webhook` in its own transaction: if the transaction rolls back, the
message was never queued, so no customer hears of a change that did not happen. The
delivery job (``kizuna.jobs.outbox``) sends what is due, retries with exponential
backoff, and parks a message as failed after the last attempt. Every message carries an
idempotency key to its receiver (the ``Idempotency-Key`` header of a webhook, the
``Message-ID`` of an email), so a delivery repeated after a crash between sending and
marking is recognised there as the same message.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import smtplib
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import orjson

from kizuna.db import Session
from kizuna.db.queries import jobs as q
from kizuna.errors import ConfigurationError, InvalidInput
from kizuna.i18n import _
from kizuna.services.context import MailConfig, OutboxConfig

EMAIL, WEBHOOK = "email", "webhook"
KINDS = (EMAIL, WEBHOOK)
STATUSES = ("pending", "sending", "sent", "failed")
MAX_KEY = 200


class DeliveryError(Exception):
    """A delivery attempt failed; ``permanent`` ones are parked at once (a 4xx, a refused address)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OutboxItem:
    """One queued side effect, as the CLI, the admin page and the API show it."""

    id: int
    kind: str
    idempotency_key: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    account_id: int | None
    target: str  # the recipient address or the webhook's host


def _target(kind: str, payload: dict[str, Any]) -> str:
    if kind == EMAIL:
        return ", ".join(payload.get("to", []))
    url = str(payload.get("url", ""))
    return urllib.parse.urlsplit(url).netloc if url else ""


def _item(row: Any) -> OutboxItem:  # a kizuna.db.models.OutboxMessage
    return OutboxItem(int(row.id), row.kind, row.idempotency_key, row.status, row.attempts, row.created_at,
                      row.next_attempt_at, row.sent_at, row.last_error, row.account_id,
                      _target(row.kind, row.payload))  # fmt: skip


# --- queueing (inside the caller's transaction) ----------------------------------------------


def _check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise InvalidInput(_("an idempotency key must have 1 to {n} characters").format(n=MAX_KEY), field="key")
    return key


def enqueue_email(
    session: Session, *, key: str, to: list[str], subject: str, text: str, html: str | None = None,
    account_id: int | None = None, headers: dict[str, str] | None = None, now: datetime | None = None,
) -> int | None:  # fmt: skip
    """Queue an email; returns its id, or None when a message with ``key`` is already queued."""
    payload = email_payload(to=to, subject=subject, text=text, html=html, headers=headers)
    return q.outbox_add(session, kind=EMAIL, key=_check_key(key), payload=payload, account_id=account_id,
                        now=now or datetime.now(UTC))  # fmt: skip


def email_payload(*, to: list[str], subject: str, text: str, html: str | None = None,
                  headers: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """An email as the outbox stores it, checked (recipients, a one-line subject)."""
    if not to or any("@" not in address or "\n" in address or "\r" in address for address in to):
        raise InvalidInput(_("an email needs at least one valid recipient address"), field="to")
    if "\n" in subject or "\r" in subject:
        raise InvalidInput(_("an email subject must be one line"), field="subject")
    return {"to": list(to), "subject": subject, "text": text, "html": html, "headers": dict(headers or {})}


def webhook_payload(*, url: str, body: dict[str, Any], signed: bool = True) -> dict[str, Any]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(_("a webhook URL must start with https:// or http://"), field="url")
    return {"url": url, "body": body, "signed": signed}


def enqueue_many(session: Session, messages: list[tuple[str, str, dict[str, Any], int | None]], *,
                 now: datetime | None = None) -> int:  # fmt: skip
    """Queue many messages at once — (kind, key, payload from :func:`email_payload` or
    :func:`webhook_payload`, account id) — skipping keys already queued (the daily job's batch)."""
    rows = [{"kind": kind, "key": _check_key(key), "payload": payload, "account_id": account_id}
            for kind, key, payload, account_id in messages]  # fmt: skip
    return q.outbox_add_many(session, rows, now=now or datetime.now(UTC))


def enqueue_webhook(
    session: Session, *, key: str, url: str, body: dict[str, Any], signed: bool = True,
    account_id: int | None = None, now: datetime | None = None,
) -> int | None:  # fmt: skip
    """Queue a JSON POST to ``url`` (a Slack incoming webhook: ``signed=False`` and Slack's
    ``{"text": …}`` body; a generic receiver: signed with ``KIZUNA_WEBHOOK_SECRET``)."""
    payload = webhook_payload(url=url, body=body, signed=signed)
    return q.outbox_add(session, kind=WEBHOOK, key=_check_key(key), payload=payload, account_id=account_id,
                        now=now or datetime.now(UTC))  # fmt: skip


# --- reading and managing -------------------------------------------------------------------


def list_items(session: Session, *, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(_("unknown status {value!r}: use one of {choices}").format(
            value=status, choices=", ".join(STATUSES)), field="status")  # fmt: skip
    return [_item(r) for r in q.outbox_list(session, status=status, limit=max(1, min(limit, 10_000)))]


def counts(session: Session) -> dict[str, int]:
    """Messages per status (every status present, 0 when none)."""
    found = q.outbox_counts(session)
    return {status: found.get(status, 0) for status in STATUSES}


def retry(session: Session, ids: list[int] | None = None, *, now: datetime | None = None) -> int:
    """Queue failed messages (these ids, or every failed one) for another round of attempts."""
    return q.outbox_retry(session, ids=ids, now=now or datetime.now(UTC))


def purge(session: Session, *, older_than_days: int, failed_too: bool = False, now: datetime | None = None) -> int:
    """Delete sent messages (and failed ones with ``failed_too``) older than ``older_than_days``."""
    if not 0 <= older_than_days <= 36500:
        raise InvalidInput(_("--older-than must be from 0 to 36500 days"), field="older_than")
    before = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    return q.outbox_purge(session, sent_before=before, failed_too=failed_too)


def claim_due(session: Session, config: OutboxConfig, *, limit: int, now: datetime | None = None) -> list[Claimed]:
    """Claim what is due (the delivery job's first transaction)."""
    now = now or datetime.now(UTC)
    rows = q.outbox_claim(session, now=now, until=now + timedelta(seconds=config.claim_seconds), limit=limit)
    return [Claimed(int(r.id), r.kind, r.idempotency_key, dict(r.payload), r.attempts) for r in rows]


def anything_due(session: Session, *, now: datetime | None = None) -> bool:
    return q.outbox_due_exists(session, now=now or datetime.now(UTC))


def mark_sent(session: Session, message_ids: list[int], *, now: datetime | None = None) -> None:
    if message_ids:
        q.outbox_mark_sent(session, message_ids, now=now or datetime.now(UTC))


def mark_failed_attempt(session: Session, message: Claimed, error: DeliveryError, config: OutboxConfig, *,
                        now: datetime | None = None) -> bool:  # fmt: skip
    """Record a failed attempt; returns True when the message is parked as failed for good."""
    now = now or datetime.now(UTC)
    park = error.permanent or message.attempts >= config.max_attempts
    delay = min(config.backoff_seconds * (2 ** max(message.attempts - 1, 0)), config.max_backoff_seconds)
    q.outbox_mark_failed_attempt(session, message.id, error=str(error),
                                 retry_at=None if park else now + timedelta(seconds=delay))  # fmt: skip
    return park


def defer(session: Session, message: Claimed, until: datetime, why: str) -> None:
    """Put a claimed message back to wait until ``until`` without counting an attempt."""
    q.outbox_defer(session, message.id, until=until, why=why)


def recipient_domains(message: Claimed) -> set[str]:
    return {str(a).rsplit("@", 1)[-1].strip().lower() for a in message.payload.get("to") or [] if "@" in str(a)}


class DomainLimiter:
    """At most ``per_minute`` emails to one recipient domain in any 60 seconds (a sliding window).

    It starts from what the store says was sent in the last minute (so separate delivery runs
    share the limit) and counts what this run sends. Over the limit a message is not sent: it
    waits in the outbox until its domain has room again (:func:`defer`)."""

    WINDOW = timedelta(seconds=60)

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.sent: dict[str, list[datetime]] = {}

    def load(self, session: Session, now: datetime) -> None:
        if self.per_minute <= 0:
            return
        for at, to in q.outbox_recent_recipients(session, since=now - self.WINDOW):
            for domain in {a.rsplit("@", 1)[-1].lower() for a in to if "@" in a}:
                self.sent.setdefault(domain, []).append(at)

    def wait_until(self, domains: set[str], now: datetime) -> datetime | None:
        """None: send now (and it is counted); else the time from which every domain has room."""
        if self.per_minute <= 0:
            return None
        later = None
        for domain in domains:
            recent = sorted(t for t in self.sent.get(domain, []) if t > now - self.WINDOW)
            self.sent[domain] = recent
            if len(recent) >= self.per_minute:
                free = recent[len(recent) - self.per_minute] + self.WINDOW
                later = free if later is None or free > later else later
        if later is not None:
            return later
        for domain in domains:
            self.sent[domain].append(now)
        return None


@dataclass(frozen=True)
class Claimed:
    """A message claimed for one delivery attempt (plain values: no session needed to send it)."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int  # including this one


# --- sending (outside any transaction) --------------------------------------------------------


def message_id_for(key: str, sender: str) -> str:
    """The same ``Message-ID`` for the same idempotency key: a repeated delivery is one email."""
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "kizuna.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def build_email(message: Claimed, mail: MailConfig) -> EmailMessage:
    payload = message.payload
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = ", ".join(payload["to"])
    email["Subject"] = payload["subject"]
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = message_id_for(message.key, mail.sender) if message.key else make_msgid()
    email["X-Kizuna-Idempotency-Key"] = message.key
    if mail.reply_to:
        email["Reply-To"] = mail.reply_to
    for name, value in (payload.get("headers") or {}).items():
        if "\n" not in value and "\r" not in value:
            email[name] = value
    email.set_content(payload.get("text") or "")
    if payload.get("html"):
        email.add_alternative(payload["html"], subtype="html")
    return email


class EmailSender:
    """Sends over one SMTP connection for a whole delivery round (opened on first use)."""

    def __init__(self, mail: MailConfig) -> None:
        self.mail = mail
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        mail = self.mail
        try:
            smtp: smtplib.SMTP
            if mail.security == "tls":
                smtp = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
                if mail.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if mail.username:
                smtp.login(mail.username, mail.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"cannot reach the SMTP server {mail.host}:{mail.port}: {exc}") from exc
        return smtp

    def send(self, message: Claimed) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.send_message(build_email(message, self.mail))
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"every recipient was refused: {sorted(exc.recipients)}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            # 5xx: the server refuses for good; 4xx: try again later
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                permanent=500 <= exc.smtp_code < 600) from exc  # fmt: skip
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise DeliveryError(f"SMTP delivery failed: {exc}") from exc
        if refused:
            raise DeliveryError(f"some recipients were refused: {sorted(refused)}", permanent=True)

    def close(self) -> None:
        if self._smtp is not None:
            with suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None


class MailTestFailed(ConfigurationError):
    """``kizuna email test``: the SMTP settings do not work; ``reason`` says which part failed."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, code="smtp_test_failed", field=reason)
        self.reason = reason


def _mail_problem(exc: BaseException, mail: MailConfig) -> tuple[str, str]:
    """(reason, a sentence) for an SMTP failure: connection, host, timeout, tls, auth, refused or smtp."""
    where = f"{mail.host}:{mail.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "auth", _("the SMTP server {where} refused the login of {user} (check KIZUNA_SMTP_USERNAME and "
                         "KIZUNA_SMTP_PASSWORD): {why}").format(where=where, user=mail.username or "—",
                                                                 why=_smtp_why(exc))  # fmt: skip
    if isinstance(exc, smtplib.SMTPNotSupportedError) and mail.security == "starttls":
        return "tls", _("the SMTP server {where} does not offer STARTTLS (set KIZUNA_SMTP_SECURITY to none, or tls "
                        "for port 465)").format(where=where)  # fmt: skip
    if isinstance(exc, ssl.SSLError):
        return "tls", _("the TLS handshake with {where} failed ({why}); check KIZUNA_SMTP_SECURITY (starttls for "
                        "port 587, tls for 465) and the server's certificate").format(where=where, why=exc.reason or exc)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "refused", _("the SMTP server {where} refused the address: {why}").format(
            where=where, why="; ".join(f"{a}: {_smtp_why(e)}" for a, e in exc.recipients.items()))  # fmt: skip
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "refused", _("the SMTP server {where} refused the sender {sender} (KIZUNA_MAIL_FROM): {why}").format(
            where=where, sender=mail.sender, why=_smtp_why(exc))  # fmt: skip
    if isinstance(exc, ConnectionRefusedError):
        return "connection", _("connection refused by {where}: no SMTP server listens there (check KIZUNA_SMTP_HOST "
                               "and KIZUNA_SMTP_PORT)").format(where=where)  # fmt: skip
    if isinstance(exc, socket.gaierror):
        return "host", _("the SMTP host {host} is not known (check KIZUNA_SMTP_HOST)").format(host=mail.host)
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout", _("no answer from {where} within {n} seconds").format(where=where, n=int(mail.timeout))
    if isinstance(exc, smtplib.SMTPServerDisconnected) and mail.security == "tls":
        return "tls", _("{where} closed the connection: it may not speak TLS on this port (KIZUNA_SMTP_SECURITY=tls "
                        "is for port 465)").format(where=where)  # fmt: skip
    if isinstance(exc, smtplib.SMTPResponseException):
        return "smtp", _("the SMTP server {where} answered {code}: {why}").format(
            where=where, code=exc.smtp_code, why=_smtp_why(exc))  # fmt: skip
    return "connection", _("cannot talk to the SMTP server {where}: {why}").format(where=where, why=exc)


def _smtp_why(exc: Any) -> str:
    raw = getattr(exc, "smtp_error", None)
    if isinstance(exc, tuple):
        raw = exc[1]
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return str(raw if raw is not None else exc)


def send_test_email(mail: MailConfig, to: str) -> str:
    """Send one test email with these settings, at once (not through the outbox); returns its
    Message-ID. ``MailTestFailed`` says what failed: connection, host, timeout, TLS, login, refused."""
    if "@" not in to or any(c in to for c in "\r\n ,;"):
        raise InvalidInput(_("--to must be one email address, not {value!r}").format(value=to), field="to")
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = to
    email["Subject"] = _("Kizuna test email")
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=mail.sender.rsplit("@", 1)[-1] if "@" in mail.sender else None)
    if mail.reply_to:
        email["Reply-To"] = mail.reply_to
    email.set_content(_("This is a test email from Kizuna. The SMTP settings work: {host}:{port} ({security}).")
                      .format(host=mail.host, port=mail.port, security=mail.security))  # fmt: skip
    smtp: smtplib.SMTP | None = None
    try:
        if mail.security == "tls":
            smtp = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
            if mail.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if mail.username:
            smtp.login(mail.username, mail.password or "")
        smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        reason, message = _mail_problem(exc, mail)
        raise MailTestFailed(message, reason) from exc
    finally:
        if smtp is not None:
            with suppress(OSError, smtplib.SMTPException):
                smtp.quit()
    return str(email["Message-ID"])


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``timestamp.body``: what a receiver recomputes."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookSender:
    """POSTs JSON over kept-alive connections (one per host for a delivery round); 2xx is
    delivered, 408/425/429/5xx and network errors are retried, any other answer is a
    permanent failure (the receiver will not change its mind). Redirects are not followed."""

    def __init__(self, config: OutboxConfig) -> None:
        self.config = config
        self._connections: dict[tuple[str, str], http.client.HTTPConnection] = {}

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        key = (scheme, netloc)
        if key not in self._connections:
            timeout = self.config.webhook_timeout
            self._connections[key] = (
                http.client.HTTPSConnection(netloc, timeout=timeout, context=ssl.create_default_context())
                if scheme == "https" else http.client.HTTPConnection(netloc, timeout=timeout)
            )  # fmt: skip
        return self._connections[key]

    def send(self, message: Claimed) -> None:
        payload = message.payload
        parts = urllib.parse.urlsplit(payload["url"])
        body = orjson.dumps(payload["body"])
        headers = {"Content-Type": "application/json", "User-Agent": "Kizuna", "Idempotency-Key": message.key,
                   "Content-Length": str(len(body))}  # fmt: skip
        if payload.get("signed", True) and self.config.webhook_secret:
            stamp = str(int(time.time()))
            headers["X-Kizuna-Timestamp"] = stamp
            headers["X-Kizuna-Signature"] = signature(self.config.webhook_secret, stamp, body)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        status = None
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: reconnect once
            connection = self._connection(parts.scheme, parts.netloc)
            try:
                connection.request("POST", target, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read(1 << 20)
                status = answer.status
                if answer.will_close:
                    self._drop(parts.scheme, parts.netloc)
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self._drop(parts.scheme, parts.netloc)
                if attempt == 2:
                    raise DeliveryError(f"cannot reach {parts.netloc}: {exc}") from exc
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self._drop(parts.scheme, parts.netloc)
                raise DeliveryError(f"cannot reach {parts.netloc}: {exc}") from exc
        if status is not None and not 200 <= status < 300:
            retry = status in (408, 425, 429) or status >= 500
            raise DeliveryError(f"HTTP {status} from {parts.netloc}", permanent=not retry)

    def _drop(self, scheme: str, netloc: str) -> None:
        connection = self._connections.pop((scheme, netloc), None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()


@contextmanager
def senders(mail: MailConfig, config: OutboxConfig) -> Iterator[dict[str, EmailSender | WebhookSender]]:
    """One sender per kind for a delivery round, closed at the end."""
    made: dict[str, EmailSender | WebhookSender] = {EMAIL: EmailSender(mail), WEBHOOK: WebhookSender(config)}
    try:
        yield made
    finally:
        for sender in made.values():
            sender.close()
