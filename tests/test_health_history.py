"""Health history in one pass: the snapshots ``build_history`` writes for a range of
days are the ones the day-by-day path (``score_day`` / ``recompute``) gives, measure by
measure, on a demo company with yearly contracts, open tickets, NPS, CSAT, onboarding
and a CSM's sentiment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.db import Session, ensure_schema, make_engine, session_scope
from kizuna.demo import generate_demo
from kizuna.errors import InvalidInput
from kizuna.services import health as health_service
from kizuna.services.health import history

AS_OF = date(2026, 6, 30)
DAYS = 40

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('history') / 'demo.db'}")
    ensure_schema(engine)
    with session_scope(engine) as session:
        generate_demo(session, accounts=150, months=14, seed=5, as_of=AS_OF)
        # a CSM's sentiments: one inside the history, one before it, one too old to count
        for account_id, value, day in ((3, 2, AS_OF - timedelta(days=10)), (5, 5, AS_OF - timedelta(days=90)),
                                       (7, 1, AS_OF - timedelta(days=300))):  # fmt: skip
            health_service.enter_sentiment(session, account_id, value=value, reason="確認済み", author_id=None,
                                           now=datetime.combine(day, datetime.min.time(), tzinfo=UTC))  # fmt: skip
    with session_scope(engine) as session:
        written = history.build_history(session, AS_OF, days=DAYS)
        assert written > 100 * DAYS
    yield engine
    engine.dispose()


def _snapshots(session: Session, day: date) -> pd.DataFrame:
    frame = pd.read_sql(sa.text("SELECT * FROM health_snapshots WHERE day = :d ORDER BY account_id"),
                        session.connection(), params={"d": day.isoformat()})  # fmt: skip
    return frame.set_index("account_id")


@pytest.mark.parametrize("offset", [0, 9, DAYS - 1])
def test_every_measure_and_score_is_the_one_day_paths(store: sa.Engine, offset: int) -> None:
    day = AS_OF - timedelta(days=offset)
    with session_scope(store) as session:
        cards = health_service.active_scorecards(session).cards
        one = health_service.score_day(session, day, cards)
        stored = _snapshots(session, day)
    assert list(stored.index) == sorted(one.score.index)
    assert np.allclose(stored["score"], one.score.round(2).reindex(stored.index))
    assert list(stored["grade"]) == list(one.grade.reindex(stored.index))
    assert list(stored["letter"]) == list(one.letter.reindex(stored.index))
    expected = dict(zip(one.score.index, one.measures, strict=True))
    checked = set()
    for account_id, measures in stored["measures"].items():
        got = json.loads(measures)
        for key, item in expected[account_id].items():
            value = got[key]["value"]
            assert (value is None) == (item["value"] is None), (account_id, key)
            if value is not None:
                assert value == pytest.approx(item["value"], abs=1e-4), (account_id, key)
                checked.add(key)
    # every kind of source was seen with data
    assert {"logins_vs_baseline", "active_users_per_seat", "feature_breadth", "nps", "open_tickets",
            "onboarding_progress", "days_to_renewal"} <= checked  # fmt: skip


def test_a_recent_sentiment_counts_and_an_old_one_does_not(store: sa.Engine) -> None:
    with session_scope(store) as session:
        stored = _snapshots(session, AS_OF)

    def sentiment(account_id: int) -> float | None:
        value: float | None = json.loads(stored.loc[account_id, "measures"])["csm_sentiment"]["value"]
        return value

    assert sentiment(3) == 2.0
    assert sentiment(5) == 5.0
    assert sentiment(7) is None
    with session_scope(store) as session:
        before = _snapshots(session, AS_OF - timedelta(days=11))
    assert json.loads(before.loc[3, "measures"])["csm_sentiment"]["value"] is None


def test_changes_and_explanations_match_a_daily_recompute(store: sa.Engine) -> None:
    with session_scope(store) as session:
        built = _snapshots(session, AS_OF)
    with session_scope(store) as session:
        health_service.recompute(session, AS_OF)  # the daily job's step, over the stored history
    with session_scope(store) as session:
        again = _snapshots(session, AS_OF)
    assert built["change_30d"].notna().mean() > 0.8
    for column in ("score", "grade", "letter", "change_7d", "change_30d", "measures", "explanation"):
        assert built[column].equals(again[column]), column


def test_the_history_covers_every_day_and_the_list_shows_the_last(store: sa.Engine) -> None:
    with session_scope(store) as session:
        conn = session.connection()
        days = conn.execute(sa.text("SELECT DISTINCT day FROM health_snapshots ORDER BY day")).scalars().all()
        assert [date.fromisoformat(str(d)) for d in days] == [AS_OF - timedelta(days=DAYS - 1 - n) for n in range(DAYS)]
        shown = conn.execute(sa.text("SELECT count(*) FROM accounts WHERE health_as_of = :d"),
                             {"d": AS_OF.isoformat()}).scalar_one()  # fmt: skip
        assert shown == len(_snapshots(session, AS_OF))


def test_a_history_of_no_days_is_refused(store: sa.Engine) -> None:
    with session_scope(store) as session, pytest.raises(InvalidInput) as caught:
        history.build_history(session, AS_OF, days=0)
    assert caught.value.field == "days"


def test_the_demo_command_builds_180_days_of_history(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["demo", "--accounts", "25", "--months", "9", "--as-of", "2025-03-31",
                                      "--no-serve"])  # fmt: skip
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            first, last, n = conn.execute(
                sa.text("SELECT min(day), max(day), count(DISTINCT day) FROM health_snapshots")
            ).one()
    finally:
        engine.dispose()
    assert (str(first), str(last), n) == ("2024-10-03", "2025-03-31", 180)
