"""Renewals (issue 16 item 3): the pipeline's rows and outcomes on a hand-computed book,
the forecast to the yen, the renewal rate KPI, the CSM's stage and call (audited), and the
probability sources in their order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from kizuna.db.models import Account, Product, Subscription
from kizuna.errors import Conflict, InvalidInput
from kizuna.main import create_app
from kizuna.services import accounts as accounts_service
from kizuna.services import playbooks
from kizuna.services import renewals as r
from kizuna.services.accounts import refresh_account_summaries
from kizuna.settings import Settings
from tests.conftest import make_user

TODAY = date(2026, 11, 20)
EVE = date(2026, 11, 19)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[FastAPI]:
    """SQLite; a test that also asks for ``store_url`` runs on SQLite and PostgreSQL."""
    url = request.getfixturevalue("store_url") if "store_url" in request.fixturenames else f"sqlite:///{tmp_path / 'k.db'}"
    application = create_app(Settings(database_url=url, today=TODAY))
    yield application
    application.state.kizuna.engine.dispose()


def _sql(app: FastAPI, statement: str, **params: Any) -> list[Any]:
    with app.state.kizuna.unit_of_work() as session:
        result = session.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def add_book(app: FastAPI, accounts: dict[str, list[dict[str, Any]]], owner: int | None = None,
             grades: dict[str, str] | None = None) -> dict[str, int]:  # fmt: skip
    """Accounts with their subscription lines (plan lines unless ``addon``), summaries
    refreshed as the daily job would."""
    ids: dict[str, int] = {}
    with app.state.kizuna.unit_of_work() as session:
        plan = Product(code="plan", name="Plan", kind="plan", currency="JPY", created_at=NOW, updated_at=NOW)
        addon = Product(code="addon", name="Add-on", kind="addon", currency="JPY", created_at=NOW, updated_at=NOW)
        session.add_all([plan, addon])
        session.flush()
        n = 0
        for key, lines in accounts.items():
            account = Account(external_id=key, name=f"{key} 株式会社", owner_id=owner, custom_fields={},
                              health_grade=(grades or {}).get(key), created_at=NOW, updated_at=NOW)  # fmt: skip
            session.add(account)
            session.flush()
            ids[key] = account.id
            for line in lines:
                n += 1
                session.add(Subscription(
                    external_id=f"s{n}", account_id=account.id,
                    product_id=addon.id if line.get("addon") else plan.id, monthly_amount=line["mrr"],
                    currency=line.get("currency", "JPY"), billing_interval=line.get("interval", "year"),
                    status="canceled" if line.get("ended") else "active", started_on=line["start"],
                    current_term_end=line.get("cte"), term_months=line.get("term"), ended_on=line.get("ended"),
                    created_at=NOW, updated_at=NOW,
                ))  # fmt: skip
        session.flush()
        refresh_account_summaries(session, EVE)
    return ids


BOOK: dict[str, list[dict[str, Any]]] = {
    # open, in the next three months
    "A": [{"mrr": 100_000, "start": date(2025, 12, 15), "cte": date(2026, 12, 15)}],  # CSM's call 0.9
    "B": [{"mrr": 50_000, "start": date(2026, 1, 10), "cte": date(2027, 1, 10)},  # LTV retention 0.8
          {"mrr": 10_000, "start": date(2026, 3, 1), "interval": "month", "addon": True}],  # co-terminates
    "C": [{"mrr": 30_000, "start": date(2026, 1, 25), "cte": date(2027, 1, 25)}],  # churn model 0.35, red
    "D": [{"mrr": 25_000, "start": date(2025, 12, 31), "cte": date(2026, 12, 31)}],  # the book's rate 3/4
    "U": [{"mrr": 100_000, "currency": "USD", "start": date(2026, 1, 20), "cte": date(2027, 1, 20)}],  # $1,000.00
    # closed
    "E": [{"mrr": 40_000, "start": date(2025, 11, 20), "cte": date(2026, 11, 20)}],  # renews on TODAY
    "F": [{"mrr": 20_000, "start": date(2025, 10, 1), "cte": date(2026, 10, 1), "ended": date(2026, 10, 1)}],
    "G": [{"mrr": 60_000, "start": date(2025, 11, 1), "cte": date(2026, 11, 1), "ended": date(2026, 11, 1)},
          {"mrr": 45_000, "start": date(2026, 11, 1), "cte": date(2027, 11, 1)}],  # downsold
    "H": [{"mrr": 10_000, "start": date(2025, 11, 5), "cte": date(2026, 11, 5), "ended": date(2026, 11, 5)},
          {"mrr": 15_000, "start": date(2026, 11, 5), "cte": date(2027, 11, 5)}],  # upgraded at renewal
    "M": [{"mrr": 5_000, "start": date(2026, 1, 1), "interval": "month"}],  # monthly evergreen: no renewal
}


@pytest.fixture
def book(app: FastAPI) -> dict[str, int]:
    owner = make_user(app, "csm@kizuna.example", "csm", name="佐藤 健")
    ids = add_book(app, BOOK, owner=owner, grades={"C": "red"})
    ids["owner"] = owner
    _sql(app, "INSERT INTO account_ltv (account_id, as_of, segment, term_months, renewals, pooled, retention,"
              " payment, mrr, currency, discount_rate, margin, revenue_to_date)"
              " VALUES (:a, :d, 'plan', 12, 0, :no, 0.8, 600000, 50000, 'JPY', 0.1, 0.8, 0)",
         a=ids["B"], d=EVE, no=False)  # fmt: skip
    # the churn model's scores: the newest on or before the day is used
    for day, p in ((date(2026, 10, 1), 0.9), (EVE, 0.35), (date(2026, 11, 25), 0.99)):
        _sql(app, "INSERT INTO churn_scores (account_id, as_of, horizon_days, probability, model_version, drivers_json,"
                  " scored_by) VALUES (:a, :d, 90, :p, 1, '[]', 'daily')", a=ids["C"], d=day, p=p)  # fmt: skip
    return ids


def _step(app: FastAPI, day: date) -> int:
    with app.state.kizuna.unit_of_work() as session:
        return r.step(session, day)


def _rows(app: FastAPI, day: date, start: date | None = None, end: date | None = None) -> dict[tuple[str, date], Any]:
    with app.state.kizuna.unit_of_work() as session:
        return {(x.external_id, x.term_end): x for x in r.pipeline(session, day, start, end)}


def test_outcomes_are_detected_on_the_term_end_day_and_not_before(app: FastAPI, book: dict[str, int]) -> None:
    _step(app, EVE)
    rows = _rows(app, EVE)
    stages = {k: (x.stage, x.arr_due, x.arr_after, x.detected_on) for k, x in rows.items()}
    assert stages[("E", date(2026, 11, 20))] == ("upcoming", 480_000, None, None)  # the eve: not yet
    assert stages[("F", date(2026, 10, 1))] == ("churned", 240_000, 0, EVE)
    assert stages[("G", date(2026, 11, 1))] == ("downsold", 720_000, 540_000, EVE)
    assert stages[("H", date(2026, 11, 5))] == ("renewed", 120_000, 180_000, EVE)  # an upgrade is a renewal
    assert stages[("B", date(2027, 1, 10))] == ("upcoming", 720_000, None, None)  # the add-on co-terminates
    assert not any(k[0] == "M" for k in rows)  # monthly evergreen has no renewal
    assert _step(app, EVE) == 0  # idempotent

    e_id = rows[("E", date(2026, 11, 20))].id
    with app.state.kizuna.unit_of_work() as session:
        r.set_stage(session, e_id, "in_discussion", "csm@kizuna.example", EVE)
    _step(app, TODAY)
    e = _rows(app, TODAY)[("E", date(2026, 11, 20))]
    assert (e.id, e.stage, e.stage_source, e.arr_after, e.detected_on) == (e_id, "renewed", "detected", 480_000, TODAY)
    with app.state.kizuna.unit_of_work() as session, pytest.raises(Conflict) as closed:
        r.set_stage(session, e_id, "committed", "csm@kizuna.example", TODAY)
    assert closed.value.code == "renewal_closed"


def test_the_forecast_adds_up_to_the_yen_and_keeps_dollars_apart(store_url: str, app: FastAPI,
                                                                 book: dict[str, int]) -> None:  # fmt: skip
    _step(app, TODAY)
    rows = _rows(app, TODAY)
    with app.state.kizuna.unit_of_work() as session:
        r.set_call(session, rows[("A", date(2026, 12, 15))].id, 0.9, "CFO said yes on the phone", "csm@x.example", TODAY)
        r.set_call(session, rows[("U", date(2027, 1, 20))].id, 0.4, "budget freeze", "csm@x.example", TODAY)
        start, end = r.month_window(TODAY, None, 3)
        f = r.forecast(session, TODAY, start, end)
        shown = r.pipeline(session, TODAY, start, end)
    assert (start, end) == (date(2026, 11, 1), date(2027, 1, 31))
    by = {x.external_id: (x.probability, x.probability_source, x.expected_arr, x.at_risk) for x in shown}
    assert by["A"] == (0.9, "csm", 1_080_000, False)
    assert by["B"] == (0.8, "ltv", 576_000, False)
    assert by["C"] == (pytest.approx(0.65), "churn_model", 234_000, True)  # red health
    assert by["D"] == (0.75, "segment", 225_000, False)  # 3 kept of 4 closed (E, F, G, H)
    assert by["U"] == (0.4, "csm", 480_000, True)  # p < 0.5
    assert by["G"][1:3] == ("outcome", 540_000)  # kept
    assert by["H"][1:3] == ("outcome", 120_000)  # kept, capped at due
    yen, usd = f.totals
    # due: E 480,000 + G 720,000 + H 120,000 + A 1,200,000 + D 300,000 + B 720,000 + C 360,000
    assert (yen.currency, yen.renewals, yen.arr_due) == ("JPY", 7, 3_900_000)
    # expected: 480,000 + 540,000 + 120,000 + 1,080,000 + 225,000 + 576,000 + 234,000
    assert (yen.expected_arr, yen.at_risk, yen.at_risk_arr, yen.unpriced_arr) == (3_255_000, 1, 360_000, 0)
    assert (usd.currency, usd.arr_due, usd.expected_arr, usd.at_risk_arr) == ("USD", 1_200_000, 480_000, 1_200_000)
    months = {(m.month, m.currency): (m.arr_due, m.expected_arr) for m in f.months}
    assert months == {("2026-11", "JPY"): (1_320_000, 1_140_000), ("2026-12", "JPY"): (1_500_000, 1_305_000),
                      ("2027-01", "JPY"): (1_080_000, 810_000), ("2027-01", "USD"): (1_200_000, 480_000)}  # fmt: skip


def test_the_renewal_rate_by_month_counts_arr_and_logos(app: FastAPI, book: dict[str, int]) -> None:
    _step(app, TODAY)
    with app.state.kizuna.unit_of_work() as session:
        by_month = {x.key: x for x in r.rates(session, TODAY, "month", date(2026, 1, 1), TODAY)}
        by_owner = r.rates(session, TODAY, "owner", date(2026, 1, 1), TODAY)
        with pytest.raises(InvalidInput) as bad:
            r.rates(session, TODAY, "colour", date(2026, 1, 1), TODAY)
    assert bad.value.field == "by"
    october, november = by_month["2026-10"], by_month["2026-11"]
    assert (october.due, october.kept, october.arr_due, october.arr_renewed, october.arr_rate) == (1, 0, 240_000, 0, 0)
    # E 480,000 kept, G 540,000 of 720,000, H 120,000 of 120,000 (+60,000 expansion)
    assert (november.due, november.kept, november.arr_due, november.arr_renewed, november.arr_expansion) == (
        3, 3, 1_320_000, 1_140_000, 60_000)
    assert november.arr_rate == pytest.approx(1_140_000 / 1_320_000)
    assert [(x.key, x.due, x.kept) for x in by_owner] == [("佐藤 健", 4, 3)]


def test_a_call_needs_a_reason_and_a_probability_from_0_to_1_and_is_audited(app: FastAPI, book: dict[str, int]) -> None:
    _step(app, TODAY)
    a = _rows(app, TODAY)[("A", date(2026, 12, 15))].id
    with app.state.kizuna.unit_of_work() as session:
        for p, reason, name in ((1.5, "x", "probability"), (-0.1, "x", "probability"), (0.5, "  ", "reason")):
            with pytest.raises(InvalidInput) as bad:
                r.set_call(session, a, p, reason, "csm@x.example", TODAY)
            assert bad.value.field == name
        with pytest.raises(InvalidInput) as stage:
            r.set_stage(session, a, "renewed", "csm@x.example", TODAY)
        assert stage.value.field == "stage"
        r.set_call(session, a, 0.2, "champion left", "csm@x.example", TODAY)
        r.set_call(session, a, None, "new champion found", "lead@x.example", TODAY)
        history = r.history(session, a)
    assert [(c.kind, c.probability, c.reason, c.actor) for c in history] == [
        ("call", None, "new champion found", "lead@x.example"), ("call", 0.2, "champion left", "csm@x.example")]
    back = _rows(app, TODAY)[("A", date(2026, 12, 15))]
    assert (back.probability_source, back.call_probability) == ("segment", None)  # the call cleared: the next source


def test_a_moved_term_end_keeps_the_csm_stage_and_an_early_cancel_is_churn(app: FastAPI, book: dict[str, int]) -> None:
    _step(app, TODAY)
    rows = _rows(app, TODAY)
    a, d = rows[("A", date(2026, 12, 15))].id, rows[("D", date(2026, 12, 31))].id
    with app.state.kizuna.unit_of_work() as session:
        r.set_stage(session, a, "committed", "csm@x.example", TODAY)
    _sql(app, "UPDATE subscriptions SET current_term_end = :d WHERE account_id = :a", d=date(2027, 3, 15), a=book["A"])
    _sql(app, "UPDATE subscriptions SET ended_on = :d, status = 'canceled' WHERE account_id = :a",
         d=date(2026, 11, 20), a=book["D"])  # fmt: skip
    _step(app, TODAY)
    after = _rows(app, TODAY)
    moved = after[("A", date(2027, 3, 15))]
    assert (moved.id, moved.stage, ("A", date(2026, 12, 15)) in after) == (a, "committed", False)
    cancelled = after[("D", date(2026, 12, 31))]
    assert (cancelled.id, cancelled.stage, cancelled.detected_on) == (d, "churned", TODAY)


def test_the_renewal_trigger_reads_the_pipelines_date(app: FastAPI, book: dict[str, int]) -> None:
    _step(app, TODAY)
    with app.state.kizuna.unit_of_work() as session:
        refresh_account_summaries(session, TODAY)
        facts = {row.external_id: playbooks.facts_of(row, TODAY) for row in accounts_service.all_accounts(
            session, accounts_service.AccountQuery(sort="name"), as_of=TODAY)}  # fmt: skip
        open_rows = [x for x in r.pipeline(session, TODAY, TODAY, None) if not x.closed]
    assert open_rows
    for x in open_rows:
        assert facts[x.external_id].renewal_in == (x.term_end - TODAY).days, x.external_id
    assert facts["M"].renewal_in is None


def test_the_page_the_form_the_api_and_the_cli_show_the_same_forecast(
    app: FastAPI, book: dict[str, int], tmp_path: Any, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import json

    from fastapi.testclient import TestClient

    from tests.cli import run_cli
    from tests.conftest import make_api_key, sign_in

    _step(app, TODAY)
    a = _rows(app, TODAY)[("A", date(2026, 12, 15))].id
    with TestClient(app, headers={"Accept-Language": "en"}) as client:
        csrf = sign_in(client, "csm@kizuna.example")
        refused = client.post(f"/renewals/{a}/call", data={"csrf_token": csrf, "probability": "150", "reason": "x"})
        assert refused.status_code == 422
        assert "probability must be a percentage from 0 to 100" in refused.text
        no_token = client.post(f"/renewals/{a}/stage", data={"stage": "committed"})
        assert no_token.status_code == 403
        done = client.post(f"/renewals/{a}/call", data={"csrf_token": csrf, "probability": "90", "reason": "CFO <b>yes</b>",
                                                       "next": "/renewals"}, follow_redirects=False)  # fmt: skip
        assert done.status_code == 303
        client.post(f"/renewals/{a}/stage", data={"csrf_token": csrf, "stage": "committed"})
        page = client.get("/renewals")
        assert page.status_code == 200
        assert "¥3,255,000" in page.text  # the hand-computed expected total (see the forecast test)
        assert "CFO &lt;b&gt;yes&lt;/b&gt;" in page.text  # the reason is data, escaped
        assert "$9,000.00" in page.text  # the USD renewal: $12,000.00 × the book rate 0.75, in its own currency
        section = client.get(f"/accounts/{book['A']}/renewals")
        assert "committed" in section.text
        assert client.get("/renewals?months=99").status_code == 422
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
        body = client.get("/api/renewals/forecast").json()
        assert [(t["currency"], t["expected_arr"]) for t in body["totals"]] == [("JPY", 3_255_000), ("USD", 900_000)]
        bad = client.post(f"/api/renewals/{a}/call", json={"probability": 2, "reason": "x"})
        assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "probability")
        closed = _rows(app, TODAY)[("E", date(2026, 11, 20))].id
        conflict = client.patch(f"/api/renewals/{closed}", json={"stage": "committed"})
        assert (conflict.status_code, conflict.json()["errors"][0]["code"]) == (409, "renewal_closed")
        assert client.patch("/api/renewals/999999", json={"stage": "committed"}).status_code == 404
        unknown_tier = client.get("/api/renewals?tier=mid")
        assert (unknown_tier.status_code, unknown_tier.json()["errors"][0]["field"]) == (422, "tier")
        assert [x["external_id"] for x in client.get("/api/renewals?tier=high").json()] == []  # no tiers in this book
        history = client.get(f"/api/renewals/{a}/history").json()
        assert [(h["kind"], h["actor"]) for h in history] == [("stage", "csm@kizuna.example"),
                                                             ("call", "csm@kizuna.example")]  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.engine.url))
    monkeypatch.setenv("KIZUNA_TODAY", TODAY.isoformat())
    out = run_cli(capsys, "renewals", "forecast", "--format", "json")
    assert out.code == 0, out.err
    totals = json.loads(out.out)["totals"]
    assert [(t["currency"], t["arr_due"], t["expected_arr"]) for t in totals] == [("JPY", 3_900_000, 3_255_000),
                                                                                   ("USD", 1_200_000, 900_000)]  # fmt: skip
    listed = run_cli(capsys, "renewals", "list", "--format", "csv", "--owner", "csm@kizuna.example")
    assert listed.code == 0, listed.err
    assert listed.out.splitlines()[0].startswith("id,external_id,name,term_end")
    assert len(listed.out.splitlines()) == 1 + 8  # every row in Nov–Jan is this owner's (7 yen + 1 dollar)
