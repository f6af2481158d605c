"""The churn model (解約予測, issue 16): features at past month-ends from the store,
training with a time-based split, daily scores with drivers, and "bring your own table".

- **Observations**: every paying account at each month-end that has
  :data:`~kizuna.services.health.BACKTEST_HISTORY_DAYS` of history before it and the whole
  horizon after it — the health backtest's points — with the health measures as they were
  that day (:func:`kizuna.services.health.score_day`, stages replayed from the data), the
  health score itself, events in the last 30 days, MRR and its change over 90 days, the
  number of live lines and the main plan. The label is the backtest's: churned within the
  horizon after the month-end (:func:`kizuna.analytics.health.label_churn`). Trends: the
  change of the key measures and of the health score since one and two months before
  (:data:`TREND_NUMERIC`, from the same month-end rows), and days since the last activity.
- **Choice of model**: by an inner time validation on the training months only
  (:func:`kizuna.analytics.churn.select`), the health score alone being the simplest
  candidate; a model that does not beat the health score by :data:`MARGIN_BAR` on the
  test months carries a warning wherever its scores are shown.
- **Split**: the last third of the month-ends tests; of the earlier ones the last quarter
  calibrates, the rest trains. No month is in two parts. Calibration is Platt scaling
  fitted on the calibration months' scores of trees trained on the earlier months only;
  then the trees are trained again on every training month (the newest months teach
  them too) and keep that calibration (it is monotone: the ranking is the trees').
- **Saved model**: after the evaluation, the same recipe on every month-end (the newest
  quarter calibrating) is saved in ``churn_models`` with its feature schema, calibration,
  library versions and the evaluation; predicting with a model whose schema differs from
  today's features is the error ``churn_schema_mismatch``.
- **Scores** in ``churn_scores(account_id, as_of, horizon_days, probability,
  model_version, drivers_json)``; the drivers are the features with the largest positive
  contributions (LightGBM ``pred_contrib``), written as sentences when shown.

See docs/churn.md.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.analytics import churn as model
from kizuna.analytics import health as calc
from kizuna.analytics.churn import Metrics, Selection
from kizuna.db import Session
from kizuna.db.queries import churn as q
from kizuna.db.queries import health as hq
from kizuna.domain.health import MEASURES, ScorecardSet
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import N_, _
from kizuna.services.health import (
    BACKTEST_HISTORY_DAYS,
    BATCH_ROWS,
    DayScores,
    UsageWindows,
    active_scorecards,
    describe_value,
    score_day,
    score_days,
)

log = logging.getLogger(__name__)

HORIZON_DAYS = 90
#: The fewest month-ends (train, calibrate, test), and churns among the training and test rows.
MIN_MONTHS = 3
MIN_TRAIN_CHURNS = 20
MIN_TEST_CHURNS = 5
#: The features beside the health measures (see the module).
EXTRA_NUMERIC = ("health_score", "events30", "mrr", "mrr_change_90", "live_lines")
EXTRA_CATEGORY = ("plan", "stage")
#: The measures that carry no information of their own (always missing, or bookkeeping).
SKIPPED_MEASURES = ("payment_state",)
#: Trend features: a measure's value at the day minus its value one calendar month (≈ 30
#: days; a month-end's is the month-end before) and two months (≈ 60 days) earlier.
CHANGE_30 = ("health_score", "active_days", "active_users_per_seat", "feature_breadth", "events_per_seat",
             "login_days")  # fmt: skip
CHANGE_60 = ("health_score", "active_users_per_seat", "events_per_seat")
#: events30 ÷ the events30 a month earlier − 1; seats ÷ seats two months earlier − 1;
#: days since the last login or event (missing: none yet).
TREND_NUMERIC = (*[f"{m}_change_30" for m in CHANGE_30], *[f"{m}_change_60" for m in CHANGE_60],
                 "events_trend_30", "seats_change_60", "days_since_activity")  # fmt: skip
BASE_FEATURES = (*[m for m in MEASURES if m not in SKIPPED_MEASURES], "seats", *EXTRA_NUMERIC, *EXTRA_CATEGORY)
FEATURES = (*BASE_FEATURES, *TREND_NUMERIC)
NO_STAGE = "steady"


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier: a month-end's is the month-end
    (so the training pass reuses the month-end rows it computes anyway), any other day's
    the same day of the month, or that month's last day when it is shorter."""
    import calendar

    last = calendar.monthrange(day.year, day.month)[1]
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    end = calendar.monthrange(year, month)[1]
    return date(year, month, end if day.day == last else min(day.day, end))


def trend_features(now: pd.DataFrame, month_ago: pd.DataFrame, two_months_ago: pd.DataFrame) -> pd.DataFrame:
    """The trend columns of :data:`TREND_NUMERIC` but ``days_since_activity``, on
    ``now``'s index, from the base features of the day and of one and two months before
    (an account absent then: missing)."""
    one = month_ago.reindex(now.index)
    two = two_months_ago.reindex(now.index)
    out = pd.DataFrame(index=now.index)
    for m in CHANGE_30:
        out[f"{m}_change_30"] = now[m] - one[m]
    for m in CHANGE_60:
        out[f"{m}_change_60"] = now[m] - two[m]
    out["events_trend_30"] = now["events30"] / one["events30"].where(one["events30"] > 0) - 1.0
    out["seats_change_60"] = now["seats"] / two["seats"].where(two["seats"] > 0) - 1.0
    return out.astype("float64")


