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
from kizuna.domain.health import ScorecardSet
from kizuna.services import health as health_service
from kizuna.services.health import tune as tuning
from tests.cli import run_cli
from tests.conftest import make_user, sign_in
from tests.demo_stores import Demo, DemoStores

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


def test_a_measure_that_rewards_risk_is_as_if_it_were_not_there() -> None:
    points, churned, accounts = synthetic(4000, (3.0, 1.0, -2.0))
    fit = fit_weights(points, churned, accounts, bootstrap=0)
    without = fit_weights(points[["m0", "m1"]], churned, accounts, bootstrap=0)
    assert fit.coef[2] == 0.0
    assert fit.coef[:2] == pytest.approx(without.coef, abs=1e-4)  # the bound holds β₂ at 0: the same optimum
    assert fit.intercept == pytest.approx(without.intercept, abs=1e-4)


def test_no_measure_that_predicts_gives_no_weight_not_nan() -> None:
    points, churned, accounts = synthetic(3000, (-2.0, -1.0))
    fit = fit_weights(points, churned, accounts, bootstrap=3)
    assert fit.weights.tolist() == [0.0, 0.0]
    assert fit.low.tolist() == [0.0, 0.0]
    small, y, acc = synthetic(3000, (0.3, 0.2))  # coefficients summing under 1 still make shares summing to 1
    weak = fit_weights(small, y, acc, bootstrap=0)
    assert 0 < weak.coef.sum() < 1
    assert weak.weights.sum() == pytest.approx(1.0)


def test_the_bootstrap_draws_accounts_with_their_rows() -> None:
    """The oracle: the same draws, written here (seed 0, accounts with replacement, a draw
    with one outcome only skipped), and numpy's 5th and 95th percentiles."""
    rng0 = np.random.default_rng(5)
    points = pd.DataFrame({"m0": rng0.uniform(0, 100, 60), "m1": rng0.uniform(0, 100, 60)})
    churned = np.zeros(60, dtype=bool)
    churned[[3, 17, 40]] = True
    accounts = np.arange(60) // 2
    fit = fit_weights(points, churned, accounts, bootstrap=8)
    from kizuna.analytics.health_tune import L2, _fit

    rng = np.random.default_rng(0)
    ids = pd.unique(accounts)
    draws = []
    for _ in range(8):
        pick = rng.choice(ids, size=len(ids), replace=True)
        rows = np.concatenate([np.flatnonzero(accounts == a) for a in pick])
        y = churned[rows].astype(float)
        if y.sum() in (0, len(y)):
            continue
        _a, b = _fit(points.to_numpy()[rows] / 100, y, L2)
        draws.append(b / b.sum() if b.sum() > 0 else np.zeros(2))
    assert len(draws) >= 2
    stacked = np.vstack(draws)
    # a draw is fitted as rows weighted by how often their account was drawn: the same optimum
    assert fit.low == pytest.approx(np.percentile(stacked, 5, axis=0), abs=1e-6)
    assert fit.high == pytest.approx(np.percentile(stacked, 95, axis=0), abs=1e-6)


def test_draws_with_one_outcome_only_are_skipped_and_the_rest_still_count() -> None:
    """Four accounts of five rows, two churning in every row: of 40 draws (seed 0) one draws
    no churner and four only churners — those five are skipped, not the end of the draws and
    not rows of zero weights; the interval is numpy's 5th and 95th percentiles of the 35
    others, fitted here on the drawn rows repeated."""
    rng0 = np.random.default_rng(7)
    accounts = np.repeat([13, 10, 12, 11], 5)  # drawn in this first-seen order, not by id
    churned = np.isin(accounts, [10, 11])
    points = pd.DataFrame({"m0": np.where(churned, rng0.uniform(0, 60, 20), rng0.uniform(40, 100, 20)),
                           "m1": np.where(churned, rng0.uniform(20, 80, 20), rng0.uniform(30, 90, 20))})  # fmt: skip
    fit = fit_weights(points, churned, accounts, bootstrap=40)
    from kizuna.analytics.health_tune import L2, _fit

    rng = np.random.default_rng(0)
    ids = pd.unique(accounts)
    draws, skipped = [], []
    for i in range(40):
        pick = rng.choice(ids, size=len(ids), replace=True)
        rows = np.concatenate([np.flatnonzero(accounts == a) for a in pick])
        y = churned[rows].astype(float)
        if y.sum() in (0, len(y)):
            skipped.append((i, int(y.sum())))
            continue
        _a, b = _fit(points.to_numpy()[rows] / 100, y, L2)
        draws.append(b / b.sum())
    assert skipped == [(11, 0), (13, 20), (22, 20), (28, 20), (36, 20)]
    stacked = np.vstack(draws)
    assert fit.low == pytest.approx(np.percentile(stacked, 5, axis=0), abs=2e-4)
    assert fit.high == pytest.approx(np.percentile(stacked, 95, axis=0), abs=2e-4)
    # the 95th percentile, not the 96th: m1's differ by about 0.012
    assert fit.high[1] == pytest.approx(0.4118, abs=1e-3)


