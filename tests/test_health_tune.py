"""``kizuna health tune``: the model against an independent fit, the weights it learns
on data with a known answer, its refusals, and the CLI and web app around it."""

from __future__ import annotations

import html
import json
import re
import tomllib
from datetime import date

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.analytics.health_tune import fit_weights
from kizuna.demo import generate_demo
from kizuna.domain.health import ScorecardSet
from kizuna.services import health as health_service
from kizuna.services.health import tune as tuning
from tests.cli import run_cli
from tests.conftest import make_user, sign_in

AS_OF = date(2026, 11, 20)


def synthetic(n: int, beta: tuple[float, ...], seed: int = 1) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Points 0–100 of len(beta) measures and churn drawn from σ(a − Σ β·points/100)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 100, size=(n, len(beta)))
    eta = 1.0 - points / 100 @ np.array(beta)
    churned = rng.random(n) < 1 / (1 + np.exp(-eta))
    frame = pd.DataFrame(points, columns=[f"m{i}" for i in range(len(beta))])
    return frame, churned, np.arange(n) // 3  # three rows per account


def test_the_fit_is_the_penalised_logistic_regression_sklearn_finds() -> None:
    from sklearn.linear_model import LogisticRegression

    points, churned, accounts = synthetic(3000, (3.0, 1.5, 0.8))
    fit = fit_weights(points, churned, accounts, l2=0.01, bootstrap=0)
    # sklearn minimises C·Σ log-loss + ½‖w‖² (intercept unpenalised); ours is mean log-loss + λ/2‖β‖²
    oracle = LogisticRegression(C=1 / (len(churned) * 0.01), tol=1e-10, max_iter=10_000)
    oracle.fit(points.to_numpy() / 100, churned)
    assert fit.coef == pytest.approx(-oracle.coef_[0], abs=2e-3)  # all positive: the bound is not active
    assert fit.intercept == pytest.approx(oracle.intercept_[0], abs=2e-3)
    assert fit.weights == pytest.approx(fit.coef / fit.coef.sum())
    assert fit.weights.sum() == pytest.approx(1.0)


def test_the_weights_follow_what_predicts_churn_and_never_reward_risk() -> None:
    points, churned, accounts = synthetic(6000, (4.0, 1.0, 0.0, -2.0))
    points["m4"] = np.nan  # a measure with no data at all
    fit = fit_weights(points, churned, accounts, bootstrap=20)
    w = dict(zip(fit.keys, fit.weights, strict=True))
    assert w["m0"] > 0.6
    assert w["m0"] > w["m1"] > w["m2"]
    assert w["m2"] < 0.05  # noise
    assert w["m3"] == 0.0  # more points, more churn: never a positive weight
    assert w["m4"] == 0.0
    assert fit.has_data.tolist() == [True, True, True, True, False]
    assert np.all(fit.low <= fit.weights + 1e-9)
    assert np.all(fit.weights <= fit.high + 1e-9)
    assert fit.high[0] - fit.low[0] > 0  # the bootstrap moves it
    assert fit.high[0] - fit.low[0] < 0.3


def test_missing_points_are_imputed_with_the_training_mean() -> None:
    points, churned, accounts = synthetic(2000, (3.0, 1.0))
    holes = points.copy()
    holes.loc[::2, "m1"] = np.nan
    filled = holes.copy()
    filled["m1"] = filled["m1"].fillna(holes["m1"].mean())
    a = fit_weights(holes, churned, accounts, bootstrap=0)
    b = fit_weights(filled, churned, accounts, bootstrap=0)
    assert a.coef == pytest.approx(b.coef, abs=1e-4)


def test_a_proposal_keeps_the_scoring_and_drops_what_the_model_left_out() -> None:
    cards = health_service.parse_toml(health_service.DEFAULT_SCORECARDS.read_text(encoding="utf-8"), "x")
    card = cards.default
    keys = list(card.measure_keys)
    shares = dict.fromkeys(keys, 0.0) | {keys[0]: 0.7, keys[-1]: 0.3 - 0.001, keys[1]: 0.001}
    tuned = tuning.with_weights(card, shares)
    assert tuned.measure_keys == (keys[0], keys[-1])  # under 0.5 % is left out, empty groups go
    assert tuning.nominal_shares(tuned) == pytest.approx({keys[0]: 0.7 / 0.999, keys[-1]: 0.299 / 0.999}, abs=1e-3)
    rule = next(m for g in tuned.groups for m in g.measures if m.key == keys[0])
    original = next(m for g in card.groups for m in g.measures if m.key == keys[0])
    assert (rule.weight, rule.points, rule.scoring) == (70.0, original.points, original.scoring)
    assert sum(tuning.nominal_shares(card).values()) == pytest.approx(1.0)


# --- on a small demo company -------------------------------------------------------------


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    """SQLite only: tuning reads the store through the scoring the health tests run on both engines."""
    return sqlite_url


@pytest.fixture
def demo_app(app: FastAPI) -> FastAPI:
    with app.state.kizuna.unit_of_work() as session:
        generate_demo(session, accounts=60, months=14, seed=11, as_of=AS_OF)
    return app


