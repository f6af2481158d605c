"""Which API key sent a tracking call: Segment's write-key convention (HTTP Basic with
the key as user name and an empty password), or a bearer token.

Keys are looked up by their SHA-256 digest and remembered for :data:`TTL` seconds, so
that a busy sender costs no database read per request (a revoked key stops working
within that time). ``last_used_at`` is written by the ingestion writer, once per group
commit, not once per request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from dataclasses import dataclass

from kizuna.db import Session
from kizuna.db import ingest as q
from kizuna.domain.auth import ApiKeyScope
from kizuna.services.auth import API_KEY_PREFIX

TTL = 30.0
#: Scopes that may send product events.
INGEST_SCOPES = frozenset({ApiKeyScope.INGEST.value, ApiKeyScope.WRITE.value})


@dataclass(frozen=True)
class Sender:
    """An API key that sends events; ``source`` is what ``messageId`` is unique within."""

    key_id: int
    name: str
    scope: str

    @property
    def source(self) -> str:
        return f"key:{self.key_id}"

    @property
    def may_ingest(self) -> bool:
        return self.scope in INGEST_SCOPES


def credentials(authorization: str | None) -> str | None:
    """The key in an ``Authorization`` header: ``Basic base64(key:)`` or ``Bearer key``."""
    if not authorization:
        return None
    scheme, _sep, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    value = value.strip()
    if scheme == "bearer":
        return value or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return decoded.partition(":")[0] or None
    return None


class KeyCache:
    def __init__(self, ttl: float = TTL) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Sender | None]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> tuple[bool, Sender | None]:
        """``(known, sender)`` from memory, without touching the store."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return True, entry[1]
        return False, None

    def lookup(self, session: Session, secret: str) -> Sender | None:
        """The active key with this secret, or None; remembered for a while."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        sender: Sender | None = None
        if secret.startswith(API_KEY_PREFIX):
            row = q.api_key_by_hash(session, digest)
            if row is not None and not row[3]:
                sender = Sender(row[0], row[1], row[2])
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self._ttl, sender)
        return sender
