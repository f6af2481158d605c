"""Settings read from the environment, and the Python API for analysts."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

import kizuna
from kizuna.errors import InvalidInput
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.test_imports import load_all


def test_defaults_need_no_configuration() -> None:
    s = Settings()
    assert s.database_url == "sqlite:///kizuna.db"
    assert s.timezone == "Asia/Tokyo"
    assert s.default_currency == "JPY"


def test_environment_overrides_and_urls_are_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", "postgres://u:p@db/kizuna")
    monkeypatch.setenv("KIZUNA_DEFAULT_CURRENCY", "usd")
    s = Settings()
    assert s.database_url == "postgresql+psycopg://u:p@db/kizuna"
    assert s.default_currency == "USD"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", "data/my.db")
    assert Settings().database_url == "sqlite:///data/my.db"


@pytest.mark.parametrize(("var", "value", "message", "shown"), [
    ("KIZUNA_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'", "unknown time zone 'Mars/Olympus'"),
    ("KIZUNA_DEFAULT_CURRENCY", "YEN", "unknown currency 'YEN'", "unknown currency 'YEN'"),
    ("KIZUNA_ROLLUP_DEFER_RATE", "-5", "greater than or equal to 0", "must be at least 0"),
    ("KIZUNA_LTV_OBSERVED_FROM", "1800-01-01", "outside the accepted range",
     "1800-01-01 is outside the accepted range 1900-01-01 … 2200-12-31"),
])  # fmt: skip
def test_bad_settings_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], var: str, value: str, message: str,
    shown: str,
) -> None:  # fmt: skip
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError, match=message):
        Settings()
    result = run_cli(capsys, "db", "current")
    assert result.code == 1
    assert f"{var}: {shown}" in result.err  # a plain sentence, without pydantic's "Value error," or "Input should be"


def test_the_ltv_history_start_reaches_the_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    assert Settings().run_context().ltv.observed_from is None
    monkeypatch.setenv("KIZUNA_LTV_OBSERVED_FROM", "2024-11-20")
    assert Settings().run_context().ltv.observed_from == date(2024, 11, 20)


def test_connect_gives_tables_as_dataframes(store_url: str) -> None:
    load_all(store_url)
    with kizuna.connect(store_url) as kz:
        assert "accounts" in kz.tables()
        accounts = kz.accounts()
        assert isinstance(accounts, pd.DataFrame)
        assert sorted(accounts["external_id"]) == ["ACC-1", "ACC-2", "ACC-3"]
        subs = kz.subscriptions()
        assert subs["monthly_amount"].sum() == 20_000 + 1_176_000 + 20_000 + 10_000 + 10_000
        tickets = kz.tickets()
        assert str(tickets["opened_at"].dt.tz) == "UTC"
        logins = kz.table("usage_daily", where={"metric": "logins"})
        assert len(logins) == 2
        assert len(kz.usage_events(limit=2)) == 2
        with pytest.raises(InvalidInput, match="unknown table 'acounts'"):
            kz.table("acounts")
        with pytest.raises(InvalidInput, match="unknown column 'colour'"):
            kz.table("accounts", where={"colour": "red"})


def test_connect_uses_the_configured_store(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'k.db'}"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", url)
    with kizuna.connect() as kz:
        assert kz.url == url
        assert kz.accounts().empty