@pytest.fixture
def low_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small demo churns too little for the real thresholds."""
    monkeypatch.setattr(tuning, "MIN_TRAIN_CHURNS", 2)
    monkeypatch.setattr(tuning, "MIN_TEST_CHURNS", 1)


def test_too_little_churn_or_history_is_refused_with_the_reason(demo_app: FastAPI) -> None:
    with demo_app.state.kizuna.unit_of_work() as session:
        with pytest.raises(tuning.InvalidInput, match=r"too few churns to learn from: \d+ in the training months "
                           r"\(at least 20\) and \d+ in the test months \(at least 5\)"):  # fmt: skip
            tuning.tune(session, as_of=AS_OF, bootstrap=0)
        with pytest.raises(tuning.InvalidInput, match="at least 3 month-ends with 365 days of history after them"):
            tuning.tune(session, as_of=AS_OF, horizon_days=365)
        with pytest.raises(tuning.InvalidInput, match="--horizon-days must be from 7 to 730"):
            tuning.tune(session, as_of=AS_OF, horizon_days=6)


@pytest.mark.usefixtures("low_bar")
def test_a_lead_learns_the_weights_and_applies_them_in_the_web_app(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    page = client.post("/health/scorecards/tune", data={"csrf_token": token, "horizon_days": "90"})
    assert page.status_code == 200, page.text
    assert client.get("/api/health/scorecards").json()["versions"] == []  # nothing saved yet
    current = float(re.search(r'data-testid="tune-auc-current">([0-9.]+)<', page.text).group(1))  # type: ignore[union-attr]
    tuned = float(re.search(r'data-testid="tune-auc-tuned">([0-9.]+)<', page.text).group(1))  # type: ignore[union-attr]
    assert 0.5 < current < 1
    assert 0.5 < tuned < 1
    # the apply form carries the proposal (as the lead applies it)
    form = re.search(r'data-testid="tune-apply-form">(.*?)</form>', page.text, re.S).group(1)  # type: ignore[union-attr]
    proposal = html.unescape(re.search(r"<textarea name=\"source\" hidden>(.*?)</textarea>", form, re.S).group(1))  # type: ignore[union-attr]
    note = html.unescape(re.search(r'name="note" value="([^"]*)"', form).group(1))  # type: ignore[union-attr]
    assert note == f"tuned from the churn history (90-day horizon): test ROC-AUC {current:.3f} → {tuned:.3f}"
    shown = {key: float(v) / 100 for key, v in re.findall(r'data-testid="tune-(\w+)"><td>[^<]*</td><td class="num">'
                                                           r'[0-9.]+%</td>\s*<td class="num">([0-9.]+)%', page.text)}  # fmt: skip
    assert sum(shown.values()) == pytest.approx(1.0, abs=0.01)
    applied = client.post("/health/scorecards/source", data={"csrf_token": token, "source": proposal, "note": note},
                          follow_redirects=False)  # fmt: skip
    assert applied.status_code == 303
    saved = client.get("/api/health/scorecards").json()
    assert saved["version"] == 1
    assert saved["versions"][0]["note"] == note
    cards: ScorecardSet = health_service.parse_toml(saved["source"], "saved")
    assert tuning.nominal_shares(cards.default) == pytest.approx(shown, abs=0.002)


def test_bad_horizons_and_csms_are_refused_in_the_web_app(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    for bad in ("abc", "5", "99999", "９０日"):
        page = client.post("/health/scorecards/tune", data={"csrf_token": token, "horizon_days": bad})
        assert page.status_code == 422
        assert "--horizon-days must be from 7 to 730" in page.text
    refused = client.post("/health/scorecards/tune", data={"csrf_token": token, "horizon_days": "90"})
    assert refused.status_code == 422
    assert "too few churns to learn from" in refused.text
    client.post("/logout", data={"csrf_token": token})
    make_user(demo_app, "csm@kizuna.example", "csm")
    token = sign_in(client, "csm@kizuna.example")
    assert client.post("/health/scorecards/tune", data={"csrf_token": token}).status_code == 403


@pytest.mark.usefixtures("low_bar")
def test_the_cli_proposes_and_applies(capsys, demo_app: FastAPI, monkeypatch) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", demo_app.state.kizuna.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KIZUNA_TODAY", AS_OF.isoformat())
    shown = run_cli(capsys, "health", "tune", "--format", "json")
    assert shown.code == 0, shown.err
    data = json.loads(shown.out)
    assert data["saved_version"] is None
    assert data["horizon_days"] == 90
    assert tomllib.loads(data["proposal"])["scorecards"]["default"]["default"] is True
    applied = run_cli(capsys, "--lang", "en", "health", "tune", "--apply")
    assert applied.code == 0
    assert "ROC-AUC in force" in applied.out
    assert "Saved as scorecard version 1." in applied.out
    bad = run_cli(capsys, "health", "tune", "--format", "xml")
    assert bad.code != 0
    assert "--format must be table or json" in bad.err