def days_since_activity(activity: pd.DataFrame, day: date, accounts: pd.Index) -> pd.Series:
    """Days from each account's last login or event up to ``day`` (0: active that day;
    missing: never active yet). ``activity``: :func:`kizuna.db.queries.churn.activity_days`."""
    upto = activity[activity["day"] <= pd.Timestamp(day)]
    last = upto.groupby("account_id")["day"].max().reindex(accounts)
    out: pd.Series = (pd.Timestamp(day) - last).dt.days.astype("float64")
    return out


# --- features -----------------------------------------------------------------------------------


def line_features(amounts: pd.DataFrame, day: date, accounts: pd.Index) -> pd.DataFrame:
    """MRR (sum of the live paid lines), its relative change over 90 days, the number
    of live lines and the main plan (the product code of the largest live plan line)."""

    def live(on: pd.Timestamp) -> pd.DataFrame:
        trial = amounts["trial_ends_on"]
        start = amounts["started_on"].where(trial.isna() | (trial < amounts["started_on"]), trial)
        return amounts[(start <= on) & (amounts["ended_on"].isna() | (amounts["ended_on"] > on))]

    now = live(pd.Timestamp(day))
    before = live(pd.Timestamp(day - timedelta(days=90)))
    mrr = now.groupby("account_id")["monthly_amount"].sum().reindex(accounts)
    mrr90 = before.groupby("account_id")["monthly_amount"].sum().reindex(accounts)
    plans = now[now["kind"] == "plan"].sort_values("monthly_amount", ascending=False).drop_duplicates("account_id")
    return pd.DataFrame({
        "mrr": mrr.fillna(0.0),
        "mrr_change_90": (mrr.fillna(0.0) / mrr90.where(mrr90 > 0) - 1.0),
        "live_lines": now.groupby("account_id").size().reindex(accounts).fillna(0).astype("float64"),
        "plan": plans.set_index("account_id")["plan"].reindex(accounts).astype(object),
    }, index=accounts)  # fmt: skip


