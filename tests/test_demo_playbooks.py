"""The demo's risk playbooks: the simulator gives treated accounts a known effect (their
chance of leaving cut within the horizon), leaves held-out accounts untouched, knows the
true effect from both worlds of each run — and the effect service and page, reading only
the store, recover it within their 95 % intervals."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.demo import DemoSummary, generate_demo
from kizuna.demo import company as company_module
from kizuna.demo import playbooks as demo_playbooks
from kizuna.demo.lifecycle import Engagement, simulate
from kizuna.demo.timeline import Timeline
from kizuna.main import create_app
from kizuna.services import playbooks
from kizuna.settings import Settings
from tests.conftest import make_user, sign_in

AS_OF = date(2026, 12, 1)


@dataclass
class Demo:
    url: str
    engine: sa.Engine
    summary: DemoSummary


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    path = tmp_path_factory.mktemp("demo-playbooks") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    with session_scope(engine) as session:
        summary = generate_demo(session, accounts=1000, months=24, seed=42, as_of=AS_OF)
    yield Demo(f"sqlite:///{path}", engine, summary)
    engine.dispose()


def test_the_effect_recovers_the_simulated_true_effect_within_its_interval(demo: Demo) -> None:
    truth = {t.key: t for t in demo.summary.playbooks}
    assert set(truth) == {"risk-high", "risk-low", "risk-tech"}
    judged = 0
    with session_scope(demo.engine) as session:
        for key, true in truth.items():
            churn = playbooks.effect(session, key, AS_OF, horizon_days=demo_playbooks.HORIZON_DAYS).churn
            if not churn.enough:
                continue
            judged += 1
            assert churn.treated_n + churn.holdout_n == true.runs, key  # the same runs the simulator judged
            assert true.effect is not None
            assert true.effect < -0.05, key  # the playbook helps, by more than 5 points
            assert churn.low is not None
            assert churn.high is not None
            assert churn.low <= true.effect <= churn.high, (key, true, churn)
        low = playbooks.effect(session, "risk-low", AS_OF).churn
    assert judged >= 2  # the low- and tech-touch risk playbooks have enough runs in two years
    assert low.difference is not None
    assert low.difference < -0.03  # the estimate points the way of the truth (its 95 % interval may still hold 0)


def test_the_effect_page_of_the_demo_shows_the_comparison(demo: Demo) -> None:
    app = create_app(Settings(database_url=demo.url, today=AS_OF))
    make_user(app, "lead@kizuna.example", "lead", name="リード")
    with TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"}) as client:
        sign_in(client, "lead@kizuna.example")
        page = client.get("/playbooks/risk-low/effect").text
        listed = client.get("/playbooks").text
    with session_scope(demo.engine) as session:
        churn = playbooks.effect(session, "risk-low", AS_OF).churn
    row = re.search(r'data-measure="churn" data-enough="yes">(.*?)</tr>', page, re.S)
    assert row, page
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(1)))
    assert f"n={churn.treated_n}" in text
    assert f"n={churn.holdout_n}" in text
    assert churn.low is not None
    assert churn.high is not None
    assert f"{churn.low * 100:+.1f} pt … {churn.high * 100:+.1f} pt".replace("+-", "-") in text
    # the reading follows the interval: a clear help only when it stays below zero
    assert ("Lower than the holdout: it helps." in text) == (churn.high < 0)
    assert ("No clear difference yet." in text) == (churn.low <= 0 <= churn.high)
    # the default library is in the store, version 1, the risk playbooks holding out 30 %
    assert len(re.findall(r'data-testid="playbook-row"', listed)) == 11  # with the survey playbooks and kb-tech (issue 17)
    assert re.search(r'data-key="risk-low">.*?30%', listed, re.S)


def test_held_out_and_untouched_accounts_live_the_untreated_life() -> None:
    tl = Timeline.build(AS_OF, 24)
    rng = np.random.default_rng([42, company_module._COMPANY])
    roster = company_module.plan_roster(rng, tl, 300, company_module.Team(rng, tl).build)
    seen = {"held": 0, "treated": 0, "none": 0}
    for i, profile in enumerate(roster.profiles):
        a, b = (np.random.default_rng([42, company_module._ACCOUNT, i]) for _twice in range(2))
        eng_a, eng_b = Engagement.draw(a, tl, profile.fit), Engagement.draw(b, tl, profile.fit)
        life, runs = demo_playbooks.live(a, tl, profile, eng_a)
        plain = simulate(b, tl, profile, eng_b)
        kind = "none" if not runs else ("held" if runs[0].holdout else "treated")
        seen[kind] += 1
        if kind != "treated":  # the same life, and the same random stream after it
            assert (life.outcome, life.churns, life.lines) == (plain.outcome, plain.churns, plain.lines)
            assert a.random() == b.random()
        else:
            run = runs[0]
            assert run.churned_if_treated <= run.churned_if_not  # the effect only ever keeps a customer
    assert min(seen.values()) > 0, seen


def test_the_demo_sends_articles_and_the_kpi_deflection_has_its_interval(demo: Demo) -> None:
    """Issue 17: the library's kb-tech playbook sent the demo's articles to new tech-touch
    accounts (30 % held out), some links were opened, and deflection shows with its interval;
    the articles have no simulated effect on tickets, so the interval holds 0."""
    from kizuna.services import kb, onboarding

    with session_scope(demo.engine) as session:
        found = kb.deflection(session, AS_OF)
        stats = {s.slug: s for s in kb.stats(session)}
        templates = {t.key: t.tier for t in onboarding.list_templates(session)}
    assert templates == {"high": "high", "low": "low", "tech": "tech"}  # one per touch tier
    assert set(stats) == {"quick-start", "quick-start-en", "invite-users", "invite-users-en", "csv-errors",
                          "csv-errors-en"}  # fmt: skip
    assert sum(s.sends for s in stats.values()) > 0
    assert all(s.readers <= s.views for s in stats.values())
    assert 0 < sum(s.readers for s in stats.values()) < sum(s.sends for s in stats.values())
    assert found.enough
    assert (found.sent_accounts, found.holdout_accounts) == (225, 81)
    assert found.low is not None
    assert found.high is not None
    assert found.low < 0 < found.high
    app = create_app(Settings(database_url=demo.url, today=AS_OF))
    make_user(app, "kb-lead@kizuna.example", "lead", name="リード")
    with TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"}) as client:
        sign_in(client, "kb-lead@kizuna.example")
        body = client.get("/api/kpis/deflection", params={"as_of": AS_OF.isoformat()}).json()
    assert (body["sent_accounts"], body["holdout_accounts"], body["enough"]) == (225, 81, True)
