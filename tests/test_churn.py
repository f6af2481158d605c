"""The churn model (issue 16): hand-checkable cases of the modelling code, bring your own
table (identifiers and leakage named, bad input refused with file/row/column), the
driver sentences, the schema check, the time split, and the model on a generated store
(train, predict, the 360 reading, the API, the daily step, the playbook trigger)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import churn as model
from kizuna.errors import InvalidInput
from kizuna.i18n import language
from kizuna.services import churn
from tests.cli import run_cli


def table(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """One row per customer: an id, a usage column that predicts churn (noisily), a
    Japanese plan category, a column with missing values, a leaked column (the
    cancellation date's month, known only for churners) and the yes/no label."""
    rng = np.random.default_rng(seed)
    usage = rng.gamma(2.0, 10.0, n)
    plan = rng.choice(["ベーシック", "プロ", "エンタープライズ"], n)
    risk = 1 / (1 + np.exp(0.15 * (usage - 15) - (plan == "ベーシック") * 1.0))
    churned = rng.random(n) < risk
    nps = np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 11, n))
    leaked = np.where(churned, rng.integers(1, 13, n), np.nan)
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)], "usage": usage.round(1), "plan": plan, "nps": nps,
        "cancel_month": leaked, "churned": np.where(churned, "yes", "no"),
    })  # fmt: skip


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "customers.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


# --- bring your own table -----------------------------------------------------------------------


def test_a_table_with_a_known_id_and_leaked_column_names_both_and_learns_from_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, table())
    result = churn.evaluate_file(path, target="churned", folds=3)
    assert result.identifiers == ("customer_id",)
    assert [c for c, _a in result.leakage] == ["cancel_month"]
    assert result.leakage[0][1] == pytest.approx(1.0)  # missing exactly for the non-churners
    assert set(result.features) == {"usage", "plan", "nps"}
    summary = result.summary()
    assert len(result.per_fold) == 3
    assert 0.65 < summary["roc_auc"]["mean"] < 0.95  # type: ignore[operator]
    assert summary["roc_auc"]["std"] is not None
    assert summary["roc_auc"]["std"] > 0
    assert result.best_single is not None
    assert result.best_single[0] == "usage"
    assert sum(m.samples for m in result.per_fold) == 400


def test_an_explicit_id_column_is_dropped_even_when_it_looks_like_a_number(tmp_path: Path) -> None:
    frame = table(200).assign(customer_id=range(1000, 1200))
    frame = frame.rename(columns={"customer_id": "会員"})
    result = churn.evaluate_file(write(tmp_path, frame), target="churned", id_column="会員", folds=2)
    assert result.identifiers[0] == "会員"
    assert "会員" not in result.features


@pytest.mark.parametrize("labels", [("1", "0"), ("true", "false"), ("Yes", "No"), ("はい", "いいえ")])
def test_labels_are_read_in_every_usual_spelling(labels: tuple[str, str]) -> None:
    raw = pd.Series([labels[0], labels[1], labels[1]])
    assert model.parse_labels(raw, source="f.csv", column="churned").tolist() == [True, False, False]


def test_the_json_report_carries_the_spread_and_the_dropped_columns(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path = write(tmp_path, table(300).assign(churned=lambda f: (f["churned"] == "yes").astype(int)))
    shown = run_cli(capsys, "churn", "evaluate", "--input", str(path), "--target", "churned", "--cv", "2",
                    "--format", "json")  # fmt: skip
    assert shown.code == 0, shown.err
    data = json.loads(shown.out)
    assert data["identifiers_dropped"] == ["customer_id"]
    assert data["leakage_dropped"][0]["column"] == "cancel_month"
    assert data["folds"] == 2
    assert len(data["per_fold"]) == 2
    assert set(data["metrics"]) == {"roc_auc", "pr_auc", "brier", "top_decile_lift"}
    assert data["metrics"]["roc_auc"]["std"] > 0
    text = run_cli(capsys, "churn", "evaluate", "--input", str(path), "--target", "churned", "--cv", "2")
    assert "Likely leakage, left out: cancel_month alone predicts the label" in text.out
    assert "Left out as identifiers: customer_id" in text.out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, ("--target", "churned"), "missing.csv: no such file"),
        ("", ("--target", "churned"), "the file is empty"),
        ("a,churned\n", ("--target", "churned"), "the file has a header but no rows"),
        ("a,b\n1,yes\n2,no\n", ("--target", "churned"), "no column 'churned' (--target); the columns are: a, b"),
        ("a,churned\n1,yes\n2,no\n", ("--target", "churned", "--id", "cid"), "no column 'cid' (--id)"),
        ("a,churned\n1,yes\n2,yes\n3,yes\n", ("--target", "churned"), "column churned: every row has the same label"),
        ("a,churned\n1,yes\n2,maybe\n3,no\n", ("--target", "churned"),
         "row 3, column churned: 'maybe' is not a churn label"),
        ("a,churned\n1,yes\n2,\n3,no\n", ("--target", "churned"), "row 3, column churned: the label is empty"),
        ("a,churned\n1,yes\n2,no,7\n", ("--target", "churned"), "row 3: 3 values, but the header has 2 columns"),
        ("\x89PNG\r\n\x1a\n\0\0\0IHDR", ("--target", "churned"), "not a CSV file"),
        ("just one column\nx\n", ("--target", "churned"), "the header has one column"),
        ("a,churned\n1,yes\n2,no\n", ("--target", "churned", "--cv", "1"), "--cv must be from 2 to 20"),
        ("a,churned\n1,yes\n2,no\n", ("--target", "churned"), "1 rows of the rarer label, fewer than the 5 folds"),
    ],
)  # fmt: skip
def test_bad_tables_are_refused_naming_file_row_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, args: tuple[str, ...], message: str,
) -> None:  # fmt: skip
    path = tmp_path / "missing.csv" if content is None else tmp_path / "t.csv"
    if content is not None:
        path.write_bytes(content.encode("utf-8", "surrogateescape") if "\0" not in content else content.encode("latin-1"))
    shown = run_cli(capsys, "churn", "evaluate", "--input", str(path), *args)
    assert shown.code == 1
    assert message in shown.err.replace("\n", " ")
    assert "Traceback" not in shown.err


