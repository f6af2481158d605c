"""The small hand-built company of ``tests/data/metrics/`` (see ``tests/test_metrics.py``
for the figures worked out by hand), loaded through the real importers."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from kizuna.db import make_engine, session_scope
from kizuna.services.accounts import refresh_account_summaries
from kizuna.services.imports import ParseContext, import_file

DATA = Path(__file__).parent / "data" / "metrics"
AS_OF = date(2026, 3, 15)
ORDER = ["products", "accounts", "subscriptions", "tickets", "survey_responses", "onboarding_milestones", "usage_daily"]


def load_fixture(url: str) -> str:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            ctx = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
            for name in ORDER:
                import_file(session, name, DATA / f"{name}.csv", ctx=ctx)
            refresh_account_summaries(session, AS_OF)
    finally:
        engine.dispose()
    return url