@dataclass
class FeatureReader:
    """Reads the feature table of any day from one store (the shared frames read once)."""

    session: Session
    cards: ScorecardSet
    plan: list[date] = field(default_factory=list)

    def __post_init__(self) -> None:
        s = self.session
        self.lines = hq.subscription_lines(s)
        self.amounts = q.line_amounts(s)
        self.segments, self.contacts = hq.account_segments(s), hq.contact_counts(s)
        self.first = hq.store_day_range(s)[0]
        # the days base() scores, in the order on() asks for them over the plan: scored a
        # chunk at a time (score_days), their inputs read in that same order
        self.queue = list(dict.fromkeys(
            x for d in self.plan for x in (d, months_before(d, 1), months_before(d, 2))
            if self.first is not None and x >= self.first))  # fmt: skip
        self.ready: dict[date, DayScores] = {}
        self.plan = sorted({*self.plan, *(months_before(d, k) for d in self.plan for k in (1, 2))})
        self.usage = UsageWindows(s, [d for d in self.plan if self.first is None or d >= self.first], batch=3)
        self.activity = q.activity_days(s, max(self.plan)) if self.plan else pd.DataFrame(columns=["account_id", "day"])
        self.memo: dict[date, pd.DataFrame] = {}

    def on(self, day: date) -> pd.DataFrame:
        """One row per paying account live on ``day``: the columns of :data:`FEATURES`
        (the base features of the day, one and two months before computed once each)."""
        now = self.base(day)
        out = now.join(trend_features(now, self.base(months_before(day, 1)), self.base(months_before(day, 2))))
        if "day" in self.activity and len(self.activity):
            out["days_since_activity"] = days_since_activity(self.activity, day, out.index)
        else:
            out["days_since_activity"] = np.nan
        out = out.reindex(columns=list(FEATURES))
        out.index.name = "account_id"
        return out

    def base(self, day: date) -> pd.DataFrame:
        """:data:`BASE_FEATURES` of ``day`` (remembered); before the store's first day, none."""
        if day not in self.memo:
            if self.first is None or day < self.first:
                empty = pd.DataFrame(columns=list(BASE_FEATURES), index=pd.Index([], name="account_id"))
                self.memo[day] = empty.astype({c: "float64" for c in BASE_FEATURES if c not in EXTRA_CATEGORY})
            else:
                self.memo[day] = self._base(day)
        return self.memo[day]

    def _scored(self, day: date) -> DayScores:
        options: dict[str, Any] = {"lines": self.lines, "segments": self.segments, "paying_only": True,
                                   "usage": self.usage, "replay_stages": True, "contacts": self.contacts,
                                   "history_from": self.first}  # fmt: skip
        if day not in self.ready and self.queue and self.queue[0] == day:
            per_chunk = max(1, BATCH_ROWS // max(1, self.lines["account_id"].nunique()))
            chunk, self.queue = self.queue[:per_chunk], self.queue[per_chunk:]
            self.ready.update(score_days(self.session, chunk, self.cards, **options))
        elif day not in self.ready:
            self.queue = []  # asked out of the plan's order: day by day from here
        if day in self.ready:
            return self.ready.pop(day)
        return score_day(self.session, day, self.cards, **options)

    def _base(self, day: date) -> pd.DataFrame:
        scored = self._scored(day)
        values = scored.values.copy()
        accounts = values.index
        values["health_score"] = scored.score
        values["events30"] = scored.events30 if scored.events30 is not None else np.nan
        values = values.join(line_features(self.amounts, day, accounts))
        stages = calc.replay_stages(self.lines, values, day)
        values["stage"] = stages.fillna(NO_STAGE).astype(object)
        out = values.reindex(columns=list(BASE_FEATURES))
        for col in BASE_FEATURES:
            if col not in EXTRA_CATEGORY:
                out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
        out.index.name = "account_id"
        return out


def observation_days(session: Session, as_of: date, horizon_days: int) -> list[date]:
    """The month-ends with history before them and the whole horizon after them."""
    first, last = hq.store_day_range(session)
    if first is None or last is None:
        return []
    end = min(as_of, last) - timedelta(days=horizon_days)
    return calc.month_ends(first + timedelta(days=BACKTEST_HISTORY_DAYS), end)


def observations(session: Session, days: list[date], cards: ScorecardSet, horizon_days: int,
                 on_day: Callable[[date], None] | None = None) -> tuple[pd.DataFrame, np.ndarray]:  # fmt: skip
    """The feature table at each of ``days`` (columns ``day``, ``account_id`` and
    :data:`FEATURES`) and the label: churned within the horizon after the day."""
    reader = FeatureReader(session, cards, list(days))
    frames = []
    for day in days:
        frame = reader.on(day).reset_index()
        frame.insert(0, "day", pd.Timestamp(day))
        frames.append(frame)
        if on_day is not None:
            on_day(day)
    table = pd.concat(frames, ignore_index=True)
    churns = calc.churn_events(reader.lines)
    y = calc.label_churn(table, churns, horizon_days).to_numpy(dtype=bool)
    return table, y


# --- training and evaluation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The time-split evaluation: the model, the health score alone and the naive signal
    (fewer events in the last 30 days) on the same later month-ends."""

    horizon_days: int
    train_days: tuple[date, ...]
    calibration_days: tuple[date, ...]
    test_days: tuple[date, ...]
    train_samples: int
    train_churned: int
    model: Metrics
    health: Metrics
    naive: Metrics
    version: int | None = None  # the saved model's version (train), None (evaluate)
    selection: Selection | None = None  # the model chosen inside the training months

    @property
    def beats_health(self) -> bool:
        """The issue's bar: the model's ROC-AUC at least :data:`MARGIN_BAR` above the
        health score's on the test months."""
        return self.margin is not None and self.margin >= MARGIN_BAR

    @property
    def margin(self) -> float | None:
        """The model's ROC-AUC minus the health score's on the test months."""
        if self.model.roc_auc is None or self.health.roc_auc is None:
            return None
        return float(self.model.roc_auc - self.health.roc_auc)

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon_days": self.horizon_days, "version": self.version,
            "train_months": [d.isoformat() for d in self.train_days],
            "calibration_months": [d.isoformat() for d in self.calibration_days],
            "test_months": [d.isoformat() for d in self.test_days],
            "train_samples": self.train_samples, "train_churned": self.train_churned,
            "model": self.model.as_dict(), "health_score": self.health.as_dict(), "naive": self.naive.as_dict(),
            "roc_auc_margin_over_health": None if self.margin is None else round(self.margin, 4),
            "beats_health": self.beats_health, "warning": self.warning(),
            "selection": None if self.selection is None else self.selection.as_dict(),
        }  # fmt: skip

    def warning(self) -> str | None:
        """When the model does not beat the health score by :data:`MARGIN_BAR` on the
        test months: a sentence saying so, with both figures (else None)."""
        return margin_warning(self.model.roc_auc, self.health.roc_auc)


#: The margin of ROC-AUC over the health score the model must reach on the test months.
MARGIN_BAR = 0.03
WARN_LOSES = N_("On the held-out months this churn model ranked churners worse than the health score (ROC-AUC "
                "{model} vs {health}): rely on the health score; read the churn risk beside it, not instead of it.")
WARN_NOT_BETTER = N_("On the held-out months this churn model was not clearly better than the health score (ROC-AUC "
                     "{model} vs {health}, less than {bar} ahead): read the churn risk beside the health score.")


def margin_warning(model_auc: float | None, health_auc: float | None) -> str | None:
    """The warning for a model that does not beat the health score by :data:`MARGIN_BAR`
    (ROC-AUC on the test months), in the reader's language; None when it does, or when
    either figure is unknown."""
    if model_auc is None or health_auc is None or model_auc - health_auc >= MARGIN_BAR:
        return None
    text = WARN_LOSES if model_auc < health_auc else WARN_NOT_BETTER
    return _(text).format(model=f"{model_auc:.3f}", health=f"{health_auc:.3f}", bar=f"{MARGIN_BAR:.2f}")



