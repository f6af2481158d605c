"""The playbook pages: the list, one playbook (versions, runs), the forms editor (steps
added, moved, removed; the dry run; saving a version; a refused value named next to its
field with every value kept), the TOML mode, pause/resume, the effect page, and the JSON
twins under ``/api/playbooks`` — through the real app on a real SQLite store."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.domain import playbook_forms as forms
from kizuna.services import playbooks
from tests.conftest import make_api_key, make_user, sign_in
from tests.test_playbooks import RISK, TODAY, app, ids  # noqa: F401  (fixtures)
from tests.test_tasks import add_account, sql


@pytest.fixture
def web(app: FastAPI, ids: dict[str, int]) -> TestClient:  # noqa: F811
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, RISK, "risk.toml")
    make_user(app, "lead@kizuna.example", "lead", name="リード 花子")
    make_user(app, "csm@kizuna.example", "csm", name="佐藤 健")
    return TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"})


def _lead(web: TestClient) -> str:
    return sign_in(web, "lead@kizuna.example")


def _form(csrf: str, **changes: Any) -> dict[str, Any]:
    """The editor's fields for the RISK playbook as the page shows them."""
    data: dict[str, Any] = {
        "csrf_token": csrf, "original": "risk", "key": "risk", "name": "Risk: call, wait, email",
        "trigger.kind": "at_risk", "filters.tier": ["high"], "cooldown_days": "30", "holdout": "0",
        "exit_when_cleared": "1", "enabled": "1", "steps": "3",
        "s0.kind": "task", "s0.title": "Call {account} (health {health_score})", "s0.task_kind": "call",
        "s0.priority": "high", "s0.due_days": "2", "s0.assignee": "owner",
        "s1.kind": "wait", "s1.days": "7",
        "s2.kind": "email", "s2.to": "champion", "s2.subject": "How are things at {{ account }}?", "s2.body": "Dear {{ account }}",
    }  # fmt: skip
    data.update(changes)
    return data


def _step_kinds(html: str) -> list[str]:
    return re.findall(r'data-testid="step-form" data-kind="(\w+)"', html)


def test_the_list_and_a_playbook_show_trigger_steps_versions_and_runs(app: FastAPI, web: TestClient,  # noqa: F811
                                                                      ids: dict[str, int]) -> None:  # noqa: F811
    with app.state.kizuna.unit_of_work() as session:
        playbooks.run(session, TODAY)
    sign_in(web, "csm@kizuna.example")
    page = web.get("/playbooks").text
    row = re.search(r'data-testid="playbook-row" data-key="risk">(.*?)</tr>', page, re.S)
    assert row, page
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(1)))
    assert "Risk: call, wait, email" in cells
    assert "The account is at risk" in cells
    assert "Tier: high touch" in cells
    assert re.search(r'data-testid="enrolled">2<', page)  # H1 and H2 (high tier, at risk); L1 is low tier
    assert "New playbook" not in page  # a CSM reads; only a lead edits
    detail = web.get("/playbooks/risk").text
    assert re.findall(r'data-testid="step">\s*<span class="badge trial">([^<]+)', detail) == [
        "Create a task", "Wait", "Send an email"]
    assert 'data-testid="version" data-version="1"' in detail
    accounts = re.findall(r'data-testid="run" data-state="active"><td><a href="/accounts/(\d+)">([^<]+)</a>', detail)
    assert sorted(accounts) == sorted([(str(ids["H1"]), "H1 株式会社"), (str(ids["H2"]), "H2 株式会社")])
    assert web.get("/playbooks/risk/edit").status_code == 403
    assert web.get("/playbooks/nope").status_code == 404


