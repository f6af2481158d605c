"""Job runs, job leases and the outbox: the SQL of the jobs layer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kizuna.db.models import JobLease, JobRun, OutboxMessage

# --- job runs -------------------------------------------------------------------------------


def start_step(session: Session, *, run_id: str, job: str, step: str, as_of: date | None, trigger: str,
               holder: str, now: datetime) -> int:  # fmt: skip
    row = JobRun(run_id=run_id, job=job, step=step, as_of=as_of, trigger=trigger, holder=holder, status="running",
                 started_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return int(row.id)


def finish_step(session: Session, run_step_id: int, *, status: str, rows: int | None, error: str | None,
                now: datetime) -> None:  # fmt: skip
    session.execute(
        update(JobRun).where(JobRun.id == run_step_id).values(status=status, rows=rows, error=error, finished_at=now)
    )


def recent_steps(session: Session, *, job: str | None = None, limit: int = 200) -> list[JobRun]:
    """The newest step records first (of one job, or of all)."""
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query))


def steps_of_day(session: Session, job: str, as_of: date) -> list[JobRun]:
    """Every step record of ``job`` for ``as_of``, oldest first."""
    return list(session.scalars(
        select(JobRun).where(JobRun.job == job, JobRun.as_of == as_of).order_by(JobRun.started_at, JobRun.id)
    ))  # fmt: skip


def mark_abandoned(session: Session, *, job: str, before: datetime, now: datetime) -> int:
    """Steps still ``running`` that started before ``before`` belong to a process that died."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.job == job, JobRun.status == "running", JobRun.started_at < before)
        .values(status="failed", error="the process running this step stopped before it finished", finished_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- leases ---------------------------------------------------------------------------------


def take_lease(session: Session, job: str, holder: str, *, now: datetime, until: datetime) -> bool:
    """Take (or renew) the lease of ``job`` for ``holder`` if it is free, expired or
    already ``holder``'s. One conditional UPDATE, or an INSERT for a job never leased: two
    processes racing cannot both win (the row's primary key decides the INSERT)."""
    taken = session.execute(
        update(JobLease)
        .where(JobLease.job == job, or_(JobLease.expires_at < now, JobLease.holder == holder))
        .values(holder=holder, expires_at=until, acquired_at=now)
    )
    if int(taken.rowcount or 0) == 1:  # type: ignore[attr-defined]
        return True
    if session.scalar(select(func.count()).select_from(JobLease).where(JobLease.job == job)):
        return False
    try:
        with session.begin_nested():
            session.execute(insert(JobLease).values(job=job, holder=holder, expires_at=until, acquired_at=now))
    except IntegrityError:
        return False
    return True


def give_back_lease(session: Session, job: str, holder: str) -> None:
    session.execute(delete(JobLease).where(JobLease.job == job, JobLease.holder == holder))


def lease_of(session: Session, job: str) -> JobLease | None:
    return session.get(JobLease, job)


# --- the outbox -----------------------------------------------------------------------------


def outbox_has_key(session: Session, key: str) -> bool:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)) is not None


def outbox_add(session: Session, *, kind: str, key: str, payload: dict[str, Any], account_id: int | None,
               now: datetime) -> int | None:  # fmt: skip
    """Queue a message; None when one with the same key exists (nothing queued twice)."""
    if outbox_has_key(session, key):
        return None
    try:
        with session.begin_nested():
            row = OutboxMessage(kind=kind, idempotency_key=key, payload=payload, account_id=account_id, status="pending",
                                attempts=0, created_at=now, next_attempt_at=now)  # fmt: skip
            session.add(row)
            session.flush()
    except IntegrityError:  # queued by a concurrent transaction meanwhile
        return None
    return int(row.id)