def _check_horizon(horizon_days: int) -> None:
    if not 7 <= horizon_days <= 730:
        raise InvalidInput(_("--horizon-days must be from 7 to 730"), field="horizon_days")


def _split(session: Session, as_of: date, horizon_days: int) -> tuple[list[date], list[date], list[date]]:
    days = observation_days(session, as_of, horizon_days)
    if len(days) < MIN_MONTHS:
        raise InvalidInput(_("the churn model needs at least {need} month-ends with {h} days of history after them; "
                             "this store has {n}").format(need=MIN_MONTHS, h=horizon_days, n=len(days)),
                           field="horizon_days", code="too_little_history")  # fmt: skip
    # a cheap count before the features are computed: churns within the horizon of any month-end
    churns = calc.churn_events(hq.subscription_lines(session))["churned_on"]
    first, last = pd.Timestamp(days[0]), pd.Timestamp(days[-1] + timedelta(days=horizon_days))
    n = int(((churns > first) & (churns <= last)).sum())
    if n < MIN_TRAIN_CHURNS + MIN_TEST_CHURNS:
        raise InvalidInput(_("too few churns to learn from: {n} churns after the first month-end, at least {need} are "
                             "needed").format(n=n, need=MIN_TRAIN_CHURNS + MIN_TEST_CHURNS),
                           field="horizon_days", code="too_few_churns")  # fmt: skip
    return model.split_months(days)


def _library_versions() -> dict[str, str]:
    import lightgbm
    import sklearn

    return {"lightgbm": lightgbm.__version__, "scikit-learn": sklearn.__version__}


def _fit(table: pd.DataFrame, y: np.ndarray, fit_days: list[date], cal_days: list[date], schema: model.Schema,
         info: dict[str, Any], candidate: model.Candidate | None = None) -> model.ChurnModel:  # fmt: skip
    day = table["day"]
    fit_rows = day.isin([pd.Timestamp(d) for d in fit_days]).to_numpy()
    cal_rows = day.isin([pd.Timestamp(d) for d in cal_days]).to_numpy()
    x = table[list(FEATURES)]
    medians = {f: float(v) for f, v in x.loc[fit_rows].median(numeric_only=True).items() if not math.isnan(v)}
    return model.fit(x[fit_rows], y[fit_rows], x[cal_rows], y[cal_rows], schema=schema, candidate=candidate,
                     info={**info, "medians": medians, "candidate": None if candidate is None else candidate.as_dict()},
                     refit=True)  # fmt: skip


def choose(table: pd.DataFrame, y: np.ndarray, days: list[date], schema: model.Schema,
           candidates: tuple[model.Candidate, ...] = model.CANDIDATES) -> Selection:  # fmt: skip
    """The model's kind and settings, chosen by the inner validation on the rows of
    ``days`` only (:func:`kizuna.analytics.churn.select`)."""
    rows = table["day"].isin([pd.Timestamp(d) for d in days]).to_numpy()
    part = table[rows]
    return model.select(part[list(FEATURES)], y[rows], part["day"].tolist(), schema, candidates=candidates)


def _schema(table: pd.DataFrame) -> model.Schema:
    features = []
    for name in FEATURES:
        if name in EXTRA_CATEGORY:
            values = sorted({str(v) for v in table[name].dropna().tolist()})
            features.append(model.Feature(name, model.CATEGORY, tuple(values)))
        else:
            features.append(model.Feature(name, model.NUMERIC))
    return model.Schema(tuple(features))


def evaluate(session: Session, *, as_of: date, horizon_days: int = HORIZON_DAYS, save: bool = False,
             on_day: Callable[[date], None] | None = None) -> Evaluation:  # fmt: skip
    """Train on the earlier month-ends, calibrate on the next, test on the later ones
    (see the module); with ``save``, then train on all of them and keep the model."""
    _check_horizon(horizon_days)
    fit_days, cal_days, test_days = _split(session, as_of, horizon_days)
    cards = active_scorecards(session).cards
    table, y = observations(session, [*fit_days, *cal_days, *test_days], cards, horizon_days, on_day)
    is_test = table["day"].isin([pd.Timestamp(d) for d in test_days]).to_numpy()
    train_y, test_y = y[~is_test], y[is_test]
    if train_y.sum() < MIN_TRAIN_CHURNS or test_y.sum() < MIN_TEST_CHURNS:
        raise InvalidInput(_("too few churns to learn from: {train} in the training months (at least {need_train}) "
                             "and {test} in the test months (at least {need_test})").format(
                               train=int(train_y.sum()), need_train=MIN_TRAIN_CHURNS, test=int(test_y.sum()),
                               need_test=MIN_TEST_CHURNS),
                           field="horizon_days", code="too_few_churns")  # fmt: skip
    schema = _schema(table)
    info = {"horizon_days": horizon_days, "as_of": as_of.isoformat(), "libraries": _library_versions()}
    selection = choose(table, y, [*fit_days, *cal_days], schema)
    info["selection"] = selection.as_dict()
    trial = _fit(table, y, fit_days, cal_days, schema, info, selection.chosen)
    test = table[is_test]
    p = trial.predict(test[list(FEATURES)])
    result = Evaluation(
        horizon_days, tuple(fit_days), tuple(cal_days), tuple(test_days), int((~is_test).sum()), int(train_y.sum()),
        model.metrics(test_y, p), model.metrics(test_y, -test["health_score"].to_numpy(dtype="float64"), probability=False),
        model.metrics(test_y, -test["events30"].to_numpy(dtype="float64"), probability=False), None, selection,
    )  # fmt: skip
    if not save:
        return result
    days = [*fit_days, *cal_days, *test_days]
    n_cal = max(1, round(len(days) * 0.25))
    final = _fit(table, y, days[:-n_cal], days[-n_cal:], schema,
                 {**info, "train_months": [d.isoformat() for d in days]}, selection.chosen)  # fmt: skip
    version = q.save_model(session, {
        "as_of": as_of, "horizon_days": horizon_days, "booster": final.booster, "spec": final.to_json(),
        "evaluation": result.as_dict(),
    })  # fmt: skip
    return Evaluation(**{**result.__dict__, "version": version})


