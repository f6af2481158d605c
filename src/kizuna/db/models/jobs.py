"""The jobs layer's records: one row per step of a job run, and the leases that let one
process at a time run a job when several servers share the store."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import BigId, UTCDateTime, utcnow


class JobRun(Base):
    """One step of one run of a job (``daily``: rollups, summaries, tiers, …).

    ``status``: ``running``, ``succeeded``, ``failed`` (``error`` says why), ``skipped``
    (a step it depends on failed in this run). ``run_id`` groups the steps of one run.
    """

    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(36), index=True)
    job: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date | None] = mapped_column(Date)
    trigger: Mapped[str] = mapped_column(String(32), default="manual")  # schedule, manual, web, cli
    holder: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class JobLease(Base):
    """Who runs a job right now, until when. A process takes the lease with a conditional
    update (free, expired, or already its own), renews it while it works and gives it
    back at the end; a process that died leaves a lease that expires by itself."""

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
