"""The in-process scheduler of ``kizuna serve``: the daily job at ``KIZUNA_DAILY_AT`` local
time, outbox delivery every few seconds.

One thread per server process. Several processes (``--workers 2``, or servers on several
machines sharing a PostgreSQL store) may all run a scheduler: the job's lease in the
store lets exactly one of them run each job, the others find it held and move on.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta
from typing import Any

from kizuna.jobs.runner import JOBS, holder_name, outstanding, run_job
from kizuna.services.context import RunContext

log = logging.getLogger("kizuna.scheduler")


class Scheduler:
    """Wakes every ``tick`` seconds; runs the daily job once its time has come and its
    steps have not all succeeded today (retrying failed steps at most every ``retry``),
    and delivers the outbox."""

    def __init__(self, engine: Any, context: RunContext, *, tick: float = 5.0,
                 retry: timedelta = timedelta(minutes=15), clock: Any = None) -> None:  # fmt: skip
        self.engine = engine
        self.context = context
        self.tick = tick
        self.retry = retry
        self.clock = clock or (lambda: datetime.now(context.zone))
        self.holder = holder_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_daily_try: datetime | None = None

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="kizuna-scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # a broken store must not kill the thread: try again next tick
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick)

    def due_day(self, now: datetime) -> date | None:
        """The day the daily job should run for now, or None before its time."""
        if now.time() < self.context.daily_at:
            return None
        return now.date()

    def run_pending(self) -> list[str]:
        """One tick: returns the jobs it ran (for tests and logs)."""
        ran: list[str] = []
        now = self.clock()
        day = self.due_day(now)
        may_try = self._last_daily_try is None or now - self._last_daily_try >= self.retry \
            or self._last_daily_try.date() != now.date()  # fmt: skip
        if day is not None and may_try and outstanding(self.engine, "daily", day):
            self._last_daily_try = now
            report = run_job(self.engine, self.context, "daily", as_of=day, trigger="schedule", pending_only=True,
                             holder=self.holder)  # fmt: skip
            if report.ran and report.steps:
                ran.append("daily")
                log.info("daily job for %s: %s", day, ", ".join(f"{s.step}={s.status}" for s in report.steps))
        if self._outbox_due():  # recorded as a job run only when there was something to send
            report = run_job(self.engine, self.context, "outbox", trigger="schedule", holder=self.holder)
            if report.ran:
                ran.append("outbox")
        return ran

    def _outbox_due(self) -> bool:
        from kizuna.db import session_scope
        from kizuna.services import outbox

        with session_scope(self.engine) as session:
            return outbox.anything_due(session)


__all__ = ["JOBS", "Scheduler"]