def train(session: Session, *, as_of: date, horizon_days: int = HORIZON_DAYS,
          on_day: Callable[[date], None] | None = None) -> Evaluation:  # fmt: skip
    """Evaluate, then save a model trained on every month-end (a new version)."""
    return evaluate(session, as_of=as_of, horizon_days=horizon_days, save=True, on_day=on_day)


@dataclass(frozen=True)
class LoadedModel:
    version: int
    horizon_days: int
    model: model.ChurnModel


def load_model(session: Session) -> LoadedModel | None:
    row = q.latest_model(session)
    if row is None:
        return None
    version = int(row["version"])
    return LoadedModel(version, int(row["horizon_days"]),
                       model.ChurnModel.from_parts(row["booster"], row["spec"], version=f"v{version}"))  # fmt: skip


def predict(session: Session, *, as_of: date, features: pd.DataFrame | None = None) -> int:
    """Score every paying account live on ``as_of`` with the newest model; replaces the
    day's scores. Returns the accounts scored. No model: :class:`NotFound`."""
    loaded = load_model(session)
    if loaded is None:
        raise NotFound(_("no churn model has been trained yet: run `kizuna churn train`"), code="no_churn_model")
    if features is None:
        features = FeatureReader(session, active_scorecards(session).cards, [as_of]).on(as_of)
    version = f"v{loaded.version}"
    p = loaded.model.predict(features, version=version)
    contrib = loaded.model.contributions(features)
    medians = dict(loaded.model.info.get("medians") or {})
    drivers = [[d for d in row if reads_as_risk(d, medians)][: model.DRIVERS_TOP]
               for row in model.drivers(contrib, features, top=len(loaded.model.schema.names))]  # fmt: skip
    ids = features.index.to_numpy()
    rows = ({"account_id": int(a), "as_of": as_of, "horizon_days": loaded.horizon_days, "probability": float(pr),
             "model_version": loaded.version, "drivers_json": [d.as_dict() for d in ds], "scored_by": "daily"}
            for a, pr, ds in zip(ids, p, drivers, strict=True))  # fmt: skip
    return q.replace_scores(session, as_of, loaded.horizon_days, rows)


#: The daily step's last word when it did not score (English; translated when shown).
SKIP_NO_HISTORY = N_("churn: no model yet and too little labelled history to train one ({why})")


def daily_step(session: Session, as_of: date) -> int:
    """The daily job's ``churn`` step: score with the newest model; with none, train one
    first when the store has enough labelled history (else log why and score nothing).
    A model whose schema no longer matches is retrained the same way."""
    try:
        return predict(session, as_of=as_of)
    except NotFound:
        pass
    except InvalidInput as exc:
        if exc.code != "churn_schema_mismatch":
            raise
        log.warning("churn: %s; training a new model", exc.message)
    try:
        result = train(session, as_of=as_of)
    except InvalidInput as exc:
        log.info(SKIP_NO_HISTORY.format(why=exc.message))
        return 0
    warning = result.warning()
    if warning is not None:
        log.warning("churn: %s", warning)
    return predict(session, as_of=as_of)


# --- reading ------------------------------------------------------------------------------------