def test_the_forms_editor_adds_moves_removes_previews_and_saves_a_version(web: TestClient,
                                                                          ids: dict[str, int]) -> None:  # noqa: F811
    csrf = _lead(web)
    page = web.get("/playbooks/risk/edit").text
    assert _step_kinds(page) == ["task", "wait", "email"]
    assert 'name="s0.due_days" value="2"' in page
    added = web.post("/playbooks/editor", data=_form(csrf, op="add:webhook")).text
    assert _step_kinds(added) == ["task", "wait", "email", "webhook"]
    assert 'name="s3.url" value=""' in added  # the webhook's fields, from its spec
    moved = web.post("/playbooks/editor", data=_form(csrf, op="up:2")).text
    assert _step_kinds(moved) == ["task", "email", "wait"]
    removed = web.post("/playbooks/editor", data=_form(csrf, op="remove:1")).text
    assert _step_kinds(removed) == ["task", "email"]
    changed = _form(csrf, **{"s0.title": "Executive call: {account}", "s0.due_days": "1"})
    preview = web.post("/playbooks/editor", data={**changed, "op": "preview"})
    assert preview.status_code == 200
    text = re.sub(r"\s+", " ", preview.text)
    assert "2 accounts meet the trigger and filters: 0 already in, 2 would enter, 0 held out." in text
    assert f"task “Executive call: H1 株式会社” due {(TODAY + timedelta(days=1)).isoformat()}" in text
    assert "email “How are things at H1 株式会社?” to champion" in text
    assert 'name="s0.title" value="Executive call: {account}"' in preview.text  # the draft is kept
    saved = web.post("/playbooks/editor", data={**changed, "op": "save", "note": "shorter deadline"},
                     follow_redirects=False)  # fmt: skip
    assert (saved.status_code, saved.headers["location"]) == (303, "/playbooks/risk?done=saved&v=2")
    detail = web.get(saved.headers["location"]).text
    assert "Saved as version 2." in detail
    version = re.search(r'data-testid="version" data-version="2">(.*?)</tr>', detail, re.S)
    assert version
    assert "リード 花子" in version.group(1)
    assert "shorter deadline" in version.group(1)
    with web.app.state.kizuna.unit_of_work() as session:  # type: ignore[attr-defined]
        number, table = playbooks.table(session, "risk")
    assert (number, table["steps"][0]["title"], table["steps"][0]["due_days"]) == (2, "Executive call: {account}", 1)


@pytest.mark.parametrize(("changes", "path", "why"), [
    ({"s0.due_days": "999"}, "risk.steps[1].due_days", "must be from 0 to 365, not 999"),
    ({"s0.due_days": "3x"}, "risk.steps[1].due_days", "must be a whole number, not '3x'"),
    ({"s2.subject": "Hi {{ nobody }}"}, "risk.steps[3].subject", "unknown merge field {{ nobody }}"),
    ({"holdout": "0.9"}, "risk.holdout", "must be from 0 to 0.5, not 0.9"),
    ({"steps": "0"}, "risk.steps", "a playbook needs at least one step"),
])  # fmt: skip
def test_a_refused_value_is_named_next_to_its_field_and_every_value_is_kept(
    web: TestClient, changes: dict[str, str], path: str, why: str
) -> None:
    csrf = _lead(web)
    for op in ("preview", "save"):
        r = web.post("/playbooks/editor", data=_form(csrf, op=op, **changes), follow_redirects=False)
        assert r.status_code == 422, r.text
        error = re.search(rf'data-testid="field-error" data-path="{re.escape(path)}">([^<]+)<', r.text)
        assert error, r.text
        assert why in error.group(1).replace("&#39;", "'")
        assert re.search(r'name="s2.body"[^>]*>Dear \{\{ account \}\}</textarea>', r.text) or path == "risk.steps"
    with web.app.state.kizuna.unit_of_work() as session:  # type: ignore[attr-defined]
        assert playbooks.table(session, "risk")[0] == 1  # nothing saved