def test_target_without_input_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    shown = run_cli(capsys, "churn", "evaluate", "--target", "churned")
    assert shown.code == 1
    assert "--target and --id need --input FILE" in shown.err


# --- the model's parts --------------------------------------------------------------------------


def tiny_model() -> tuple[model.ChurnModel, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"logins_vs_baseline": rng.uniform(-1, 1, 600), "plan": rng.choice(["a", "b"], 600)})
    y = (x["logins_vs_baseline"] < -0.3).to_numpy() | (rng.random(600) < 0.05)
    return model.fit(x.iloc[:400], y[:400], x.iloc[400:], y[400:], rounds=30), x


def test_a_model_refuses_features_that_do_not_match_its_schema() -> None:
    trained, x = tiny_model()
    assert trained.predict(x).shape == (600,)
    with pytest.raises(InvalidInput) as missing:
        trained.predict(x.drop(columns=["plan"]), version="v3")
    assert missing.value.code == "churn_schema_mismatch"
    assert "churn model v3's schema (missing columns: plan)" in missing.value.message
    with pytest.raises(InvalidInput, match="columns the model does not know: seats"):
        trained.predict(x.assign(seats=1.0))
    with pytest.raises(InvalidInput, match="not numeric as in training: logins_vs_baseline"):
        trained.predict(x.assign(logins_vs_baseline="high"))
    # saved and loaded: the same probabilities; another format is refused
    doc = json.loads(json.dumps(trained.to_json()))
    again = model.ChurnModel.from_parts(trained.booster, doc)
    assert np.allclose(again.predict(x), trained.predict(x))
    with pytest.raises(InvalidInput, match="saved in another format"):
        model.ChurnModel.from_parts(trained.booster, {**doc, "format": 99})


def test_contributions_add_up_to_the_raw_score_and_name_the_driver() -> None:
    trained, x = tiny_model()
    contrib = trained.contributions(x)
    raw = trained.raw(x)
    assert np.allclose(1 / (1 + np.exp(-contrib.sum(axis=1))), raw)
    risky = x.index[x["logins_vs_baseline"] < -0.6][:5]
    for ds in model.drivers(contrib.loc[risky], x.loc[risky]):
        assert ds[0].feature == "logins_vs_baseline"
        assert ds[0].contribution > 0.05


def test_a_driver_reads_as_a_sentence_with_its_value_in_both_languages() -> None:
    down = {"feature": "logins_vs_baseline", "value": -0.45, "contribution": 0.8}
    with language("en"):
        assert churn.driver_sentence(down) == "logins down 45 % against the 90 days before"
        assert churn.driver_sentence({"feature": "login_trend", "value": 0.2}) == "logins up 20 % in 30 days"
        assert churn.driver_sentence({"feature": "login_days", "value": 3.0}, {"login_days": 12.0}) == \
            "logins on only 3 of the last 30 days"
        assert churn.driver_sentence({"feature": "nps", "value": None}) == "no NPS answer"
        assert churn.driver_sentence({"feature": "open_tickets", "value": None}) == "no data for Open tickets"
        assert churn.driver_sentence({"feature": "stage", "value": "renewal"}) == "in the renewal stage"
        assert churn.driver_sentence({"feature": "mrr_change_90", "value": -0.5}) == "MRR down 50 % in 90 days"
    with language("ja"):
        ja = churn.driver_sentence(down)
        assert "45" in ja
        assert ja != "logins down 45 % against the 90 days before"