#: Sentences of the drivers: feature → (sentence when the value is low, when it is high).
#: Low/high: a change below/above 0, any other value below/at-or-above the training median.
#: ``{value}`` is the value as people read it (−45%, 3 days…), ``{pct}`` a change in per cent.
SENTENCES: dict[str, tuple[str, str]] = {
    "logins_vs_baseline": (N_("logins down {pct} % against the 90 days before"),
                           N_("logins up {pct} % against the 90 days before")),
    "login_trend": (N_("logins down {pct} % in 30 days"), N_("logins up {pct} % in 30 days")),
    "login_days": (N_("logins on only {value} of the last 30 days"), N_("logins on {value} of the last 30 days")),
    "events_vs_baseline": (N_("usage down {pct} % against the account's own baseline"),
                           N_("usage up {pct} % against the account's own baseline")),
    "active_days": (N_("active on only {value} of the last 30 days"), N_("active on {value} of the last 30 days")),
    "active_users_per_seat": (N_("only {value} of seats in use"), N_("{value} of seats in use")),
    "feature_breadth": (N_("only {value} of the features in use"), N_("{value} of the features in use")),
    "events_per_seat": (N_("few events per seat ({value} in 30 days)"), N_("many events per seat ({value} in 30 days)")),
    "events30": (N_("few events in the last 30 days ({value})"), N_("many events in the last 30 days ({value})")),
    "account_age": (N_("a young account ({value})"), N_("an older account ({value})")),
    "nps": (N_("a low NPS answer ({value})"), N_("a high NPS answer ({value})")),
    "csat": (N_("a low CSAT ({value})"), N_("a high CSAT ({value})")),
    "open_tickets": (N_("few open tickets ({value})"), N_("{value} open tickets")),
    "escalated_tickets": (N_("no escalated ticket"), N_("{value} escalated tickets")),
    "days_to_renewal": (N_("renewal in {value}"), N_("renewal not before {value}")),
    "health_score": (N_("a low health score ({value})"), N_("a high health score ({value})")),
    "mrr": (N_("a small contract ({value} MRR)"), N_("a large contract ({value} MRR)")),
    "mrr_change_90": (N_("MRR down {pct} % in 90 days"), N_("MRR up {pct} % in 90 days")),
    "live_lines": (N_("{value} subscription lines"), N_("{value} subscription lines")),
    "seats": (N_("few seats ({value})"), N_("many seats ({value})")),
    "csm_sentiment": (N_("a low CSM sentiment ({value})"), N_("a high CSM sentiment ({value})")),
    "onboarding_progress": (N_("onboarding {value} done"), N_("onboarding {value} done")),
    "usage_minutes_per_seat": (N_("only {value} of use per seat in the last 30 days"),
                               N_("{value} of use per seat in the last 30 days")),
    "health_score_change_30": (N_("health score down {value} points in 30 days"),
                               N_("health score up {value} points in 30 days")),
    "health_score_change_60": (N_("health score down {value} points in 60 days"),
                               N_("health score up {value} points in 60 days")),
    "active_days_change_30": (N_("{value} fewer active days than the month before"),
                              N_("{value} more active days than the month before")),
    "login_days_change_30": (N_("{value} fewer days with logins than the month before"),
                             N_("{value} more days with logins than the month before")),
    "active_users_per_seat_change_30": (N_("seats in use down {value} points in 30 days"),
                                        N_("seats in use up {value} points in 30 days")),
    "active_users_per_seat_change_60": (N_("seats in use down {value} points in 60 days"),
                                        N_("seats in use up {value} points in 60 days")),
    "feature_breadth_change_30": (N_("features in use down {value} points in 30 days"),
                                  N_("features in use up {value} points in 30 days")),
    "events_per_seat_change_30": (N_("events per seat down by {value} in 30 days"),
                                  N_("events per seat up by {value} in 30 days")),
    "events_per_seat_change_60": (N_("events per seat down by {value} in 60 days"),
                                  N_("events per seat up by {value} in 60 days")),
    "events_trend_30": (N_("events down {pct} % against the 30 days before"),
                        N_("events up {pct} % against the 30 days before")),
    "seats_change_60": (N_("seats down {pct} % in 60 days"), N_("seats up {pct} % in 60 days")),
    "days_since_activity": (N_("last login or event {value} ago"), N_("no login or event for {value}")),
}
#: Generic sentences for the other features: {label} is the feature's name.
GENERIC = (N_("{label} low ({value})"), N_("{label} high ({value})"))
MISSING = N_("no data for {label}")
#: Missing values that mean something of their own (no renewal date: no committed term).
MISSING_SENTENCES = {"days_to_renewal": N_("no committed term (no renewal date)"),
                     "nps": N_("no NPS answer"), "csat": N_("no CSAT answer")}  # fmt: skip
CATEGORY_SENTENCES = {"plan": N_("on the plan {value}"), "stage": N_("in the {value} stage")}
LABELS = {
    "health_score": N_("health score"), "events30": N_("events in the last 30 days"), "mrr": N_("MRR"),
    "mrr_change_90": N_("MRR change over 90 days"), "live_lines": N_("subscription lines"), "seats": N_("seats"),
    "plan": N_("plan"), "stage": N_("lifecycle stage"),
    "health_score_change_30": N_("health score change over 30 days"),
    "health_score_change_60": N_("health score change over 60 days"),
    "active_days_change_30": N_("active days change over 30 days"),
    "login_days_change_30": N_("login days change over 30 days"),
    "active_users_per_seat_change_30": N_("seats in use change over 30 days"),
    "active_users_per_seat_change_60": N_("seats in use change over 60 days"),
    "feature_breadth_change_30": N_("feature breadth change over 30 days"),
    "events_per_seat_change_30": N_("events per seat change over 30 days"),
    "events_per_seat_change_60": N_("events per seat change over 60 days"),
    "events_trend_30": N_("events against the 30 days before"), "seats_change_60": N_("seats change over 60 days"),
    "days_since_activity": N_("days since the last login or event"),
}  # fmt: skip
STAGE_LABELS = {"onboarding": N_("onboarding"), "renewal": N_("renewal"), NO_STAGE: N_("steady")}
#: Relative changes (shown in per cent; low = below 0).
CHANGE_FEATURES = {"mrr_change_90", "events_trend_30", "seats_change_60"}
#: Differences over 30/60 days (low = below 0; shown as the size of the change: points of
#: a share, points of the score, days, events).
DIFF_FEATURES = {f"{m}_change_30" for m in CHANGE_30} | {f"{m}_change_60" for m in CHANGE_60}
#: Where a feature's risky side is: a driver on the other side (a high health score
#: "raising" the risk through the trees' interactions) reads wrong and is not shown.
RISKY_HIGH = {"open_tickets", "escalated_tickets", "days_since_activity"}
RISKY_LOW = {
    "logins_vs_baseline", "login_trend", "login_days", "active_users_per_seat", "feature_breadth",
    "usage_minutes_per_seat", "events_vs_baseline", "active_days", "events_per_seat", "events_per_active_user",
    "events_percentile", "nps", "csat", "onboarding_progress", "csm_sentiment", "milestones_on_time", "first_value",
    "activation_vs_tier", "health_score", "events30", "mrr_change_90", *CHANGE_FEATURES, *DIFF_FEATURES,
}  # fmt: skip