def test_no_measure_with_data_gives_no_weights() -> None:
    points = pd.DataFrame({"m0": [np.nan] * 6, "m1": [np.nan] * 6})
    churned = np.array([True, False, True, False, False, False])
    fit = fit_weights(points, churned, np.arange(6), bootstrap=5)
    assert fit.has_data.tolist() == [False, False]
    assert (fit.coef.tolist(), fit.weights.tolist(), fit.low.tolist(), fit.high.tolist()) == (
        [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0])
    # the intercept alone: the log-odds of the base rate 2/6, log(1/2)
    assert fit.intercept == pytest.approx(np.log(0.5), abs=1e-4)


def test_the_fit_with_the_prior_is_the_objective_written_here() -> None:
    """A tiny example: mean log-loss + λ/2·‖β − c·w₀‖² over a, β ≥ 0 and the free scale c,
    written out here and minimised by scipy's SLSQP (another method, with c as its own
    variable rather than projected out)."""
    from scipy.optimize import minimize

    points, churned, accounts = synthetic(400, (0.5, 3.0, 1.0), seed=3)
    prior, lam = np.array([0.6, 0.1, 0.3]), 0.5
    z, y = points.to_numpy() / 100, churned.astype(float)

    def objective(theta: np.ndarray) -> float:
        a, b, c = theta[0], theta[1:4], theta[4]
        eta = a - z @ b
        return float(np.mean(np.log1p(np.exp(eta)) - y * eta) + lam / 2 * np.sum((b - c * prior) ** 2))

    oracle = minimize(objective, np.array([0.0, 1, 1, 1, 1]), method="SLSQP",
                      bounds=[(None, None), (0, None), (0, None), (0, None), (None, None)],
                      options={"ftol": 1e-14, "maxiter": 2000})  # fmt: skip
    fit = fit_weights(points, churned, accounts, l2=lam, bootstrap=0, prior=prior)
    assert fit.coef == pytest.approx(oracle.x[1:4], abs=2e-3)
    assert fit.intercept == pytest.approx(oracle.x[0], abs=2e-3)
    plain = fit_weights(points, churned, accounts, l2=lam, bootstrap=0)  # the ridge: pulled towards 0, not w₀
    assert abs(plain.weights[0] - prior[0]) > abs(fit.weights[0] - prior[0]) + 0.05


def test_a_strong_prior_keeps_its_shares_and_a_weak_one_follows_the_data() -> None:
    points, churned, accounts = synthetic(3000, (0.5, 3.0, 1.0), seed=4)
    prior = np.array([0.6, 0.1, 0.3])
    strong = fit_weights(points, churned, accounts, l2=1e4, bootstrap=5, prior=prior)
    assert strong.weights == pytest.approx(prior, abs=0.01)
    assert strong.coef.sum() > 1  # the scale is free: the slope is still fitted
    assert strong.low == pytest.approx(prior, abs=0.02)
    weak = fit_weights(points, churned, accounts, l2=1e-6, bootstrap=0, prior=prior)
    free = fit_weights(points, churned, accounts, l2=1e-6, bootstrap=0)
    assert weak.coef == pytest.approx(free.coef, abs=5e-3)
    assert weak.weights[1] > 0.55  # the data's measure leads
    none = fit_weights(points, churned, accounts, l2=1.0, bootstrap=0, prior=np.zeros(3))  # no prior weight: the ridge
    ridge = fit_weights(points, churned, accounts, l2=1.0, bootstrap=0)
    assert none.coef == pytest.approx(ridge.coef, abs=1e-6)