def test_the_time_split_has_no_month_in_two_parts() -> None:
    days = [date(2026, m, 28) for m in range(1, 13)]
    fit_days, cal_days, test_days = model.split_months(days)
    assert (len(fit_days), len(cal_days), len(test_days)) == (6, 2, 4)
    assert max(fit_days) < min(cal_days) <= max(cal_days) < min(test_days)
    assert sorted(fit_days + cal_days + test_days) == days
    assert model.split_months(days[:3]) == ([days[0]], [days[1]], [days[2]])


def test_metrics_by_hand() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1] * 2, dtype=bool)
    perfect = y.astype("float64")
    m = model.metrics(y, perfect)
    assert (m.roc_auc, m.pr_auc, m.brier) == (1.0, 1.0, 0.0)
    assert m.top_decile_lift == pytest.approx(1.0 / 0.2)  # the riskiest 2 of 20 are both churners; rate 0.2
    assert m.calibration == ((0.0, 0.0, 16), (1.0, 1.0, 4))
    flat = model.metrics(y, np.full(20, 0.2))
    assert flat.roc_auc == 0.5
    assert flat.brier == pytest.approx(0.16)


# --- the model on a store -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, churn.Evaluation]:
    """A generated company unlike the demo (churn from a sudden stop, never activating, a
    slow decline: ``tests/health_generators.py``), its model trained and every paying
    account scored on AS_OF."""
    from kizuna.db import ensure_schema, make_engine, session_scope
    from tests import health_generators as gen

    url = f"sqlite:///{tmp_path_factory.mktemp('churn') / 'store.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    with session_scope(engine) as session:
        gen.build(session, "causes", accounts=160, seed=7)
    with session_scope(engine) as session:
        result = churn.train(session, as_of=gen.AS_OF)
        churn.predict(session, as_of=gen.AS_OF)
    engine.dispose()
    return url, result


AS_OF = date(2026, 11, 20)


def test_training_tests_on_later_months_against_the_health_score(store: tuple[str, churn.Evaluation]) -> None:
    _url, result = store
    assert result.version == 1
    assert max(result.train_days) < min(result.calibration_days)
    assert max(result.calibration_days) < min(result.test_days)
    assert result.model.samples == result.health.samples == result.naive.samples > 0
    assert result.model.positives >= churn.MIN_TEST_CHURNS
    assert result.model.roc_auc is not None
    assert result.model.roc_auc > 0.6
    assert result.health.brier is None  # a score, not a probability
    assert result.model.brier is not None
    assert result.model.brier < 0.2
    assert sum(n for _p, _o, n in result.model.calibration) == result.model.samples
    data = result.as_dict()
    assert data["roc_auc_margin_over_health"] == pytest.approx(result.model.roc_auc - result.health.roc_auc, abs=1e-4)  # type: ignore[operator]


