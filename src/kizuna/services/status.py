"""The store at a glance (``kizuna status``, ``GET /api/status``): where it is, its
schema version, the last daily job and the freshness of each data feed."""

from __future__ import annotations

from typing import Any

from kizuna.db import Session
from kizuna.db.schema import current_revision, head_revision
from kizuna.services import freshness
from kizuna.services.jobs import recent_runs

DAILY = "daily"


def status(session: Session) -> dict[str, Any]:
    """``store`` (its URL, password hidden), ``backend`` (sqlite, postgresql), ``schema`` (``current``, ``head``,
    ``up_to_date``), ``daily_job`` (the last run: ``as_of``, ``status``, ``trigger``,
    ``started_at``, ``finished_at``; None before the first), ``freshness`` (one row per
    source, see :func:`kizuna.services.freshness.status_rows`) and ``late_feeds`` (the
    stale sources' names)."""
    engine: Any = session.get_bind()  # the session's engine (sessions are bound to one)
    current = current_revision(engine)
    head = head_revision()
    runs = recent_runs(session, job=DAILY, limit=1) if current is not None else []
    run = runs[0] if runs else None
    # a store behind the code may lack the tables read below: say so rather than fail
    rows = freshness.status_rows(session) if current == head else []
    return {
        "store": engine.url.render_as_string(hide_password=True),
        "backend": engine.dialect.name,
        "schema": {"current": current, "head": head, "up_to_date": current == head},
        "daily_job": None if run is None else {
            "as_of": run.as_of, "status": run.status, "trigger": run.trigger, "started_at": run.started_at,
            "finished_at": run.finished_at,
        },
        "freshness": rows,
        "late_feeds": [r["source"] for r in rows if r["stale"]],
    }  # fmt: skip