def test_missing_points_are_imputed_with_the_training_mean() -> None:
    points, churned, accounts = synthetic(2000, (3.0, 1.0))
    points["m1"] = points["m1"] / 4 + 70  # a column whose mean (82.5) is not the others' (50)
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


#: Built once per test process, copied for each test.
TUNE_DEMO = Demo(accounts=60, months=14, seed=11, as_of=AS_OF)


@pytest.fixture
def demo_app(app: FastAPI, demo_stores: DemoStores, request: pytest.FixtureRequest) -> FastAPI:
    demo_stores.fill(app.state.kizuna.engine, TUNE_DEMO, request)
    return app


@pytest.fixture
def low_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """A small demo churns too little for the real thresholds."""
    monkeypatch.setattr(tuning, "MIN_TRAIN_CHURNS", 2)
    monkeypatch.setattr(tuning, "MIN_TEST_CHURNS", 1)
    monkeypatch.setattr(tuning, "MIN_CONFIDENCE", 0.0)  # a better AUC on the held-out months is enough


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
    inner = html.unescape(re.search(r'data-testid="tune-inner">([^<]*)<', page.text).group(1))  # type: ignore[union-attr]
    assert re.fullmatch(r"On the last \d+ training month-ends, held out, the learned weights reach ROC-AUC [0-9.]+ "
                        r"and the weights in force [0-9.]+; the learned weights win in \d+ % of the resamples of "
                        r"those accounts \(pull towards the weights in force: [0-9.]+\), so the proposal uses the "
                        r"learned weights\.", inner)  # fmt: skip
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


@pytest.mark.usefixtures("low_bar")
def test_weights_in_force_kept_leave_nothing_to_apply(demo_app: FastAPI, client: TestClient, monkeypatch) -> None:
    monkeypatch.setattr(tuning, "MIN_CONFIDENCE", 1.01)  # no resample share is enough: the weights in force stay
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    page = client.post("/health/scorecards/tune", data={"csrf_token": token, "horizon_days": "90"})
    assert page.status_code == 200, page.text
    inner = html.unescape(re.search(r'data-testid="tune-inner">([^<]*)<', page.text).group(1))  # type: ignore[union-attr]
    assert inner.endswith("(101 % needed), so the proposal keeps the weights in force.")
    assert 'data-testid="tune-apply-form"' not in page.text
    current = re.search(r'data-testid="tune-auc-current">([0-9.]+)<', page.text).group(1)  # type: ignore[union-attr]
    assert re.search(r'data-testid="tune-auc-tuned">([0-9.]+)<', page.text).group(1) == current  # type: ignore[union-attr]


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
    assert data["kept_current"] is False  # the learned weights beat those in force on the held-out months
    assert data["inner_auc_tuned"] > data["inner_auc_current"]
    assert tomllib.loads(data["proposal"])["scorecards"]["default"]["default"] is True
    applied = run_cli(capsys, "--lang", "en", "health", "tune", "--apply")
    assert applied.code == 0
    assert "ROC-AUC in force" in applied.out
    assert "Saved as scorecard version 1." in applied.out
    bad = run_cli(capsys, "health", "tune", "--format", "xml")
    assert bad.code != 0
    assert "--format must be table or json" in bad.err


# --- the proposal against the weights in force, on a hand-built history ---------------------

TWO_MEASURES = """
[grades]
green = 70
yellow = 40

[scorecards.main]
name = "Main"
default = true

[scorecards.main.groups.usage]
label = "Usage"
weight = 1

[scorecards.main.groups.usage.measures]
login_days = { weight = LOGIN, scoring = "linear", points = [[0, 0], [20, 100]] }
active_days = { weight = ACTIVE, scoring = "linear", points = [[0, 0], [30, 100]] }
"""


