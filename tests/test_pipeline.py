"""The daily pipeline end to end on imported data, through the command line."""

from __future__ import annotations

from datetime import date

import pytest

from kizuna.db import make_engine, session_scope
from kizuna.db.models import Account, UsageDaily
from tests.cli import run_cli

IMPORT_DIR = "tests/data/import"


def test_the_pipeline_runs_every_step_on_imported_data(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # A login event imported with no properties at all (not even {}) must count as a login.
    events = tmp_path / "usage_events.csv"
    events.write_text(
        "message_id,account_external_id,contact_external_id,event,timestamp,properties\n"
        "bare-1,ACC-1,CON-2,Signed In,2026-11-21T10:00:00+09:00,\n"
    )
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store_url)
    assert run_cli(capsys, "import", "all", IMPORT_DIR).code == 0
    assert run_cli(capsys, "import", "usage-events", str(events)).code == 0
    result = run_cli(capsys, "pipeline", "run", "--as-of", "2026-11-22")
    assert result.code == 0, result.err
    for step in (
        "usage rollups",
        "account summaries",
        "touch tiers",
        "lifecycle stages",
        "health scores",
        "at-risk flags",
    ):
        assert step in result.out
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        account = session.query(Account).filter_by(external_id="ACC-1").one()
        logins = session.get(UsageDaily, (account.id, date(2026, 11, 21), "logins"))
        assert logins is not None
        assert logins.value == 1.0  # the one bare event of that day (the import has none)
        assert account.health_as_of == date(2026, 11, 22)  # the health step scored it as of the run's day
    engine.dispose()
