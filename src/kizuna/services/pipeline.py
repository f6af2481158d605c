"""The daily pipeline: the steps that bring every derived figure up to ``as_of``.

Today it refreshes the account summaries (status, MRR, plan, renewal); later
features add their steps here (usage rollups, health scores, tiers, playbooks), in
order, so that `kizuna pipeline run`, the demo and the scheduler run the same thing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from kizuna.db import Session, maintenance
from kizuna.i18n import N_
from kizuna.services import health, segments
from kizuna.services.accounts import refresh_account_summaries
from kizuna.services.ingest.store import usage_step


@dataclass(frozen=True)
class StepResult:
    name: str  # an English label, translated when shown
    count: int
    seconds: float


Step = Callable[[Session, date], int]

STEPS: list[tuple[str, Step]] = [
    # issue 4: parked events that found their account, and events not yet rolled up, before anything reads usage
    (N_("usage rollups"), lambda session, as_of: usage_step(session, as_of)),
    (N_("account summaries"), lambda session, as_of: refresh_account_summaries(session, as_of)),
    # issue 6: tiers and stages before the health scores (scorecards are assigned by them)
    (N_("touch tiers"), lambda session, as_of: segments.recompute_tiers(session, as_of)),
    (N_("lifecycle stages"), lambda session, as_of: segments.recompute_stages(session, as_of)),
    (N_("customer fit"), lambda session, as_of: segments.recompute_fit(session, as_of)),
    (N_("health scores"), lambda session, as_of: health.recompute_step(session, as_of)),
    # issue 6: at-risk flags read the health scores, so they come after them
    (N_("at-risk flags"), lambda session, as_of: segments.recompute_at_risk(session, as_of)),
]


def run_daily(session: Session, as_of: date) -> list[StepResult]:
    """Run every step for ``as_of`` in the caller's transaction."""
    results = []
    for name, step in STEPS:
        start = time.perf_counter()
        count = step(session, as_of)
        results.append(StepResult(name, count, time.perf_counter() - start))
    maintenance.optimize(session)
    return results