def test_a_new_playbook_needs_a_free_key_and_the_toml_mode_edits_the_same_playbook(web: TestClient) -> None:
    csrf = _lead(web)
    new = _form(csrf, original="", key="risk", op="save")
    r = web.post("/playbooks/editor", data=new, follow_redirects=False)
    assert r.status_code == 422
    assert re.search(r'data-path="key">a playbook with the key risk exists already', r.text)
    r = web.post("/playbooks/editor", data={**new, "key": "Risk!"})
    assert r.status_code == 422
    assert re.search(r'data-path="key">a playbook key is 1–64 lower-case', r.text)
    r = web.post("/playbooks/editor", data={**new, "key": "risk-2"}, follow_redirects=False)
    assert r.headers["location"] == "/playbooks/risk-2?done=saved&v=1"
    # TOML mode: the same fields as text; a mistake names its line, the text is kept
    toml_page = web.post("/playbooks/editor", data=_form(csrf, op="toml")).text
    text = re.search(r'data-testid="toml">(.*?)</textarea>', toml_page, re.S)
    assert text
    assert "[playbooks.risk]" in text.group(1)
    source = text.group(1).replace("&#34;", '"').replace("&quot;", '"').replace("&amp;", "&")
    bad = web.post("/playbooks/editor", data={"csrf_token": csrf, "original": "risk", "toml": source + "oops",
                                              "op": "preview"})  # fmt: skip
    assert bad.status_code == 422
    assert "oops" in bad.text
    assert 'data-testid="form-error"' in bad.text
    edited = source.replace("cooldown_days = 30", "cooldown_days = 45")
    r = web.post("/playbooks/editor", data={"csrf_token": csrf, "original": "risk", "toml": edited, "op": "save"},
                 follow_redirects=False)  # fmt: skip
    assert r.headers["location"] == "/playbooks/risk?done=saved&v=2"
    with web.app.state.kizuna.unit_of_work() as session:  # type: ignore[attr-defined]
        assert playbooks.table(session, "risk")[1]["cooldown_days"] == 45


def test_the_toml_writer_round_trips_a_table() -> None:
    import tomllib

    table = {"name": 'He said "hi" \\ {account}\n', "trigger": {"kind": "health_drop", "points": 12.5},
             "filters": {"tier": ["high", "low"]}, "holdout": 0.1, "enabled": False,
             "steps": [{"kind": "wait", "days": 7}, {"kind": "email", "to": "champion", "subject": "件名",
                                                     "body": "本文\n二行目"}]}  # fmt: skip
    assert tomllib.loads(forms.to_toml("risk-2", table))["playbooks"]["risk-2"] == table


