"""The jobs layer: the daily job as named steps, outbox delivery, and the scheduler that
runs them inside ``kizuna serve``.

Every job runs through :func:`kizuna.jobs.runner.run_job`: it takes the job's lease in
the store (so one process runs it when several servers share the store), gives each step
its own transaction, records each step in ``job_runs`` and gives the lease back. The
same jobs run from the CLI (``kizuna jobs run NAME``), the scheduler, and the web app's
buttons.
"""

from kizuna.jobs.runner import JOBS, JobReport, StepOutcome, holder_name, run_job

__all__ = ["JOBS", "JobReport", "StepOutcome", "holder_name", "run_job"]
