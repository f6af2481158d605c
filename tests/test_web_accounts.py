"""The accounts list, the account 360 page, logging a touchpoint, and their JSON twins.

Real stores (SQLite and PostgreSQL through ``store_url``), real HTTP through the app;
data is loaded with the importers, as a user would with ``kizuna import``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.errors import InvalidInput, NotFound
from kizuna.services import accounts as accounts_service
from kizuna.services import activities as activities_service
from kizuna.services import customer360 as c360
from kizuna.services.accounts import AccountQuery
from kizuna.services.imports import ENTITIES, ParseContext, import_file
from kizuna.settings import Settings
from tests.conftest import make_user, sign_in

DATA = Path(__file__).parent / "data" / "import"
TOKYO = ZoneInfo("Asia/Tokyo")
CTX = ParseContext(TOKYO, "JPY")
#: The small dataset's summaries are computed for this day (its data ends in Nov 2026).
AS_OF = date(2026, 11, 25)


#: For tests about the web layer itself, where the store makes no difference.
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


#: The day the app takes as today (an injected clock: ``KIZUNA_TODAY``), not the machine's.
TODAY = date(2027, 1, 15)


@pytest.fixture
def app_settings(store_url: str) -> Settings:
    return Settings(database_url=store_url, today=TODAY)


def tokyo_today() -> date:
    return TODAY


def import_folder(app: FastAPI, folder: Path, as_of: date) -> None:
    with app.state.kizuna.unit_of_work() as session:
        for name in ENTITIES:
            path = folder / f"{name}.csv"
            if path.exists():
                import_file(session, name, path, ctx=CTX)
        accounts_service.refresh_account_summaries(session, as_of)


def import_one(app: FastAPI, entity: str, path: Path, as_of: date) -> None:
    with app.state.kizuna.unit_of_work() as session:
        import_file(session, entity, path, ctx=CTX)
        accounts_service.refresh_account_summaries(session, as_of)


def account_id(app: FastAPI, external_id: str) -> int:
    with app.state.kizuna.unit_of_work() as session:
        page = accounts_service.list_accounts(session, AccountQuery(search=external_id), as_of=AS_OF)
    [row] = [r for r in page.items if r.external_id == external_id]
    return row.id


def rows(page: str) -> list[str]:
    """The account names of a list page, in order."""
    return [html.unescape(n) for n in re.findall(r'<td class="name"><a href="/accounts/\d+">([^<]*)</a>', page)]


def csrf_of(page: str) -> str:
    match = re.search(r'data-csrf="([^"]+)"', page)
    assert match
    return match.group(1)


# --- a generated list: 60 accounts with dates relative to today -----------------------------


@dataclass(frozen=True)
class Spec:
    i: int
    external_id: str
    name: str
    domain: str
    owner: str | None
    status: str
    plan: str | None
    mrr: int
    renewal_on: date | None


def _spec(i: int, today: date) -> Spec:
    name = f"株式会社ひかり{i:02}" if i % 2 else f"Acme {i:02} Ltd."
    domain = f"gen{i:03}.example"
    if i == 7:
        name, domain = "株式会社さくら食品", "sakura-foods.example"
    if i == 11:
        name = "さくら精機株式会社"
    owner = None if i % 3 == 0 else ("a.csm@kizuna.example" if i % 3 == 1 else "b.csm@kizuna.example")
    if i > 56:
        return Spec(i, f"GEN-{i:03}", name, domain, owner, "prospect", None, 0, None)
    kind = i % 4
    if kind == 0:
        return Spec(
            i, f"GEN-{i:03}", name, domain, owner, "active", "plan-pro", 50_000 + i * 1000, today + timedelta(days=i)
        )
    if kind == 1:
        return Spec(i, f"GEN-{i:03}", name, domain, owner, "active", "plan-starter", 10_000 + i * 10,
                    today + timedelta(days=60 + i))  # fmt: skip
    if kind == 2:
        return Spec(i, f"GEN-{i:03}", name, domain, owner, "trial", "plan-starter", 0, None)
    return Spec(i, f"GEN-{i:03}", name, domain, owner, "churned", None, 0, None)


def write_list_dataset(folder: Path, today: date) -> list[Spec]:
    specs = [_spec(i, today) for i in range(1, 61)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "products.csv").write_bytes((DATA / "products.csv").read_bytes())
    (folder / "users.csv").write_text(
        "email,name,role,locale,is_active\n"
        "a.csm@kizuna-demo.example,unused,csm,ja,true\n"
        "a.csm@kizuna.example,青木 蓮,csm,ja,true\n"
        "b.csm@kizuna.example,Brian Cole,csm,en,true\n",
        encoding="utf-8",
    )
    accounts = ["external_id,name,domain,industry,employee_count,owner_email,parent_external_id"]
    subs = [
        "external_id,account_external_id,product_code,quantity,currency,monthly_amount,billing_interval,status,"
        "started_on,trial_ends_on,current_term_end,canceled_at,ended_on,cancel_reason,term_months"
    ]
    for s in specs:
        accounts.append(f"{s.external_id},{s.name},{s.domain},製造,{s.i * 10},{s.owner or ''},")
        if s.status == "active":
            started = today - timedelta(days=200)
            subs.append(
                f"S-{s.external_id},{s.external_id},{s.plan},5,JPY,{s.mrr},month,active,{started},,{s.renewal_on},,,,12"
            )  # annual contracts billed monthly: their term end is a renewal
        elif s.status == "trial":
            subs.append(f"S-{s.external_id},{s.external_id},plan-starter,3,JPY,10000,month,trial,"
                        f"{today - timedelta(days=3)},{today + timedelta(days=11)},,,,,")  # fmt: skip
        elif s.status == "churned":
            ended = today - timedelta(days=20)
            subs.append(f"S-{s.external_id},{s.external_id},plan-starter,5,JPY,10000,month,canceled,"
                        f"{today - timedelta(days=400)},,{ended},{today - timedelta(days=40)}T10:00:00+09:00,{ended},"
                        "budget,")  # fmt: skip
    (folder / "accounts.csv").write_text("\n".join(accounts) + "\n", encoding="utf-8")
    (folder / "subscriptions.csv").write_text("\n".join(subs) + "\n", encoding="utf-8")
    return specs


@pytest.fixture
def listed(app: FastAPI, csm: str, tmp_path: Path) -> list[Spec]:
    today = tokyo_today()
    specs = write_list_dataset(tmp_path / "list", today)
    import_folder(app, tmp_path / "list", today)
    return specs


@pytest.fixture
def small(app: FastAPI, csm: str) -> str:
    """The small dataset (three accounts) and a signed-in CSM; returns the CSRF token."""
    import_folder(app, DATA, AS_OF)
    return csm


def by_mrr(specs: list[Spec]) -> list[str]:
    return [s.name for s in sorted(specs, key=lambda s: (-s.mrr, -s.i))]


# --- the accounts list -------------------------------------------------------------------


def check_paging(client: TestClient, listed: list[Spec]) -> None:
    first = client.get("/accounts")
    assert first.status_code == 200
    assert "Showing 1–50 of 60" in first.text
    assert rows(first.text) == by_mrr(listed)[:50]
    assert 'data-testid="pager"' in first.text
    assert 'href="/accounts?page=2"' in first.text
    second = client.get("/accounts?page=2")
    assert "Showing 51–60 of 60" in second.text
    assert rows(second.text) == by_mrr(listed)[50:]
    assert 'aria-current="page">2<' in second.text
    past = client.get("/accounts?page=9")
    assert past.status_code == 200
    assert "This page is past the end of the list." in past.text


def check_sorting(client: TestClient, listed: list[Spec]) -> None:
    names = client.get("/accounts?sort=name")
    assert rows(names.text) == sorted(s.name for s in listed)[:50]
    assert 'href="/accounts?sort=-name"' in names.text  # clicking again reverses
    reverse = client.get("/accounts?sort=-name&page=2")
    assert rows(reverse.text) == sorted((s.name for s in listed), reverse=True)[50:]
    ascending = client.get("/accounts?sort=mrr&page=2")
    assert rows(ascending.text)[-1] == by_mrr(listed)[0]
    renewal = client.get("/accounts?sort=renewal")
    with_renewal = sorted((s for s in listed if s.renewal_on), key=lambda s: (s.renewal_on, s.i))
    assert rows(renewal.text)[: len(with_renewal)] == [s.name for s in with_renewal]
    assert 'aria-sort="ascending"' in renewal.text


def check_filters(app: FastAPI, client: TestClient, listed: list[Spec]) -> None:
    with app.state.kizuna.unit_of_work() as session:
        filters = accounts_service.account_filters(session)
    owner = {o.name: o.id for o in filters.owners}
    plan = {p.name: p.id for p in filters.plans}

    def names(query: str) -> set[str]:
        response = client.get(f"/accounts?{query}")
        assert response.status_code == 200, response.text
        return set(rows(response.text))

    assert names("status=active") == {s.name for s in listed if s.status == "active"}
    assert names("status=trial") == {s.name for s in listed if s.status == "trial"}
    assert names("status=churned") == {s.name for s in listed if s.status == "churned"}
    assert names("status=prospect") == {s.name for s in listed if s.status == "prospect"}
    assert names(f"owner={owner['青木 蓮']}") == {s.name for s in listed if s.owner == "a.csm@kizuna.example"}
    assert names("owner=none") == {s.name for s in listed if s.owner is None}
    assert names(f"plan={plan['プロ']}") == {s.name for s in listed if s.plan == "plan-pro"}
    today = tokyo_today()
    soon = {s.name for s in listed if s.renewal_on and s.renewal_on <= today + timedelta(days=30)}
    assert soon
    assert names("renewal=30") == soon
    combined = f"status=active&owner={owner['Brian Cole']}&plan={plan['ライト']}"
    expected = {
        s.name
        for s in listed
        if s.status == "active" and s.owner == "b.csm@kizuna.example" and s.plan == "plan-starter"
    }
    assert names(combined) == expected
    page = client.get(f"/accounts?{combined}").text
    assert f'<option value="{owner["Brian Cole"]}" selected>' in page  # the form shows what is applied


def check_search(client: TestClient, listed: list[Spec]) -> None:
    assert set(rows(client.get("/accounts", params={"q": "さくら"}).text)) == {
        "株式会社さくら食品",
        "さくら精機株式会社",
    }
    assert rows(client.get("/accounts", params={"q": "ひかり03"}).text) == ["株式会社ひかり03"]
    assert rows(client.get("/accounts", params={"q": "acme 02"}).text) == ["Acme 02 Ltd."]  # any case
    assert rows(client.get("/accounts", params={"q": "sakura-foods"}).text) == ["株式会社さくら食品"]
    assert rows(client.get("/accounts", params={"q": "GEN-012"}).text) == ["Acme 12 Ltd."]
    assert rows(client.get("/accounts", params={"q": "100%_"}).text) == []  # LIKE wildcards are literal
    both = client.get("/accounts", params={"q": "ひかり", "status": "active"})
    assert set(rows(both.text)) == {s.name for s in listed if "ひかり" in s.name and s.status == "active"}


def test_the_list_pages_and_sorts_and_htmx_swaps_only_the_table(client: TestClient, listed: list[Spec]) -> None:
    check_paging(client, listed)
    check_sorting(client, listed)
    check_htmx(client, listed)


def test_the_list_filters_and_searches(app: FastAPI, client: TestClient, listed: list[Spec]) -> None:
    check_filters(app, client, listed)
    check_search(client, listed)


def test_sign_in_then_the_empty_and_no_match_states(app: FastAPI, client: TestClient) -> None:
    response = client.get("/accounts", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/accounts"
    make_user(app, "csm@kizuna.example", "csm")
    sign_in(client, "csm@kizuna.example")
    empty = client.get("/accounts")
    assert empty.status_code == 200
    assert 'data-testid="accounts-empty"' in empty.text
    assert "kizuna demo" in empty.text
    assert "kizuna import" in empty.text
    import_folder(app, DATA, AS_OF)
    nothing = client.get("/accounts", params={"q": "存在しない会社"})
    assert 'data-testid="accounts-no-match"' in nothing.text
    assert "No accounts match" in nothing.text
    assert 'data-testid="accounts-empty"' not in nothing.text


def check_htmx(client: TestClient, listed: list[Spec]) -> None:
    headers = {"HX-Request": "true", "HX-Target": "accounts-results"}
    partial = client.get("/accounts?status=trial", headers=headers)
    assert partial.status_code == 200
    assert "<html" not in partial.text
    assert 'id="account-filters"' not in partial.text
    assert set(rows(partial.text)) == {s.name for s in listed if s.status == "trial"}
    assert partial.headers["vary"] == "HX-Request"
    assert '<input type="hidden" name="sort" value="-mrr" form="account-filters">' in partial.text
    restore = client.get("/accounts?status=trial", headers={**headers, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text  # a history restore needs the whole page
    full = client.get("/accounts?status=trial")
    assert 'hx-get="/accounts"' in full.text
    assert 'hx-push-url="true"' in full.text
    assert 'method="get" action="/accounts"' in full.text  # and it works without JavaScript


BAD_QUERIES = [
    ("page=abc", "page must be a whole number"),
    ("page=0", "page must be a whole number"),
    ("page=99999999999999999999999", "page must be a whole number"),
    ("status=zombie", "status must be one of: prospect, trial, active, churned"),
    ("sort=evil", "unknown sort"),
    ("owner=someone", "owner must be a whole number"),
    ("owner=99999999999999", "owner must be a whole number"),
    ("plan=-3", "plan must be a whole number"),
    ("renewal=soon", "renewal must be a whole number"),
    ("renewal=9999", "renewal must be a whole number"),
    ("q=" + "x" * 201, "the search is longer than 200 characters"),
]


@sqlite_only
def test_bad_query_parameters_get_the_error_page(client: TestClient, csm: str) -> None:
    for query, message in BAD_QUERIES:
        response = client.get(f"/accounts?{query}")
        assert response.status_code == 422, query
        assert "text/html" in response.headers["content-type"]
        assert message in html.unescape(response.text), query
        assert 'class="card narrow error-page"' in response.text


# --- the account 360 page ----------------------------------------------------------------


def check_header(app: FastAPI, client: TestClient) -> None:
    sakura, logistics = account_id(app, "ACC-1"), account_id(app, "ACC-2")
    page = client.get(f"/accounts/{sakura}")
    assert page.status_code == 200
    text = page.text
    assert '<h1 id="account-name" data-testid="account-name">株式会社さくら商事</h1>' in text
    assert '<dd data-testid="account-mrr">¥1,196,000</dd>' in text
    assert '<dd data-testid="account-plan">プロ</dd>' in text
    assert "Dec 1, 2026" in text  # the renewal (SSO's term end)
    assert "Apr 1, 2024" in text  # customer since
    assert '<dd data-testid="account-owner">鈴木 花子</dd>' in text
    assert "ACC-1" in text
    assert "sakura-shoji.co.jp" in text
    assert "1,200 employees" in text
    # contacts, the champion first and marked
    contacts = text[text.index('data-testid="contacts"') :]
    assert contacts.index("山本 さくら") < contacts.index("田中 一郎")
    assert re.search(r"山本 さくら</strong> <span class=\"badge champion\"", contacts)
    # every subscription line, the current ones first
    lines = re.findall(r'data-testid="subscription-row" data-external-id="([^"]+)"', text)
    assert lines == ["SUB-3", "SUB-2", "SUB-1"]
    assert "¥1,176,000" in text
    assert "plan_change" in text
    # the usage chart's canvas and its JSON config (no inline script)
    assert '<canvas data-chart="usage-chart-data"' in text
    assert '<script type="application/json" id="usage-chart-data">' in text
    # goals, tasks and subsidiaries
    assert "問い合わせ対応時間を半減" in text
    assert "更新前の利用状況レビュー" in text
    assert f'<a href="/accounts/{logistics}">さくらロジスティクス株式会社</a>' in text
    child = client.get(f"/accounts/{logistics}").text
    assert f'href="/accounts/{sakura}" data-testid="parent-link">株式会社さくら商事</a>' in child
    assert "予算削減" in child  # the cancel reason


def test_the_360_page(app: FastAPI, client: TestClient, small: str) -> None:
    check_header(app, client)
    check_timeline_order(app, client)


def check_timeline_order(app: FastAPI, client: TestClient) -> None:
    sakura = account_id(app, "ACC-1")
    text = client.get(f"/accounts/{sakura}").text
    kinds = re.findall(r'data-testid="timeline-item" data-kind="([^"]+)" data-type="([^"]+)"', text)
    assert kinds == [
        ("survey", "csat"), ("ticket", "opened"), ("activity", "meeting"), ("survey", "nps"),
        ("subscription", "started"), ("subscription", "plan_change"), ("subscription", "started"),
    ]  # fmt: skip
    stamps = re.findall(r'<time class="tl-when[^"]*" datetime="([^"]+)"', text)
    assert stamps == sorted(stamps, key=datetime.fromisoformat, reverse=True)
    assert "ログインできない" in text
    assert "定例ミーティング" in text
    assert "とても使いやすい" in text
    assert "Plan changed from ライト to プロ" in text
    assert "by 鈴木 花子" in text
    assert "with 田中 一郎" in text
    churned = client.get(f"/accounts/{account_id(app, 'ACC-2')}").text
    kinds = re.findall(r'data-kind="subscription" data-type="([^"]+)"', churned)
    assert kinds == ["ended", "canceled", "converted", "trial_started"]


def test_the_timeline_cursor_pages_without_gaps_or_repeats(app: FastAPI, client: TestClient, small: str) -> None:
    sakura = account_id(app, "ACC-1")
    moment = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
    with app.state.kizuna.unit_of_work() as session:
        for n in range(25):  # five at each of five instants: ties across page boundaries
            activities_service.log_activity(session, account_id=sakura, kind="note", occurred_at=moment - timedelta(hours=n // 5),
                                            subject=f"note {n}", summary=None, author_id=None)  # fmt: skip
        # and one at the very instant of the CSAT answer (S-3): a tie across kinds
        activities_service.log_activity(session, account_id=sakura, kind="call", occurred_at=datetime(2026, 11, 1, 7, 0, tzinfo=UTC),
                                        subject="same instant", summary=None, author_id=None)  # fmt: skip
    everything = client.get(f"/api/accounts/{sakura}/timeline?limit=200").json()
    assert everything["next_before"] is None
    keys = [i["key"] for i in everything["items"]]
    assert len(keys) == 33 == len(set(keys))
    paged, before = [], None
    while True:
        params = {"limit": 3, **({"before": before} if before else {})}
        page = client.get(f"/api/accounts/{sakura}/timeline", params=params).json()
        paged += [i["key"] for i in page["items"]]
        before = page["next_before"]
        if before is None:
            break
    assert paged == keys
    # a plain timestamp: everything strictly before it
    older = client.get(f"/api/accounts/{sakura}/timeline", params={"before": "2026-11-01T09:00:00+09:00"}).json()
    assert [(i["kind"], i["type"]) for i in older["items"]][:2] == [("activity", "meeting"), ("survey", "nps")]
    # the page shows 20 and a "load older" button; htmx loads the rest
    text = client.get(f"/accounts/{sakura}").text
    assert text.count('data-testid="timeline-item"') == 20
    more = re.search(r'hx-get="(/accounts/\d+/timeline\?before=[^"]+)"', text)
    assert more
    rest = client.get(html.unescape(more.group(1)), headers={"HX-Request": "true"})
    assert rest.status_code == 200
    assert "<html" not in rest.text
    shown = re.findall(r'id="tl-([a-z]+-\d+)"', text) + re.findall(r'id="tl-([a-z]+-\d+)"', rest.text)
    assert shown == keys
    # without JavaScript, the same link leads to the full page at that cursor
    no_js = client.get(html.unescape(more.group(1)), follow_redirects=False)
    assert no_js.status_code == 303
    assert no_js.headers["location"].startswith(f"/accounts/{sakura}?before=")
    assert client.get(no_js.headers["location"]).text.count('data-testid="timeline-item"') == 13


def _line(id_: int, product: int, kind: str, status: str, started: date, **more: object) -> dict[str, object]:
    line = {"id": id_, "external_id": f"L-{id_}", "product_id": product, "product_name": f"P{product}", "product_kind": kind,
            "quantity": 1, "monthly_amount": 1000 * product, "currency": "JPY", "status": status, "started_on": started,
            "trial_ends_on": None, "ended_on": None, "canceled_at": None, "cancel_reason": None}  # fmt: skip
    return line | more


def test_subscription_changes_are_read_from_the_lines() -> None:
    d = date
    lines = [
        _line(1, 1, "plan", "canceled", d(2024, 1, 1), ended_on=d(2024, 6, 1), cancel_reason="plan_change",
              canceled_at=datetime(2024, 5, 1, tzinfo=UTC)),  # → plan 2
        _line(2, 2, "plan", "canceled", d(2024, 6, 1), ended_on=d(2025, 1, 1)),  # → more seats of plan 2
        _line(3, 2, "plan", "active", d(2025, 1, 1), quantity=20),
        _line(4, 9, "addon", "canceled", d(2024, 2, 1), trial_ends_on=d(2024, 2, 15), ended_on=d(2024, 9, 1),
              canceled_at=datetime(2024, 8, 1, 3, tzinfo=UTC), cancel_reason="unused"),
        _line(5, 8, "addon", "canceled", d(2024, 3, 1), trial_ends_on=d(2024, 3, 15), ended_on=d(2024, 3, 15)),
    ]  # fmt: skip
    events = c360.subscription_events(lines, TOKYO)
    assert [(e.details["external_id"], e.type) for e in events] == [
        ("L-3", "quantity_change"), ("L-4", "ended"), ("L-4", "canceled"), ("L-2", "plan_change"),
        ("L-5", "ended"), ("L-5", "trial_started"), ("L-4", "converted"), ("L-4", "trial_started"), ("L-1", "started"),
    ]  # fmt: skip
    change = events[0]
    assert (change.details["from_quantity"], change.details["quantity"]) == (1, 20)
    assert change.at == datetime(2024, 12, 31, 15, 0, tzinfo=UTC)  # midnight in Tokyo
    assert change.all_day
    assert not events[2].all_day
    assert events[2].details["reason"] == "unused"


def test_the_360_json_twin_and_its_usage_series(app: FastAPI, client: TestClient, small: str, tmp_path: Path) -> None:
    sakura, logistics = account_id(app, "ACC-1"), account_id(app, "ACC-2")
    with app.state.kizuna.unit_of_work() as session:
        usage = c360.usage_series(session, sakura, as_of=AS_OF, days=10)
        none = c360.usage_series(session, logistics, as_of=AS_OF)
    assert usage.days[0] == date(2026, 11, 16)
    assert usage.days[-1] == AS_OF
    assert len(usage.days) == 10
    assert usage.series["logins"] == (0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert usage.series["active_users"] == (0.0,) * 10
    assert usage.has_data
    assert not none.has_data
    assert len(none.days) == 180
    # the JSON twin, on rows relative to today
    today = tokyo_today()
    recent = tmp_path / "usage_daily.csv"
    recent.write_text(
        "account_external_id,day,metric,value\n"
        f"ACC-1,{today - timedelta(days=1)},active_users,7\nACC-1,{today - timedelta(days=1)},logins,12\n"
        f"ACC-1,{today - timedelta(days=2)},logins,5\n",
        encoding="utf-8",
    )
    import_one(app, "usage_daily", recent, AS_OF)
    body = client.get(f"/api/accounts/{sakura}/360").json()
    assert set(body) == {"as_of", "account", "children", "signals", "contacts", "subscriptions", "usage", "timeline",
                         "milestones", "goals", "open_tasks"}  # fmt: skip
    account = body["account"]
    assert (account["name"], account["status"], account["mrr"], account["currency"]) == (
        "株式会社さくら商事",
        "active",
        1_196_000,
        "JPY",
    )
    # SUB-2, the yearly Pro plan, recorded its term end as 2025-10-01 and is still active: it renewed
    # on 2025-10-01 and 2026-10-01, so the next renewal is 2027-10-01 (not the SSO add-on's month end)
    assert (account["plan_name"], account["renewal_on"], account["owner_name"]) == ("プロ", "2027-10-01", "鈴木 花子")
    assert account["contract_term_months"] == 12
    assert [c["name"] for c in body["contacts"]] == ["山本 さくら", "田中 一郎"]
    assert body["contacts"][0]["is_champion"] is True
    assert [s["external_id"] for s in body["subscriptions"]] == ["SUB-3", "SUB-2", "SUB-1"]
    assert [s["is_current"] for s in body["subscriptions"]] == [True, True, False]
    assert body["usage"]["last_day"] == today.isoformat()
    assert len(body["usage"]["days"]) == 180
    assert body["usage"]["series"]["active_users"][-2] == 7
    assert body["usage"]["series"]["logins"][-3:] == [5, 12, 0]
    assert [i["kind"] for i in body["timeline"]["items"]][:3] == ["survey", "ticket", "activity"]
    assert body["timeline"]["next_before"] is None
    assert body["signals"] == {"open_tickets": 0, "last_nps": 9, "last_nps_at": "2026-10-01T03:00:00Z",
                               "last_touch_at": "2026-10-15T05:00:00Z"}  # fmt: skip
    assert body["goals"][0]["progress"] == pytest.approx(35 / 60)
    assert [t["title"] for t in body["open_tasks"]] == ["更新前の利用状況レビュー"]
    assert body["children"][0]["name"] == "さくらロジスティクス株式会社"
    minato = client.get(f"/api/accounts/{account_id(app, 'ACC-3')}/360").json()
    assert [m["done"] for m in minato["milestones"]] == [True, False]
    assert minato["account"]["owner_id"] is None
    check_unknown_and_bad_parameters(app, client)


def check_unknown_and_bad_parameters(app: FastAPI, client: TestClient) -> None:
    page = client.get("/accounts/999999")
    assert page.status_code == 404
    assert "no account with id 999999" in page.text
    assert client.get("/accounts/not-a-number").status_code == 404
    assert client.get("/accounts/99999999999999999999999").status_code == 404
    for path in ("/api/accounts/999999/360", "/api/accounts/999999/timeline"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "errors": [{"code": "account_not_found", "message": "no account with id 999999", "field": "id"}]
        }
    sakura = account_id(app, "ACC-1")
    bad = client.get(f"/api/accounts/{sakura}/timeline", params={"before": "yesterday"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["code"] == "invalid_cursor"
    assert client.get(f"/api/accounts/{sakura}/timeline?limit=0").status_code == 422
    assert client.get(f"/api/accounts/{sakura}/timeline?limit=201").status_code == 422
    assert client.get(f"/accounts/{sakura}?before=yesterday").status_code == 422
    client.cookies.clear()
    assert client.get(f"/api/accounts/{sakura}/360").status_code == 401


# --- logging a touchpoint ----------------------------------------------------------------


def test_logging_a_note_puts_it_on_the_timeline(app: FastAPI, client: TestClient, small: str) -> None:
    sakura = account_id(app, "ACC-1")
    with app.state.kizuna.unit_of_work() as session:
        champion = next(c for c in c360.account_contacts(session, sakura) if c.is_champion)
    form = {"kind": "note", "subject": "更新に向けた確認", "summary": "決裁者と来月面談。\n予算は確保済み。",
            "contact_id": str(champion.id), "occurred_at": "2026-11-20T15:30", "csrf_token": small}  # fmt: skip
    response = client.post(f"/accounts/{sakura}/activities", data=form, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/accounts/{sakura}#timeline"
    first = client.get(f"/api/accounts/{sakura}/timeline?limit=1").json()["items"][0]
    assert (first["kind"], first["type"], first["subject"]) == ("activity", "note", "更新に向けた確認")
    assert first["at"] == "2026-11-20T06:30:00Z"  # the form's time is Tokyo time
    assert (first["actor"], first["contact"]) == ("佐藤 健", "山本 さくら")
    assert first["details"]["external_id"].startswith("ACT-")
    page = client.get(f"/accounts/{sakura}").text
    assert page.index("更新に向けた確認") < page.index("ログインできない")
    assert "決裁者と来月面談。\n予算は確保済み。" in page
    # with htmx: the new item to prepend, a fresh form; errors re-render the form in place
    minato = account_id(app, "ACC-3")
    headers = {"HX-Request": "true", "HX-Target": "timeline-items", "X-CSRF-Token": small}
    response = client.post(
        f"/accounts/{minato}/activities", data={"kind": "call", "subject": "電話で状況確認"}, headers=headers
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<li class="tl-item tl-activity tl-activity-call"')
    assert "電話で状況確認" in response.text
    assert "by 佐藤 健" in response.text
    assert '<div id="activity-form" class="activity-form" hx-swap-oob="true">' in response.text
    assert 'value="電話で状況確認"' not in response.text  # the fresh form is empty
    invalid = client.post(f"/accounts/{minato}/activities", data={"kind": "lunch", "subject": "x"}, headers=headers)
    assert invalid.status_code == 422
    assert invalid.headers["HX-Retarget"] == "#activity-form"
    assert invalid.headers["HX-Reswap"] == "outerHTML"
    assert "kind must be one of: meeting, call, email, note" in invalid.text
    assert "<html" not in invalid.text


INVALID_FORMS = [
    ({"kind": "lunch"}, "kind must be one of: meeting, call, email, note", "kind"),
    ({"subject": "あ" * 501}, "the subject is longer than 500 characters", "subject"),
    ({"summary": "x" * 20_001}, "the summary is longer than 20,000 characters", "summary"),
    ({"subject": "  ", "summary": ""}, "write a subject or a summary", "summary"),
    ({"occurred_at": "next tuesday"}, "not a date and time: 'next tuesday'", "occurred_at"),
    ({"contact_id": "CONTACT"}, "no contact with id CONTACT", "contact_id"),
]


@sqlite_only
def test_bad_touchpoints_are_refused_and_nothing_is_written(app: FastAPI, client: TestClient, small: str) -> None:
    sakura, minato = account_id(app, "ACC-1"), account_id(app, "ACC-3")

    def count() -> int:
        return len(client.get(f"/api/accounts/{sakura}/timeline").json()["items"])

    # validation errors are shown next to the form, on the whole 360 page
    for changes, message, field in INVALID_FORMS:
        form = {"kind": "meeting", "subject": "定例", "summary": "", "csrf_token": small, **changes}
        response = client.post(f"/accounts/{sakura}/activities", data=form)
        assert response.status_code == 422, changes
        text = html.unescape(response.text)
        assert message in text
        assert '<h1 id="account-name"' in text
        assert "<details open>" in text
        if field in ("subject", "summary", "kind"):
            assert f'data-testid="error-{field}">{message}<' in text
    # a contact of another account
    with app.state.kizuna.unit_of_work() as session:
        takahashi = c360.account_contacts(session, minato)[0]
    form = {"kind": "call", "subject": "x", "contact_id": str(takahashi.id), "csrf_token": small}
    response = client.post(f"/accounts/{sakura}/activities", data=form)
    assert response.status_code == 422
    assert f"contact {takahashi.id} belongs to another account" in response.text
    assert client.post("/accounts/999999/activities", data=form).status_code == 404
    # missing, empty or forged CSRF tokens
    for token in (None, "", "forged-token"):
        data = {"kind": "note", "subject": "x"} | ({"csrf_token": token} if token is not None else {})
        response = client.post(f"/accounts/{sakura}/activities", data=data)
        assert response.status_code == 403, token
        assert "the form has expired" in response.text
    assert count() == 7
    # viewers do not see the form and get 403
    assert 'data-testid="activity-form"' in client.get(f"/accounts/{sakura}").text
    make_user(app, "viewer@kizuna.example", "viewer")
    token = sign_in(client, "viewer@kizuna.example")
    assert 'data-testid="activity-form"' not in client.get(f"/accounts/{sakura}").text
    response = client.post(f"/accounts/{sakura}/activities", data={"kind": "note", "subject": "x", "csrf_token": token})
    assert response.status_code == 403
    assert "your role does not allow this" in response.text
    assert count() == 7


def test_log_activity_checks_its_input_with_stable_codes(app: FastAPI, small: str) -> None:
    sakura, minato = account_id(app, "ACC-1"), account_id(app, "ACC-3")
    now = datetime.now(UTC)
    good = {
        "account_id": sakura,
        "kind": "email",
        "occurred_at": now,
        "subject": "s",
        "summary": None,
        "author_id": None,
    }
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"kind": "fax"}, InvalidInput, "invalid_activity_kind"),
        ({"subject": "x" * 501}, InvalidInput, "subject_too_long"),
        ({"summary": "x" * 20_001}, InvalidInput, "summary_too_long"),
        ({"subject": None, "summary": " \n "}, InvalidInput, "activity_empty"),
        ({"occurred_at": datetime(2026, 11, 20, 10, 0)}, InvalidInput, "naive_datetime"),
        ({"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}, InvalidInput, "occurred_at_out_of_range"),
        ({"account_id": 999_999}, NotFound, "account_not_found"),
        ({"contact_id": 999_999}, NotFound, "contact_not_found"),
        ({"author_id": 999_999}, NotFound, "user_not_found"),
    ]
    with app.state.kizuna.unit_of_work() as session:
        other_contact = c360.account_contacts(session, minato)[0].id
        cases.append(({"contact_id": other_contact}, InvalidInput, "contact_not_on_account"))
        for changes, error, code in cases:
            with pytest.raises(error) as info:
                activities_service.log_activity(session, **{**good, **changes})  # type: ignore[arg-type]
            assert info.value.code == code, changes  # type: ignore[attr-defined]
        activity = activities_service.log_activity(session, **good)  # type: ignore[arg-type]
        assert activity.id
        assert re.fullmatch(r"ACT-[0-9a-f-]{36}", activity.external_id)
        assert activity.kind == "email"
        assert activity.occurred_at == now


# --- safety --------------------------------------------------------------------------------


@sqlite_only
def test_names_and_notes_render_as_text(app: FastAPI, client: TestClient, small: str, tmp_path: Path) -> None:
    evil = tmp_path / "accounts.csv"
    evil.write_text(
        "external_id,name,domain\nEVIL-1,<script>alert(1)</script>,evil.example\n"
        'EVIL-2,"<img src=x onerror=alert(2)>",\n',
        encoding="utf-8",
    )
    import_one(app, "accounts", evil, AS_OF)
    listing = client.get("/accounts").text
    assert "<script>alert(1)</script>" not in listing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert "<img src=x" not in listing
    target = account_id(app, "EVIL-1")
    page = client.get(f"/accounts/{target}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    note = {"kind": "note", "subject": "</script><script>alert(3)</script>", "summary": '"><svg onload=alert(4)>',
            "csrf_token": small}  # fmt: skip
    client.post(f"/accounts/{target}/activities", data=note)
    text = client.get(f"/accounts/{target}").text
    assert "<script>alert(3)</script>" not in text
    assert "<svg onload" not in text
    # every link on the page stays on the site
    hrefs = re.findall(r'href="([^"]*)"', text)
    assert hrefs
    assert all(h.startswith("/") and not h.startswith("//") for h in hrefs)


@sqlite_only
def test_the_pages_speak_japanese(app: FastAPI, client: TestClient, small: str) -> None:
    sakura = account_id(app, "ACC-1")
    page = client.get(f"/accounts/{sakura}", headers={"Accept-Language": "ja"}).text
    assert 'lang="ja"' in page
    assert "取引先" in page
    assert "打ち合わせ" in page
    assert "契約中" in page
    assert "2026/12/01" in page or "2026/12/1" in page  # Japanese date format
    listing = client.get("/accounts", headers={"Accept-Language": "ja"}).text
    assert "担当CSM" in listing
    assert "更新日" in listing


@sqlite_only
def test_digits_int_cannot_read_are_not_numbers_and_never_a_500(app: FastAPI, client: TestClient, small: str) -> None:
    """``"²".isdigit()`` is true but ``int("²")`` raises: every number read from a URL or a
    form is checked with ``isdecimal()`` (what ``int()`` reads), so these are refused or
    ignored like any other text, not a 500."""
    sakura = account_id(app, "ACC-1")
    page = client.get("/accounts?done=owner&n=²")  # the bulk change's notice: no count, no notice
    assert page.status_code == 200
    assert "Owner changed" not in page.text
    # a full-width count is a count: int() reads every Unicode decimal digit
    assert "Owner changed for 12 accounts." in client.get("/accounts?done=owner&n=１２").text
    # a note's contact: "²" is no contact's id; the form comes back with the refusal, nothing logged
    form = {"kind": "note", "subject": "確認", "contact_id": "²", "csrf_token": small}
    response = client.post(f"/accounts/{sakura}/activities", data=form, follow_redirects=False)
    assert response.status_code == 422
    assert "no contact with id ²" in html.unescape(response.text)
    assert client.get(f"/api/accounts/{sakura}/timeline?limit=50").json()["items"][0]["subject"] != "確認"