def test_pause_and_resume_make_versions_and_stop_entering(app: FastAPI, web: TestClient) -> None:  # noqa: F811
    csrf = _lead(web)
    r = web.post("/playbooks/risk/pause", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.headers["location"] == "/playbooks/risk?done=paused&v=2"
    assert 'data-testid="paused"' in web.get("/playbooks").text
    with app.state.kizuna.unit_of_work() as session:
        assert playbooks.run(session, TODAY) == 0
    assert sql(app, "SELECT count(*) FROM playbook_enrollments") == [(0,)]
    r = web.post("/playbooks/risk/resume", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.headers["location"] == "/playbooks/risk?done=resumed&v=3"
    assert web.post("/playbooks/risk/pause", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    sign_in(web, "csm@kizuna.example")
    csm_csrf = sign_in(web, "csm@kizuna.example")
    assert web.post("/playbooks/risk/pause", data={"csrf_token": csm_csrf}).status_code == 403


def _effect_runs(application: FastAPI, owner: int, treated_churned: int, held_churned: int, n_treated: int = 25,
                 n_held: int = 20) -> None:  # fmt: skip
    entered = TODAY - timedelta(days=100)
    plan = [(False, i < treated_churned) for i in range(n_treated)] + [(True, i < held_churned) for i in range(n_held)]
    for n, (held, churned) in enumerate(plan):
        account = add_account(application, f"E{n}", owner=owner)
        if churned:
            sql(application, "UPDATE accounts SET churned_on = :d, status = 'churned' WHERE id = :id",
                d=entered + timedelta(days=20), id=account)  # fmt: skip
        sql(application, "INSERT INTO playbook_enrollments (playbook_key, version, account_id, state, holdout, entered_on,"
                 " step, log) VALUES ('risk', 1, :a, :s, :h, :d, 0, '')",
            a=account, s="holdout" if held else "completed", h=held, d=entered)  # fmt: skip


def test_the_effect_page_shows_treated_vs_holdout_with_the_interval(app: FastAPI, web: TestClient,  # noqa: F811
                                                                   ids: dict[str, int]) -> None:  # noqa: F811
    _effect_runs(app, ids["owner"], 5, 8)
    sign_in(web, "csm@kizuna.example")
    page = web.get("/playbooks/risk/effect").text
    churn = re.search(r'data-measure="churn" data-enough="yes">(.*?)</tr>', page, re.S)
    assert churn, page
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", churn.group(1)))
    assert "20.0% n=25" in cells
    assert "40.0% n=20" in cells
    assert "-20.0 pt" in cells
    assert "-46.6 pt … +6.6 pt" in cells
    assert "No clear difference yet." in cells
    health = re.search(r'data-measure="health_change" data-enough="no">(.*?)</tr>', page, re.S)
    assert health
    assert "Not enough data yet (fewer than 20 in a group)." in health.group(1)
    assert web.get("/playbooks/risk/effect?horizon=3").status_code == 422
    ja = web.get("/playbooks/risk/effect", headers={"Accept-Language": "ja"})
    assert "まだデータが足りません" in ja.text


def test_the_effect_with_too_few_runs_says_not_enough_data(app: FastAPI, web: TestClient,  # noqa: F811
                                                         ids: dict[str, int]) -> None:  # noqa: F811
    _effect_runs(app, ids["owner"], 1, 2, n_treated=10, n_held=5)
    sign_in(web, "csm@kizuna.example")
    page = web.get("/playbooks/risk/effect").text
    assert 'data-measure="churn" data-enough="no"' in page
    assert page.count('data-testid="not-enough"') == 4


def test_the_api_lists_a_playbook_its_versions_runs_and_effect(app: FastAPI, web: TestClient,  # noqa: F811
                                                              ids: dict[str, int]) -> None:  # noqa: F811
    with app.state.kizuna.unit_of_work() as session:
        playbooks.run(session, TODAY)
    key = {"Authorization": f"Bearer {make_api_key(app, 'read')}"}
    listed = web.get("/api/playbooks", headers=key).json()
    assert [(p["key"], p["version"], p["enrolled"], p["trigger"]) for p in listed] == [
        ("risk", 1, 2, {"kind": "at_risk"})]
    detail = web.get("/api/playbooks/risk", headers=key).json()
    assert [s["kind"] for s in detail["steps"]] == ["task", "wait", "email"]
    assert sorted(r["account"] for r in detail["runs"]) == ["H1 株式会社", "H2 株式会社"]
    assert detail["versions"][0]["version"] == 1
    effect = web.get("/api/playbooks/risk/effect?horizon_days=30", headers=key).json()
    assert (effect["horizon_days"], effect["churn"]["enough"]) == (30, False)
    missing = web.get("/api/playbooks/nope", headers=key)
    assert (missing.status_code, missing.json()["errors"][0]["code"]) == (404, "playbook_not_found")
    assert web.get("/api/playbooks/risk/effect?horizon_days=2", headers=key).status_code == 422


BRANCHED = """
[playbooks.br]
name = "Branched"
trigger = { kind = "at_risk" }

[[playbooks.br.steps]]
kind = "branch"
if = { field = "health_score", op = "<", value = 40 }
then = [{ kind = "task", title = "Executive call {account}", priority = "high" }]
else = [{ kind = "task", title = "Check-in {account}" }]
"""


def test_a_playbook_the_forms_cannot_show_opens_as_toml(web: TestClient) -> None:
    with web.app.state.kizuna.unit_of_work() as session:  # type: ignore[attr-defined]
        playbooks.save(session, BRANCHED, "br.toml")
        _n, branched = playbooks.table(session, "br")
        _n, risk = playbooks.table(session, "risk")
    assert forms.forms_cover(risk)
    assert not forms.forms_cover(branched)
    assert not forms.forms_cover({**risk, "steps": [{"kind": "email", "to": "champion", "ja": {"subject": "x"}}]})
    assert not forms.forms_cover({**risk, "owner_note": "x"})
    assert not forms.forms_cover({**risk, "trigger": {"kind": "at_risk", "days": 3}})
    _lead(web)
    page = web.get("/playbooks/br/edit")
    assert page.status_code == 200
    assert 'data-testid="toml"' in page.text
    assert "edit it as TOML, so that nothing of it is lost" in page.text
    assert "Executive call" in page.text
    assert 'data-testid="toml"' not in web.get("/playbooks/risk/edit").text
