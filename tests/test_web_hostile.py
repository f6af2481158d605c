"""Stored HTML injection (issue 12): hostile values in every user-writable text field of
every entity, then every page and every JSON twin rendered and parsed.

What goes in: every importable entity (``ENTITIES``, one row each, every text column
hostile), the tracking API (``/v1/group``, ``/identify``, ``/track``), tier and stage
override reasons, CSM sentiment reasons, scorecard names and labels, user and API key
names, and the web forms (activities, overrides, sentiments, sign-in) with the values
they echo back. What comes out is parsed with an HTML parser: no element or attribute may
come from the hostile values (each carries the attribute ``data-kzinj`` and the marker
``kzinj``), no ``on*`` attribute, no ``javascript:`` link, no htmx attribute from user data,
and ``{{7*7}}`` never becomes 49. Every GET route of the app is requested (a new route fails
the test until it is listed here), and every template file must have been rendered.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

import kizuna.domain.enums as enums_module
import kizuna.domain.health as health_module
import kizuna.domain.segments as segments_module
from kizuna.domain.auth import ApiKeyScope
from kizuna.i18n import set_language
from kizuna.main import WEB, create_app
from kizuna.services import auth, onboarding, success_plans, unsubscribe
from kizuna.services import customer360 as c360
from kizuna.services import health as health_service
from kizuna.services.context import RunContext
from kizuna.services.imports import ENTITIES, ParseContext, import_file
from kizuna.services.imports.fields import FieldError
from kizuna.services.pipeline import run_daily
from kizuna.settings import Settings
from tests.conftest import PASSWORD, login_token, migrated_sqlite, sign_in

MARK = "kzinj"
#: Every vector in one value: tag breakout, htmx auto-post, event handler, template syntax.
LONG = (
    f"\"'><script>{MARK}()</script><div data-{MARK} hx-post=\"/accounts/1/activities\" hx-trigger=\"load\" "
    f"hx-vals='{{\"kind\":\"note\"}}'>tpl{{{{7*7}}}}</div><img data-{MARK} src=x onerror=\"{MARK}()\">"
    f"<a data-{MARK} href=\"javascript:alert(1)\">x</a>"
)
#: For short columns (≤ 128 characters).
SHORT = f"\"'><div data-{MARK} hx-get=\"/\" hx-trigger=\"load\">tpl{{{{7*7}}}}</div><img data-{MARK} onerror=x>"
#: For columns that must be one word (ids in the tracking API's keys, metric names).
WORD = f"tpl{{{{7*7}}}}<b/data-{MARK}>"
URL = "javascript:alert(1)"
ZONE = ZoneInfo("Asia/Tokyo")
AS_OF = date(2026, 11, 20)
CTX = ParseContext(ZONE, "JPY")

#: Path parameters of the GET routes → the record they name (filled in by the seeding).
PARAMS: dict[str, str] = {
    "account_id": "accounts", "contact_id": "contacts", "product_id": "products",
    "subscription_id": "subscriptions", "ticket_id": "tickets", "response_id": "survey_responses",
    "activity_id": "activities", "token": "uploads", "task_id": "tasks", "user_id": "users",
    "link": "unsubscribe", "survey_link": "survey_link", "slug": "kb",
    "playbook_key": "playbooks", "renewal_id": "renewals",
    "opportunity_id": "opportunities",
}  # fmt: skip
#: Extra query strings and headers per route, so partials and filters render too.
VARIANTS: dict[str, list[tuple[str, dict[str, str]]]] = {
    "/accounts": [(f"?q={MARK}", {}), ("?q=x", {"HX-Request": "true", "HX-Target": "account-results"}),
                  ("?page=99", {})],
    "/accounts/{account_id}/timeline": [("?before=2030-01-01T00:00:00Z", {"HX-Request": "true"})],
    "/kpis": [("?by=touch_tier", {}), ("?by=plan", {}), ("?by=owner", {})],
    "/kpis/accounts": [("?metric=mrr", {}), ("?metric=churned&month=2026-10", {}), (f"?metric=<b>{MARK}", {})],
    "/api/kpis/accounts": [("?metric=mrr", {})],
    "/worklist": [("?user=team", {})],
    "/unsubscribe/{link}": [("x", {})],  # an altered link: the 400 page
    "/s/{survey_link}": [("x", {})],  # an altered survey link: the 400 page
    "/kb": [(f"?q={MARK}", {}), ("?q=%3Cb%3E", {}), ("?category=x", {})],
}  # fmt: skip
#: GET routes that are not pages of ours (the API docs) and need no check here.
SKIP = {
    "/openapi.json",
    # analytics.js's settings: fixed JSON for an ingest key (no stored text), tested in test_ingest.py
    "/v1/projects/{write_key}/settings",
}


# --- filling every text column with hostile values ---------------------------------------------


def _enum_values() -> list[str]:
    values: list[str] = []
    for module in (enums_module, segments_module, health_module):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, StrEnum) and obj is not StrEnum:
                values += [m.value for m in obj]
    return values


ENUM_VALUES = _enum_values()


def _candidates(kind: str, column: str, n: int) -> list[Any]:
    """Values to try for one column, hostile first; the first one the parser takes is used."""
    day = (AS_OF - timedelta(days=400 - n)).isoformat()
    benign: dict[str, list[Any]] = {
        "email": [f"u{n}.{column}@example.com"], "date": [day], "datetime": [f"{day}T10:00:00"],
        "integer": ["1"], "number": ["2"], "boolean": ["true"], "currency": ["JPY"], "money": ["10000"],
        "domain": [URL, "example.com"], "json": [json.dumps({"note": LONG})], "choice": [*ENUM_VALUES, "ja", "en"],
    }  # fmt: skip
    if kind in ("text", "reference"):
        return [LONG, SHORT, WORD]
    return benign.get(kind, [LONG, SHORT, WORD])


def _row(spec: Any, n: int, keys: dict[tuple[str, str], str]) -> tuple[dict[str, Any], list[str]]:
    row: dict[str, Any] = {}
    hostile: list[str] = []
    for fd in spec.fields:
        if fd.ref is not None:
            known = keys.get((fd.ref.table, fd.ref.key))
            if known is not None:
                row[fd.column] = known
            continue
        for value in _candidates(fd.kind, fd.column, n):
            try:
                assert fd.parse is not None
                fd.parse(value, CTX, row)
            except (FieldError, ValueError):
                continue
            row[fd.column] = value
            if MARK in str(value) or value == URL:
                hostile.append(fd.column)
            break
        else:
            assert not fd.required, f"{spec.name}.{fd.column}: no candidate value parses"
    if spec.name == "subscriptions":
        row["status"], row["ended_on"], row["trial_ends_on"] = "active", None, None
    if spec.name == "survey_responses":
        row["kind"], row["score"] = "nps", "3"
    if spec.custom_fields:
        row["custom.note"] = LONG
        hostile.append("custom.note")
    return row, hostile


def _import_everything(app: FastAPI, tmp: Path) -> dict[str, list[str]]:
    """One row of every importable entity, every text column hostile; returns them by entity."""
    keys: dict[tuple[str, str], str] = {}
    written: dict[str, list[str]] = {}
    for name, spec in ENTITIES.items():
        row, hostile = _row(spec, len(written), keys)
        path = tmp / f"{name}.jsonl"
        path.write_text(json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False) + "\n")
        with app.state.kizuna.unit_of_work() as session:
            import_file(session, name, path, ctx=CTX)
        for column in spec.key:
            keys[(spec.table, spec.fields[[f.column for f in spec.fields].index(column)].attr)] = row[column]
        written[name] = hostile
    return written


def _upload(client: TestClient, csrf: str, *, check: bool, refused_row: bool = True) -> str:
    """A CSV upload whose header and cells are hostile, taken through the mapping (and the
    dry run, with ``check``): its pages echo both. Returns the upload's token."""
    rows = f"H-1,{LONG.replace(',', ' ')},{SHORT}\n" + (f",{SHORT},x\n" if refused_row else "")
    body = f"external_id,name,{SHORT}\n{rows}".encode()
    r = client.post("/imports", data={"csrf_token": csrf, "entity": "accounts"},
                    files={"file": (f"{MARK}<b>.csv", body, "text/csv")}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    token = r.headers["location"].split("/")[2]
    if check:
        r = client.post(f"/imports/{token}/check", data={"csrf_token": csrf, "target": ["external_id", "name", ""],
                        "mapping_name": SHORT}, follow_redirects=False)  # fmt: skip
        assert r.status_code in (303, 422), r.text
    return token


def _ids(app: FastAPI) -> dict[str, int]:
    from sqlalchemy import text

    out = {}
    with app.state.kizuna.unit_of_work() as session:
        for table in set(PARAMS.values()) - {"uploads", "unsubscribe", "playbooks", "survey_link", "kb"}:
            first = session.execute(text(f"SELECT min(id) FROM {table}")).scalar_one()
            if first is not None:  # renewals: written by the seeding after its first look
                out[table] = int(first)
    return out


def _survey_link(app: FastAPI, contact_id: int) -> str:
    """A survey with a hostile name and question, sent to the hostile contact: its signed link."""
    from types import SimpleNamespace

    from sqlalchemy import text

    from kizuna.services import surveys

    with app.state.kizuna.unit_of_work() as session:
        account_id = int(session.execute(text("SELECT account_id FROM contacts WHERE id = :c"), {"c": contact_id}).scalar_one())
        surveys.create_programme(session, key="hostile", name=SHORT, kind="nps", question_en=SHORT, question_ja=SHORT)
        who = SimpleNamespace(id=contact_id, account_id=account_id, name=SHORT, email="h@hostile.example", language="en",
                              unsubscribed_at=None)  # fmt: skip
        sent = surveys.invite(session, app.state.kizuna.context, "hostile", [who], account_names={account_id: LONG},
                              source=SHORT, now=datetime.now(UTC), outbox_key="hostile")  # fmt: skip
    link = str(sent.messages[0][2]["text"]).split("/s/")[1].split()[0]
    return link


def _kb_article(app: FastAPI, tmp: Path) -> str:
    """A knowledge-base article whose title, category and text are hostile: its slug."""
    from kizuna.services import kb

    folder = tmp / "kb"
    folder.mkdir()
    one_line = SHORT.replace("\n", " ").replace("-", "")
    (folder / "h.md").write_text(f"---\ntitle: {one_line}\ncategory: {one_line[:90]}\nlanguage: en\nslug: hostile\n---\n"
                                 f"{LONG}\n\n[x]({URL}) <script>alert(1)</script>\n", encoding="utf-8")  # fmt: skip
    with app.state.kizuna.unit_of_work() as session:
        kb.import_folder(session, folder)
    with app.state.kizuna.unit_of_work() as session:  # sent to the hostile contact and read: the timeline shows it
        from types import SimpleNamespace

        from sqlalchemy import text

        contact = session.execute(text("SELECT id, account_id FROM contacts ORDER BY id LIMIT 1")).one()
        who = SimpleNamespace(id=contact.id, name=SHORT, email="h@hostile.example", language="en", unsubscribed_at=None)
        sent = kb.send_articles(session, app.state.kizuna.context, ["hostile"], [who], account_id=int(contact.account_id),
                                account_name=LONG, playbook_key="hostile", enrollment_id=None, now=datetime.now(UTC),
                                outbox_key="hostile-kb")  # fmt: skip
        token = str(sent.messages[0][2]["text"]).split("?r=")[1].split()[0]
        assert kb.record_view(session, app.state.kizuna.context, "hostile", token)
    return "hostile"


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


SCORECARD = """
[scorecards.main]
name = {name}
default = true
[scorecards.main.groups.usage]
label = {label}
weight = 1
[scorecards.main.groups.usage.measures]
login_days = {{ weight = 1, scoring = "linear", points = [[0, 0], [20, 100]] }}
"""


def _seed(app: FastAPI, client: TestClient, tmp: Path) -> tuple[dict[str, list[str]], str]:
    written = _import_everything(app, tmp)
    with app.state.kizuna.unit_of_work() as session:
        admin = auth.create_user(session, email="admin@kizuna.example", name=SHORT, role=enums_module.UserRole.ADMIN,
                                 password=PASSWORD, locale="en")  # fmt: skip
        write_key, _r = auth.create_api_key(session, name=SHORT, scope=ApiKeyScope.WRITE)
        ingest_key, _r = auth.create_api_key(session, name=SHORT, scope=ApiKeyScope.INGEST)
        health_service.save_scorecards(session, SCORECARD.format(name=json.dumps(LONG), label=json.dumps(SHORT)),
                                       author_id=admin.id, note=LONG)  # fmt: skip
        run_daily(session, AS_OF, RunContext())
    ids = _ids(app)
    account = ids["accounts"]
    with app.state.kizuna.unit_of_work() as session:  # a playbook run on the timeline: its name and log are text
        from sqlalchemy import text as sql_text

        definition = json.dumps({"name": SHORT, "trigger": {"kind": "at_risk"},
                                 "steps": [{"kind": "task", "title": SHORT}]})  # fmt: skip
        session.execute(sql_text("INSERT INTO playbook_versions (key, version, name, definition, created_at)"
                                 " VALUES ('hostile', 1, :name, :definition, :now)"),
                        {"name": SHORT, "definition": definition, "now": datetime.now(UTC)})  # fmt: skip
        session.execute(sql_text("INSERT INTO playbook_enrollments (playbook_key, version, account_id, state, holdout,"
                                 " entered_on, step, log) VALUES ('hostile', 1, :a, 'active', :no, :d, 0, :log)"),
                        {"a": account, "no": False, "d": AS_OF, "log": LONG})  # fmt: skip
        # a churn score whose drivers carry user data (a plan code) into the 360 page's sentences
        session.execute(sql_text("INSERT INTO churn_scores (account_id, as_of, horizon_days, probability, model_version,"
                                 " drivers_json, scored_by) VALUES (:a, :d, 90, 0.5, 1, :drivers, 'daily')"),
                        {"a": account, "d": AS_OF, "drivers": json.dumps([{"feature": "plan", "value": LONG,
                                                                           "contribution": 1.0}])})  # fmt: skip
        # a renewal with the CSM's call: its reason and author are text (issue 16)
        session.execute(sql_text("INSERT INTO renewals (account_id, term_end, currency, arr_due, stage, stage_source,"
                                 " updated_on, call_probability, call_reason, call_by, touch_tier)"
                                 " VALUES (:a, :d, 'JPY', 1200, 'in_discussion', 'csm', :d, 0.5, :long, :short, :short)"),
                        {"a": account, "d": AS_OF + timedelta(days=30), "long": LONG, "short": SHORT})  # fmt: skip
        for status, reason in (("open", None), ("dismissed", LONG)):  # issue 16: reason values and a CSM's words
            session.execute(sql_text(
                "INSERT INTO opportunities (account_id, type, product_id, signal, reason_params, status, detected_on,"
                " last_seen_on, close_reason, close_params, value, currency, suppressed_reason, created_at, updated_at)"
                " VALUES (:a, 'cross_sell', :p, 'purchase', :params, :s, :d, :d, :r, '{}', 1000, 'JPY', :sup, :now, :now)"),
                {"a": account, "p": ids["products"], "params": json.dumps({"bought": LONG, "days": 3, "product": SHORT}),
                 "s": status, "d": AS_OF, "r": reason, "sup": "health_red" if reason else None, "now": datetime.now(UTC)})  # fmt: skip
    bearer = {"Authorization": f"Bearer {write_key}"}
    # The API, as a write key would (the hole of issue 12 came in this way).
    for path, body in (
        (f"/api/accounts/{account}/tier-override", {"tier": "high", "reason": LONG}),
        (f"/api/accounts/{account}/stage-override", {"stage": "adoption", "reason": LONG}),
    ):
        r = client.put(path, json=body, headers=bearer)
        assert r.status_code == 200, r.text
    r = client.post(f"/api/health/accounts/{account}/sentiments", json={"value": 2, "reason": LONG}, headers=bearer)
    assert r.status_code == 201, r.text
    r = client.post("/api/activities", headers=bearer, json={"account_id": account, "kind": "note",
                    "occurred_at": datetime.now(UTC).isoformat(), "subject": LONG, "summary": LONG})  # fmt: skip
    assert r.status_code == 201, r.text
    # The tracking API, as an ingest key would.
    group = {"userId": "U-h", "groupId": "ACC-h", "traits": {"name": LONG, "industry": SHORT, "plan": LONG}}
    assert client.post("/v1/group", headers=_basic(ingest_key), json=group).status_code == 200
    ident = {"userId": "U-h", "context": {"groupId": "ACC-h"}, "traits": {"name": SHORT, "title": SHORT}}
    r = client.post("/v1/identify", headers=_basic(ingest_key), json=ident)
    assert r.status_code == 200, r.text
    now = datetime.now(UTC).isoformat()
    for user, event in (("U-h", SHORT), (SHORT, "Signed In"), ("U-h", WORD)):
        body = {"userId": user, "event": event, "timestamp": now, "properties": {"x": LONG}}
        if user == "U-h":
            body["context"] = {"groupId": "ACC-h"}
        assert client.post("/v1/track", headers=_basic(ingest_key), json=body).status_code == 200
    # The web forms, as the signed-in admin (they echo what was typed when it is refused).
    csrf = sign_in(client, "admin@kizuna.example")
    h = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    form = {"kind": "note", "subject": LONG, "summary": LONG, "contact_id": "", "occurred_at": ""}
    assert client.post(f"/accounts/{account}/activities", data=form, headers=h).status_code == 200
    bad = {**form, "kind": LONG, "occurred_at": LONG, "contact_id": LONG}
    assert client.post(f"/accounts/{account}/activities", data=bad, headers=h).status_code == 422
    seg = {"csrf_token": csrf, "dimension": "tier", "value": "low", "reason": LONG, "action": "set"}
    assert client.post(f"/accounts/{account}/segments", data=seg, follow_redirects=False).status_code < 500
    seg_bad = {**seg, "value": LONG}
    assert client.post(f"/accounts/{account}/segments", data=seg_bad, follow_redirects=False).status_code < 500
    for value in ("3", LONG):
        r = client.post(f"/accounts/{account}/health/sentiment", data={"value": value, "reason": LONG}, headers=h)
        assert r.status_code < 500, r.text
    return written, csrf


# --- what the output may not contain --------------------------------------------------------------


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _v in attrs}
        where = f"<{tag} {' '.join(k for k, _v in attrs)}>"
        if f"data-{MARK}" in names:
            self.problems.append(f"an element from user data: {where}")
        for k, v in attrs:
            if k.startswith("on"):
                self.problems.append(f"an event handler attribute: {where}")
            if k in ("href", "src", "action", "formaction", "hx-get", "hx-post") and (v or "").strip().lower().startswith(
                "javascript:"
            ):  # fmt: skip
                self.problems.append(f"a javascript: link: {where} {k}={v!r}")
            # a URL the server built (``/accounts?q=…``, encoded) may carry a search term; nothing else may
            if (k.startswith("hx-") or k.startswith("data-hx-")) and MARK in (v or "") and not (
                (v or "").startswith("/") and "<" not in (v or "")
            ):
                self.problems.append(f"an htmx attribute carrying user data: {where}")
        if tag == "script":
            self._script = dict(attrs).get("type") or "text/javascript"
            if dict(attrs).get("src") is None and self._script != "application/json":
                self.problems.append(f"an inline script: {where}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None and self._script != "application/json" and data.strip():
            self.problems.append(f"script text: {data[:80]!r}")


def _audit_html(html: str) -> list[str]:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    problems = audit.problems
    if "tpl49" in html:
        problems.append("{{7*7}} was evaluated (tpl49)")
    return problems


def _routes(app: FastAPI) -> list[str]:
    """Every GET path of the app (routers included by FastAPI are walked into)."""
    paths = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        for item in contexts() if callable(contexts) else [route]:
            methods = getattr(item, "methods", None) or set()
            if (isinstance(item, APIRoute | Route) or hasattr(item, "original_route")) and "GET" in methods:
                path = re.sub(r"\{(\w+):\w+\}", r"{\1}", item.path)
                if path not in SKIP:
                    paths.append(path)
    return sorted(set(paths))


def _fill(path: str, ids: dict[str, int | str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in PARAMS, f"{path}: add the path parameter {name!r} to PARAMS in this test"
        return str(ids[PARAMS[name]])

    return re.sub(r"\{(\w+)\}", one, path)


@pytest.fixture(scope="module")
def hostile_app(sqlite_template: Path) -> Any:
    """The app on a store seeded once with hostile values (:func:`_seed`), signed in as its
    admin: (app, client, folder, what was written by entity, CSRF token). Both tests of this
    module read it; the first adds to it (and then only adds: the seeded rows stay)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=migrated_sqlite(sqlite_template, Path(tmp) / "kizuna.db"))
        app = create_app(settings)
        with TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"}) as client:
            set_language("en")
            written, csrf = _seed(app, client, Path(tmp))
            yield app, client, Path(tmp), written, csrf


def test_hostile_values_in_every_field_create_no_element_on_any_page(hostile_app: Any) -> None:
    app, client, tmp, written, csrf = hostile_app
    assert all(written[name] for name in ("accounts", "contacts", "products", "tickets", "activities", "tasks")), written
    ids: dict[str, int | str] = {**_ids(app), "uploads": _upload(client, csrf, check=True), "playbooks": "hostile"}
    with app.state.kizuna.unit_of_work() as session:  # an onboarding plan and a success plan with hostile text
        onboarding.save_template(session, "hostile", {"name": SHORT, "milestones": [
            {"name": SHORT, "offset_days": 0, "first_value": True}, {"name": LONG[:200], "offset_days": 3}]})
        onboarding.apply(session, [int(ids["accounts"])], "hostile", start=AS_OF - timedelta(days=10))
        goal = success_plans.create_objective(session, int(ids["accounts"]), {
            "title": SHORT, "metric": SHORT, "baseline_value": 1, "target_value": 2, "due_on": "2030-01-01"},
            today=AS_OF)  # fmt: skip
        success_plans.add_milestone(session, goal, SHORT, None)
        success_plans.add_task(session, goal, SHORT, None, today=AS_OF)
    with app.state.kizuna.unit_of_work() as session:  # a signed unsubscribe link of a contact with hostile values
        ids["unsubscribe"] = unsubscribe.token_for(unsubscribe.secret(session, app.state.kizuna.context),
                                                   int(ids["contacts"]))  # fmt: skip
    ids["survey_link"] = _survey_link(app, int(ids["contacts"]))
    ids["kb"] = _kb_article(app, tmp)
    problems: list[str] = []
    # the admin forms: a key and a user with hostile names (listed by the pages below), and
    # refused forms that echo what was typed
    for path, data in (("/admin/api-keys", {"name": SHORT, "scope": "read"}),
                       ("/admin/api-keys", {"name": LONG, "scope": LONG}),
                       ("/admin/users", {"email": "hostile@kizuna.example", "name": SHORT, "role": "csm"}),
                       ("/admin/users", {"email": LONG, "name": LONG, "role": LONG})):  # fmt: skip
        r = client.post(path, data={**data, "csrf_token": csrf})
        assert r.status_code in (200, 422), f"POST {path}: {r.status_code}"
        problems += [f"POST {path}: {p}" for p in _audit_html(r.text)]
    # the playbook editor echoes every field it was sent: refused, previewed, as TOML, back to the forms
    editor = {"csrf_token": csrf, "original": "hostile", "key": LONG, "name": LONG, "trigger.kind": LONG,
              "filters.plan": [LONG], "filters.owner": [SHORT], "cooldown_days": LONG, "holdout": SHORT,
              "steps": "2", "s0.kind": "task", "s0.title": LONG, "s0.due_days": SHORT, "s0.notes": LONG,
              "s1.kind": LONG, "note": LONG}  # fmt: skip
    for op in ("preview", "save", "add:task", "toml", "up:1"):
        r = client.post("/playbooks/editor", data={**editor, "op": op})
        assert r.status_code in (200, 422), f"POST /playbooks/editor {op}: {r.status_code}"
        problems += [f"POST /playbooks/editor {op}: {p}" for p in _audit_html(r.text)]
    ok = {**editor, "trigger.kind": "at_risk", "cooldown_days": "30", "holdout": "0", "s0.due_days": "3",
          "s0.title": SHORT.replace("{", "{{").replace("}", "}}"), "s0.notes": "", "name": SHORT, "steps": "1", "op": "preview"}  # fmt: skip
    r = client.post("/playbooks/editor", data=ok)
    assert r.status_code == 200, r.text
    problems += [f"POST /playbooks/editor preview: {p}" for p in _audit_html(r.text)]
    for op in ("preview", "forms"):
        r = client.post("/playbooks/editor", data={"csrf_token": csrf, "original": "", "toml": LONG, "op": op})
        assert r.status_code == 422
        problems += [f"POST /playbooks/editor TOML {op}: {p}" for p in _audit_html(r.text)]
    pages = 0
    requested: set[str] = set()
    for route in _routes(app):
        url = _fill(route, ids)
        for query, headers in [("", {}), *VARIANTS.get(route, [])]:
            requested.add(route)
            for accept, lang in (("text/html", "en"), ("text/html", "ja"), ("application/json", "en")):
                r = client.get(url + query, headers={"Accept": accept, "Accept-Language": lang, **headers})
                pages += 1
                assert r.status_code < 500, f"{url}{query} ({accept}, {lang}): {r.status_code}"
                body = r.text
                if r.headers.get("content-type", "").startswith("application/json"):
                    json.loads(body)  # a JSON twin is data: it must parse, and carry no evaluated template
                    if "tpl49" in body:
                        problems.append(f"{url}{query} JSON: {{{{7*7}}}} evaluated")
                    continue
                kind = r.headers.get("content-type", "")
                if kind.startswith(("text/csv", "application/pdf")):  # a download, never rendered: it must say so
                    assert r.headers["x-content-type-options"] == "nosniff", url
                    assert r.headers["content-disposition"].startswith("attachment"), url
                    continue
                assert kind.startswith("text/html"), f"{url}{query}: {kind}"
                problems += [f"{url}{query} ({lang}): {p}" for p in _audit_html(body)]
    # an import run to its end: the summary page echoes the file's name and counts
    done = client.post(f"/imports/{_upload(client, csrf, check=True, refused_row=False)}/run", data={"csrf_token": csrf})
    assert done.status_code < 500
    problems += [f"POST /imports/…/run: {p}" for p in _audit_html(done.text)]
    # the survey page: a refused answer echoing a hostile "why", the thanks, then the link used up (410)
    for data, status in (({"score": LONG, "why": LONG}, 422), ({"score": "3", "why": SHORT}, 200), ({"score": "3"}, 410)):
        r = client.post(f"/s/{ids['survey_link']}", data=data)
        assert r.status_code == status, r.text
        problems += [f"POST /s/…: {p}" for p in _audit_html(r.text)]
    for data in ({"csrf_token": csrf, "key": LONG, "name": LONG, "kind": LONG, "question_ja": LONG},):
        r = client.post("/surveys", data=data)
        assert r.status_code == 422
        problems += [f"POST /surveys: {p}" for p in _audit_html(r.text)]
    for _ in range(2):  # the unsubscribe page, just done and then already done
        gone = client.post(f"/unsubscribe/{ids['unsubscribe']}")
        assert gone.status_code == 200
        problems += [f"POST /unsubscribe: {p}" for p in _audit_html(gone.text)]
    # signed out: the sign-in page with a hostile "next" and a refused sign-in echoing the email
    with TestClient(app, base_url="http://testserver") as anonymous:
        login = anonymous.get("/login", params={"next": URL})
        problems += [f"/login: {p}" for p in _audit_html(login.text)]
        refused = anonymous.post("/login", data={"email": LONG, "password": "x", "next": URL,
                                                 "csrf_token": login_token(anonymous)})  # fmt: skip
        assert refused.status_code == 401
        problems += [f"POST /login: {p}" for p in _audit_html(refused.text)]
        problems += [f"404: {p}" for p in _audit_html(anonymous.get(f"/{MARK}<b>").text)]
    # the generic timeline layout is the fallback for a kind without its own template: render it directly
    env = app.state.kizuna.templates
    item = c360.TimelineItem(kind=SHORT, type=SHORT, at=datetime.now(UTC), seq=1, subject=LONG, body=LONG,
                             actor=LONG, contact=LONG)  # fmt: skip
    generic = env.get_template("accounts/timeline_generic.html").render(item=item, d={})
    problems += [f"timeline_generic.html: {p}" for p in _audit_html(generic)]
    assert not problems, "\n".join(sorted(set(problems)))
    assert requested == set(_routes(app))
    assert pages > 100
    # every template file was rendered at least once (a new template must be reached by a route above)
    loaded = {key[1] for key in env.cache} if env.cache is not None else set()
    templates = {str(p.relative_to(WEB / "templates")) for p in (WEB / "templates").rglob("*.html")}
    assert templates - loaded == set(), f"templates no request rendered: {sorted(templates - loaded)}"


def test_the_tier_history_shows_a_written_reason_as_text(hostile_app: Any) -> None:
    """The hole of issue 12: a reason in the tier history was rendered as HTML."""
    app, client, _tmp, _written, _csrf = hostile_app
    account = _ids(app)["accounts"]
    page = client.get(f"/accounts/{account}", headers={"Accept-Language": "ja"}).text
    cells = re.findall(r'<td hx-disable data-testid="segment-reason-text">(.*?)</td>', page, re.S)
    assert any("&lt;div data-kzinj hx-post=" in c for c in cells), cells


def test_htmx_is_configured_to_refuse_what_injected_markup_needs(client: TestClient) -> None:
    page = client.get("/login").text
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", page)
    assert match, "every page configures htmx"
    config = json.loads(match.group(1))
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["selfRequestsOnly"] is True
    assert config["historyCacheSize"] == 0
