"""Guessing passwords is slow and bounded: per-account and per-address throttling of
failed sign-ins, and an upper bound on password hashes computed at once.

- Each failed sign-in counts against the account (the email typed, whether or not it
  exists) and against the caller's address. The first few failures cost nothing; after
  that each further attempt must wait longer (2, 4, 8 … seconds, up to five minutes), and
  after ``LOCK_AFTER`` more the key is locked for ``LOCK_SECONDS``. A waiting or locked
  caller gets 429 with ``Retry-After`` *before* any password is hashed. A success clears
  the account's count (not the address's: one known password must not unlock guessing
  others from the same place). Counts older than the window are forgotten.
- Argon2 takes 64 MiB and all cores (four lanes) per hash: ``hash_slot()`` lets at most
  ``KIZUNA_LOGIN_HASHES_AT_ONCE`` run (default 1); a sign-in that cannot get a slot within
  ``SLOT_WAIT_SECONDS`` gets 429 too. Waiting happens on the event loop, not in a worker
  thread, so a flood of sign-ins never takes the threads other pages need; and the hashes
  run in their own threads at a lower CPU priority (``nice`` 10, Linux), so pages keep
  answering while a flood is being turned away.

The counts live in the process (one per worker): with several workers an attacker gets
at most that many times the attempts, still bounded. See docs/security.md.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
#: How much lower than the pages' threads the hashing threads run (``nice``).
HASH_NICENESS = 10

#: Failures without any delay, per account and per address (an office shares an address).
FREE_PER_ACCOUNT = 5
FREE_PER_ADDRESS = 10
#: Further failures (with growing delays) before the key is locked.
LOCK_AFTER = 5
LOCK_SECONDS = 15 * 60
MAX_DELAY_SECONDS = 5 * 60
#: Failures older than this are forgotten.
WINDOW_SECONDS = 60 * 60
#: How long a sign-in waits for a hashing slot before it is turned away.
SLOT_WAIT_SECONDS = 10.0
#: Keys remembered at most (the oldest are dropped): a flood of made-up emails stays bounded.
MAX_KEYS = 50_000


class Busy(Exception):
    """No hashing slot came free in time."""


@dataclass
class _Count:
    failures: int
    last: float


class LoginGuard:
    """Failed sign-ins per key, and the slots for password hashing. Thread-safe."""

    def __init__(self, hashes_at_once: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self._counts: OrderedDict[str, _Count] = OrderedDict()
        self._lock = threading.Lock()
        self._clock = clock
        self.hashes_at_once = max(1, hashes_at_once)
        self._slots: asyncio.Semaphore | None = None
        self._executor: ThreadPoolExecutor | None = None

    @staticmethod
    def keys(email: str, address: str | None) -> dict[str, int]:
        """The throttled keys of one attempt and their free allowance."""
        return {f"account:{email.strip().lower()}": FREE_PER_ACCOUNT, f"address:{address or '?'}": FREE_PER_ADDRESS}

    def retry_after(self, keys: dict[str, int]) -> int:
        """Seconds the caller must wait before trying again (0: go ahead)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key, free in keys.items():
                count = self._counts.get(key)
                if count is None:
                    continue
                if now - count.last > WINDOW_SECONDS:
                    del self._counts[key]
                    continue
                wait = max(wait, count.last + _delay(count.failures, free) - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, keys: dict[str, int]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                count = self._counts.pop(key, None)
                if count is None or now - count.last > WINDOW_SECONDS:
                    count = _Count(0, now)
                count.failures += 1
                count.last = now
                self._counts[key] = count  # most recent last
            while len(self._counts) > MAX_KEYS:
                self._counts.popitem(last=False)

    def succeeded(self, keys: dict[str, int]) -> None:
        with self._lock:
            for key in keys:
                if key.startswith("account:"):
                    self._counts.pop(key, None)

    @asynccontextmanager
    async def hash_slot(self, wait: float = SLOT_WAIT_SECONDS) -> AsyncIterator[None]:
        """One of the ``hashes_at_once`` slots, or :class:`Busy` after ``wait`` seconds."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.hashes_at_once)
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=wait)
        except TimeoutError:
            raise Busy from None
        try:
            yield
        finally:
            self._slots.release()

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Run ``work`` (a password check) in a hashing thread, at a lower CPU priority."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.hashes_at_once, "kizuna-hash", initializer=_lower_priority)
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)


def _lower_priority() -> None:
    """Lower this thread's CPU priority (Linux: niceness is per thread, and the argon2
    lanes it starts inherit it). Elsewhere nothing changes."""
    with suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


def _delay(failures: int, free: int) -> float:
    """Seconds to wait after the last of ``failures`` failures."""
    over = failures - free
    if over <= 0:
        return 0.0
    if over > LOCK_AFTER:
        return float(LOCK_SECONDS)
    return float(min(2**over, MAX_DELAY_SECONDS))
