"""The accounts list's columns for the people who use it (issue 18): top risk reason,
health trend, last touch and days to renewal, sorted; the export of the current view
(CSV with a BOM, formula-safe); bulk owner assignment (leads and admins only); saved
views per user. Real stores (SQLite and PostgreSQL) and real HTTP through the app.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from kizuna.db.models import Account, HealthSnapshot, SavedView
from kizuna.domain.spreadsheet import neutralise
from kizuna.services import activities as activities_service
from kizuna.settings import Settings
from tests.conftest import make_user, sign_in
from tests.test_web_accounts import Spec, account_id, csrf_of, import_folder, rows, tokyo_today, write_list_dataset

sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def app_settings(store_url: str) -> Settings:
    """The app takes the list's fixed day as today (the injected clock, ``KIZUNA_TODAY``)."""
    return Settings(database_url=store_url, today=tokyo_today())


@pytest.fixture
def listed(app: FastAPI, csm: str, tmp_path: Path) -> list[Spec]:
    """60 generated accounts (tests/test_web_accounts.py), three of them with a last touch
    and a health snapshot, and a CSM signed in."""
    today = tokyo_today()
    specs = write_list_dataset(tmp_path / "list", today)
    import_folder(app, tmp_path / "list", today)
    touched = {"GEN-004": 3, "GEN-008": 40, "GEN-012": 10}  # days ago
    snapshots = {  # external id: (score, 30-day change, explanation)
        "GEN-004": (35.0, -18.5, [
            {"kind": "change", "measure": "nps", "value": 9, "before": 8, "points": 2.0},
            {"kind": "change", "measure": "logins_vs_baseline", "value": -0.45, "before": 0.1, "points": -12.0},
        ]),
        "GEN-008": (80.0, 4.0, [{"kind": "level", "measure": "login_days", "value": 12, "points": -6.0}]),
        "GEN-012": (60.0, -2.0, []),
    }  # fmt: skip
    with app.state.kizuna.unit_of_work() as session:
        for key, days in touched.items():
            activities_service.log_activity(
                session, account_id=account_id_of(session, key), kind="call", subject=f"call {key}", summary="",
                occurred_at=datetime.combine(today, time(12), tzinfo=ZoneInfo("Asia/Tokyo")) - timedelta(days=days),
                author_id=None, contact_id=None,
            )  # fmt: skip
        for key, (score, change, explanation) in snapshots.items():
            ident = account_id_of(session, key)
            session.add(HealthSnapshot(account_id=ident, day=today, scorecard="default", score=score,
                                       grade="red" if score < 40 else "green", letter="C", change_7d=None,
                                       change_30d=change, measures={}, explanation=explanation))  # fmt: skip
            account = session.get(Account, ident)
            assert account is not None
            account.health_score, account.health_as_of = score, today
    return specs


def account_id_of(session: object, external_id: str) -> int:
    found = session.scalar(select(Account.id).where(Account.external_id == external_id))  # type: ignore[attr-defined]
    assert found is not None
    return int(found)


def row_of(page: str, name: str) -> str:
    """The HTML of the list row whose account is ``name``."""
    for match in re.finditer(r'<tr data-testid="account-row".*?</tr>', page, re.S):
        if f">{html.escape(name)}</a>" in match.group(0):
            return match.group(0)
    raise AssertionError(f"no row for {name}")


