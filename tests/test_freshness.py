"""Stale feeds: each source's last data day and expected gap, a late feed's health
measures counted as missing (not as zero activity), an account whose own usage stopped
while the feed is alive still a risk, the banner on every page, ``kizuna status`` and
``/api/status`` — through the importers and the daily job (SQLite and PostgreSQL).

The company: two accounts on a ¥100,000 plan since 2025-01-01. ALIVE logs in every day;
STOPPED stopped 20 days before the feed's last day. The feed's last day is 2026-11-19.
The scorecard: usage (login days in the 30 days up to the day: 0 → 0 points, 20 → 100)
and support (open tickets: none → 100 points), weighted 3 : 1 (usage-heavy) or 1 : 3
(support-heavy). Green from 70, red below 40.

- 2026-11-20, the feed alive (usage silent 1 day, expected gap 3): ALIVE 29 login days
  (Oct 22 – Nov 19) → 100 points; STOPPED 9 (Oct 22 – Oct 30) → 45 points. Usage-heavy:
  ALIVE 100, STOPPED (45×3 + 100)/4 = 58.75 (yellow); support-heavy: STOPPED
  (45 + 100×3)/4 = 86.25.
- 2026-12-09, the feed silent for 20 days (stale): login days are missing for everyone.
  Support-heavy: the weights renormalise to support alone, both 100. Usage-heavy: usage
  carried 75 % of the weight (more than half), so both keep their score of Nov 20, the
  first late day (100 and 58.75) rather than a score resting on a quarter of the card.
  Without the hook ALIVE would read 10 login days → 62.5 (yellow) and STOPPED 0 → 25 (red).
- Were the feed alive for ALIVE only (its logins to Dec 8), STOPPED would read 0 login
  days → 25, red: its own silence is a real risk.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.domain.freshness import expected_gap, freshness, parse_gaps, stale_measures
from kizuna.errors import InvalidInput
from kizuna.services import health as health_service
from kizuna.services import status as status_service
from kizuna.services.accounts import AccountQuery, list_accounts
from kizuna.services.context import build_context
from kizuna.services.imports import ParseContext, import_file
from kizuna.services.pipeline import run_daily
from tests.cli import run_cli
from tests.conftest import make_api_key, make_user, sign_in

CTX = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
LAST = date(2026, 11, 19)  # the feed's last day with data
STOP = LAST - timedelta(days=20)  # STOPPED's last day
CARD = """
[grades]
green = 70
yellow = 40

[scorecards.main]
name = "Main"
default = true

[scorecards.main.groups.usage]
label = "Usage"
weight = USAGE

[scorecards.main.groups.usage.measures]
login_days = { weight = 1, scoring = "linear", points = [[0, 0], [20, 100]] }

[scorecards.main.groups.support]
label = "Support"
weight = SUPPORT

