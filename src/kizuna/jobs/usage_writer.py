"""The ingestion writer: group commit — a thread of the engine room (``kizuna.jobs``).

Requests hand their validated messages to one writer thread and wait. The thread takes
everything that is waiting (up to a bound), stores it in **one** transaction — events,
rollups, quarantine, counters — commits, and only then answers every request in it. So
a 2xx means committed (SQLite in WAL mode keeps a committed transaction through a
process kill; PostgreSQL through a crash), and the cost of a commit is shared by all the
requests that arrived while the previous one was being written.

If a group's transaction fails, each request of the group is retried alone, so that one
bad request cannot fail the others.

Under load (``defer_above`` events per second or more) a commit journals its rollup sums
instead of updating the rollups, and the thread applies the journals at most
``apply_every`` seconds later (also when it falls idle, when the load drops, at start-up
for what a killed server left, and when it stops); see
:func:`kizuna.services.usage.apply_deferred`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kizuna.db import Session
from kizuna.db import usage as q
from kizuna.db.queries.auth import ActiveKeys
from kizuna.db.usage import PinnedUnitOfWork
from kizuna.services.auth import KEY_USE_RESOLUTION
from kizuna.services.usage import RollupConfig, apply_deferred
from kizuna.services.usage.payload import Message
from kizuna.services.usage.store import Directory, Outcome, count_rejected, store

log = logging.getLogger("kizuna.ingest")

UnitOfWork = Callable[[], AbstractContextManager[Session]]


__all__ = ["ActiveKeys", "IngestWriter", "KeyRevoked", "WriterClosed", "start_writer"]


def start_writer(engine: Any, config: RollupConfig, *, defer_above: float) -> IngestWriter:
    """The app's writer: one pinned connection (and so SQLite's page cache) across group commits."""
    return IngestWriter(PinnedUnitOfWork(engine), config, defer_above=defer_above)


@dataclass
class _Submission:
    messages: Sequence[Message]
    rejected: Counter[tuple[str, str]]
    key_id: int | None
    future: Future[Outcome] = field(default_factory=Future)


class KeyRevoked(Exception):
    """The submission's key was revoked before its commit: nothing of it was stored."""


class WriterClosed(RuntimeError):
    """The writer is shutting down; the caller should answer 503 so the client retries."""


_STOP = object()
#: How long the writer trusts what it remembers of accounts and contacts (external id → id).
DIRECTORY_SECONDS = 60.0


