"""Accounts: their commercial summaries (status, MRR, plan, renewal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import subscriptions as q
from kizuna.domain.subscriptions import AccountStatus, summarize

_BATCH = 5000


def refresh_account_summaries(session: Session, as_of: date, *, only: Sequence[int] | None = None) -> int:
    """Recompute each account's status, MRR, plan, renewal date, customer-since and
    churn date from its subscription lines as of ``as_of``. Returns accounts updated.

    Runs after every import and in the daily pipeline; ``only`` limits it to the
    accounts an API call changed.
    """
    with_lines = dict(q.lines_by_account(session, only))
    rows: list[dict[str, Any]] = []
    count = 0
    for account_id in q.account_ids(session, only):
        s = summarize(with_lines.get(account_id, ()), as_of)
        rows.append({
            "account_id": account_id, "status": s.status.value, "mrr": s.mrr, "currency": s.currency,
            "plan_id": s.plan_product_id, "renewal_on": s.renewal_on, "customer_since": s.customer_since,
            "churned_on": s.churned_on,
        })  # fmt: skip
        if len(rows) >= _BATCH:
            q.write_summaries(session, rows, as_of)
            count += len(rows)
            rows = []
    q.write_summaries(session, rows, as_of)
    return count + len(rows)


__all__ = ["AccountStatus", "refresh_account_summaries"]
