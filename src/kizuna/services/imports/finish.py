"""What follows a successful import, whoever ran it (the CLI or the web upload)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from kizuna.db import Session, maintenance
from kizuna.services.usage.rollups import RollupConfig


def after_import(session: Session, entity_names: Iterable[str], as_of: date, rollup: RollupConfig) -> None:
    """Attach events parked for new accounts or contacts (issue 4), refresh the account
    summaries and the owner history, and let the database refresh its statistics."""
    from kizuna.services.accounts import refresh_account_summaries
    from kizuna.services.segments import record_owners
    from kizuna.services.usage import attach_parked
    if any(name.replace("-", "_") in ("accounts", "contacts") for name in entity_names):
        attach_parked(session, rollup)
    refresh_account_summaries(session, as_of)
    if any(name.replace("-", "_") == "accounts" for name in entity_names):
        record_owners(session, as_of)
    maintenance.optimize(session)