def history(
    months: int, drivers: list[str], accounts: int = 250, seed: int = 2
) -> tuple[pd.DataFrame, np.ndarray, list[date]]:
    """``accounts`` scored at ``months`` month-ends; churn at each month-end is driven by
    ``drivers[month]`` (login_days or active_days) alone, the other measure is noise."""
    rng = np.random.default_rng(seed)
    days = [date(2025, m, 28) for m in range(1, months + 1)]
    frames, labels = [], []
    for i, day in enumerate(days):
        login, active = rng.uniform(0, 20, accounts), rng.uniform(0, 30, accounts)
        driver = login / 20 if drivers[i] == "login_days" else active / 30
        labels.append(rng.random(accounts) < 1 / (1 + np.exp(-(1.0 - 5.0 * driver))))
        frames.append(pd.DataFrame({"account_id": np.arange(accounts), "day": day, "events30": rng.poisson(20, accounts),
                                    "login_days": login, "active_days": active}))  # fmt: skip
    return pd.concat(frames, ignore_index=True), np.concatenate(labels), days


def cards_with(login: float, active: float) -> ScorecardSet:
    text = TWO_MEASURES.replace("LOGIN", str(login)).replace("ACTIVE", str(active))
    return health_service.parse_toml(text, "test")


def test_the_proposal_moves_only_when_it_beats_the_weights_in_force_on_the_inner_validation() -> None:
    # 9 month-ends: 6 train (4 fit + 2 inner validation), 3 test; login days drive churn throughout
    table, y, days = history(9, ["login_days"] * 9)
    cards = cards_with(10, 90)  # the weights in force favour the noise
    result = tuning.learn(table, y, days, cards, horizon_days=90, bootstrap=0)
    assert (result.train_months, result.inner_train_months, result.inner_validation_months, result.test_months) == (
        6, 4, 2, 3)  # fmt: skip
    assert result.kept_current is False
    assert result.inner_confidence == 1.0
    assert result.penalty in (0.001, 0.01, 0.1, 1.0)
    assert result.inner_auc_tuned > result.inner_auc_current + 0.1  # type: ignore[operator]
    assert result.auc_tuned > result.auc_current + 0.1  # type: ignore[operator]
    proposed = {m.key: m.proposed for m in result.measures}
    assert proposed["login_days"] > 0.8
    saved = health_service.parse_toml(result.proposal, "proposal")
    assert tuning.nominal_shares(saved.default)["login_days"] == pytest.approx(proposed["login_days"], abs=0.002)


def test_the_resample_share_is_the_paired_bootstrap_written_here() -> None:
    rng = np.random.default_rng(9)
    accounts = np.repeat(np.arange(40), 2)
    y = rng.random(80) < 0.3
    current, tuned = rng.random(80) + y * 0.2, rng.random(80) + y * 0.3
    current[5] = np.nan  # left out of both
    share = tuning.beat_share(y, current, tuned, accounts, draws=50, seed=4)
    from sklearn.metrics import roc_auc_score

    known = ~np.isnan(current)
    ids = np.unique(accounts[known])
    draws = np.random.default_rng(4)
    wins = counted = 0
    for _ in range(50):
        pick = ids[draws.integers(0, len(ids), len(ids))]
        rows = np.concatenate([np.flatnonzero(known & (accounts == a)) for a in pick])
        if y[rows].all() or not y[rows].any():
            continue
        counted += 1
        wins += roc_auc_score(y[rows], tuned[rows]) > roc_auc_score(y[rows], current[rows])
    assert counted == 50
    assert share == pytest.approx(wins / counted)
    assert 0.5 < share < 1  # a real but uncertain edge
    assert tuning.beat_share(y, current, current, accounts, draws=10) == 0.0  # a tie is no win


def test_weights_that_lose_on_the_inner_validation_are_not_proposed() -> None:
    # the fit months say login days, the inner validation months say active days (as the weights in force do)
    table, y, days = history(9, ["login_days"] * 4 + ["active_days"] * 5)
    cards = cards_with(10, 90)
    result = tuning.learn(table, y, days, cards, horizon_days=90, bootstrap=0)
    assert result.kept_current is True
    assert result.inner_auc_current > result.inner_auc_tuned  # type: ignore[operator]  # both shown to the lead
    assert result.inner_confidence < 0.5  # type: ignore[operator]
    assert result.auc_tuned == result.auc_current  # the proposal is the scorecard in force
    assert {m.key: m.proposed for m in result.measures} == pytest.approx({"login_days": 0.1, "active_days": 0.9})
    assert health_service.parse_toml(result.proposal, "proposal") == cards
