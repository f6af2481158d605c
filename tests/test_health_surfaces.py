"""Where issue 20 shows itself: the backtest page and CLI with the naive signal and each
measure's own AUC, and the warning a mapping that zeroes activity raises on the
usage page, in ``kizuna health`` and in the daily pipeline (English and Japanese)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.db import make_engine, session_scope
from kizuna.http.clock import today
from kizuna.services import health as health_service
from tests import health_generators as gen
from tests.cli import run_cli
from tests.conftest import make_user, sign_in
from tests.demo_stores import SMALL_DEMO, DemoStores

AS_OF = date(2026, 11, 20)


@pytest.fixture
def demo_app(app: FastAPI, demo_stores: DemoStores, request: pytest.FixtureRequest) -> FastAPI:
    demo_stores.fill(app.state.kizuna.engine, SMALL_DEMO, request)  # built once, copied for each test
    return app


def drop_logins(session: object) -> None:
    """A product whose events never match the sign-in rule: no ``logins`` rows at all."""
    session.execute(text("DELETE FROM usage_daily WHERE metric IN ('logins', 'session_minutes')"))  # type: ignore[attr-defined]


def test_the_backtest_page_shows_the_naive_signal_and_each_measure(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    # the backtest as the page's own cache keeps it (replayed once: the page then reads it from there)
    settings = demo_app.state.kizuna.settings
    cache = demo_app.state.__dict__.setdefault("health_backtest_cache", {})
    with demo_app.state.kizuna.unit_of_work() as session:
        summary = health_service.cached_backtest(session, cache, as_of=today(settings), horizon_days=90,
                                                 path=settings.health_scorecards, now=time.monotonic())  # fmt: skip
    data = dataclasses.asdict(summary)
    assert data["naive_auc"] is not None
    assert len(cache) == 1
    page = client.get("/health/backtest").text
    assert len(cache) == 1  # the page found it there
    shown = re.search(r'data-testid="backtest-naive-auc">([^<]+)<', page)
    assert shown is not None
    assert shown.group(1) == f"{data['naive_auc']:.3f}"
    table = page[page.index('data-testid="backtest-measures"'):]
    table = table[: table.index("</table>")]
    with_auc = [m for m in data["measures"] if m["auc"] is not None]
    assert table.count("<tr class=\"direction-") == len(with_auc)
    best = max(with_auc, key=lambda m: m["auc"])
    first_row = re.search(r'<tr class="direction-(\w+)"><td>([^<]+)</td><td class="num">([^<]+)<', table)
    assert first_row is not None
    assert (first_row.group(1), first_row.group(3)) == (best["direction"], f"{best['auc']:.3f}")


def test_the_usage_page_names_the_mapping_entry_that_zeroes_activity(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    assert 'data-testid="mapping-warning"' not in client.get("/usage").text  # the demo maps its sign-ins
    day = today(demo_app.state.kizuna.settings)  # the page looks at the 30 days up to today
    with demo_app.state.kizuna.unit_of_work() as session:
        drop_logins(session)
        active = health_service.q.accounts_reporting(session, day - timedelta(days=30), day)["events"]
    assert active > 0
    page = client.get("/usage").text
    warning = re.search(r'data-testid="mapping-warning">(.*?)</p>', page, re.S)
    assert warning is not None
    assert "Usage mapping: [login] events" in warning.group(1)
    assert (f"{active} accounts sent events in the last 30 days but none has a login: no event matches the usage "
            "mapping&#39;s [login] events (Signed In)") in warning.group(1)  # fmt: skip
    ja = client.get("/usage", headers={"Accept-Language": "ja"}).text
    assert f"直近30日に {active} 社の取引先がイベントを送っていますが、サインインのある取引先はありません" in ja
    assert "利用状況マッピング: [login] events" in ja


def test_the_cli_backtest_table_and_json_explain_the_score(
    capsys, demo_stores: DemoStores, tmp_path, monkeypatch
) -> None:
    sqlite_url = demo_stores.sqlite_url(SMALL_DEMO, tmp_path / "kizuna.db")
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COLUMNS", "200")  # one line per table row
    engine = make_engine(sqlite_url)
    # the month-ends only (the table below counts the grade changes of the last days too)
    result = run_cli(capsys, "health", "backtest", "--as-of", "2026-11-20", "--format", "json", "--stability-days", "0")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    keys = {m["measure"] for m in data["measures"]}
    assert {"events_vs_baseline", "active_days", "events_percentile", "account_age", "login_days"} <= keys
    assert all(m["direction"] in ("right", "wrong", "none") for m in data["measures"])
    table = run_cli(capsys, "health", "backtest", "--as-of", "2026-11-20")
    assert table.code == 0, table.err
    out = " ".join(table.out.split())
    assert f"ROC-AUC of the naive signal (fewer events in the last 30 days = riskier) │ {data['naive_auc']:.3f}" in out
    assert "Each measure on its own" in out
    login = next(m for m in data["measures"] if m["measure"] == "login_days")
    assert f"Days with logins in the last 30 │ {login['auc']:.3f} │ as scored" in out
    assert "Warning" not in out
    # the mapping matches no sign-in: recompute warns and names the entry; the login measures are missing
    with session_scope(engine) as session:
        drop_logins(session)
    recomputed = run_cli(capsys, "health", "recompute", "--as-of", "2026-11-20")
    assert recomputed.code == 0, recomputed.err
    said = " ".join(recomputed.out.split())
    assert "Warning ([login] events):" in said
    assert "no event matches the usage mapping's [login] events (Signed In)" in said
    with session_scope(engine) as session:
        day = health_service.q.latest_snapshot_day(session)
        snapshot = health_service.q.snapshots_on(session, day)["measures"].iloc[0]
    assert snapshot["login_days"] == {"value": None, "points": None, "weight": 0.0}
    assert snapshot["active_days"]["weight"] > 0


def test_the_daily_pipeline_logs_the_silent_zero(capsys, sqlite_url: str, monkeypatch, caplog) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        gen.build(session, "consumer", accounts=40)  # daily activity, no sign-in event
    with caplog.at_level(logging.WARNING, logger="kizuna.services.health"):
        result = run_cli(capsys, "pipeline", "run", "--as-of", gen.AS_OF.isoformat())
    assert result.code == 0, result.err
    logged = [r.getMessage() for r in caplog.records if r.name == "kizuna.services.health"]
    assert len(logged) == 1
    assert logged[0].startswith("health scores: ")
    assert "[login] any_activity = true" in logged[0]
