"""Playbooks: definitions checked with the path of each mistake, the holdout drawn by hash,
and the daily step that enrolls, acts, waits, exits and never does a thing twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from kizuna.domain.playbooks import AccountFacts, holdout_draw, parse_playbooks
from kizuna.errors import ConfigurationError
from kizuna.main import create_app
from kizuna.services import playbooks
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import make_user
from tests.test_tasks import add_account, sql

TODAY = date(2026, 11, 20)

RISK = """
[playbooks.risk]
name = "Risk: call, wait, email"
trigger = { kind = "at_risk" }
filters = { tier = ["high"] }
cooldown_days = 30
steps = [
  { kind = "task", title = "Call {account} (health {health_score})", task_kind = "call", priority = "high", due_days = 2 },
  { kind = "wait", days = 7 },
  { kind = "email", to = "champion", subject = "How are things at {{ account }}?", body = "Dear {{ contact }} at {{ account }},\\n{{ owner }}" },
]
"""


@pytest.fixture
def app(tmp_path: Any) -> Iterator[FastAPI]:
    application = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", today=TODAY))
    yield application
    application.state.kizuna.engine.dispose()


@pytest.fixture
def ids(app: FastAPI) -> dict[str, int]:
    owner = make_user(app, "owner@kizuna.example", "csm", name="担当 太郎")
    out = {"owner": owner}
    for key, tier, risk in (("H1", "high", True), ("H2", "high", True), ("H3", "high", False), ("L1", "low", True)):
        out[key] = add_account(app, key, owner=owner, mrr=100_000, score=35 if risk else 80, grade="red" if risk
                               else "green", at_risk=risk)  # fmt: skip
        sql(app, "UPDATE accounts SET touch_tier = :t WHERE id = :id", t=tier, id=out[key])
    sql(app, "INSERT INTO contacts (external_id, account_id, name, email, is_champion, created_at, updated_at)"
             " VALUES ('c1', :a, '山田', 'yamada@h1.example', :yes, :now, :now)",
        a=out["H1"], yes=True, now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    return out


def _run(app: FastAPI, day: date) -> int:
    with app.state.kizuna.unit_of_work() as session:
        return playbooks.run(session, day)


def _enrollments(app: FastAPI) -> list[tuple[Any, ...]]:
    return sql(app, "SELECT account_id, state, step, next_on, version FROM playbook_enrollments ORDER BY account_id, id")


# --- definitions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path", "why"),
    [
        (('kind = "at_risk"', 'kind = "sunny"'), "risk.trigger.kind", "must be one of"),
        (("due_days = 2", "due_days = -1"), "risk.steps[1].due_days", "must be from 0 to 365"),
        (("days = 7", "days = 0"), "risk.steps[2].days", "must be from 1 to 365"),
        (("{{ owner }}", "{{ password }}"), "risk.steps[3].body", "unknown merge field {{ password }}"),
        (("{{ account }}?", "{{ account ?"), "risk.steps[3].subject", "template error on line 1"),
        (("(health {health_score})", "(health {score})"), "risk.steps[1].title", "unknown merge field {score}"),
        (("{health_score})", "{health_score)"), "risk.steps[1].title", "a brace is not closed"),
        (('tier = ["high"]', 'tier = ["gold"]'), "risk.filters.tier[0]", "must be one of: high, low, tech"),
        (("cooldown_days = 30", "cooldown_days = 30\nholdout = 0.9"), "risk.holdout", "must be from 0 to 0.5"),
        (("cooldown_days = 30", "cooldown_days = 30\ncolour = 1"), "risk.colour", "unknown key"),
        (('task_kind = "call"', 'task_kind = "lunch"'), "risk.steps[1].task_kind", "must be one of"),
        (("[playbooks.risk]", '[playbooks."Risk!"]'), "Risk!", "lower-case"),
    ],
)
def test_a_bad_definition_names_the_path_and_why(change: tuple[str, str], path: str, why: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        playbooks.parse(RISK.replace(*change), "mine.toml")
    assert caught.value.field == path
    assert caught.value.message.startswith(f"mine.toml: {path}: ")
    assert why in caught.value.message


def test_a_toml_mistake_names_the_file_and_line() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_playbooks(RISK.replace("[playbooks.risk]", "[playbooks.risk"), "mine.toml")
    assert caught.value.message.startswith("mine.toml: ")
    assert "line 2" in caught.value.message


def test_the_default_library_is_valid_and_covers_the_seeds_matrix() -> None:
    from kizuna.cli.playbooks import LIBRARY

    books = {b.key: b for b in parse_playbooks(LIBRARY.read_text(encoding="utf-8"), "default.toml")}
    for phase in ("onboarding", "risk"):
        for tier in ("high", "low", "tech"):
            assert books[f"{phase}-{tier}"].filters["tier"] == (tier,)
    assert books["risk-high"].steps[0].params["due_days"] == 2  # an executive call within 2 days
    assert [s.kind for s in books["renewal-high"].steps] == ["task", "wait", "task", "wait", "task"]


def test_the_holdout_is_reproducible_and_about_its_share() -> None:
    assert holdout_draw("risk", 42) == holdout_draw("risk", 42)
    assert holdout_draw("risk", 42) != holdout_draw("other", 42)
    share = sum(holdout_draw("risk", i) < 0.1 for i in range(10_000)) / 10_000
    assert 0.09 < share < 0.11


def test_triggers_read_the_accounts_figures() -> None:
    (book,) = parse_playbooks(RISK, "t")
    facts = AccountFacts(1, "high", "adoption", "Pro", 35.0, "red", -12.0, True, 40, 400)
    assert book.matches(facts)
    assert not book.matches(AccountFacts(1, "low", "adoption", "Pro", 35.0, "red", -12.0, True, 40, 400))
    assert not book.matches(AccountFacts(1, "high", "adoption", "Pro", 85.0, "green", 0.0, False, 40, 400))
    (drop,) = parse_playbooks(RISK.replace('{ kind = "at_risk" }', '{ kind = "health_drop", points = 10 }'), "t")
    assert drop.matches(facts)
    assert not drop.matches(AccountFacts(1, "high", None, None, 35.0, "red", -9.9, True, None, None))
    (renewal,) = parse_playbooks(RISK.replace('{ kind = "at_risk" }', '{ kind = "renewal_in_days", days = 40 }'),
                                 "t")  # fmt: skip
    assert renewal.matches(facts)
    assert not renewal.matches(AccountFacts(1, "high", None, None, None, None, None, False, 41, None))


# --- the daily step -----------------------------------------------------------------------------------


def test_accounts_enter_act_wait_and_complete_once(app: FastAPI, ids: dict[str, int]) -> None:
    with app.state.kizuna.unit_of_work() as session:
        assert [(s.key, s.version, s.changed) for s in playbooks.save(session, RISK, "risk.toml")] == [("risk", 1, True)]
        assert playbooks.save(session, RISK, "risk.toml")[0].changed is False  # the same text: no new version
        plan = playbooks.preview(session, "risk", TODAY)
    assert [name for _id, name, _steps in plan.entering] == ["H1 株式会社", "H2 株式会社"]
    assert plan.entering[0][2] == ("task “Call H1 株式会社 (health 35)” due 2026-11-22", "wait 7 days",
                                   "email “How are things at H1 株式会社?” to champion")  # fmt: skip
    assert sql(app, "SELECT count(*) FROM playbook_enrollments") == [(0,)]  # the preview writes nothing

    assert _run(app, TODAY) == 2  # a task each for H1 and H2 (L1 is low touch, H3 is not at risk)
    assert _run(app, TODAY) == 0  # the same day again: nothing twice
    tasks = sql(app, "SELECT account_id, title, due_on, priority, source, assignee_id FROM tasks ORDER BY account_id")
    assert tasks == [(ids["H1"], "Call H1 株式会社 (health 35)", "2026-11-22", "high", "playbook:risk", ids["owner"]),
                     (ids["H2"], "Call H2 株式会社 (health 35)", "2026-11-22", "high", "playbook:risk", ids["owner"])]
    assert _enrollments(app) == [(ids["H1"], "active", 2, "2026-11-27", 1), (ids["H2"], "active", 2, "2026-11-27", 1)]

    assert _run(app, TODAY + timedelta(days=6)) == 0  # still waiting
    assert _run(app, TODAY + timedelta(days=7)) == 2  # the emails (H2 has no champion: nothing to send)
    mails = sql(app, "SELECT account_id, payload FROM outbox")
    assert [(a, json.loads(p)["to"], json.loads(p)["subject"]) for a, p in mails] == [
        (ids["H1"], ["yamada@h1.example"], "How are things at H1 株式会社?")]  # fmt: skip
    assert [r[:2] for r in _enrollments(app)] == [(ids["H1"], "completed"), (ids["H2"], "completed")]
    from kizuna.services import customer360

    with app.state.kizuna.unit_of_work() as session:
        run = next(i for i in customer360.timeline(session, ids["H1"], limit=20).items if i.kind == "playbook")
    assert (run.type, run.subject) == ("completed", "Risk: call, wait, email")
    assert run.body == ("2026-11-20 entered\n2026-11-20 task “Call H1 株式会社 (health 35)” due 2026-11-22\n"
                        "2026-11-20 wait 7 days\n2026-11-27 email “How are things at H1 株式会社?” to yamada@h1.example\n"
                        "2026-11-27 completed")  # fmt: skip
    # within the cooldown a completed account does not enter again; after it, it does
    assert _run(app, TODAY + timedelta(days=8)) == 0
    assert _run(app, TODAY + timedelta(days=37)) == 2
    assert len(_enrollments(app)) == 4


def test_an_account_leaves_when_the_trigger_clears_and_edits_do_not_refire(app: FastAPI, ids: dict[str, int]) -> None:
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, RISK, "risk.toml")
    _run(app, TODAY)
    sql(app, "UPDATE accounts SET at_risk = :no WHERE id = :id", no=False, id=ids["H2"])
    with app.state.kizuna.unit_of_work() as session:  # an edit: a new version; H1 keeps version 1
        assert playbooks.save(session, RISK.replace("Call {account}", "Phone {account}"), "risk.toml")[0].version == 2
    assert _run(app, TODAY + timedelta(days=1)) == 0
    assert [(a, s, v) for a, s, _st, _n, v in _enrollments(app)] == [(ids["H1"], "active", 1), (ids["H2"], "exited", 1)]
    assert sql(app, "SELECT count(*) FROM tasks") == [(2,)]  # nothing re-fired
    sql(app, "DELETE FROM accounts WHERE id = :id", id=ids["H1"])
    assert [a for a, *_rest in _enrollments(app)] == [ids["H2"]]  # deleting an account ends its enrollments


def test_a_held_out_account_gets_nothing_and_is_recorded(app: FastAPI, ids: dict[str, int]) -> None:
    # the draw depends only on the key and the id: a share between the two draws holds out exactly one
    h1, h2 = holdout_draw("risk", ids["H1"]), holdout_draw("risk", ids["H2"])
    lo, hi = sorted((h1, h2))
    assert lo < 0.5, "both accounts draw above the largest holdout share: change the key"
    share = min(0.5, (lo + hi) / 2)
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, RISK.replace("cooldown_days = 30", f"cooldown_days = 30\nholdout = {share:.6f}"), "r")
    assert _run(app, TODAY) == 1
    states = {a: (s, n) for a, s, _st, n, _v in _enrollments(app)}
    held_out = ids["H1"] if h1 < h2 else ids["H2"]
    treated = ids["H2"] if held_out == ids["H1"] else ids["H1"]
    assert states[held_out] == ("holdout", None)
    assert states[treated][0] == "active"
    assert sql(app, "SELECT account_id FROM tasks") == [(treated,)]
    assert _run(app, TODAY + timedelta(days=1)) == 0  # the held-out account stays out, once


def test_the_command_line_loads_lists_and_previews(
    app: FastAPI, ids: dict[str, int], tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_TODAY", TODAY.isoformat())
    file = tmp_path / "mine.toml"
    file.write_text(RISK, encoding="utf-8")
    assert run_cli(capsys, "playbooks", "load", str(file)).out.strip() == "risk: saved as version 1"
    assert "onboarding-high: saved as version 1" in run_cli(capsys, "playbooks", "load", "--defaults").out
    listed = json.loads(run_cli(capsys, "playbooks", "list", "--format", "json").out)
    assert len(listed) == 12  # 11 in the default library (2 survey playbooks, kb-tech) + risk
    assert {"key": "risk", "version": 1, "trigger": {"kind": "at_risk"}}.items() <= next(
        b for b in listed if b["key"] == "risk").items()  # fmt: skip
    plan = json.loads(run_cli(capsys, "playbooks", "preview", "risk", "--format", "json").out)
    assert [e[1] for e in plan["entering"]] == ["H1 株式会社", "H2 株式会社"]
    file.write_text(RISK.replace("due_days = 2", "due_days = 999"), encoding="utf-8")
    bad = run_cli(capsys, "playbooks", "load", str(file))
    assert bad.code == 1
    assert "mine.toml: risk.steps[1].due_days: must be from 0 to 365, not 999" in bad.err
    assert run_cli(capsys, "playbooks", "preview", "nope").code == 1


# --- the effect: treated vs holdout ---------------------------------------------------------------------


def test_the_effect_compares_churn_of_treated_and_held_out_runs_with_an_interval(
    app: FastAPI, ids: dict[str, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, RISK, "risk.toml")
    entered = TODAY - timedelta(days=100)
    # 25 treated runs (5 churned within 90 days, 1 more on day 95: outside), 20 held out (8 churned);
    # and 3 runs too young to judge
    plan = [(False, 10 if i < 5 else (95 if i == 5 else None)) for i in range(25)]
    plan += [(True, 30 if i < 8 else None) for i in range(20)]
    for n, (held, churn_after) in enumerate(plan):
        account = add_account(app, f"E{n}", owner=ids["owner"])
        if churn_after is not None:
            sql(app, "UPDATE accounts SET churned_on = :d, status = 'churned' WHERE id = :id",
                d=entered + timedelta(days=churn_after), id=account)  # fmt: skip
        sql(app, "INSERT INTO playbook_enrollments (playbook_key, version, account_id, state, holdout, entered_on,"
                 " step, log) VALUES ('risk', 1, :a, :s, :h, :d, 0, '')",
            a=account, s="holdout" if held else "completed", h=held, d=entered)  # fmt: skip
    for _young in range(3):
        sql(app, "INSERT INTO playbook_enrollments (playbook_key, version, account_id, state, holdout, entered_on,"
                 " step, log) VALUES ('risk', 1, :a, 'active', :h, :d, 0, '')",
            a=ids["H1"], h=False, d=TODAY - timedelta(days=10))  # fmt: skip
    with app.state.kizuna.unit_of_work() as session:
        result = playbooks.effect(session, "risk", TODAY, horizon_days=90)
    c = result.churn
    # 0.2 vs 0.4: −0.2 ± 1.96 × √(0.2·0.8/25 + 0.4·0.6/20) = −0.2 ± 0.2659
    assert (result.runs, c.treated_n, c.holdout_n, c.enough) == (45, 25, 20, True)
    assert (c.treated, c.holdout) == (pytest.approx(0.2), pytest.approx(0.4))
    assert (c.difference, c.low, c.high) == (pytest.approx(-0.2), pytest.approx(-0.46587, abs=1e-4),
                                             pytest.approx(0.06587, abs=1e-4))  # fmt: skip
    assert result.health_change.enough is False  # no snapshots in this store
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_TODAY", TODAY.isoformat())
    monkeypatch.setenv("COLUMNS", "200")
    shown = run_cli(capsys, "playbooks", "effect", "risk").out
    assert "20.0% (n=25)" in shown
    assert "40.0% (n=20)" in shown
    assert "-46.6% … 6.6%" in shown
    assert "not enough data yet" in shown  # the health change


def test_the_health_change_is_a_welch_interval_worked_by_hand() -> None:
    c = playbooks._means("health_change", [5.0, 3.0, 4.0], [-2.0, 0.0])
    # means 4 and −1; variances 1 and 2; se = √(1/3 + 2/2) = 1.1547
    assert (c.treated, c.holdout, c.difference) == (4.0, -1.0, 5.0)
    assert (c.low, c.high) == (pytest.approx(5 - 1.959964 * 1.1547005, abs=1e-5),
                               pytest.approx(5 + 1.959964 * 1.1547005, abs=1e-5))  # fmt: skip
    assert c.enough is False
    assert playbooks._means("x", [1.0], [2.0, 3.0]).difference is None
    assert playbooks._rates("x", [], [True]).difference is None