def feature_label(feature: str) -> str:
    if feature in MEASURES:
        return _(MEASURES[feature].label)
    return _(LABELS[feature]) if feature in LABELS else feature


def _shown(feature: str, value: float) -> str:
    if feature in DIFF_FEATURES:
        base = feature.rsplit("_change_", 1)[0]
        unit = MEASURES[base].unit.value if base in MEASURES else "count"
        size = abs(value) * 100 if unit == "share" else abs(value)
        return f"{size:,.1f}" if unit not in ("share", "count") or size < 10 else f"{size:,.0f}"
    if feature == "days_since_activity":
        return _("{n} days").format(n=f"{value:.0f}")
    if feature == "mrr":
        return f"¥{value:,.0f}"
    if feature in ("health_score",):
        return f"{value:.0f}"
    if feature in MEASURES:
        return describe_value(feature, value)
    return f"{value:,.0f}"


def is_low(feature: str, number: float, medians: dict[str, float] | None) -> bool:
    """A change or difference below 0; any other value below the training median."""
    if feature in CHANGE_FEATURES or feature in DIFF_FEATURES or (
            feature in MEASURES and MEASURES[feature].unit.value == "change"):
        return number < 0
    median = (medians or {}).get(feature)
    return median is not None and number < median


def reads_as_risk(driver: model.Driver, medians: dict[str, float] | None) -> bool:
    """Whether a driver's value is on its feature's risky side (:data:`RISKY_LOW`,
    :data:`RISKY_HIGH`; other features, missing or category values, and a feature
    without a training median: always)."""
    value, feature = driver.value, driver.feature
    if value is None or isinstance(value, str):
        return True
    relative = feature in CHANGE_FEATURES or feature in DIFF_FEATURES or (
        feature in MEASURES and MEASURES[feature].unit.value == "change")  # fmt: skip
    if not relative and (medians or {}).get(feature) is None:
        return True
    if feature in RISKY_LOW:
        return is_low(feature, float(value), medians)
    if feature in RISKY_HIGH:
        return float(value) > float((medians or {})[feature]) if not relative else float(value) > 0
    return True


def driver_sentence(driver: dict[str, Any], medians: dict[str, float] | None = None) -> str:
    """A driver (``{feature, value, contribution}``) as a plain sentence in the reader's
    language: the feature's low or high sentence with its value as a parameter."""
    feature = str(driver.get("feature", ""))
    value = driver.get("value")
    if feature in CATEGORY_SENTENCES:
        if value is None:
            return _(MISSING).format(label=feature_label(feature))
        shown = _(STAGE_LABELS[str(value)]) if feature == "stage" and str(value) in STAGE_LABELS else str(value)
        return _(CATEGORY_SENTENCES[feature]).format(value=shown)
    if value is None or isinstance(value, str):
        if feature in MISSING_SENTENCES:
            return _(MISSING_SENTENCES[feature])
        return _(MISSING).format(label=feature_label(feature))
    number = float(value)
    low = is_low(feature, number, medians)
    low_text, high_text = SENTENCES.get(feature, GENERIC)
    return _(low_text if low else high_text).format(
        value=_shown(feature, number), pct=f"{abs(number) * 100:.0f}", label=feature_label(feature))


@dataclass(frozen=True)
class AccountChurn:
    """An account's newest churn score as the 360 page and the API show it."""

    account_id: int
    as_of: date
    horizon_days: int
    probability: float
    model_version: int
    drivers: tuple[str, ...]  # sentences, riskiest first
    driver_features: tuple[str, ...]
    warning: str | None = None  # the model did not beat the health score on its test months

    def as_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "as_of": self.as_of.isoformat(), "horizon_days": self.horizon_days,
                "probability": round(self.probability, 4), "model_version": self.model_version,
                "drivers": [{"feature": f, "text": t} for f, t in zip(self.driver_features, self.drivers, strict=True)],
                "warning": self.warning}  # fmt: skip