class IngestWriter:
    """One thread that stores submitted messages with group commit.

    ``unit_of_work`` opens a transaction that commits when its block ends (the web app's
    :meth:`AppState.unit_of_work`). The thread starts on the first submission.
    """

    def __init__(
        self, unit_of_work: UnitOfWork, config: RollupConfig, *, max_messages: int = 4000, defer_above: float = 0.0,
        apply_every: float = 1.0,
    ) -> None:  # fmt: skip
        self._uow = unit_of_work
        self.config = config
        self._max = max_messages
        self._defer_above = defer_above  # events stored per second from which rollups are journaled (0: never)
        self.apply_every = apply_every
        self._recent: deque[tuple[float, int]] = deque()  # (when, events stored) of the last second's commits
        self._recent_total = 0
        self._journaled = False  # the journals may hold rows
        self._applied_at = time.monotonic()
        self.deferred_commits = 0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.commits = 0
        self._directory = Directory()
        self._directory_since = time.monotonic()

    def submit(
        self, messages: Sequence[Message], *, rejected: Counter[tuple[str, str]] | None = None,
        key_id: int | None = None,
    ) -> Future[Outcome]:  # fmt: skip
        """Queue messages; the future resolves (with their :class:`Outcome`) after the commit."""
        item = _Submission(messages, rejected or Counter(), key_id)
        with self._lock:
            if self._closed:
                raise WriterClosed("the ingestion writer is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kizuna-ingest-writer", daemon=True)
                self._thread.start()
            self._queue.put(item)
        return item.future

    def close(self, timeout: float = 30.0) -> None:
        """Store what is queued and stop the thread (the app's shutdown). Submissions
        while it drains are refused; a later one starts a new thread (an app that is
        started again, as tests do)."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)
        with self._lock:
            if thread is None or not thread.is_alive():
                self._thread = None
                self._closed = False

    def _run(self) -> None:
        self._journaled = True  # a server killed under load leaves journal rows behind
        self._apply()
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=self.apply_every) if self._journaled else self._queue.get()
            except queue.Empty:  # idle: apply what the last commits journaled
                self._apply()
                continue
            if item is _STOP:
                break
            group = [item]
            size = len(item.messages)  # type: ignore[attr-defined]
            while size < self._max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                group.append(more)
                size += len(more.messages)  # type: ignore[attr-defined]
            defer = self._defer_above > 0 and self._rate() >= self._defer_above
            self._write(group, defer=defer)  # type: ignore[arg-type]
            if self._journaled and (not defer or time.monotonic() - self._applied_at >= self.apply_every):
                self._apply()
        if self._journaled:
            self._apply()
        release = getattr(self._uow, "close", None)  # a unit of work that holds a connection lets it go
        if release is not None:
            release()

    def _rate(self) -> int:
        """Events stored in the last second."""
        since = time.monotonic() - 1.0
        while self._recent and self._recent[0][0] < since:
            self._recent_total -= self._recent.popleft()[1]
        return self._recent_total

    def _apply(self) -> None:
        """Apply the journaled rollup sums in a transaction of their own."""
        try:
            with self._uow() as session:
                apply_deferred(session)
        except Exception:
            log.exception("could not apply the deferred usage rollups; trying again in %.1f s", self.apply_every)
        else:
            self._journaled = False
        self._applied_at = time.monotonic()

    def _write(self, group: list[_Submission], *, retried: bool = False, defer: bool = False) -> None:
        now = datetime.now(UTC)
        if time.monotonic() - self._directory_since > DIRECTORY_SECONDS:
            self._directory.clear()
            self._directory_since = time.monotonic()
        revoked: list[_Submission] = []
        live = group
        try:
            with self._uow() as session:
                # a key revoked by anyone before this transaction stores nothing more (one
                # query per commit: revocation takes effect on the next request, for free)
                keys = {s.key_id for s in group if s.key_id is not None}
                active = q.active_api_keys(session, keys) if keys else {}
                revoked = [s for s in group if s.key_id is not None and s.key_id not in active]
                live = [s for s in group if s.key_id is None or s.key_id in active] if revoked else group
                outcomes = store(session, [s.messages for s in live], self.config, now=now,
                                 directory=self._directory, defer_rollups=defer)  # fmt: skip
                rejected: Counter[tuple[str, str]] = Counter()
                for s in live:
                    rejected.update(s.rejected)
                if rejected:
                    count_rejected(session, rejected, now=now)
                # last use noted at most once a minute per key, as on /api/ (not a write per commit)
                stale = [k for k, last in active.items() if last is None or now - last >= KEY_USE_RESOLUTION]
                if stale:
                    q.touch_api_keys(session, stale, now)
            self.commits += 1
            self._directory.commit()
            stored = sum(o.stored + o.attached for o in outcomes)
            self._recent.append((time.monotonic(), stored))
            self._recent_total += stored
            self._journaled = self._journaled or defer
            self.deferred_commits += defer
        except Exception as exc:
            self._directory.clear()  # an account may have gone: look everything up again
            if len(group) > 1:
                for s in group:
                    self._write([s], defer=defer)
                return
            if not retried:
                self._write(group, retried=True, defer=defer)
                return
            log.exception("could not store %d tracking messages", len(group[0].messages))
            group[0].future.set_exception(exc)
            return
        for s, outcome in zip(live, outcomes, strict=True):
            s.future.set_result(outcome)
        for s in revoked:
            s.future.set_exception(KeyRevoked())