[scorecards.main.groups.support.measures]
open_tickets = { weight = 1, scoring = "steps", points = [[0, 100], [1, 0]] }
"""


# --- the rules, pure ----------------------------------------------------------------------------


def test_the_expected_gap_is_a_high_quantile_of_the_gaps_with_a_floor() -> None:
    d = date(2026, 1, 1)
    daily = [d + timedelta(days=n) for n in range(40)]
    assert expected_gap(daily) == 3  # gaps of 1: the floor
    # 19 gaps of 1 and one of 10: the 95th percentile (nearest rank, the 19th of 20) is 1
    assert expected_gap([*daily[:20], daily[19] + timedelta(days=10)]) == 3
    weekly = [d + timedelta(days=7 * n) for n in range(10)]
    assert expected_gap(weekly) == 7
    mixed = [d + timedelta(days=n) for n in (0, 7, 14, 21, 35, 42)]  # gaps 7, 7, 7, 14, 7
    assert expected_gap(mixed) == 14
    assert expected_gap(daily[:4]) is None  # too little history: not judged
    assert not freshness("usage", daily[:4], daily[3], daily[3] + timedelta(days=90)).stale
    f = freshness("usage", daily, daily[-1], daily[-1] + timedelta(days=3))
    assert (f.silent_days, f.stale) == (3, False)
    late = freshness("usage", daily, daily[-1], daily[-1] + timedelta(days=4))
    assert (late.stale, late.late_since) == (True, daily[-1] + timedelta(days=1))
    assert freshness("usage", [], daily[-1], daily[-1] + timedelta(days=2), set_gap=1).stale
    assert not freshness("usage", [], None, d).stale  # never had data: no feed to be late
    assert stale_measures({"surveys"}) == {"nps", "csat"}
    assert "login_days" in stale_measures({"usage"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("usage", "freshness gaps: 'usage' must be SOURCE=DAYS with SOURCE one of: usage, tickets"),
        ("billing=3", "freshness gaps: 'billing=3' must be SOURCE=DAYS"),
        ("usage=0", "freshness gaps: usage: days must be a whole number from 1 to 3650, not '0'"),
        ("tickets=two", "freshness gaps: tickets: days must be a whole number from 1 to 3650, not 'two'"),
    ],
)
def test_bad_gap_settings_name_the_entry_and_why(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_gaps(text)
    assert message in str(err.value)
    assert parse_gaps(" usage=2, tickets=7 ") == {"usage": 2, "tickets": 7}


# --- through the importers and the daily job --------------------------------------------------


def load(app: FastAPI, tmp_path: Path, *, feed_until: date = LAST, weights: tuple[int, int] = (3, 1)) -> dict[str, int]:
    files = {
        "products": "code,name,kind,rank,currency,list_price,seats_included\nplan-a,Plan A,plan,1,JPY,100000,10\n",
        "accounts": "external_id,name\nALIVE,生きている商事\nSTOPPED,止まった工業\n",
        "subscriptions": "external_id,account_external_id,product_code,currency,monthly_amount,billing_interval,"
                         "status,started_on\nS1,ALIVE,plan-a,JPY,100000,month,active,2025-01-01\n"
                         "S2,STOPPED,plan-a,JPY,100000,month,active,2025-01-01\n",
    }  # fmt: skip
    usage = ["account_external_id,day,metric,value"]
    for n in range(120):
        day = feed_until - timedelta(days=n)
        usage.append(f"ALIVE,{day.isoformat()},logins,5")
        if day <= STOP:
            usage.append(f"STOPPED,{day.isoformat()},logins,5")
    files["usage_daily"] = "\n".join(usage) + "\n"
    card = CARD.replace("USAGE", str(weights[0])).replace("SUPPORT", str(weights[1]))
    (tmp_path / "card.toml").write_text(card, encoding="utf-8")
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
        with app.state.kizuna.unit_of_work() as session:
            import_file(session, name, tmp_path / f"{name}.csv", ctx=CTX)
    with app.state.kizuna.unit_of_work() as session:
        return {r.external_id: r.id for r in list_accounts(session, AccountQuery(), as_of=LAST).items}


def daily(app: FastAPI, tmp_path: Path, day: date, gaps: str = "") -> None:
    context = build_context(scorecards=tmp_path / "card.toml", freshness_gaps=gaps)
    with app.state.kizuna.unit_of_work() as session:
        run_daily(session, day, context)


def health_of(app: FastAPI, ids: dict[str, int]) -> dict[str, tuple[float, str, float | None]]:
    out = {}
    for name, account_id in ids.items():
        with app.state.kizuna.unit_of_work() as session:
            h = health_service.account_health(session, account_id)
        latest = h.history[-1]
        out[name] = (latest.score, str(latest.grade), latest.measures["login_days"].value)
    return out


def test_a_late_usage_feed_counts_as_missing_not_as_zero(app: FastAPI, tmp_path: Path) -> None:
    ids = load(app, tmp_path, weights=(1, 3))
    daily(app, tmp_path, LAST + timedelta(days=1))
    assert health_of(app, ids) == {"ALIVE": (100.0, "green", 29.0), "STOPPED": (86.25, "green", 9.0)}
    daily(app, tmp_path, LAST + timedelta(days=20))
    # the feed is 20 days silent (expected gap 3): login days are missing for everyone, and
    # the scores are support's alone — not 87.5 (10 login days) and 75 (none) from the
    # logins that never arrived
    assert health_of(app, ids) == {"ALIVE": (100.0, "green", None), "STOPPED": (100.0, "green", None)}
    with app.state.kizuna.unit_of_work() as session:
        report = status_service.status(session)
    usage = next(r for r in report["freshness"] if r["source"] == "usage")
    assert (usage["last_day"], usage["late_since"], usage["silent_days"], usage["expected_gap_days"], usage["stale"]) \
        == (LAST, LAST + timedelta(days=1), 20, 3, True)  # fmt: skip
    assert report["late_feeds"] == ["usage"]
    # tickets and surveys never had data; the two subscription days are too few to judge
    assert {r["source"]: r["stale"] for r in report["freshness"]} == {
        "usage": True, "tickets": False, "surveys": False, "subscriptions": False, "activities": False}  # fmt: skip


def test_an_account_resting_on_a_late_feed_keeps_its_score(app: FastAPI, tmp_path: Path) -> None:
    ids = load(app, tmp_path, weights=(3, 1))
    daily(app, tmp_path, LAST + timedelta(days=1))
    assert health_of(app, ids) == {"ALIVE": (100.0, "green", 29.0), "STOPPED": (58.75, "yellow", 9.0)}
    daily(app, tmp_path, LAST + timedelta(days=20))
    # usage carried 75 % of the weight: both keep their Nov 20 score (not support's 100
    # alone, nor 62.5 and 25 from logins that never arrived); the measure shows no data
    assert health_of(app, ids) == {"ALIVE": (100.0, "green", None), "STOPPED": (58.75, "yellow", None)}


def test_an_account_that_stopped_while_the_feed_lives_is_still_a_risk(app: FastAPI, tmp_path: Path) -> None:
    # the feed runs to Dec 8 for ALIVE; STOPPED's logins ended on Oct 30
    ids = load(app, tmp_path, feed_until=LAST + timedelta(days=19))
    daily(app, tmp_path, LAST + timedelta(days=20))
    assert health_of(app, ids) == {"ALIVE": (100.0, "green", 29.0), "STOPPED": (25.0, "red", 0.0)}
    with app.state.kizuna.unit_of_work() as session:
        assert status_service.status(session)["late_feeds"] == []


def test_a_gap_set_in_the_settings_wins_over_the_history(app: FastAPI, tmp_path: Path) -> None:
    ids = load(app, tmp_path)
    daily(app, tmp_path, LAST + timedelta(days=20), gaps="usage=30")  # 20 silent days are normal here
    assert health_of(app, ids)["STOPPED"] == (25.0, "red", 0.0)
    with app.state.kizuna.unit_of_work() as session:
        usage = status_service.status(session)["freshness"][0]
    assert (usage["expected_gap_days"], usage["gap_is_set"], usage["stale"]) == (30, True, False)


def test_the_banner_status_command_and_api_say_which_feed_is_late(
    app: FastAPI, client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    load(app, tmp_path)
    make_user(app, "csm@kizuna.example", "csm")
    sign_in(client, "csm@kizuna.example")
    daily(app, tmp_path, LAST + timedelta(days=1))
    assert 'data-testid="stale-banner"' not in client.get("/accounts").text
    daily(app, tmp_path, LAST + timedelta(days=20))
    for path in ("/", "/accounts", "/kpis"):
        page = client.get(path).text
        assert 'data-testid="stale-banner"' in page, path
        assert "Data feed late: Product usage has sent nothing since Nov 20, 2026." in page
    ja = client.get("/accounts", headers={"Accept-Language": "ja"}).text
    assert "データ連携の遅れ: 利用状況 は 2026/11/20 からデータが届いていません。" in ja
    # the API, with a read key
    key = make_api_key(app, "read")
    body = client.get("/api/status", headers={"Authorization": f"Bearer {key}"}).json()
    assert body["late_feeds"] == ["usage"]
    assert body["schema"]["up_to_date"] is True
    assert body["daily_job"] is None or body["daily_job"]["as_of"] == (LAST + timedelta(days=20)).isoformat()
    usage = body["freshness"][0]
    assert (usage["source"], usage["last_day"], usage["late_since"], usage["stale"]) == (
        "usage", "2026-11-19", "2026-11-20", True)  # fmt: skip
    assert client.get("/api/status", headers={"Authorization": "Bearer nope"}).status_code == 401
    # the command line
    monkeypatch.setenv("KIZUNA_DATABASE_URL", app.state.kizuna.settings.database_url)
    result = run_cli(capsys, "status", "--format", "json")
    assert result.code == 0
    out = json.loads(result.out)
    assert out["late_feeds"] == ["usage"]
    assert out["freshness"][0]["late_since"] == "2026-11-20"
    result = run_cli(capsys, "status")
    assert result.code == 0
    assert "late since" in result.out  # (the table may wrap the day in a narrow terminal)
    assert "Data feeds" in result.out
    bad = run_cli(capsys, "status", "--format", "xml")
    assert bad.code == 1
    assert "--format must be one of table, json, not 'xml'" in bad.err