def cell(row: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</td>', row, re.S)
    assert match, testid
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def by_key(specs: list[Spec]) -> dict[str, Spec]:
    return {s.external_id: s for s in specs}


def test_the_new_columns_show_risk_trend_last_touch_and_days_to_renewal(
    client: TestClient, listed: list[Spec]
) -> None:
    specs = by_key(listed)
    page = client.get("/accounts").text
    for header in ("Health trend (30 days)", "Top risk", "Last touch", "Renewal date"):
        assert f">{header}<" in page, header
    four = row_of(page, specs["GEN-004"].name)
    # the explanation item that cost the most points, in the reader's language
    assert cell(four, "top-risk") == "Logins vs the account's 90-day baseline −45% (30 days ago: +10%): −12 points"
    assert cell(four, "trend") == "▼ 18.5"
    assert 'class="down"' in four
    assert cell(four, "last-touch") == format_day(tokyo_today() - timedelta(days=3))
    assert "in 4 days" in cell(four, "renewal")  # GEN-004 renews 4 days from today
    eight = row_of(page, specs["GEN-008"].name)
    assert cell(eight, "top-risk") == "Days with logins in the last 30 12: −6 points below full marks"
    assert cell(eight, "trend") == "▲ 4.0"
    twelve = row_of(page, specs["GEN-012"].name)
    assert cell(twelve, "top-risk") == "—"  # nothing cost points
    untouched = row_of(page, specs["GEN-016"].name)
    assert (cell(untouched, "last-touch"), cell(untouched, "trend")) == ("—", "—")


def format_day(day: date) -> str:
    from babel.dates import format_date

    return format_date(day, format="medium", locale="en_US")


def test_sorting_by_trend_and_last_touch_puts_accounts_without_one_last(client: TestClient, listed: list[Spec]) -> None:
    specs = by_key(listed)
    falling = rows(client.get("/accounts?sort=trend").text)
    assert falling[:3] == [specs["GEN-004"].name, specs["GEN-012"].name, specs["GEN-008"].name]
    rising = rows(client.get("/accounts?sort=-trend").text)
    assert rising[:3] == [specs["GEN-008"].name, specs["GEN-012"].name, specs["GEN-004"].name]
    oldest = rows(client.get("/accounts?sort=touch").text)
    assert oldest[:3] == [specs["GEN-008"].name, specs["GEN-012"].name, specs["GEN-004"].name]
    newest = client.get("/accounts?sort=-touch").text
    assert rows(newest)[:3] == [specs["GEN-004"].name, specs["GEN-012"].name, specs["GEN-008"].name]
    assert 'aria-sort="descending"' in newest
    assert client.get("/accounts?sort=sideways").status_code == 422


def test_the_json_twin_has_the_same_columns(client: TestClient, listed: list[Spec]) -> None:
    items = client.get("/api/accounts", params={"sort": "trend", "per_page": 3}).json()["items"]
    first = items[0]
    assert first["external_id"] == "GEN-004"
    assert first["health_change_30d"] == pytest.approx(-18.5)
    # a typed item (RiskItemOut): every field present, null where the kind has none
    assert first["top_risk"] == {"kind": "change", "measure": "logins_vs_baseline", "value": -0.45, "before": 0.1,
                                 "points": -12.0, "measure_points": None}  # fmt: skip
    assert first["top_risk_reason"] == "Logins vs the account's 90-day baseline −45% (30 days ago: +10%): −12 points"
    assert first["days_to_renewal"] == 4
    assert datetime.fromisoformat(first["last_touch_at"]).date() >= datetime.now(UTC).date() - timedelta(days=4)


# --- the export of the current view ---------------------------------------------------------


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "a BOM, so that Excel reads UTF-8"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_export_holds_every_page_of_the_view_in_its_order(client: TestClient, listed: list[Spec]) -> None:
    response = client.get("/accounts/export.csv?status=active&sort=name")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="kizuna-accounts-')
    table = read_csv(response.content)
    assert table[0][:6] == ["Account", "External ID", "Domain", "Plan", "Status", "MRR"]
    active = sorted(s.name for s in listed if s.status == "active")
    assert [r[0] for r in table[1:]] == active
    four = next(r for r in table if r[1] == "GEN-004")
    header = table[0]
    assert four[header.index("Status")] == "active"
    assert four[header.index("MRR")] == "54000"
    assert four[header.index("Days to renewal")] == "4"
    assert four[header.index("Health trend (30 days)")] == "-18.5"  # a number: not a formula, not prefixed
    assert four[header.index("Top risk")].startswith("Logins vs the account's 90-day baseline")
    # the list has 60 accounts on two pages: the export has them all
    assert len(read_csv(client.get("/accounts/export.csv").content)) == 61
    # the link on the page carries the view's filters
    page = client.get("/accounts?status=active&sort=name&page=1").text
    assert 'href="/accounts/export.csv?status=active&amp;sort=name"' in page


@sqlite_only
def test_the_export_neutralises_formulas_and_speaks_japanese(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "accounts.csv").write_text(
        "external_id,name,domain,industry\n"
        'EVIL-1,"=HYPERLINK(""http://evil.example"",""click"")",evil.example,@SUM(1)\n'
        "EVIL-2,+81 Trading,plus.example,-\n"
        "EVIL-3,株式会社まとも,ok.example,小売\n",
        encoding="utf-8",
    )
    import_folder(app, folder, tokyo_today())
    make_user(app, "ja@kizuna.example", "csm", locale="ja")
    sign_in(client, "ja@kizuna.example")
    client.headers["Accept-Language"] = "ja"
    table = read_csv(client.get("/accounts/export.csv?sort=name").content)
    header = table[0]
    assert header[:3] == ["取引先", "外部ID", "ドメイン"]
    names = {r[1]: (r[0], r[header.index("業種")]) for r in table[1:]}
    assert names["EVIL-1"] == ('\'=HYPERLINK("http://evil.example","click")', "'@SUM(1)")
    assert names["EVIL-2"] == ("'+81 Trading", "'-")
    assert names["EVIL-3"] == ("株式会社まとも", "小売")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("=1+1", "'=1+1"), ("+81", "'+81"), ("-5", "'-5"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("a=b", "a=b"), ("", ""), ("株式会社", "株式会社"), (" =x", " =x"), ("'=x", "''=x")],
)  # fmt: skip
def test_the_list_export_uses_the_one_formula_rule(text: str, expected: str) -> None:
    assert neutralise(text) == expected  # the same rule as kizuna export (domain/spreadsheet.py)


