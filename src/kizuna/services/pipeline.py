"""The daily pipeline: the named steps that bring every derived figure up to ``as_of``.

Each step is idempotent (running it twice for a day gives the same tables) and names the
steps it reads from (``after``). ``kizuna.jobs`` runs them each in its own transaction,
records every run in ``job_runs``, and skips a step whose input step failed while the
others go on; :func:`run_daily` runs them all in the caller's transaction (the demo,
tests). Later features add their steps here, in order (churn scores, opportunities,
playbooks, surveys), so that the scheduler, `kizuna jobs run daily` and the demo run the
same thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from kizuna.db import Session, maintenance
from kizuna.i18n import N_
from kizuna.services import (
    alerts,
    churn,
    freshness,
    health,
    ltv_accounts,
    opportunities,
    playbooks,
    renewals,
    segments,
    worklist,
)
from kizuna.services.accounts import refresh_account_summaries
from kizuna.services.context import RunContext
from kizuna.services.usage.store import usage_step


@dataclass(frozen=True)
class StepResult:
    name: str  # an English label, translated when shown
    count: int
    seconds: float


@dataclass(frozen=True)
class Step:
    """One step of the daily job: a stable ``key`` (recorded in ``job_runs``), an English
    ``label`` (translated when shown), what it runs, and the steps whose output it reads."""

    key: str
    label: str
    run: Callable[[Session, date, RunContext], int]
    after: tuple[str, ...] = ()


STEPS: tuple[Step, ...] = (
    # issue 4: parked events that found their account, and events not yet rolled up, before anything reads usage
    Step("usage", N_("usage rollups"), lambda s, d, ctx: usage_step(s, d, ctx.rollup)),
    # issue 14: each feed's last data day; a late feed's health measures count as missing
    Step("freshness", N_("data feed freshness"), lambda s, d, ctx: freshness.record_step(s, d, ctx),
         after=("usage",)),
    Step("summaries", N_("account summaries"), lambda s, d, ctx: refresh_account_summaries(s, d)),
    # issue 21: each segment's retention refitted and each account's lifetime value, before the tiers read it
    Step("ltv", N_("lifetime value per account"), lambda s, d, ctx: ltv_accounts.refit_step(s, d, ctx.ltv),
         after=("summaries",)),
    # issue 6: tiers and stages before the health scores (scorecards are assigned by them)
    Step("tiers", N_("touch tiers"), lambda s, d, ctx: segments.recompute_tiers(s, d, ctx.segments()),
         after=("summaries", "ltv")),
    Step("stages", N_("lifecycle stages"), lambda s, d, ctx: segments.recompute_stages(s, d, ctx.segments()),
         after=("summaries", "usage")),
    Step("fit", N_("customer fit"), lambda s, d, ctx: segments.recompute_fit(s, d, ctx.segments()),
         after=("summaries",)),
    # issue 14: owner periods, so that KPIs by owner use the owner at the start of each month
    Step("owners", N_("account owners"), lambda s, d, ctx: segments.record_owners(s, d)),
    # issue 16: the renewal pipeline (next renewals, outcomes detected on the term end day)
    Step("renewals", N_("renewal pipeline"), lambda s, d, ctx: renewals.step(s, d), after=("summaries", "ltv", "tiers", "owners")),
    Step("health", N_("health scores"),
         lambda s, d, ctx: health.recompute_step(s, d, ctx.scorecards_path, ctx.rollup.mapping,
                                                 *freshness.late_measures(s, d, ctx)),
         after=("usage", "summaries", "tiers", "stages")),
    # issue 16: churn probabilities (a model is trained first when there is none and history allows)
    Step("churn", N_("churn scores"), lambda s, d, ctx: churn.daily_step(s, d), after=("health",)),
    # issue 6: at-risk flags read the health scores, so they come after them
    Step("at_risk", N_("at-risk flags"),
         lambda s, d, ctx: segments.recompute_at_risk(s, d, ctx.segments(),
                                                      usage_stale=freshness.usage_is_stale(s, d, ctx)),
         after=("health", "stages")),
    # issue 15: a Slack message for each account whose health grade turned red today (through the outbox)
    Step("alerts", N_("Slack alerts"), alerts.red_alerts, after=("health",)),
    # issue 16: upsell and cross-sell opportunities at the seeds' moments, held back for unhappy accounts
    Step("opportunities", N_("upsell and cross-sell opportunities"), lambda s, d, ctx: opportunities.run_step(s, d),
         after=("summaries", "health")),
    # issue 15: playbooks act on the day's signals (enroll, do the due steps), before the digest lists their tasks
    Step("playbooks", N_("playbooks"), playbooks.run, after=("health", "at_risk", "tiers", "stages")),
    # issue 15: on the digest day, each CSM's worklist by email (through the outbox, after commit)
    Step("digest", N_("weekly digest emails"), worklist.weekly_digests, after=("health", "at_risk", "playbooks")),
)


def step_named(key: str) -> Step:
    """The step with this key (``KeyError`` when there is none)."""
    for step in STEPS:
        if step.key == key:
            return step
    raise KeyError(key)


def run_daily(session: Session, as_of: date, context: RunContext) -> list[StepResult]:
    """Run every step for ``as_of`` in the caller's transaction."""
    results = []
    for step in STEPS:
        start = time.perf_counter()
        count = step.run(session, as_of, context)
        results.append(StepResult(step.label, count, time.perf_counter() - start))
    maintenance.optimize(session)
    return results