def outbox_add_many(session: Session, rows: Sequence[dict[str, Any]], *, now: datetime) -> int:
    """Queue many messages (``kind``, ``key``, ``payload``, ``account_id`` each) in one statement;
    a key already queued is skipped (``ON CONFLICT DO NOTHING``). Returns how many were offered."""
    if not rows:
        return 0
    values = [{"kind": r["kind"], "idempotency_key": r["key"], "payload": r["payload"], "account_id": r["account_id"],
               "status": "pending", "attempts": 0, "created_at": now, "next_attempt_at": now} for r in rows]  # fmt: skip
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    statement = dialect_insert(OutboxMessage).on_conflict_do_nothing(index_elements=["idempotency_key"])
    session.execute(statement, values)
    return len(values)


def outbox_claim(session: Session, *, now: datetime, until: datetime, limit: int) -> list[OutboxMessage]:
    """Claim up to ``limit`` messages due now: pending ones whose time has come, and
    ``sending`` ones whose claim expired (their sender died between claim and mark). Each
    is claimed by a conditional update, so two deliverers never claim the same message."""
    due = list(session.scalars(
        select(OutboxMessage.id)
        .where(or_(and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                   and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now)))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ))  # fmt: skip
    if not due:
        return []
    # One set-based update re-checks each row's state: a row another deliverer claimed
    # meanwhile no longer matches. Ours are those now carrying this claim's exact stamp.
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due),
               or_(OutboxMessage.status == "pending",
                   and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now)))
        .values(status="sending", claimed_until=until, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(due), OutboxMessage.status == "sending", OutboxMessage.claimed_until == until)
        .order_by(OutboxMessage.id)
    ))  # fmt: skip


def outbox_due_exists(session: Session, *, now: datetime) -> bool:
    """Whether anything is due (a cheap check the scheduler makes every few seconds)."""
    return session.scalar(
        select(OutboxMessage.id)
        .where(or_(and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
                   and_(OutboxMessage.status == "sending", OutboxMessage.claimed_until < now)))
        .limit(1)
    ) is not None  # fmt: skip


def outbox_mark_sent(session: Session, message_ids: list[int], *, now: datetime) -> None:
    session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(message_ids))
        .values(status="sent", sent_at=now, claimed_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )  # fmt: skip


def outbox_mark_failed_attempt(session: Session, message_id: int, *, error: str, retry_at: datetime | None) -> None:
    """One attempt failed: back to ``pending`` until ``retry_at``, or parked as ``failed`` (None)."""
    values: dict[str, Any] = {"last_error": error[:2000], "claimed_until": None}
    values.update({"status": "failed"} if retry_at is None else {"status": "pending", "next_attempt_at": retry_at})
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))


def outbox_defer(session: Session, message_id: int, *, until: datetime, why: str) -> None:
    """Not an attempt (a rate limit said wait): back to ``pending`` until ``until``, the attempt given back."""
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
        status="pending", next_attempt_at=until, claimed_until=None, last_error=why[:2000],
        attempts=OutboxMessage.attempts - 1))  # fmt: skip


def outbox_recent_recipients(session: Session, *, since: datetime) -> list[tuple[datetime, list[str]]]:
    """(sent at, recipients) of the emails sent since ``since`` (the per-domain rate limit's memory)."""
    rows = session.execute(select(OutboxMessage.sent_at, OutboxMessage.payload).where(
        OutboxMessage.kind == "email", OutboxMessage.status == "sent", OutboxMessage.sent_at >= since))  # fmt: skip
    return [(at, list((payload or {}).get("to") or [])) for at, payload in rows if at is not None]


def outbox_list(session: Session, *, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return list(session.scalars(query))


def outbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {str(status): int(n) for status, n in rows}


def outbox_retry(session: Session, *, ids: list[int] | None, now: datetime) -> int:
    """Put failed messages (these, or all failed) back in the queue for one more round of attempts."""
    query = update(OutboxMessage).where(OutboxMessage.status == "failed")
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    result = session.execute(query.values(status="pending", attempts=0, next_attempt_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def outbox_purge(session: Session, *, sent_before: datetime, failed_too: bool) -> int:
    statuses = ["sent", "failed"] if failed_too else ["sent"]
    result = session.execute(
        delete(OutboxMessage).where(OutboxMessage.status.in_(statuses),
                                    func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at) < sent_before)
    )  # fmt: skip
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
