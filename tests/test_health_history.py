"""Health history in one pass: the snapshots ``build_history`` writes for a range of
days are the ones the day-by-day path (``score_day`` / ``recompute``) gives, measure by
measure, on a demo company with yearly contracts, open tickets, NPS, CSAT, onboarding
and a CSM's sentiment."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

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
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """The same demo company twice: its history built in blocks of days, and recomputed
    day by day (``kizuna health recompute --from``)."""
    folder = tmp_path_factory.mktemp("history")
    engine = make_engine(f"sqlite:///{folder / 'demo.db'}")
    ensure_schema(engine)
    with session_scope(engine) as session:
        generate_demo(session, accounts=150, months=14, seed=5, as_of=AS_OF)
        # stages choose the scorecards: some accounts onboarding, some up for renewal
        session.execute(sa.text("UPDATE accounts SET lifecycle_stage = CASE id % 4 WHEN 0 THEN 'onboarding' "
                                "WHEN 1 THEN 'renewal' ELSE lifecycle_stage END"))  # fmt: skip
        # a CSM's sentiments: one inside the history, one before it, one too old to count
        for account_id, value, day in ((3, 2, AS_OF - timedelta(days=10)), (5, 5, AS_OF - timedelta(days=90)),
                                       (7, 1, AS_OF - timedelta(days=300))):  # fmt: skip
            health_service.enter_sentiment(session, account_id, value=value, reason="確認済み", author_id=None,
                                           now=datetime.combine(day, datetime.min.time(), tzinfo=UTC))  # fmt: skip
    engine.dispose()
    shutil.copy(folder / "demo.db", folder / "daily.db")
    engine = make_engine(f"sqlite:///{folder / 'demo.db'}")
    daily = make_engine(f"sqlite:///{folder / 'daily.db'}")
    with session_scope(engine) as session:
        written = history.build_history(session, AS_OF, days=DAYS)
        assert written > 100 * DAYS
    with session_scope(daily) as session:
        assert health_service.recompute(session, AS_OF, since=AS_OF - timedelta(days=DAYS - 1)) == written
    yield engine, daily
    engine.dispose()
    daily.dispose()


@pytest.fixture(scope="module")
def store(stores: tuple[sa.Engine, sa.Engine]) -> sa.Engine:
    return stores[0]


def _snapshots(session: Session, day: date | None = None) -> pd.DataFrame:
    where = "WHERE day = :d " if day else ""
    frame = pd.read_sql(sa.text(f"SELECT * FROM health_snapshots {where}ORDER BY day, account_id"),
                        session.connection(), params={"d": day.isoformat()} if day else {})  # fmt: skip
    return frame.drop(columns=["id"], errors="ignore").set_index(["day", "account_id"] if day is None else "account_id")


def test_the_history_is_the_day_by_day_recompute_to_the_last_digit(stores: tuple[sa.Engine, sa.Engine]) -> None:
    built_store, daily_store = stores
    with session_scope(built_store) as session:
        built = _snapshots(session)
    with session_scope(daily_store) as session:
        daily = _snapshots(session)
    assert list(built.index) == list(daily.index)
    assert built.index.get_level_values("day").nunique() == DAYS
    # every column of every row: score, grades held by the hysteresis, scorecard, measures
    # (value, points, weight, basis), 7/30-day changes, explanation
    for column in daily.columns:
        assert built[column].equals(daily[column]), column
    measures = [json.loads(m) for m in built["measures"]]
    seen = {key for m in measures for key, item in m.items() if item["value"] is not None}
    # every kind of source was seen with data, the measures of issue 20 and the staged scorecards too
    assert {"logins_vs_baseline", "active_users_per_seat", "feature_breadth", "nps", "csat", "open_tickets",
            "onboarding_progress", "days_to_renewal", "events_percentile", "activation_vs_tier", "account_age",
            "milestones_on_time", "csm_sentiment"} <= seen  # fmt: skip
    assert {"default", "onboarding", "renewal"} <= set(built["scorecard"])
    assert any("basis" in item for m in measures for item in m.values())  # seats per tracked user
    assert built["change_30d"].notna().mean() > 0.5
    # the hysteresis held some grades: the stored grade is not always the grade of the score
    with session_scope(built_store) as session:
        cards = health_service.active_scorecards(session).cards
    held = 0
    for key, part in built.groupby("scorecard"):
        card = cards.get(str(key))
        assert card is not None
        held += int((health_service.calc.grades(part["score"], card.bands)[0] != part["grade"]).sum())
    assert held > 0


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
