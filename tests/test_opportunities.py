"""Upsell and cross-sell opportunities (issue 16 items 4 and 5) on hand-built stores: the
seeds' moments, suppression kept with its reason, won/lost detection, idempotent re-runs,
the recommender's hand-computed ranking, and the API/CLI/page surfaces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.analytics import recommend
from kizuna.domain.playbooks import parse_playbooks
from kizuna.main import create_app
from kizuna.services import opportunities
from kizuna.services.accounts import refresh_account_summaries
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import make_api_key, make_user
from tests.test_tasks import add_account, sql

TODAY = date(2026, 11, 20)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: id, code, name, kind, rank, list price (JPY), seats included
PRODUCTS = [
    (1, "starter", "ライト", "plan", 1, 9_800, 5),
    (2, "pro", "プロ", "plan", 2, 5_000, None),  # per seat
    (3, "enterprise", "エンタープライズ", "plan", 3, 8_000, None),
    (4, "analytics", "高度な分析", "addon", 0, 30_000, None),
    (5, "sso", "SSO", "addon", 0, 50_000, None),
]


@pytest.fixture
def app(tmp_path: Any) -> Iterator[FastAPI]:
    application = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", today=TODAY))
    for pid, code, name, kind, rank, price, seats in PRODUCTS:
        sql(application, "INSERT INTO products (id, code, name, kind, rank, list_price, currency, seats_included,"
                         " is_active, created_at, updated_at) VALUES (:i, :c, :n, :k, :r, :p, 'JPY', :s, :y, :t, :t)",
            i=pid, c=code, n=name, k=kind, r=rank, p=price, s=seats, y=True, t=NOW)  # fmt: skip
    yield application
    application.state.kizuna.engine.dispose()


def line(app: FastAPI, account: int, product: int, *, start: date, status: str = "active", quantity: int = 1,
         amount: int = 50_000, trial_ends: date | None = None, term_end: date | None = None, term: int = 1,
         ended: date | None = None) -> None:  # fmt: skip
    n = sql(app, "SELECT count(*) FROM subscriptions")[0][0]
    sql(app, "INSERT INTO subscriptions (external_id, account_id, product_id, quantity, monthly_amount, currency,"
             " billing_interval, status, started_on, trial_ends_on, current_term_end, term_months, ended_on,"
             " created_at, updated_at) VALUES (:x, :a, :p, :q, :m, 'JPY', :b, :s, :st, :tr, :te, :tm, :en, :t, :t)",
        x=f"S{n + 1}", a=account, p=product, q=quantity, m=amount, b="year" if term >= 12 else "month", s=status,
        st=start, tr=trial_ends, te=term_end, tm=term, en=ended, t=NOW)  # fmt: skip


def answer(app: FastAPI, account: int, kind: str, score: int, day: date) -> None:
    n = sql(app, "SELECT count(*) FROM survey_responses")[0][0]
    sql(app, "INSERT INTO survey_responses (external_id, account_id, kind, score, answered_at, created_at, updated_at)"
             " VALUES (:x, :a, :k, :s, :at, :t, :t)",
        x=f"R{n + 1}", a=account, k=kind, s=score, at=datetime.combine(day, datetime.min.time(), tzinfo=UTC), t=NOW)  # fmt: skip


def step(app: FastAPI, day: date = TODAY) -> int:
    with app.state.kizuna.unit_of_work() as session:
        refresh_account_summaries(session, day)
        return opportunities.run_step(session, day)


def rows(app: FastAPI) -> list[tuple[Any, ...]]:
    return sql(app, "SELECT a.external_id, o.type, p.code, o.status, o.suppressed_reason, o.signal, o.value"
                    " FROM opportunities o JOIN accounts a ON a.id = o.account_id JOIN products p ON p.id = o.product_id"
                    " ORDER BY a.external_id, o.type, p.code")  # fmt: skip


def grade(app: FastAPI, account: int, value: str) -> None:
    sql(app, "UPDATE accounts SET health_grade = :g WHERE id = :id", g=value, id=account)


def test_a_trial_ending_in_5_days_gets_an_upsell_of_its_plan_valued_at_the_list_price(app: FastAPI) -> None:
    owner = make_user(app, "csm@kizuna.example", "csm", name="担当")
    a = add_account(app, "TRY", owner=owner, status="trial")
    line(app, a, 2, start=TODAY - timedelta(days=9), status="trial", quantity=12,
         trial_ends=TODAY + timedelta(days=5))  # fmt: skip
    step(app)
    assert rows(app) == [("TRY", "upsell", "pro", "open", None, "trial_ending", 12 * 5_000)]
    with app.state.kizuna.unit_of_work() as session:
        (view,) = opportunities.list_opportunities(session)
    assert view.reason == "The trial ends in 5 days: propose プロ before it does."
    assert view.owner_name == "担当"
    # a trial ending in 20 days is not yet the moment
    b = add_account(app, "LATER", owner=owner, status="trial")
    line(app, b, 2, start=TODAY, status="trial", trial_ends=TODAY + timedelta(days=20))
    step(app)
    assert [r[0] for r in rows(app)] == ["TRY"]


def _renewing(app: FastAPI, key: str, *, owner: int | None = None) -> int:
    a = add_account(app, key, owner=owner)
    line(app, a, 2, start=date(2025, 12, 20), quantity=20, amount=100_000, term=12, term_end=TODAY + timedelta(days=30))
    return a


def test_a_red_account_gets_a_suppressed_opportunity_with_the_reason_health_red(app: FastAPI) -> None:
    green = _renewing(app, "GREEN")
    red = _renewing(app, "RED")
    grade(app, green, "green")
    grade(app, red, "red")
    step(app)
    # the next plan per seat: 20 seats × 8,000 − the 100,000 paid today
    assert rows(app) == [("GREEN", "upsell", "enterprise", "open", None, "renewal", 60_000),
                         ("RED", "upsell", "enterprise", "suppressed", "health_red", "renewal", 60_000)]  # fmt: skip
    with app.state.kizuna.unit_of_work() as session:
        (view,) = opportunities.for_account(session, red)
    assert (view.status, view.suppressed_because) == ("suppressed", "health red")
    # recovered: the same row opens again (not a second one)
    grade(app, red, "green")
    step(app)
    assert rows(app)[1][3:5] == ("open", None)
    assert sql(app, "SELECT count(*) FROM opportunities")[0][0] == 2


def test_a_detractor_never_gets_an_open_one_even_after_a_purchase_or_a_high_csat(app: FastAPI) -> None:
    a = _renewing(app, "DET")
    line(app, a, 4, start=TODAY - timedelta(days=3), amount=30_000)  # a purchase 3 days ago: cross-sell moment
    answer(app, a, "csat", 5, TODAY - timedelta(days=2))
    answer(app, a, "nps", 9, TODAY - timedelta(days=200))
    answer(app, a, "nps", 3, TODAY - timedelta(days=100))  # the latest NPS answer: a detractor
    step(app)
    got = rows(app)
    assert got
    assert {r[3] for r in got} == {"suppressed"}
    assert {r[4] for r in got} == {"detractor"}
    with app.state.kizuna.unit_of_work() as session:
        assert {v.suppressed_because for v in opportunities.for_account(session, a)} == {"NPS detractor"}
    # an open escalation holds back as well; a promoter with no escalation gets one
    b = _renewing(app, "ESC")
    sql(app, "INSERT INTO tickets (external_id, account_id, status, priority, channel, opened_at, message_count,"
             " created_at, updated_at) VALUES ('T1', :a, 'open', 'urgent', 'email', :o, 1, :t, :t)",
        a=b, o=datetime(2026, 11, 18, tzinfo=UTC), t=NOW)  # fmt: skip
    step(app)
    assert [r[3:5] for r in rows(app) if r[0] == "ESC"] == [("suppressed", "escalation")]


def test_a_purchase_is_a_cross_sell_moment_and_buying_the_proposal_wins_it(app: FastAPI) -> None:
    # others who hold analytics also hold SSO: the engine proposes SSO after an analytics purchase
    for i in range(3):
        other = add_account(app, f"PEER{i}", owner=None)
        line(app, other, 2, start=date(2025, 1, 1))
        line(app, other, 4, start=date(2025, 2, 1), amount=30_000)
        line(app, other, 5, start=date(2025, 3, 1), amount=50_000)
    a = add_account(app, "BUYER", owner=None)
    line(app, a, 2, start=date(2025, 1, 1))
    line(app, a, 4, start=TODAY - timedelta(days=4), amount=30_000)
    step(app)
    assert [r for r in rows(app) if r[0] == "BUYER"] == [
        ("BUYER", "cross_sell", "sso", "open", None, "purchase", 50_000)
    ]
    assert step(app) == 1  # the same day again: nothing new, nothing changed
    assert len(rows(app)) == 1
    later = TODAY + timedelta(days=10)
    line(app, a, 5, start=later - timedelta(days=2), amount=45_000)
    step(app, later)
    assert sql(app, "SELECT status, won_mrr, closed_on FROM opportunities") == [
        ("won", 45_000, (later - timedelta(days=2)).isoformat())
    ]
    with app.state.kizuna.unit_of_work() as session:
        (view,) = opportunities.list_opportunities(session, status="won")
    assert view.close_reason == f"bought on {(later - timedelta(days=2)).isoformat()}"


def test_an_open_one_without_a_purchase_is_lost_after_90_days_and_a_churn_loses_it(app: FastAPI) -> None:
    a = add_account(app, "IDLE", owner=None)
    line(app, a, 1, start=date(2025, 1, 1), amount=9_800)
    answer(app, a, "csat", 4, TODAY)
    peer = add_account(app, "PEER", owner=None)
    line(app, peer, 1, start=date(2025, 1, 1), amount=9_800)
    line(app, peer, 4, start=date(2025, 1, 1), amount=30_000)
    step(app)
    assert [r[1:6] for r in rows(app) if r[0] == "IDLE"] == [("cross_sell", "analytics", "open", None, "csat")]
    step(app, TODAY + timedelta(days=91))
    assert sql(app, "SELECT status, close_reason FROM opportunities") == [("lost", "no purchase within {days} days")]
    # lost blocks the same proposal for the cooldown: a new CSAT does not reopen it at once
    answer(app, a, "csat", 5, TODAY + timedelta(days=92))
    step(app, TODAY + timedelta(days=92))
    assert sql(app, "SELECT count(*) FROM opportunities")[0][0] == 1


def test_seats_nearly_all_in_use_propose_the_next_plan(app: FastAPI) -> None:
    a = add_account(app, "FULL", owner=None)
    line(app, a, 2, start=date(2025, 1, 1), quantity=20, amount=100_000)
    for d in range(5):
        sql(app, "INSERT INTO usage_daily (account_id, day, metric, value) VALUES (:a, :d, 'active_users', :v)",
            a=a, d=TODAY - timedelta(days=d), v=18 + (d == 2))  # fmt: skip
    step(app)
    with app.state.kizuna.unit_of_work() as session:
        (view,) = opportunities.list_opportunities(session)
    assert (view.type, view.product_code, view.signal, view.value) == ("upsell", "enterprise", "seats", 60_000)
    assert view.reason == "19 of 20 seats are in use (95%): propose エンタープライズ."


def test_the_cosine_ranking_matches_a_hand_computation() -> None:
    # holders: A {1,2}, B {1,2,3}, C {1,3}, D {4}
    h = recommend.Holdings.from_pairs([(1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 1), (3, 3), (4, 4)], [1, 2, 3, 4])
    sim = recommend.cosine_similarity(h.matrix)
    # |1∩2| = 2, |1| = 3, |2| = 2 → 2/√6; |2∩3| = 1 → 1/√4; |1∩3| = 2 → 2/√6; 4 with nothing: 0
    assert sim[0, 1] == pytest.approx(2 / np.sqrt(6))
    assert sim[1, 2] == pytest.approx(0.5)
    assert sim[0, 3] == 0.0
    assert sim[0, 0] == 0.0
    # an account holding only product 2: 1 (0.816) before 3 (0.5); 4 scores 0 and comes last
    top = recommend.top_k(recommend.scores(h.matrix[[0]] - h.matrix[[0]].multiply(np.array([[1, 0, 0, 0]])), sim),
                          h.matrix[[0]] - h.matrix[[0]].multiply(np.array([[1, 0, 0, 0]])), 3)  # fmt: skip
    assert [int(h.product_ids[i]) for i in top[0]] == [1, 3, 4]


def test_the_evaluation_beats_popularity_where_co_holding_has_structure() -> None:
    holdings, latest = recommend.structured_holdings(accounts=600, products=9, bundles=3, seed=1)
    ev = recommend.evaluate(holdings, latest, k=3)
    assert ev.accounts > 400
    assert ev.cooccurrence.recall > ev.popularity.recall + 0.2
    assert ev.cooccurrence.precision == pytest.approx(ev.cooccurrence.hits / (3 * ev.accounts))


# --- surfaces ----------------------------------------------------------------------------------


@pytest.fixture
def store(app: FastAPI) -> dict[str, int]:
    owner = make_user(app, "csm@kizuna.example", "csm", name="担当 花子")
    green = _renewing(app, "GREEN", owner=owner)
    red = _renewing(app, "RED", owner=owner)
    grade(app, green, "green")
    grade(app, red, "red")
    step(app)
    ids = {r[0]: r[1] for r in sql(app, "SELECT a.external_id, o.id FROM opportunities o JOIN accounts a"
                                        " ON a.id = o.account_id")}  # fmt: skip
    return {"owner": owner, "green": green, "red": red, "opp_green": ids["GREEN"], "opp_red": ids["RED"]}


def test_the_api_lists_and_a_csm_dismisses_with_a_reason(app: FastAPI, store: dict[str, int]) -> None:
    key = make_api_key(app, "write")
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {key}"}
        got = client.get("/api/opportunities", params={"status": "suppressed"}, headers=h)
        assert got.status_code == 200
        assert [(o["account_external_id"], o["suppressed_reason"]) for o in got.json()] == [("RED", "health_red")]
        bad = client.patch(f"/api/opportunities/{store['opp_green']}", json={"status": "maybe"}, headers=h)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "status"
        missing = client.patch("/api/opportunities/999999", json={"status": "won"}, headers=h)
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["field"] == "id"
        no_reason = client.patch(f"/api/opportunities/{store['opp_green']}", json={"status": "dismissed"}, headers=h)
        assert no_reason.status_code == 422
        assert no_reason.json()["errors"][0]["field"] == "reason"
        filt = client.get("/api/opportunities", params={"type": "downsell"}, headers=h)
        assert filt.status_code == 422
        assert filt.json()["errors"][0]["field"] == "type"
        ok = client.patch(f"/api/opportunities/{store['opp_green']}",
                          json={"status": "dismissed", "reason": "予算は来期"}, headers=h)  # fmt: skip
        assert ok.status_code == 200
        assert (ok.json()["status"], ok.json()["close_reason"]) == ("dismissed", "予算は来期")
        again = client.patch(f"/api/opportunities/{store['opp_green']}", json={"status": "won"}, headers=h)
        assert again.status_code == 409
    step(app)  # the signal still holds, but a dismissed proposal waits out the cooldown
    assert [r[3] for r in rows(app) if r[0] == "GREEN"] == ["dismissed"]


def test_the_cli_lists_as_json_and_csv(app: FastAPI, store: dict[str, int], monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_TODAY", TODAY.isoformat())
    data = json.loads(run_cli(capsys, "opportunities", "list", "--format", "json").out)
    assert {(o["account_external_id"], o["status"]) for o in data} == {("GREEN", "open"), ("RED", "suppressed")}
    assert {o["reason"] for o in data} == {"The plan renews in 30 days: propose エンタープライズ with the renewal."}
    lines = run_cli(capsys, "opportunities", "list", "--format", "csv", "--status", "open").out.strip().splitlines()
    assert lines[0].startswith("id,account_id,account_external_id")
    assert len(lines) == 2
    assert ",GREEN," in lines[1]
    bad = run_cli(capsys, "opportunities", "list", "--status", "maybe")
    assert bad.code == 1
    assert "maybe" in bad.err
    assert "status" in bad.err


def test_the_page_and_the_360_section_show_the_pipeline_and_the_reason(app: FastAPI, store: dict[str, int]) -> None:
    with TestClient(app) as client:
        from tests.conftest import sign_in

        csrf = sign_in(client, "csm@kizuna.example")
        page = client.get("/opportunities")
        assert page.status_code == 200
        assert 'data-testid="opp-pipeline"' in page.text
        assert "見合わせ：ヘルス赤" in page.text  # the signed-in user reads Japanese
        assert "GREEN 株式会社" in page.text
        only_red = client.get("/opportunities", params={"status": "suppressed"})
        assert "RED 株式会社" in only_red.text
        assert "GREEN 株式会社" not in only_red.text
        assert client.get("/opportunities", params={"status": "maybe"}).status_code == 422
        account = client.get(f"/accounts/{store['red']}")
        assert 'data-testid="account-opportunities"' in account.text
        assert "見合わせ：ヘルス赤" in account.text
        form = {"csrf_token": csrf, "status": "dismissed", "reason": "", "next": f"/accounts/{store['green']}"}
        refused = client.post(f"/opportunities/{store['opp_green']}/status", data=form, follow_redirects=False)
        assert refused.status_code == 422
        assert "見送りには理由が必要です" in refused.text
        done = client.post(f"/opportunities/{store['opp_green']}/status", data={**form, "reason": "来期に再検討"},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303
        assert done.headers["location"] == f"/accounts/{store['green']}?done=dismissed"
        assert "来期に再検討" in client.get(f"/accounts/{store['green']}").text
    assert sql(app, "SELECT status, close_reason FROM opportunities WHERE id = :i", i=store["opp_green"]) == [
        ("dismissed", "来期に再検討")
    ]


def test_the_playbook_trigger_reads_the_open_opportunities(app: FastAPI, store: dict[str, int]) -> None:
    (book,) = parse_playbooks('[playbooks.up]\nname = "Upsell"\ntrigger = { kind = "opportunity_open", type = "upsell" }\n'
                              'steps = [{ kind = "task", title = "Propose", due_days = 3 }]\n', "x.toml")  # fmt: skip
    from kizuna.services import playbooks

    with app.state.kizuna.unit_of_work() as session:
        facts, _rows = playbooks._facts(session, TODAY)
    holds = {f.account_id: book.trigger.holds(f) for f in facts}
    assert holds == {store["green"]: True, store["red"]: False}  # a suppressed one does not trigger
