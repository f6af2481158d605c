"""Health on the pages a CSM reads: the 360 header (score, grade, a 30-day sparkline drawn
as inline SVG, the top reason), and the movers with their MRR and owner, on a small demo
company with a history built by ``build_history``."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kizuna.db import session_scope
from kizuna.services import health as health_service
from kizuna.services.health import history
from kizuna.web.sparkline import sparkline
from tests.conftest import make_user, sign_in
from tests.demo_stores import SMALL_DEMO, DemoStores

AS_OF = date(2026, 11, 20)
HOSTILE = '<img src=x onerror="alert(1)">佐藤'


def _build_history(session: Session) -> None:
    history.build_history(session, AS_OF, days=35)


#: The small demo company with 35 days of health history (built once per test process, copied for each test).
HISTORY_DEMO = dataclasses.replace(SMALL_DEMO, then=_build_history)


@pytest.fixture
def history_app(app: FastAPI, demo_stores: DemoStores, request: pytest.FixtureRequest) -> FastAPI:
    demo_stores.fill(app.state.kizuna.engine, HISTORY_DEMO, request)
    return app


def _snapshots(app: FastAPI, account_id: int) -> list[dict[str, object]]:
    with session_scope(app.state.kizuna.engine) as session:
        return history.hq.recent_snapshots(session, account_id, 30)


def _an_account_with_a_reason(app: FastAPI) -> int:
    with app.state.kizuna.unit_of_work() as session:
        frame = health_service.q.snapshots_on(session, AS_OF)
    for account_id in frame["account_id"]:
        rows = _snapshots(app, int(account_id))
        if len(rows) == 30 and rows[-1]["explanation"]:
            return int(account_id)
    raise AssertionError("no account with 30 days of history and an explanation")


def test_a_sparkline_maps_scores_into_its_box() -> None:
    line = sparkline([0, 100, 50], width=120, height=32)
    assert line is not None
    assert line.points == "2,30 60,2 118,16"
    assert (line.last_x, line.last_y) == (118, 16)
    assert sparkline([70]) is None  # one point is no line
    clipped = sparkline([-5, 130])
    assert clipped is not None
    assert clipped.points == "2,30 118,2"


def test_the_360_header_shows_score_grade_sparkline_and_top_reason(history_app: FastAPI, client: TestClient) -> None:
    make_user(history_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    account = _an_account_with_a_reason(history_app)
    rows = _snapshots(history_app, account)
    newest = rows[-1]
    page = client.get(f"/accounts/{account}").text
    head = page[page.index('data-testid="health-head"') :]
    head = head[: head.index("</div>")]
    assert re.search(r'data-testid="head-score">(\d+)<', head).group(1) == f"{newest['score']:.0f}"  # type: ignore[union-attr]
    assert f'data-testid="head-grade">{newest["grade"]}<' in head
    svg = re.search(r'<svg class="sparkline[^"]*" data-testid="health-sparkline" role="img" aria-label="([^"]+)"', head)
    assert svg is not None
    first, last = rows[0]["score"], newest["score"]
    assert svg.group(1) == f"Health score over the last 30 days: from {first:.0f} to {last:.0f}"
    points = re.search(r'<polyline points="([^"]+)"', head).group(1).split()  # type: ignore[union-attr]
    assert len(points) == 30
    ys = [float(p.split(",")[1]) for p in points]
    scores = [float(r["score"]) for r in rows]  # type: ignore[arg-type]
    # a 120 × 32 box with 2 px of padding, 0–100 upwards: the line is the history's shape
    assert ys == pytest.approx([2 + (100 - s) / 100 * 28 for s in scores], abs=0.051)
    reason = health_service.explanation_lines(newest["explanation"][:1])[0]  # type: ignore[index]
    assert f'data-testid="head-reason">{html.escape(reason, quote=False)}<' in head.replace("&#39;", "'")


def test_the_header_speaks_japanese(history_app: FastAPI, client: TestClient) -> None:
    make_user(history_app, "ja@kizuna.example", "viewer", locale="ja")
    sign_in(client, "ja@kizuna.example")
    account = _an_account_with_a_reason(history_app)
    page = client.get(f"/accounts/{account}", headers={"Accept-Language": "ja"}).text
    assert 'aria-label="過去30日間のヘルススコア: ' in page


def test_an_account_without_snapshots_has_no_health_header(history_app: FastAPI, client: TestClient) -> None:
    make_user(history_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    with session_scope(history_app.state.kizuna.engine) as session:
        unscored = session.execute(sa.text(
            "SELECT id FROM accounts WHERE id NOT IN (SELECT account_id FROM health_snapshots) LIMIT 1"
        )).scalar_one()  # fmt: skip
    page = client.get(f"/accounts/{unscored}").text
    assert 'data-testid="account-name"' in page
    assert "health-sparkline" not in page


def test_movers_show_mrr_and_owner_escaped(history_app: FastAPI, client: TestClient) -> None:
    make_user(history_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    api = client.get("/api/health/summary").json()
    movers = api["movers"]["dropped_30d"]
    assert movers
    with session_scope(history_app.state.kizuna.engine) as session:
        facts = {
            a: (m, o, n)
            for a, m, o, n in session.execute(sa.text(
                "SELECT a.id, a.mrr, a.owner_id, u.name FROM accounts a LEFT JOIN users u ON u.id = a.owner_id"
            )).all()
        }  # fmt: skip
    for m in movers:
        assert (m["mrr"], m["owner_id"], m["owner_name"]) == facts[m["account_id"]]
        assert m["currency"] == "JPY"
    owned = next(m for m in movers if m["owner_id"] is not None)
    with session_scope(history_app.state.kizuna.engine) as session:
        session.execute(sa.text("UPDATE users SET name = :n WHERE id = :i"), {"n": HOSTILE, "i": owned["owner_id"]})
    page = client.get("/health").text
    section = page[page.index('data-testid="movers-dropped_30d"') :]
    section = section[: section.index("</section>")]
    row = next(
        r for r in section.split('<tr data-testid="mover">')[1:] if f'href="/accounts/{owned["account_id"]}"' in r
    )
    assert f'data-testid="mover-mrr">¥{owned["mrr"]:,}<' in row
    assert f'data-testid="mover-owner">{html.escape(HOSTILE)}<' in row.replace("&#34;", "&quot;")
    assert "<img" not in section
    unowned = [m for m in movers if m["owner_id"] is None]
    if unowned:
        row = next(r for r in section.split('<tr data-testid="mover">')[1:]
                   if f'href="/accounts/{unowned[0]["account_id"]}"' in r)  # fmt: skip
        assert 'data-testid="mover-owner">Unowned<' in row


def test_the_history_chart_has_every_day(history_app: FastAPI, client: TestClient) -> None:
    make_user(history_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    account = _an_account_with_a_reason(history_app)
    panel = client.get(f"/accounts/{account}/health", headers={"HX-Request": "true"}).text
    assert '<script type="application/json"' not in panel  # htmx would drop it: the config rides on the canvas
    data = re.search(r"data-chart-config='([^']*)'", panel)
    assert data is not None
    chart = json.loads(html.unescape(data.group(1)))
    assert len(chart["data"]["datasets"][0]["data"]) == 35
    assert chart["data"]["labels"][-1] == f"{AS_OF.month}/{AS_OF.day}"
    assert chart["data"]["labels"][0] == f"{(AS_OF - timedelta(days=34)).month}/{(AS_OF - timedelta(days=34)).day}"
