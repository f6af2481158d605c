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
from kizuna.services.accounts import refresh_account_summaries


@dataclass(frozen=True)
class StepResult:
    name: str  # an English label, translated when shown
    count: int
    seconds: float


Step = Callable[[Session, date], int]

STEPS: list[tuple[str, Step]] = [
    (N_("account summaries"), lambda session, as_of: refresh_account_summaries(session, as_of)),
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