def test_scores_drivers_list_filter_and_api(store: tuple[str, churn.Evaluation],
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from fastapi.testclient import TestClient

    from kizuna.main import create_app
    from kizuna.services import accounts as accounts_service
    from kizuna.settings import Settings
    from tests.conftest import make_user, sign_in

    url, _result = store
    monkeypatch.setenv("KIZUNA_TODAY", AS_OF.isoformat())
    app = create_app(Settings(database_url=url))
    with app.state.kizuna.unit_of_work() as session:
        probs = churn.probabilities(session)
        assert len(probs) > 100
        assert all(0 < p < 1 for p in probs.values())
        riskiest = max(probs, key=lambda a: probs[a])
        view = churn.account_churn(session, riskiest)
        assert view is not None
        assert view.probability == pytest.approx(probs[riskiest])
        assert view.drivers  # the riskiest account has reasons, as sentences
        assert all(isinstance(t, str) and t and "{" not in t for t in view.drivers)
        high = accounts_service.list_accounts(session, accounts_service.AccountQuery(min_churn_risk=0.3,
                                                                                   sort="-churn"), as_of=AS_OF)  # fmt: skip
        expected = sorted((a for a, p in probs.items() if p >= 0.3), key=lambda a: -probs[a])
        assert high.total == len(expected) > 0
        assert [r.id for r in high.items][:5] == expected[:5]
        assert high.items[0].churn_risk == pytest.approx(probs[expected[0]])
    make_user(app, "csm@kizuna.example")
    with TestClient(app, headers={"Accept-Language": "en"}) as client:
        sign_in(client, "csm@kizuna.example")
        api = client.get(f"/api/accounts/{riskiest}/churn")
        assert api.status_code == 200, api.text
        body = api.json()
        assert body["probability"] == pytest.approx(probs[riskiest], abs=1e-4)
        assert [d["text"] for d in body["drivers"]] == list(view.drivers)
        assert body["horizon_days"] == 90
        assert client.get("/api/accounts/999999/churn").json()["errors"][0]["code"] == "account_not_found"
        listed = client.get("/api/accounts", params={"min_churn_risk": 0.3, "sort": "-churn"}).json()
        assert listed["total"] == len(expected)
        assert client.get("/api/accounts", params={"min_churn_risk": 2}).status_code == 422
        page = client.get(f"/accounts/{riskiest}")
        assert f'data-testid="account-churn-risk">{probs[riskiest] * 100:.1f}%' in page.text
        assert view.drivers[0].replace("'", "&#39;") in page.text
        listing = client.get("/accounts", params={"churn": "30", "sort": "-churn"})
        assert listing.status_code == 200
        assert f'data-testid="churn-risk">{probs[expected[0]] * 100:.1f}%' in listing.text
        assert client.get("/accounts", params={"churn": "150"}).status_code == 422


def test_a_stored_model_whose_schema_differs_is_refused_then_retrained_by_the_daily_step(
    store: tuple[str, churn.Evaluation], caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    from sqlalchemy import text

    from kizuna.db import make_engine, session_scope

    url, _result = store
    engine = make_engine(url)
    with session_scope(engine) as session:
        row = session.execute(text("SELECT version, spec FROM churn_models ORDER BY version DESC")).first()
        assert row is not None
        spec = json.loads(row.spec) if isinstance(row.spec, str) else row.spec
        spec["schema"]["features"] = [f for f in spec["schema"]["features"] if f["name"] != "nps"]
        session.execute(text("UPDATE churn_models SET spec = :s WHERE version = :v"),
                        {"s": json.dumps(spec), "v": row.version})  # fmt: skip
    with session_scope(engine) as session:
        with pytest.raises(InvalidInput) as refused:
            churn.predict(session, as_of=AS_OF)
        assert refused.value.code == "churn_schema_mismatch"
        assert "columns the model does not know: nps" in refused.value.message
    engine.dispose()


def test_the_daily_step_skips_with_the_reason_when_history_is_short(sqlite_url: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    import logging

    from kizuna.db import make_engine, session_scope
    from tests import health_generators as gen

    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        gen.build(session, "consumer", accounts=30, seed=2)
    with caplog.at_level(logging.INFO, logger="kizuna.services.churn"), session_scope(engine) as session:
        assert churn.daily_step(session, AS_OF) == 0
        assert churn.probabilities(session) == {}
    assert "churn: no model yet and too little labelled history to train one (too few churns to learn from" in caplog.text
    engine.dispose()


# --- the playbook trigger -----------------------------------------------------------------------


def _facts(risk: float | None) -> object:
    from kizuna.domain.playbooks import AccountFacts

    return AccountFacts(account_id=1, tier=None, stage=None, plan=None, health_score=None, health_grade=None,
                        health_change_30d=None, at_risk=False, renewal_in=None, customer_days=None, churn_risk=risk)  # fmt: skip


@pytest.mark.parametrize("given", [0.3, 30])
def test_the_churn_risk_trigger_takes_a_probability_or_a_percentage(given: float) -> None:
    from kizuna.domain.playbooks import parse_playbook

    book = parse_playbook("risky", {"name": "Risky", "trigger": {"kind": "churn_risk_above", "probability": given},
                                    "steps": [{"kind": "task", "title": "call"}]})  # fmt: skip
    assert book.trigger.params == {"probability": 0.3}
    assert book.trigger.holds(_facts(0.31))  # type: ignore[arg-type]
    assert not book.trigger.holds(_facts(0.3))  # type: ignore[arg-type]
    assert not book.trigger.holds(_facts(None))  # type: ignore[arg-type]


def test_a_bad_churn_risk_is_refused_naming_the_field() -> None:
    from kizuna.domain.playbooks import parse_playbook
    from kizuna.errors import ConfigurationError

    for bad in (150, -1, "high"):
        with pytest.raises(ConfigurationError, match=r"risky\.trigger\.probability"):
            parse_playbook("risky", {"name": "Risky", "trigger": {"kind": "churn_risk_above", "probability": bad},
                                     "steps": [{"kind": "task", "title": "call"}]})  # fmt: skip


# --- robust against the health score (issue 16, second stop) -------------------------------------


def test_months_before_keeps_month_ends_and_clamps_short_months() -> None:
    assert churn.months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert churn.months_before(date(2026, 3, 31), 2) == date(2026, 1, 31)
    assert churn.months_before(date(2026, 4, 30), 1) == date(2026, 3, 31)  # a month-end's is the month-end
    assert churn.months_before(date(2026, 12, 6), 1) == date(2026, 11, 6)
    assert churn.months_before(date(2026, 3, 30), 1) == date(2026, 2, 28)
    assert churn.months_before(date(2026, 1, 15), 2) == date(2025, 11, 15)


def _base(rows: dict[int, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("account_id")


def test_trend_features_by_hand_on_three_accounts() -> None:
    """Account 1 was there both months before; 2 joined last month (no 60-day value); 3 is
    new (no earlier value) — and 1 had no events a month ago (no ratio)."""
    cols = ("health_score", "active_days", "active_users_per_seat", "feature_breadth", "events_per_seat",
            "login_days", "events30", "seats")  # fmt: skip

    def row(*values: float) -> dict[str, float]:
        return dict(zip(cols, values, strict=True))

    now = _base({1: row(40, 5, 0.2, 0.3, 10, 4, 120, 8), 2: row(80, 20, 0.9, 0.6, 50, 18, 900, 10),
                 3: row(70, 10, 0.5, 0.5, 20, 9, 300, 5)})  # fmt: skip
    month_ago = _base({1: row(55, 12, 0.5, 0.4, 25, 10, 0, 10), 2: row(75, 18, 0.8, 0.6, 40, 15, 600, 10)})
    two_ago = _base({1: row(70, 15, 0.6, 0.5, 30, 12, 500, 16)})
    out = churn.trend_features(now, month_ago, two_ago)
    assert list(out.index) == [1, 2, 3]
    assert out.loc[1, "health_score_change_30"] == -15
    assert out.loc[1, "health_score_change_60"] == -30
    assert out.loc[1, "active_days_change_30"] == -7
    assert out.loc[1, "active_users_per_seat_change_30"] == pytest.approx(-0.3)
    assert out.loc[1, "active_users_per_seat_change_60"] == pytest.approx(-0.4)
    assert out.loc[1, "events_per_seat_change_60"] == -20
    assert out.loc[1, "login_days_change_30"] == -6
    assert np.isnan(out.loc[1, "events_trend_30"])  # no events a month ago: no ratio
    assert out.loc[1, "seats_change_60"] == pytest.approx(8 / 16 - 1)
    assert out.loc[2, "health_score_change_30"] == 5
    assert out.loc[2, "events_trend_30"] == pytest.approx(900 / 600 - 1)
    assert np.isnan(out.loc[2, "health_score_change_60"])
    assert out.loc[3].isna().all()
    activity = pd.DataFrame({"account_id": [1, 1, 2, 2], "day": pd.to_datetime(
        ["2026-03-01", "2026-03-20", "2026-03-31", "2026-04-02"])})  # fmt: skip
    since = churn.days_since_activity(activity, date(2026, 3, 31), pd.Index([1, 2, 3]))
    assert since.loc[1] == 11
    assert since.loc[2] == 0  # active that day; the later day is not seen
    assert np.isnan(since.loc[3])


def _months_frame(n_months: int = 6, per_month: int = 60, seed: int = 1, *, health_knows: bool) -> tuple[
        pd.DataFrame, np.ndarray, np.ndarray]:  # fmt: skip
    rng = np.random.default_rng(seed)
    n = n_months * per_month
    signal = rng.normal(0, 1, n)
    y = signal + rng.normal(0, 0.6, n) > 1.3
    health = 60 - 20 * signal if health_knows else rng.uniform(0, 100, n)
    frame = pd.DataFrame({"health_score": health, "usage": -signal if not health_knows else rng.normal(0, 1, n)})
    days = np.repeat(pd.date_range("2026-01-31", periods=n_months, freq="ME").to_numpy(), per_month)
    return frame, y, days


def test_the_inner_validation_chooses_the_health_score_when_nothing_beats_it_and_a_model_when_one_does() -> None:
    grid = [c for c in model.CANDIDATES if c.name in ("health-only", "logistic", "trees-4")]
    frame, y, days = _months_frame(health_knows=True)
    schema = model.Schema.infer(frame)
    chosen = model.select(frame, y, days, schema, candidates=grid)
    assert chosen.reason == "validated"
    assert chosen.chosen.name == "health-only"
    months = tuple(sorted(set(days)))
    assert chosen.months_seen == months
    assert chosen.validation_months == months[1:]  # every month after the first judges (five of them)
    assert len(chosen.validation_months) == model.INNER_FOLDS
    assert chosen.scores["health-only"] == pytest.approx(chosen.health)
    frame, y, days = _months_frame(health_knows=False)
    learned = model.select(frame, y, days, schema, candidates=grid)
    assert learned.chosen.name != "health-only"
    assert (learned.scores[learned.chosen.name] or 0) > (learned.health or 0) + 0.2
    # a single month: nothing can judge, the simplest is taken and says why
    one = model.select(frame[:60], y[:60], days[:60], schema, candidates=grid)
    assert (one.chosen.name, one.reason, one.validation_months) == ("health-only", "too_little_data", ())
    # a month that could judge, but too few churns before it to train on: the simplest again
    y_few = np.zeros(120, dtype=bool)
    y_few[[0, 60, 61, 62, 63]] = True
    few = model.select(frame[:120], y_few, days[:120], schema, candidates=grid)
    assert (few.chosen.name, few.reason) == ("health-only", "too_little_data")
    assert few.validation_months == (days[60],)
    assert few.months_seen == (days[0], days[60])
    assert few.scores == {"health-only": None, "logistic": None, "trees-4": None}
    assert few.health is None


def _health_leads(n_months: int, per_month: int, seed: int, *, usage: float = 0.35,
                  noise: int = 6) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:  # fmt: skip
    """Months of rows where the health score carries most of the signal, ``usage`` a
    weaker part of it of its own (0: none) and ``noise`` other columns nothing."""
    rng = np.random.default_rng(seed)
    n = n_months * per_month
    signal, own = rng.normal(0, 1, n), rng.normal(0, 1, n)
    y = signal + usage * own + rng.normal(0, 0.6, n) > 1.3
    frame = pd.DataFrame({"health_score": 60 - 15 * signal + rng.normal(0, 4, n), "usage": -own})
    for i in range(noise):
        frame[f"noise_{i}"] = rng.normal(0, 1, n)
    days = np.repeat(pd.date_range("2026-01-31", periods=n_months, freq="ME").to_numpy(), per_month)
    return frame, y, days


BLEND_GRID = tuple(c for c in model.CANDIDATES if c.name in ("health-only", "blend", "trees-4"))


def test_the_blend_keeps_the_learned_gain_and_leans_on_the_health_score_where_the_trees_slip() -> None:
    from sklearn.metrics import roc_auc_score

    frame, y, days = _health_leads(8, 150, seed=2)
    months = sorted(set(days))
    train, test = np.isin(days, months[:5]), np.isin(days, months[5:])
    schema = model.Schema.infer(frame)
    chosen = model.select(frame[train], y[train], days[train], schema, candidates=BLEND_GRID)
    assert chosen.chosen.name == "blend"
    assert chosen.chosen.params["base"] == "trees-4"  # the best learned candidate of the grid
    assert chosen.chosen.params["stack"]["w_health"] < -0.5  # lower health, more risk: the blend leans on it
    assert (chosen.scores["blend"] or 0) > (chosen.scores["trees-4"] or 0) > (chosen.scores["health-only"] or 0)
    health = roc_auc_score(y[test], -frame.loc[test, "health_score"])
    blend = model.fit(frame[train], y[train], schema=schema, candidate=chosen.chosen)
    trees = model.fit(frame[train], y[train], schema=schema, candidate=BLEND_GRID[2])
    assert roc_auc_score(y[test], trees.raw(frame[test])) < health - 0.005  # the trees alone slip below it…
    assert roc_auc_score(y[test], blend.raw(frame[test])) > health + 0.005  # …the blend does not
    # saved and read back: the same model; its drivers add up to its log-odds and name the health score
    again = model.ChurnModel.from_parts(blend.booster, json.loads(json.dumps(blend.to_json())))
    assert again.kind == model.BLEND
    assert np.allclose(again.raw(frame[test]), blend.raw(frame[test]))
    contrib = blend.contributions(frame[test])
    assert np.allclose(1 / (1 + np.exp(-contrib.sum(axis=1))), blend.raw(frame[test]))
    low = frame[test].nsmallest(5, "health_score")
    assert all(ds[0].feature == "health_score" for ds in model.drivers(contrib.loc[low.index], low))


def test_no_blend_where_no_learned_model_beats_the_health_score_inside() -> None:
    frame, y, days = _health_leads(6, 150, seed=4, usage=0.0)
    schema = model.Schema.infer(frame)
    chosen = model.select(frame, y, days, schema, candidates=BLEND_GRID)
    assert (chosen.scores["trees-4"] or 0) < (chosen.health or 0)
    assert chosen.scores["blend"] is None  # not judged: nothing to keep of the trees
    assert chosen.chosen.name == "health-only"


def test_a_blend_not_yet_chosen_is_its_base_trees_and_an_unknown_base_is_refused() -> None:
    frame, y, _days = _health_leads(2, 300, seed=5)
    plain = model.fit(frame, y, candidate=model.Candidate("blend", model.BLEND, {}))
    assert plain.kind == model.BLEND
    inner = json.loads(plain.booster)
    assert (inner["w_health"], inner["w_trees"], inner["intercept"]) == (0.0, 1.0, 0.0)
    assert inner["trees"] == model.fit(frame, y, candidate=next(  # the monotone trees, nothing else
        c for c in model.CANDIDATES if c.name == "trees-4-monotone")).booster
    with pytest.raises(ValueError, match="names no candidate as its base: 'trees-99'"):
        model.fit(frame, y, candidate=model.Candidate("blend", model.BLEND, {"base": "trees-99"}))
    with pytest.raises(ValueError, match="'blend'"):  # a blend is no base of its own
        model.fit(frame, y, candidate=model.Candidate("blend", model.BLEND, {"base": "blend"}))


def test_the_blend_weights_by_hand_with_missing_health_scores() -> None:
    """``_stack``: the health score standardised over the rows (a missing one at the
    mean), the base model's log-odds as they are; a riskier health score (lower) and a
    riskier base model (higher) both weigh towards churn."""
    rng = np.random.default_rng(3)
    signal = rng.normal(0, 1, 400)
    health = 60 - 15 * signal
    health[:40] = np.nan
    y = signal + rng.normal(0, 0.5, 400) > 1.0
    days = pd.Series(np.repeat(pd.to_datetime(["2026-01-31", "2026-02-28"]).to_numpy(), 200))
    months = sorted(set(days))
    base = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, 400) - 2)))
    predicted = {m: base[(days == m).to_numpy()] for m in months}
    stack = model._stack(pd.DataFrame({"health_score": health}), y, days, predicted, months, "health_score")
    assert stack["center"] == pytest.approx(np.nanmean(health))
    assert stack["scale"] == pytest.approx(np.nanstd(health))
    assert stack["w_health"] < -0.5
    assert stack["w_trees"] > 0.1
    blend = model.Blend.from_stack("", stack)
    # a missing health score counts as the mean: only the base model's term and the intercept
    assert blend.combine(np.array([np.nan]), np.array([0.5]))[0] == pytest.approx(stack["intercept"])


def test_the_blend_is_chosen_on_the_training_months_alone() -> None:
    """``churn.choose`` reads the rows of the days it is given and no others: labels of
    the later months turned upside down change nothing, the training months' labels do."""
    rng = np.random.default_rng(11)
    frame, y, days = _health_leads(6, 100, seed=11, noise=0)
    table = pd.DataFrame({f: rng.normal(0, 1, len(y)) for f in churn.FEATURES if f not in churn.EXTRA_CATEGORY})
    table["health_score"] = frame["health_score"]
    table["events_vs_baseline"] = frame["usage"]
    table["plan"] = rng.choice(["starter", "pro"], len(y))
    table["stage"] = rng.choice(["onboarding", "steady"], len(y))
    table.insert(0, "day", pd.to_datetime(days))
    table.insert(1, "account_id", np.tile(np.arange(100), 6))
    schema = churn._schema(table)
    train_days = [d.date() for d in pd.to_datetime(sorted(set(days)))[:4]]
    later = ~table["day"].isin([pd.Timestamp(d) for d in train_days]).to_numpy()
    first = churn.choose(table, y, train_days, schema, BLEND_GRID)
    flipped = churn.choose(table, np.where(later, ~y, y), train_days, schema, BLEND_GRID)
    assert first.scores["blend"] is not None
    assert first.as_dict() == flipped.as_dict()
    assert max(first.months_seen) < pd.Timestamp(days[later][0])
    shuffled = y.copy()
    shuffled[~later] = rng.permutation(y[~later])
    assert churn.choose(table, shuffled, train_days, schema, BLEND_GRID).scores != first.scores


def test_the_store_model_is_chosen_on_training_months_only(store: tuple[str, churn.Evaluation]) -> None:
    _url, result = store
    selection = result.selection
    assert selection is not None
    seen = {pd.Timestamp(d).date() for d in selection.months_seen}
    assert seen == set(result.train_days) | set(result.calibration_days)
    assert max(seen) < min(result.test_days)
    assert {pd.Timestamp(d).date() for d in selection.validation_months} <= seen
    data = result.as_dict()
    assert data["selection"]["chosen"]["name"] == selection.chosen.name
    assert max(data["selection"]["months_seen"]) < data["test_months"][0]


def test_the_store_features_carry_the_trend_of_the_same_rows(store: tuple[str, churn.Evaluation]) -> None:
    from kizuna.db import make_engine, session_scope
    from kizuna.services.health import active_scorecards

    url, _result = store
    engine = make_engine(url)
    day = date(2026, 9, 30)
    with session_scope(engine) as session:
        reader = churn.FeatureReader(session, active_scorecards(session).cards, [day])
        now, before = reader.on(day), reader.on(date(2026, 8, 31))
    engine.dispose()
    assert "health_score" in now.columns  # the trees can at worst follow the score
    both = now.index.intersection(before.index)
    assert len(both) > 50
    expected = now.loc[both, "health_score"] - before.loc[both, "health_score"]
    assert np.allclose(now.loc[both, "health_score_change_30"], expected, equal_nan=True)
    assert now["days_since_activity"].notna().mean() > 0.9
    assert (now["days_since_activity"].dropna() >= 0).all()


def test_a_logistic_model_explains_itself_like_the_trees() -> None:
    _trained, x = tiny_model()
    y = (x["logins_vs_baseline"] < -0.3).to_numpy()
    linear = model.fit(x, y, candidate=model.Candidate("logistic", model.LOGISTIC, {"c": 1.0}))
    assert linear.kind == model.LOGISTIC
    contrib = linear.contributions(x)
    assert np.allclose(1 / (1 + np.exp(-contrib.sum(axis=1))), linear.raw(x))
    risky = x.index[x["logins_vs_baseline"] < -0.8][:5]
    assert all(ds[0].feature == "logins_vs_baseline" for ds in model.drivers(contrib.loc[risky], x.loc[risky]))
    again = model.ChurnModel.from_parts(linear.booster, json.loads(json.dumps(linear.to_json())))
    assert np.allclose(again.predict(x), linear.predict(x))


def test_the_warning_when_the_model_does_not_beat_the_health_score() -> None:
    assert churn.margin_warning(0.83, 0.79) is None
    with language("en"):
        loses = churn.margin_warning(0.585, 0.667)
        assert loses is not None
        assert "worse than the health score (ROC-AUC 0.585 vs 0.667)" in loses
        close = churn.margin_warning(0.70, 0.68)
        assert close is not None
        assert "not clearly better" in close
        assert "less than 0.03 ahead" in close
        stored = churn.stored_warning({"model": {"roc_auc": 0.6}, "health_score": {"roc_auc": 0.7}})
        assert stored is not None
        assert "0.600 vs 0.700" in stored
    with language("ja"):
        ja = churn.margin_warning(0.585, 0.667)
        assert ja is not None
        assert "0.585" in ja
        assert ja != loses
    assert churn.stored_warning(None) is None


def test_the_360_page_and_the_api_warn_when_the_saved_model_lost(store: tuple[str, churn.Evaluation],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from kizuna.main import create_app
    from kizuna.settings import Settings
    from tests.conftest import make_user, sign_in

    url, _result = store
    monkeypatch.setenv("KIZUNA_TODAY", AS_OF.isoformat())
    app = create_app(Settings(database_url=url))
    with app.state.kizuna.unit_of_work() as session:
        probs = churn.probabilities(session)
        version, evaluation = session.execute(
            text("SELECT version, evaluation FROM churn_models ORDER BY version DESC")).first()  # type: ignore[misc]
        original = json.loads(evaluation) if isinstance(evaluation, str) else evaluation
        lost = {**original, "model": {**original["model"], "roc_auc": 0.585},
                "health_score": {**original["health_score"], "roc_auc": 0.667}}  # fmt: skip
        session.execute(text("UPDATE churn_models SET evaluation = :e WHERE version = :v"),
                        {"e": json.dumps(lost), "v": version})  # fmt: skip
    account = next(iter(probs))
    make_user(app, "csm2@kizuna.example")
    try:
        with TestClient(app, headers={"Accept-Language": "en"}) as client:
            sign_in(client, "csm2@kizuna.example")
            page = client.get(f"/accounts/{account}")
            assert 'data-testid="churn-warning"' in page.text
            assert "ranked churners worse than the health score (ROC-AUC 0.585 vs 0.667)" in page.text
            assert "worse than the health score" in client.get(f"/api/accounts/{account}/churn").json()["warning"]
    finally:
        with app.state.kizuna.unit_of_work() as session:
            session.execute(text("UPDATE churn_models SET evaluation = :e WHERE version = :v"),
                            {"e": json.dumps(original), "v": version})  # fmt: skip


def test_drivers_on_the_safe_side_of_their_feature_are_not_shown_and_trends_read_as_sentences() -> None:
    medians = {"health_score": 70.0, "days_since_activity": 1.0}
    assert not churn.reads_as_risk(model.Driver("health_score", 85.0, 0.3), medians)
    assert churn.reads_as_risk(model.Driver("health_score", 40.0, 0.3), medians)
    assert not churn.reads_as_risk(model.Driver("health_score_change_30", 6.0, 0.3), medians)
    assert churn.reads_as_risk(model.Driver("health_score_change_30", -6.0, 0.3), medians)
    assert not churn.reads_as_risk(model.Driver("days_since_activity", 1.0, 0.3), medians)
    assert churn.reads_as_risk(model.Driver("days_since_activity", 21.0, 0.3), medians)
    assert churn.reads_as_risk(model.Driver("plan", "starter", 0.3), medians)
    with language("en"):
        assert churn.driver_sentence({"feature": "health_score_change_30", "value": -12.4}) == \
            "health score down 12 points in 30 days"
        assert churn.driver_sentence({"feature": "active_users_per_seat_change_60", "value": -0.25}) == \
            "seats in use down 25 points in 60 days"
        assert churn.driver_sentence({"feature": "events_trend_30", "value": -0.6}) == \
            "events down 60 % against the 30 days before"
        assert churn.driver_sentence({"feature": "days_since_activity", "value": 21.0}, medians) == \
            "no login or event for 21 days"
        assert churn.driver_sentence({"feature": "days_to_renewal", "value": None}) == \
            "no committed term (no renewal date)"
    with language("ja"):
        ja = churn.driver_sentence({"feature": "health_score_change_30", "value": -12.4})
        assert "12" in ja
        assert ja != "health score down 12 points in 30 days"