# --- bulk owner assignment ----------------------------------------------------------------


def owners_of(app: FastAPI, ids: list[int]) -> dict[int, int | None]:
    with app.state.kizuna.unit_of_work() as session:
        return dict(session.execute(select(Account.id, Account.owner_id).where(Account.id.in_(ids))).all())  # type: ignore[arg-type]


def test_a_lead_assigns_an_owner_to_several_accounts(app: FastAPI, client: TestClient, listed: list[Spec]) -> None:
    lead = make_user(app, "lead@kizuna.example", "lead", name="Lena Lead")
    new_owner = make_user(app, "c.csm@kizuna.example", "csm", name="千葉 翼")
    token = sign_in(client, "lead@kizuna.example")
    page = client.get("/accounts?status=active").text
    assert 'data-testid="bulk-owner"' in page
    assert f'<option value="{new_owner}">千葉 翼' in page
    ids = [account_id(app, "GEN-004"), account_id(app, "GEN-005"), account_id(app, "GEN-008")]
    response = client.post("/accounts/owner", data={"csrf_token": token, "owner": str(new_owner),
                                                    "account": [str(i) for i in ids],
                                                    "next": "/accounts?status=active"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts?status=active&done=owner&n=3"
    assert owners_of(app, ids) == dict.fromkeys(ids, new_owner)
    back = client.get(response.headers["location"]).text
    assert "Owner changed for 3 accounts." in back
    # and back to nobody
    client.post("/accounts/owner", data={"csrf_token": token, "owner": "none", "account": [str(ids[0])]})
    assert owners_of(app, ids[:1]) == {ids[0]: None}
    assert lead  # the lead did it


def test_bulk_assignment_refuses_csms_viewers_bad_input_and_a_missing_token(
    app: FastAPI, client: TestClient, listed: list[Spec]
) -> None:
    ids = [account_id(app, "GEN-004"), account_id(app, "GEN-005")]
    before = owners_of(app, ids)
    target = make_user(app, "c.csm@kizuna.example", "csm")
    form = {"owner": str(target), "account": [str(i) for i in ids]}
    # the CSM signed in by the fixture: no form, and the POST is refused
    csm_token = csrf_of(client.get("/accounts").text)
    assert 'data-testid="bulk-owner"' not in client.get("/accounts").text
    assert client.post("/accounts/owner", data=form | {"csrf_token": csm_token}).status_code == 403
    make_user(app, "viewer@kizuna.example", "viewer")
    viewer_token = sign_in(client, "viewer@kizuna.example")
    assert client.post("/accounts/owner", data=form | {"csrf_token": viewer_token}).status_code == 403
    make_user(app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    assert client.post("/accounts/owner", data=form).status_code == 403  # no CSRF token
    inactive = make_user(app, "gone@kizuna.example", "csm")
    with app.state.kizuna.unit_of_work() as session:
        from kizuna.db.models import User

        user = session.get(User, inactive)
        assert user is not None
        user.is_active = False
    for bad, expected in (
        ({"owner": "999999"}, "no active user with id 999999"),
        ({"owner": str(inactive)}, f"no active user with id {inactive}"),
        ({"account": [str(ids[0]), "999999"]}, "no account with id 999999"),
        ({"account": []}, "choose at least one account"),
        ({"owner": ""}, "choose the new owner"),
        ({"owner": "abc"}, "owner must be a whole number"),
    ):
        response = client.post("/accounts/owner", data=form | {"csrf_token": token} | bad)
        assert response.status_code == 422, bad
        assert expected in html.unescape(response.text), bad
    assert owners_of(app, ids) == before  # nothing changed


# --- saved views ------------------------------------------------------------------------------


def test_saved_views_belong_to_their_user(app: FastAPI, client: TestClient, listed: list[Spec]) -> None:
    token = csrf_of(client.get("/accounts").text)
    response = client.post("/accounts/views", data={"csrf_token": token, "name": "  Renewals   soon ",
                                                    "query": "renewal=30&status=active&sort=renewal&page=2"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts?status=active&renewal=30&sort=renewal&done=view"
    page = client.get(response.headers["location"]).text
    assert "View saved." in page
    link = re.search(r'<a href="([^"]+)" data-testid="view-link">([^<]+)</a>', page)
    assert link
    assert (html.unescape(link.group(1)), link.group(2)) == ("/accounts?status=active&renewal=30&sort=renewal",
                                                             "Renewals soon")  # fmt: skip
    # the same name again replaces the filters
    client.post("/accounts/views", data={"csrf_token": token, "name": "Renewals soon", "query": "renewal=60"})
    with app.state.kizuna.unit_of_work() as session:
        saved = session.execute(select(SavedView.name, SavedView.query)).all()
    assert [tuple(r) for r in saved] == [("Renewals soon", "renewal=60")]
    # another user sees none of them and cannot delete them
    with app.state.kizuna.unit_of_work() as session:
        view_id = session.scalar(select(SavedView.id))
    make_user(app, "other@kizuna.example", "viewer")
    other = sign_in(client, "other@kizuna.example")
    assert 'data-testid="view-link"' not in client.get("/accounts").text
    assert client.post(f"/accounts/views/{view_id}/delete", data={"csrf_token": other}).status_code == 404
    # bad input is refused, with nothing saved
    for bad, expected in (({"name": "   "}, "give the view a name"), ({"name": "x" * 101}, "at most 100 characters"),
                          ({"name": "ok", "query": "status=zombie"}, "status must be one of")):  # fmt: skip
        response = client.post("/accounts/views", data={"csrf_token": other, "query": ""} | bad)
        assert response.status_code == 422, bad
        assert expected in html.unescape(response.text)
    assert client.post("/accounts/views", data={"name": "no token"}).status_code == 403
    with app.state.kizuna.unit_of_work() as session:
        assert session.scalar(select(SavedView.id).where(SavedView.name != "Renewals soon")) is None
    # the owner deletes it
    token = sign_in(client, "csm@kizuna.example")
    deleted = client.post(f"/accounts/views/{view_id}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert deleted.headers["location"] == "/accounts?done=view-deleted"
    assert 'data-testid="view-link"' not in client.get("/accounts").text