def account_churn(session: Session, account_id: int) -> AccountChurn | None:
    row = q.score_of(session, account_id)
    if row is None:
        return None
    medians: dict[str, float] = {}
    warning = None
    stored = q.latest_model(session)
    if stored is not None and int(stored["version"]) == int(row["model_version"]):
        medians = dict((stored["spec"].get("info") or {}).get("medians") or {})
        warning = stored_warning(stored.get("evaluation"))
    drivers = [d for d in row["drivers"] if isinstance(d, dict)]
    return AccountChurn(int(row["account_id"]), row["as_of"], int(row["horizon_days"]), float(row["probability"]),
                        int(row["model_version"]), tuple(driver_sentence(d, medians) for d in drivers),
                        tuple(str(d.get("feature", "")) for d in drivers), warning)  # fmt: skip


def stored_warning(evaluation: Any) -> str | None:
    """:func:`margin_warning` from a saved model's evaluation (its test-month ROC-AUCs)."""
    if not isinstance(evaluation, dict):
        return None

    def auc(key: str) -> float | None:
        part = evaluation.get(key)
        value = part.get("roc_auc") if isinstance(part, dict) else None
        return float(value) if isinstance(value, int | float) else None

    return margin_warning(auc("model"), auc("health_score"))


def require_account_churn(session: Session, account_id: int) -> AccountChurn:
    """Like :func:`account_churn`, a ``NotFound`` naming why when there is none."""
    from kizuna.db.queries import accounts as accounts_q

    if accounts_q.account_row(session, account_id) is None:
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found", field="id")
    view = account_churn(session, account_id)
    if view is None:
        raise NotFound(_("account {id} has no churn score: it was not a paying account when last scored, or no "
                         "churn model has been trained yet (`kizuna churn train`)").format(id=account_id),
                       code="churn_not_available", field="id")  # fmt: skip
    return view


def probabilities(session: Session, account_ids: list[int] | None = None) -> dict[int, float]:
    """Account id → probability of churn on the newest scored day."""
    return q.probabilities(session, account_ids)


# --- bring your own table -----------------------------------------------------------------------


def _problem(message: str, field: str | None = None) -> model.TableProblem:
    return model.TableProblem(message, field=field)


def read_table(path: Path) -> pd.DataFrame:
    """A CSV file (UTF-8, with or without BOM; commas, tabs or semicolons) as text
    columns made numeric where every value is a number; errors name the file and row."""
    name = str(path)
    if not path.exists():
        raise _problem(_("{file}: no such file").format(file=name), "input")
    if path.is_dir():
        raise _problem(_("{file}: is a directory, not a CSV file").format(file=name), "input")
    raw = path.read_bytes()
    if not raw.strip():
        raise _problem(_("{file}: the file is empty").format(file=name), "input")
    if b"\0" in raw[:4096]:
        raise _problem(_("{file}: not a CSV file (it holds binary data)").format(file=name), "input")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _problem(_("{file}: not UTF-8 text (byte {at})").format(file=name, at=exc.start), "input") from None
    lines = text.splitlines()
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",\t;")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise _problem(_("{file}: not a CSV table: the header has one column; expected the label and at least one "
                         "feature").format(file=name), "input")  # fmt: skip
    if len(set(header)) != len(header) or "" in header:
        dup = next((h for h in header if header.count(h) > 1 or not h), "")
        raise _problem(_("{file}, row 1: the column name {name!r} is empty or repeated").format(file=name, name=dup),
                       "input")  # fmt: skip
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if not body:
        raise _problem(_("{file}: the file has a header but no rows").format(file=name), "input")
    for i, r in enumerate(rows[1:], start=2):
        if any(c.strip() for c in r) and len(r) != len(header):
            raise _problem(_("{file}, row {row}: {n} values, but the header has {m} columns").format(
                file=name, row=i, n=len(r), m=len(header)), "input")  # fmt: skip
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame = frame.map(lambda v: None if v is None or not str(v).strip() else str(v).strip())
    for col in frame.columns:
        numbers = pd.to_numeric(frame[col].str.replace(",", "", regex=False), errors="coerce")
        if numbers.notna().sum() == frame[col].notna().sum() and frame[col].notna().any():
            frame[col] = numbers.astype("float64")
    return frame


def evaluate_file(path: Path, *, target: str, id_column: str | None = None, folds: int = 5) -> model.TableEvaluation:
    """``kizuna churn evaluate --input``: cross-validate the churn model on a CSV of one
    row per customer (see :func:`kizuna.analytics.churn.evaluate_table`)."""
    if not 2 <= folds <= 20:
        raise InvalidInput(_("--cv must be from 2 to 20"), field="cv")
    frame = read_table(path)
    name = str(path)
    for column, option in ((target, "--target"), (id_column, "--id")):
        if column is not None and column not in frame.columns:
            raise _problem(_("{file}: no column {column!r} ({option}); the columns are: {names}").format(
                file=name, column=column, option=option, names=", ".join(frame.columns)), option.lstrip("-"))  # fmt: skip
    if id_column == target:
        raise _problem(_("--id and --target name the same column"), "id")
    # missing: None or NaN (pandas 3 keeps a missing string as NaN where pandas 2 kept None)
    raw_labels = frame[target].map(lambda v: None if v is None or pd.isna(v) else (
        str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))  # fmt: skip
    y = model.parse_labels(raw_labels, source=name, column=target)
    return model.evaluate_table(frame.drop(columns=[target]), y, source=name, target=target, id_column=id_column,
                                folds=folds)  # fmt: skip
