"""Which API key sent a tracking call: Segment's write-key convention (HTTP Basic with
the key as user name and an empty password), or a bearer token.

Keys are looked up by their SHA-256 digest and remembered for :data:`TTL` seconds, so
that a busy sender costs no digest lookup per request. A revocation is nevertheless seen
on the very next request, in every worker and every server on the store: the ingestion
writer reads which keys of a group commit are still active in the commit's own
transaction (one query per commit, and what a revoked key sent is not stored), and the
answers given without the writer (a retried body answered from memory, an unreadable
body) ask :class:`RevocationCheck` first. ``last_used_at`` is written by the ingestion
writer at most once a minute per key (``KEY_USE_RESOLUTION``, as on ``/api/``), not once
per request or per commit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from kizuna.db import Session
from kizuna.db.queries import auth as q
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
            raw = base64.b64decode(value, validate=True)
            decoded = raw.decode("utf-8")  # pragma: no mutate  (codec names ignore case: "UTF-8" is the same)
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
        # `>=` is the same: the clock never reads one entry's expiry instant exactly, to the nanosecond
        if entry is not None and entry[0] > time.monotonic():  # pragma: no mutate
            return True, entry[1]
        return False, None

    def forget(self, secret: str) -> None:
        """Drop what is remembered of this key (it was revoked)."""
        with self._lock:
            self._entries.pop(hashlib.sha256(secret.encode()).hexdigest(), None)

    def lookup(self, session: Session, secret: str) -> Sender | None:
        """The active key with this secret, or None; remembered for a while."""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        sender: Sender | None = None
        if secret.startswith(API_KEY_PREFIX):
            key = q.api_key_by_hash(session, digest)  # active keys only
            if key is not None:
                sender = Sender(key.id, key.name, str(key.scope))
        with self._lock:
            # only caps memory: a key dropped with the rest is looked up again, with the same answer
            if len(self._entries) > 10_000:  # pragma: no mutate
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self._ttl, sender)
        return sender


class RevocationCheck:
    """Whether keys are still active, asked of the store for every request. With a server
    between (PostgreSQL) in shared queries: a request joins the query that has not started
    yet, or starts the next one, so the answer it gets was read after it arrived;
    ``active_ids`` then runs in a worker thread. ``inline`` (SQLite, a read of a few
    microseconds): asked right away on the event loop. ``active_ids`` returns which of the
    given key ids are not revoked."""

    def __init__(self, active_ids: Callable[[set[int]], set[int]], *, inline: bool = False) -> None:
        self._active_ids = active_ids
        self._inline = inline
        self._waiting: tuple[set[int], asyncio.Future[set[int]]] | None = None

    async def active(self, key_id: int) -> bool:
        if self._inline:  # a local read of microseconds (SQLite): cheaper than any hand-off
            return key_id in self._active_ids({key_id})
        if self._waiting is None:
            waiting: tuple[set[int], asyncio.Future[set[int]]] = (set(), asyncio.get_running_loop().create_future())
            self._waiting = waiting
            asyncio.get_running_loop().create_task(self._run(waiting))
        ids, answer = self._waiting
        ids.add(key_id)
        return key_id in await asyncio.shield(answer)

    async def _run(self, waiting: tuple[set[int], asyncio.Future[set[int]]]) -> None:
        ids, answer = waiting
        await asyncio.sleep(0)  # let the requests already running join this query
        if self._waiting is waiting:
            self._waiting = None  # from here on, a new request starts the next query
        try:
            answer.set_result(await run_in_threadpool(self._active_ids, set(ids)))
        except Exception as exc:  # handed to every waiting request
            answer.set_exception(exc)
