"""The churn model (解約予測): gradient-boosted trees (LightGBM) on a feature table, a
calibration of their scores on held-out rows, per-row drivers from the trees' own
contributions (``pred_contrib``), the metrics that judge it, and "bring your own table":
the same model cross-validated on any table of one row per customer.

Pure: frames in, numbers out — no database, no clock, no settings. The store side (which
month-ends, which features, where the model is kept) is :mod:`kizuna.services.churn`;
the sentences of the drivers are written there, through the catalogue.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kizuna.errors import InvalidInput
from kizuna.i18n import _

#: The model format; a stored model of another format is refused like a schema mismatch.
FORMAT = 1
NUMERIC = "numeric"
CATEGORY = "category"
#: LightGBM settings: small trees (four leaves, at least 100 rows each), slow learning,
#: fixed seed and threads (reproducible). Chosen on the demo company (docs/churn.md).
PARAMS: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.03, "num_leaves": 4, "min_data_in_leaf": 100,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 10.0,
    "seed": 7, "deterministic": True, "num_threads": 1, "verbose": -1, "max_cat_to_onehot": 8,
    "min_data_per_group": 20, "cat_smooth": 10.0,
}  # fmt: skip
ROUNDS = 200
BIG_ROWS = 100_000
#: A single column whose own ROC-AUC (either way round) reaches this is named as likely leakage.
LEAKAGE_AUC = 0.98
#: A column of distinct values on at least this share of the rows is identifier-like.
ID_UNIQUE_SHARE = 0.95
ID_NAME = re.compile(r"(^|[_\s\-])(id|no|number|code|key|uuid|番号|コード)$|^id[_\s\-]|ID$|番号|顧客コード", re.I)
CALIBRATION_BINS = 10
DRIVERS_TOP = 3
TREES = "trees"
LOGISTIC = "logistic"
#: A stacked model: a logistic regression on [the health score, the trees' logit] (:class:`Blend`).
BLEND = "blend"


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # NUMERIC or CATEGORY
    categories: tuple[str, ...] = ()  # CATEGORY: the values seen in training, in code order

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == CATEGORY:
            out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class Schema:
    """The features a model was trained on, in order, with each category's values."""

    features: tuple[Feature, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "features": [f.as_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Schema:
        return cls(tuple(Feature(f["name"], f["kind"], tuple(f.get("categories", ()))) for f in doc["features"]))

    @classmethod
    def infer(cls, frame: pd.DataFrame) -> Schema:
        """Numeric columns stay numeric; any other column is a category of its values
        (as text, sorted), missing values left missing."""
        features = []
        for name in frame.columns:
            col = frame[name]
            if pd.api.types.is_numeric_dtype(col):  # booleans too (bool and "boolean" are numeric to pandas)
                features.append(Feature(str(name), NUMERIC))
            else:
                values = sorted({str(v) for v in col.dropna().tolist()})
                features.append(Feature(str(name), CATEGORY, tuple(values)))
        return cls(tuple(features))

    def check(self, frame: pd.DataFrame, *, version: str = "") -> None:
        """:class:`InvalidInput` (code ``churn_schema_mismatch``) naming the columns a
        frame lacks or adds, or whose kind differs, against this schema."""
        have = {str(c): c for c in frame.columns}
        missing = [f.name for f in self.features if f.name not in have]
        extra = sorted(set(have) - set(self.names))
        wrong = [f.name for f in self.features if f.name in have and f.kind == NUMERIC
                 and not pd.api.types.is_numeric_dtype(frame[have[f.name]])]  # booleans are numeric  # fmt: skip
        if not (missing or extra or wrong):
            return
        parts = []
        if missing:
            parts.append(_("missing columns: {names}").format(names=", ".join(missing)))
        if extra:
            parts.append(_("columns the model does not know: {names}").format(names=", ".join(extra)))
        if wrong:
            parts.append(_("not numeric as in training: {names}").format(names=", ".join(wrong)))
        raise InvalidInput(
            _("the features do not match the churn model {version}'s schema ({why}); train a new model with "
              "`kizuna churn train`").format(version=version, why="; ".join(parts)),
            code="churn_schema_mismatch", field="model",
        )  # fmt: skip

    def matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame as the trees read it: numeric columns as floats, categories as
        pandas categoricals over the training values (an unseen value is missing)."""
        out: dict[str, Any] = {}
        for f in self.features:
            col = frame[f.name]
            if f.kind == NUMERIC:
                out[f.name] = pd.to_numeric(col, errors="coerce").astype("float64").to_numpy()
            else:
                text = col.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
                out[f.name] = pd.Categorical(text, categories=list(f.categories))
        return pd.DataFrame(out, index=frame.index)


@dataclass(frozen=True)
class Calibration:
    """Platt scaling: calibrated probability = σ(a · logit(raw) + b), fitted on held-out
    rows. Monotone, so it keeps the trees' ranking (the ROC-AUC); identity when
    ``a = 1, b = 0`` (no held-out churn to calibrate on)."""

    a: float = 1.0
    b: float = 0.0

    def apply(self, raw: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(raw, dtype="float64"), 1e-9, 1 - 1e-9)
        z = self.a * np.log(p / (1 - p)) + self.b
        out: np.ndarray = 1 / (1 + np.exp(-z))
        return out

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray) -> Calibration:
        from sklearn.linear_model import LogisticRegression

        if len(y) < 20 or not 0 < int(y.sum()) < len(y):
            return cls()
        p = np.clip(np.asarray(raw, dtype="float64"), 1e-9, 1 - 1e-9)
        z = np.log(p / (1 - p)).reshape(-1, 1)
        lr = LogisticRegression(C=1e6, max_iter=1000).fit(z, y.astype(int))
        return cls(float(lr.coef_[0][0]), float(lr.intercept_[0]))


@dataclass(frozen=True)
class ChurnModel:
    """A trained model: the boosted trees (LightGBM's text format), the schema they read,
    the calibration, and what it was trained on (free-form ``info``)."""

    booster: str
    schema: Schema
    calibration: Calibration
    info: dict[str, Any] = field(default_factory=dict)

    def _booster(self) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_str=self.booster)

    @property
    def kind(self) -> str:
        """``trees`` (LightGBM's text), ``logistic`` (a :class:`Linear` as JSON) or
        ``blend`` (a :class:`Blend` as JSON)."""
        if not self.booster.startswith("{"):
            return TREES
        return BLEND if json.loads(self.booster).get("kind") == BLEND else LOGISTIC

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        if self.kind == LOGISTIC:
            return Linear.loads(self.booster).predict(self.schema.matrix(frame))
        if self.kind == BLEND:
            return Blend.loads(self.booster).predict(self.schema.matrix(frame))
        booster = self._booster()
        out: np.ndarray = booster.predict(self.schema.matrix(frame), num_threads=PARAMS["num_threads"])  # pragma: no mutate  (the thread count changes no number: deterministic trees)
        return out

    def predict(self, frame: pd.DataFrame, *, version: str = "") -> np.ndarray:
        """Calibrated probabilities of churn for the rows of ``frame`` (its columns must
        be the schema's: else ``churn_schema_mismatch``)."""
        self.schema.check(frame, version=version)
        return self.calibration.apply(self.raw(frame))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Each feature's contribution to each row's log-odds (the trees' own SHAP
        values); the columns are the features, the rows add up (with ``bias``) to the
        raw log-odds."""
        if self.kind == LOGISTIC:
            contrib = Linear.loads(self.booster).contributions(self.schema.matrix(frame), self.schema)
        elif self.kind == BLEND:
            contrib = Blend.loads(self.booster).contributions(self.schema.matrix(frame), self.schema)
        else:
            booster = self._booster()
            contrib = booster.predict(self.schema.matrix(frame), pred_contrib=True,
                                      num_threads=PARAMS["num_threads"])  # pragma: no mutate  (the thread count changes no number: deterministic trees)
        out = pd.DataFrame(contrib[:, :-1], index=frame.index, columns=self.schema.names)
        out["bias"] = contrib[:, -1]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "schema": self.schema.as_dict(),
                "calibration": {"a": self.calibration.a, "b": self.calibration.b}, "info": self.info}  # fmt: skip

    @classmethod
    def from_parts(cls, booster: str, doc: dict[str, Any], *, version: str = "") -> ChurnModel:
        if doc.get("format") != FORMAT:
            raise InvalidInput(_("the churn model {version} was saved in another format ({found}, expected {want}); "
                                 "train a new model with `kizuna churn train`").format(
                                   version=version, found=doc.get("format"), want=FORMAT),
                               code="churn_schema_mismatch", field="model")  # fmt: skip
        cal = doc.get("calibration") or {}
        return cls(booster, Schema.from_dict(doc["schema"]), Calibration(float(cal.get("a", 1.0)), float(cal.get("b", 0.0))),
                   dict(doc.get("info") or {}))  # fmt: skip


def fit(train: pd.DataFrame, y_train: np.ndarray, calibrate: pd.DataFrame | None = None,
        y_calibrate: np.ndarray | None = None, *, schema: Schema | None = None, rounds: int = ROUNDS,
        info: dict[str, Any] | None = None, refit: bool = False, candidate: Candidate | None = None) -> ChurnModel:  # fmt: skip
    """Train the trees on ``train`` and calibrate them (Platt) on ``calibrate``: held-out
    rows (the months after the training months for the store's model, a slice of the
    training fold for a table). ``refit``: then train the trees again on both and keep
    the calibration learned on the held-out rows (the newest rows then teach the trees
    too; a monotone calibration keeps their ranking). ``candidate``: the model's kind
    and settings (default: the trees of :data:`PARAMS`, ``rounds`` rounds)."""
    schema = schema or Schema.infer(train)
    candidate = candidate or Candidate("default", TREES, {}, rounds)
    booster = _train_candidate(candidate, schema, train, y_train)
    model = ChurnModel(booster, schema, Calibration(), dict(info or {}))
    if calibrate is None or y_calibrate is None or not len(calibrate):
        return model
    cal = Calibration.fit(model.raw(calibrate), np.asarray(y_calibrate, dtype=bool))
    if refit:
        booster = _train_candidate(candidate, schema, pd.concat([train, calibrate]),
                                   np.concatenate([y_train, y_calibrate]))  # fmt: skip
    return ChurnModel(booster, schema, cal, model.info)


def _train_candidate(candidate: Candidate, schema: Schema, frame: pd.DataFrame, y: np.ndarray) -> str:
    if candidate.kind == LOGISTIC:
        return Linear.fit(schema.matrix(frame), np.asarray(y, dtype=bool), schema, **candidate.params).dumps()
    if candidate.kind == BLEND:
        # the base trees on these rows; the stacking weights come from the inner validation
        # (:func:`select`), never from these rows (their in-sample logit would be trusted too much)
        base = _train_candidate(_base_candidate(candidate), schema, frame, y)
        return Blend.from_stack(base, candidate.params.get("stack")).dumps()
    return _train(schema, frame, y, candidate.rounds, candidate.params)


def _train(schema: Schema, frame: pd.DataFrame, y: np.ndarray, rounds: int, extra: dict[str, Any] | None = None) -> str:
    import lightgbm as lgb

    cats = [f.name for f in schema.features if f.kind == CATEGORY]
    data = lgb.Dataset(schema.matrix(frame), label=np.asarray(y, dtype="float64"), categorical_feature=cats or "auto",
                       free_raw_data=True)  # fmt: skip
    params = {**PARAMS, **(extra or {})}
    monotone = params.pop("monotone", None)
    if monotone:  # {feature: -1 | 1}: risk only falls (−1) or rises (1) with the feature
        params["monotone_constraints"] = [int(monotone.get(name, 0)) for name in schema.names]
        params["monotone_constraints_method"] = "intermediate"
    # a small table gets smaller leaves (at least 10 rows each): else no split is allowed at all
    params["min_data_in_leaf"] = min(params["min_data_in_leaf"], max(10, len(frame) // 40))
    # a second thread pays off only on large tables (measured: docs/churn.md); deterministic: the same trees
    if len(frame) >= BIG_ROWS:  # pragma: no mutate
        params["num_threads"] = 2  # pragma: no mutate
    text: str = lgb.train(params, data, num_boost_round=rounds).model_to_string()
    return text


# --- choosing the model without peeking -----------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One model the inner validation may choose: its kind (:data:`TREES`,
    :data:`LOGISTIC` or :data:`BLEND`), settings over :data:`PARAMS` (or the logistic
    model's; a blend's: its ``base`` candidate and, once chosen, its ``stack`` weights)
    and rounds."""

    name: str
    kind: str
    params: dict[str, Any]
    rounds: int = ROUNDS

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "params": dict(self.params), "rounds": self.rounds}


#: The grid, simplest first: a tie (within :data:`SELECTION_TOLERANCE`) goes to the earlier one.
#: ``health-only`` is the health score alone, calibrated (its ranking is the score's): a
#: learned model is used only when it beats it inside the training months. Then the
#: blend of the health score and the best learned candidate (stacked on the validation
#: months: it keeps the learned model's gains and leans on the health score where they do
#: not hold), the
#: logistic model and the trees whose risk may only fall as the health score rises (the
#: simple choices for little data), then small to larger trees.
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("health-only", LOGISTIC, {"c": 1.0, "only": ("health_score",)}),
    Candidate("blend", BLEND, {"base": None, "health": "health_score"}),
    Candidate("logistic", LOGISTIC, {"c": 0.1}),
    Candidate("trees-4-monotone", TREES, {"num_leaves": 4, "min_data_in_leaf": 100,
                                          "monotone": {"health_score": -1}}, 200),
    Candidate("trees-4", TREES, {"num_leaves": 4, "min_data_in_leaf": 100}, 200),
    Candidate("trees-4-fast", TREES, {"num_leaves": 4, "min_data_in_leaf": 50, "learning_rate": 0.06}, 200),
    Candidate("trees-8", TREES, {"num_leaves": 8, "min_data_in_leaf": 50}, 200),
    Candidate("trees-16", TREES, {"num_leaves": 16, "min_data_in_leaf": 30, "learning_rate": 0.05}, 150),
)  # fmt: skip
#: The validation months: the last of the training months (at most this many), each
#: predicted by a model trained on the months before it.
INNER_FOLDS = 5
#: A candidate within this much mean ROC-AUC of the best counts as a tie (the simpler wins).
SELECTION_TOLERANCE = 0.005
#: Fewer churns than this in a validation month: the month does not judge (too noisy).
INNER_MIN_CHURNS = 3
LINEAR_CLIP = 4.0


@dataclass(frozen=True)
class Selection:
    """What the inner validation chose and from what: the months it trained and
    validated on (all of them training months), each candidate's mean ROC-AUC over the
    validation months, and the health score's on the same rows."""

    chosen: Candidate
    months_seen: tuple[Any, ...]
    validation_months: tuple[Any, ...]
    scores: dict[str, float | None]
    health: float | None
    reason: str  # "validated" or "too_little_data" (then the simplest candidate)

    def as_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen.as_dict(), "reason": self.reason,
                "months_seen": [str(d)[:10] for d in self.months_seen],
                "validation_months": [str(d)[:10] for d in self.validation_months],
                "inner_roc_auc": {k: None if v is None else round(v, 4) for k, v in self.scores.items()},
                "inner_roc_auc_health": None if self.health is None else round(self.health, 4)}  # fmt: skip


def select(frame: pd.DataFrame, y: np.ndarray, days: Sequence[Any] | np.ndarray, schema: Schema, *,
           candidates: Sequence[Candidate] = CANDIDATES, folds: int = INNER_FOLDS,
           health: str | None = "health_score") -> Selection:  # fmt: skip
    """Choose a candidate by time-based validation inside ``frame`` only (the training
    months: ``days`` is each row's month-end). The last ``folds`` months each validate a
    model trained on the months before it (an expanding window); a candidate's score is
    its mean ROC-AUC over the validation months with at least :data:`INNER_MIN_CHURNS`
    churns. The best wins; within :data:`SELECTION_TOLERANCE` of it the simplest (first
    in ``candidates``). No month can judge: the simplest, reason ``too_little_data``."""
    from sklearn.metrics import roc_auc_score

    day = pd.Series(np.asarray(days)).reset_index(drop=True)
    # equivalent without the dtype for 0/1 or boolean labels (the only ones: parse_labels, the store's):
    # only sums, masks, roc_auc_score and fit (which casts) read them
    y = np.asarray(y, dtype=bool)  # pragma: no mutate
    months = sorted(pd.unique(day))
    usable = [m for m in months[1:] if INNER_MIN_CHURNS <= int(y[(day == m).to_numpy()].sum()) < int((day == m).sum())]
    validation = usable[-folds:]
    seen = tuple(months)
    if not validation:
        return Selection(candidates[0], seen, (), {c.name: None for c in candidates}, None, "too_little_data")
    scores: dict[str, list[float]] = {c.name: [] for c in candidates}
    health_scores: list[float] = []
    # a blend is not trained per month: it stacks its base model's predictions of the months
    # (a named base, or the best learned candidate of the grid)
    plain = [c for c in candidates if c.kind != BLEND]
    blends = [c for c in candidates if c.kind == BLEND]
    named = [_base_candidate(c) for c in blends if c.params.get("base")]
    trained_here = plain + [b for b in {c.name: c for c in named}.values() if b.name not in {c.name for c in plain}]
    predicted: dict[str, dict[Any, np.ndarray]] = {c.name: {} for c in trained_here}
    judging: list[Any] = []
    for month in validation:
        before = (day < month).to_numpy()
        on = (day == month).to_numpy()
        if int(y[before].sum()) < INNER_MIN_CHURNS:
            continue
        judging.append(month)
        if health is not None and health in frame.columns:
            h = frame.loc[on, health].to_numpy(dtype="float64")
            if not np.isnan(h).all():
                known = ~np.isnan(h)
                health_scores.append(float(roc_auc_score(y[on][known], -h[known])))
        for c in trained_here:
            trained = fit(frame[before], y[before], schema=schema, candidate=c)
            predicted[c.name][month] = trained.raw(frame[on])
            if c.name in scores:
                scores[c.name].append(float(roc_auc_score(y[on], predicted[c.name][month])))
    stacks: dict[str, tuple[str, dict[str, Any]]] = {}
    learned = [c for c in plain if "only" not in c.params and scores[c.name]]
    for c in blends:
        feature = str(c.params.get("health", health))
        if feature not in frame.columns or len(judging) < 2 or not (c.params.get("base") or learned):
            continue  # nothing to stack on (no health score, one month only, no learned model): not judged
        base_name = c.params.get("base") or max(learned, key=lambda b: float(np.mean(scores[b.name]))).name
        base = predicted[base_name]
        base_auc = [float(roc_auc_score(y[(day == m).to_numpy()], base[m])) for m in judging]
        if health_scores and float(np.mean(base_auc)) <= float(np.mean(health_scores)):
            # the blend keeps a learned model's gains: with none inside the training months, two
            # noisy rankings stacked on a few months' churns look better than they are
            continue
        for month in judging:  # each month by weights fitted on the other months' predictions
            stack = _stack(frame, y, day, base, [m for m in judging if m != month], feature)
            on = (day == month).to_numpy()
            scores[c.name].append(float(roc_auc_score(y[on], Blend.from_stack("", stack).combine(
                frame.loc[on, feature].to_numpy(dtype="float64"), base[month]))))  # fmt: skip
        stacks[c.name] = (base_name, _stack(frame, y, day, base, judging, feature))
    means = {k: (float(np.mean(v)) if v else None) for k, v in scores.items()}
    judged = [c for c in candidates if means[c.name] is not None]
    if not judged:
        return Selection(candidates[0], seen, tuple(validation), means, None, "too_little_data")
    best = max(means[c.name] or 0.0 for c in judged)
    chosen = next(c for c in judged if (means[c.name] or 0.0) >= best - SELECTION_TOLERANCE)
    if chosen.name in stacks:  # its base and the weights learned on every validation month go with it
        base_name, stack = stacks[chosen.name]
        chosen = Candidate(chosen.name, chosen.kind, {**chosen.params, "base": base_name, "stack": stack}, chosen.rounds)
    return Selection(chosen, seen, tuple(validation), means,
                     float(np.mean(health_scores)) if health_scores else None, "validated")  # fmt: skip


def _base_candidate(blend: Candidate) -> Candidate:
    """The model a blend stacks on the health score: a candidate of :data:`CANDIDATES`
    by name (the monotone trees when none is named yet)."""
    name = blend.params.get("base") or "trees-4-monotone"
    found = next((c for c in CANDIDATES if c.name == name and c.kind != BLEND), None)
    if found is None:
        raise ValueError(f"the blend {blend.name!r} names no candidate as its base: {name!r}")
    return found


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype="float64"), 1e-9, 1 - 1e-9)
    out: np.ndarray = np.log(q / (1 - q))
    return out


def _stack(frame: pd.DataFrame, y: np.ndarray, day: pd.Series, predicted: dict[Any, np.ndarray],
           months: Sequence[Any], feature: str) -> dict[str, Any]:  # fmt: skip
    """The blend's weights: a logistic regression of the label on [the health score
    (standardised over these rows; missing at the mean), the trees' logit] over the rows
    of ``months``, each month predicted by trees trained on the months before it."""
    from sklearn.linear_model import LogisticRegression

    rows = np.concatenate([np.flatnonzero((day == m).to_numpy()) for m in months])
    h = frame[feature].to_numpy(dtype="float64")[rows]
    center = float(np.nanmean(h)) if (~np.isnan(h)).any() else 0.0
    scale = float(np.nanstd(h)) if (~np.isnan(h)).any() else 0.0
    scale = scale if scale > 0 else 1.0
    z = np.clip((np.where(np.isnan(h), center, h) - center) / scale, -LINEAR_CLIP, LINEAR_CLIP)
    logit = np.concatenate([_logit(predicted[m]) for m in months])
    lr = LogisticRegression(C=1.0, max_iter=1000).fit(np.column_stack([z, logit]), y[rows].astype(int))
    return {"feature": feature, "center": center, "scale": scale, "w_health": float(lr.coef_[0][0]),
            "w_trees": float(lr.coef_[0][1]), "intercept": float(lr.intercept_[0])}  # fmt: skip


@dataclass(frozen=True)
class Blend:
    """The stacked model: log-odds = ``w_health`` · the standardised health score +
    ``w_trees`` · the base model's log-odds + ``intercept``, the weights learned on the
    inner validation months (:func:`select`). Without weights it is the base model alone.
    The base: trees (LightGBM's text) or a logistic model (:class:`Linear` as JSON)."""

    trees: str  # the base model: LightGBM's text or a Linear's JSON
    feature: str
    center: float
    scale: float
    w_health: float
    w_trees: float
    intercept: float

    @classmethod
    def from_stack(cls, trees: str, stack: dict[str, Any] | None) -> Blend:
        if not stack:
            return cls(trees, "health_score", 0.0, 1.0, 0.0, 1.0, 0.0)
        return cls(trees, str(stack["feature"]), float(stack["center"]), float(stack["scale"]),
                   float(stack["w_health"]), float(stack["w_trees"]), float(stack["intercept"]))  # fmt: skip

    def _z(self, health: np.ndarray) -> np.ndarray:
        # any array of numbers: np.where with the float centre and the division make it float64 anyway
        h = np.asarray(health, dtype="float64")  # pragma: no mutate
        out: np.ndarray = np.clip((np.where(np.isnan(h), self.center, h) - self.center) / self.scale,
                                  -LINEAR_CLIP, LINEAR_CLIP)  # fmt: skip
        return out

    def combine(self, health: np.ndarray, trees_p: np.ndarray) -> np.ndarray:
        """The blend's log-odds from the health score and the trees' probabilities."""
        out: np.ndarray = self.w_health * self._z(health) + self.w_trees * _logit(trees_p) + self.intercept
        return out

    def _health(self, matrix: pd.DataFrame) -> np.ndarray:
        # the schema's matrix holds a numeric feature as float64; _z reads None as NaN (float64 of None)
        if self.feature in matrix.columns:
            return matrix[self.feature].to_numpy(dtype="float64")  # pragma: no mutate
        return np.full(len(matrix), np.nan)  # pragma: no mutate

    def _base_contributions(self, matrix: pd.DataFrame, schema: Schema) -> np.ndarray:
        if self.trees.startswith("{"):
            return Linear.loads(self.trees).contributions(matrix, schema)
        import lightgbm as lgb

        contrib = lgb.Booster(model_str=self.trees).predict(matrix, pred_contrib=True,
                                                            num_threads=PARAMS["num_threads"])  # pragma: no mutate  (the thread count changes no number: deterministic trees)
        return np.asarray(contrib, dtype="float64")  # pragma: no mutate  (LightGBM's output is float64 already)

    def _base_log_odds(self, matrix: pd.DataFrame) -> np.ndarray:
        if self.trees.startswith("{"):
            return Linear.loads(self.trees).log_odds(matrix)
        import lightgbm as lgb

        out = lgb.Booster(model_str=self.trees).predict(matrix, raw_score=True,
                                                        num_threads=PARAMS["num_threads"])  # pragma: no mutate  (the thread count changes no number: deterministic trees)
        return np.asarray(out, dtype="float64")  # pragma: no mutate  (LightGBM's output is float64 already)

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        z = self.w_health * self._z(self._health(matrix)) + self.w_trees * self._base_log_odds(matrix) + self.intercept
        out: np.ndarray = 1 / (1 + np.exp(-z))
        return out

    def contributions(self, matrix: pd.DataFrame, schema: Schema) -> np.ndarray:
        """Like LightGBM's ``pred_contrib`` (a column per feature, then the bias): the
        base model's contributions times ``w_trees``, the health score's own term added
        to its column; the row still adds up to the blend's log-odds."""
        out: np.ndarray = self._base_contributions(matrix, schema) * self.w_trees
        if self.feature in schema.names:
            out[:, schema.names.index(self.feature)] += self.w_health * self._z(self._health(matrix))
        out[:, -1] += self.intercept
        return out

    def dumps(self) -> str:
        return json.dumps({"kind": BLEND, "trees": self.trees, "feature": self.feature, "center": self.center,
                           "scale": self.scale, "w_health": self.w_health, "w_trees": self.w_trees,
                           "intercept": self.intercept}, ensure_ascii=False)  # fmt: skip

    @classmethod
    def loads(cls, text: str) -> Blend:
        doc = json.loads(text)
        return cls(doc["trees"], doc["feature"], float(doc["center"]), float(doc["scale"]), float(doc["w_health"]),
                   float(doc["w_trees"]), float(doc["intercept"]))  # fmt: skip


@dataclass(frozen=True)
class Linear:
    """A logistic model on the schema's matrix: numeric columns standardised (a missing
    value at the mean, with a missing flag where training had any), categories one-hot;
    every column centred on its training mean, so each feature's contribution is its
    coefficients times its centred columns (relative to the average row). A standardised
    value is clipped to ±:data:`LINEAR_CLIP` (a ratio's long tail must not dominate)."""

    columns: tuple[tuple[str, str, Any], ...]  # (feature, "value"|"missing"|"level", level)
    center: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    @staticmethod
    def _design(matrix: pd.DataFrame, columns: Sequence[tuple[str, str, Any]]) -> np.ndarray:
        out = np.zeros((len(matrix), len(columns)))
        for j, (name, part, level) in enumerate(columns):
            col = matrix[name]
            # `out` is float64: the assignment converts a column of floats or booleans alike
            if part == "value":
                out[:, j] = col.to_numpy(dtype="float64")  # pragma: no mutate
            elif part == "missing":
                out[:, j] = col.isna().to_numpy(dtype="float64")  # pragma: no mutate
            else:
                out[:, j] = (col.astype(object) == level).to_numpy(dtype="float64")  # pragma: no mutate
        return out

    def _standard(self, matrix: pd.DataFrame) -> np.ndarray:
        x = self._design(matrix, self.columns)
        center, scale = np.asarray(self.center), np.asarray(self.scale)
        x = np.where(np.isnan(x), center, x)
        out: np.ndarray = np.clip((x - center) / scale, -LINEAR_CLIP, LINEAR_CLIP)
        return out

    @classmethod
    def fit(cls, matrix: pd.DataFrame, y: np.ndarray, schema: Schema, *, c: float = 0.1,
            only: Sequence[str] | None = None) -> Linear:  # fmt: skip
        """``only``: the features it may use (default all); the others weigh nothing."""
        from sklearn.linear_model import LogisticRegression

        columns: list[tuple[str, str, Any]] = []
        for f in schema.features:
            if only is not None and f.name not in only:
                continue
            if f.kind == NUMERIC:
                values = matrix[f.name].to_numpy(dtype="float64")
                if (~np.isnan(values)).any():
                    columns.append((f.name, "value", None))
                if np.isnan(values).any():
                    columns.append((f.name, "missing", None))
            else:
                columns.extend((f.name, "level", level) for level in f.categories)
        x = cls._design(matrix, columns)
        center = np.nanmean(x, axis=0) if len(x) else np.zeros(len(columns))
        center = np.where(np.isnan(center), 0.0, center)
        x = np.where(np.isnan(x), center, x)
        scale = x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = np.clip((x - center) / scale, -LINEAR_CLIP, LINEAR_CLIP)
        if len(columns) == 0 or not 0 < int(y.sum()) < len(y):
            rate = float(np.clip(y.mean() if len(y) else 0.5, 1e-6, 1 - 1e-6))
            return cls(tuple(columns), tuple(center), tuple(scale), tuple(0.0 for _c in columns),
                       math.log(rate / (1 - rate)))  # fmt: skip
        lr = LogisticRegression(C=c, max_iter=2000).fit(z, y.astype(int))
        return cls(tuple(columns), tuple(float(v) for v in center), tuple(float(v) for v in scale),
                   tuple(float(v) for v in lr.coef_[0]), float(lr.intercept_[0]))  # fmt: skip

    def log_odds(self, matrix: pd.DataFrame) -> np.ndarray:
        out: np.ndarray = self._standard(matrix) @ np.asarray(self.coef) + self.intercept
        return out

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        out: np.ndarray = 1 / (1 + np.exp(-self.log_odds(matrix)))
        return out

    def contributions(self, matrix: pd.DataFrame, schema: Schema) -> np.ndarray:
        """Like LightGBM's ``pred_contrib``: a column per feature, then the bias."""
        parts = self._standard(matrix) * np.asarray(self.coef)
        out = np.zeros((len(matrix), len(schema.names) + 1))
        where = {name: i for i, name in enumerate(schema.names)}
        for j, (name, _part, _level) in enumerate(self.columns):
            out[:, where[name]] += parts[:, j]
        out[:, -1] = self.intercept
        return out

    def dumps(self) -> str:
        return json.dumps({"kind": LOGISTIC, "columns": [list(c) for c in self.columns], "center": self.center,
                           "scale": self.scale, "coef": self.coef, "intercept": self.intercept}, ensure_ascii=False)  # fmt: skip

    @classmethod
    def loads(cls, text: str) -> Linear:
        doc = json.loads(text)
        return cls(tuple((c[0], c[1], c[2]) for c in doc["columns"]), tuple(doc["center"]), tuple(doc["scale"]),
                   tuple(doc["coef"]), float(doc["intercept"]))  # fmt: skip


# --- drivers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Driver:
    """One feature that pushed a row's churn risk up: its value and its contribution to
    the log-odds (positive: riskier)."""

    feature: str
    value: float | str | None
    contribution: float

    def as_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "value": self.value, "contribution": round(self.contribution, 4)}


def _plain(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) else number


def drivers(contrib: pd.DataFrame, values: pd.DataFrame, *, top: int = DRIVERS_TOP,
            min_contribution: float = 0.05) -> list[list[Driver]]:  # fmt: skip
    """For each row: the ``top`` features that raised its risk most (contribution at
    least ``min_contribution`` log-odds), largest first."""
    names = [c for c in contrib.columns if c != "bias"]
    # contributions are float64 already; a cell as a numpy scalar or as an object reads the same in _plain
    matrix = contrib[names].to_numpy(dtype="float64")  # pragma: no mutate
    cells = values[names].to_numpy(dtype=object)  # pragma: no mutate
    order = np.argsort(-matrix, axis=1, kind="stable")[:, :top]
    out: list[list[Driver]] = []
    for i, picks in enumerate(order):
        row = matrix[i]
        out.append([Driver(names[j], _plain(cells[i, j]), float(row[j])) for j in picks if row[j] >= min_contribution])
    return out


# --- metrics ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    """How well a risk signal ranks and (for probabilities) how well it is calibrated."""

    samples: int
    positives: int
    roc_auc: float | None
    pr_auc: float | None
    brier: float | None  # only for probabilities
    top_decile_lift: float | None  # churn rate in the riskiest tenth ÷ the overall rate
    calibration: tuple[tuple[float, float, int], ...] = ()  # (mean predicted, observed rate, rows) per bin

    def as_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {"samples": self.samples, "positives": self.positives, "roc_auc": r(self.roc_auc),
                "pr_auc": r(self.pr_auc), "brier": r(self.brier), "top_decile_lift": r(self.top_decile_lift),
                "calibration": [{"predicted": round(p, 4), "observed": round(o, 4), "rows": n}
                                for p, o, n in self.calibration]}  # fmt: skip


def top_decile_lift(y: np.ndarray, risk: np.ndarray) -> float | None:
    n = len(y)
    if n < 10 or y.sum() == 0:
        return None
    k = max(1, n // 10)
    order = np.argsort(-risk, kind="stable")[:k]
    return float(y[order].mean() / y.mean())


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> tuple[tuple[float, float, int], ...]:
    """Rows by predicted probability in ``bins`` equal-width bins (empty bins left out)."""
    edges = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        sel = edges == b
        if sel.any():
            out.append((float(p[sel].mean()), float(y[sel].mean()), int(sel.sum())))
    return tuple(out)


def metrics(y: np.ndarray, risk: np.ndarray, *, probability: bool = True) -> Metrics:
    """ROC-AUC, PR-AUC, top-decile lift of ``risk`` (higher = riskier; NaN rows left
    out) against ``y``; for probabilities also the Brier score and calibration table."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    # labels as 0/1 or booleans and risks as numbers count and rank the same without the casts
    y = np.asarray(y, dtype=bool)  # pragma: no mutate
    risk = np.asarray(risk, dtype="float64")  # pragma: no mutate
    known = ~np.isnan(risk)
    y, risk = y[known], risk[known]
    both = 0 < int(y.sum()) < len(y)
    return Metrics(
        samples=len(y), positives=int(y.sum()),
        roc_auc=float(roc_auc_score(y, risk)) if both else None,
        pr_auc=float(average_precision_score(y, risk)) if both else None,
        brier=float(brier_score_loss(y, risk)) if probability and len(y) else None,
        top_decile_lift=top_decile_lift(y, risk),
        calibration=calibration_table(y, risk) if probability and len(y) else (),
    )  # fmt: skip


# --- bring your own table -----------------------------------------------------------------------

LABEL_WORDS = {
    "1": True, "0": False, "1.0": True, "0.0": False, "true": True, "false": False, "yes": True, "no": False,
    "y": True, "n": False, "t": True, "f": False, "churned": True, "retained": False, "active": False,
    "はい": True, "いいえ": False, "有": True, "無": False, "あり": True, "なし": False, "解約": True, "継続": False,
}  # fmt: skip


class TableProblem(InvalidInput):
    """A table that cannot be evaluated: names the file, row and column at fault."""


def parse_labels(values: pd.Series, *, source: str, column: str, first_row: int = 2) -> np.ndarray:
    """yes/no, 1/0, true/false (and はい/いいえ, 解約/継続…) → booleans. A missing or
    unreadable value is a :class:`TableProblem` naming its row (``first_row`` is the
    file row of the first data row: 2 under a header)."""
    out = np.zeros(len(values), dtype=bool)
    for i, raw in enumerate(values.tolist()):
        text = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw).strip().lower()
        if text not in LABEL_WORDS:
            why = _("the label is empty") if not text else _("{value!r} is not a churn label (use yes/no, 1/0 or "
                                                              "true/false)").format(value=str(raw))  # fmt: skip
            raise TableProblem(_("{file}, row {row}, column {column}: {why}").format(
                file=source, row=i + first_row, column=column, why=why), code="invalid_row", field=column)  # fmt: skip
        out[i] = LABEL_WORDS[text]
    return out


def identifier_like(frame: pd.DataFrame) -> list[str]:
    """Columns that identify rows rather than describe them: text (or whole numbers
    with an id-like name) distinct on at least :data:`ID_UNIQUE_SHARE` of the rows."""
    out = []
    n = len(frame)
    for name in frame.columns:
        col = frame[name].dropna()
        if n == 0 or col.nunique() < ID_UNIQUE_SHARE * n:  # distinct values are present ones: nunique ≤ len(col)
            continue
        if pd.api.types.is_numeric_dtype(col):
            whole = bool(np.all(np.mod(col.to_numpy(dtype="float64"), 1) == 0))
            if whole and ID_NAME.search(str(name)):
                out.append(str(name))
        else:
            out.append(str(name))
    return out


def single_column_auc(col: pd.Series, y: np.ndarray) -> float | None:
    """How well one column alone separates the label, either way round (0.5–1): a
    numeric column by its values (missing as its own lowest and highest value, the
    better of the two), a category by its churn rate."""
    from sklearn.metrics import roc_auc_score

    if not 0 < int(y.sum()) < len(y):
        return None
    if pd.api.types.is_numeric_dtype(col):  # booleans too
        v = col.to_numpy(dtype="float64")
        if np.all(np.isnan(v)):
            return None
        lo, hi = np.nanmin(v) - 1, np.nanmax(v) + 1
        aucs = [roc_auc_score(y, np.where(np.isnan(v), fill, v)) for fill in (lo, hi)]
        return float(max(max(a, 1 - a) for a in aucs))
    text = col.astype(object).where(col.notna(), "\0missing")
    rate = pd.Series(y.astype("float64")).groupby(text.to_numpy()).mean()
    auc = roc_auc_score(y, text.map(rate).to_numpy(dtype="float64"))
    return float(max(auc, 1 - auc))


@dataclass(frozen=True)
class TableEvaluation:
    """``churn evaluate --input``: the cross-validated model on a table."""

    source: str
    rows: int
    positives: int
    target: str
    folds: int
    features: tuple[str, ...]
    identifiers: tuple[str, ...]  # dropped: identifier-like (and the --id column)
    leakage: tuple[tuple[str, float], ...]  # dropped: named as likely leakage, with the column's own AUC
    constant: tuple[str, ...]  # dropped: one value (or none) on every row
    per_fold: tuple[Metrics, ...]
    best_single: tuple[str, float] | None  # the best remaining single column and its AUC (a baseline)

    def summary(self) -> dict[str, dict[str, float | None]]:
        """Mean and standard deviation across folds of each metric."""
        out: dict[str, dict[str, float | None]] = {}
        for key in ("roc_auc", "pr_auc", "brier", "top_decile_lift"):
            values = [getattr(m, key) for m in self.per_fold if getattr(m, key) is not None]
            out[key] = {"mean": float(np.mean(values)) if values else None,
                        "std": float(np.std(values, ddof=1)) if len(values) > 1 else None}  # fmt: skip
        return out

    def as_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "input": self.source, "rows": self.rows, "positives": self.positives, "target": self.target,
            "folds": self.folds, "features": list(self.features), "identifiers_dropped": list(self.identifiers),
            "leakage_dropped": [{"column": c, "auc": r(a)} for c, a in self.leakage],
            "constant_dropped": list(self.constant),
            "metrics": {k: {"mean": r(v["mean"]), "std": r(v["std"])} for k, v in self.summary().items()},
            "per_fold": [m.as_dict() for m in self.per_fold],
            "best_single_column": None if self.best_single is None else
            {"column": self.best_single[0], "auc": r(self.best_single[1])},
        }  # fmt: skip


def evaluate_table(frame: pd.DataFrame, y: np.ndarray, *, source: str, target: str, id_column: str | None = None,
                   folds: int = 5, seed: int = 0) -> TableEvaluation:  # fmt: skip
    """Cross-validate the churn model on ``frame`` (the feature columns; the label is
    ``y``): identifier-like columns (and ``id_column``) and columns that alone predict
    the label almost perfectly are dropped and named; each fold trains on the others
    (calibrated on a fifth of them) and is scored with :func:`metrics`."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise TableProblem(_("{file}, column {column}: every row has the same label ({value}); churn and "
                             "non-churn rows are both needed").format(
                               file=source, column=target, value=_("churned") if positives else _("not churned")),
                           field=target)  # fmt: skip
    if min(positives, len(y) - positives) < folds:
        raise TableProblem(_("{file}, column {column}: {n} rows of the rarer label, fewer than the {folds} folds")
                           .format(file=source, column=target, n=min(positives, len(y) - positives), folds=folds),
                           field=target)  # fmt: skip
    ids = identifier_like(frame)
    if id_column is not None and id_column not in ids:
        ids.insert(0, id_column)
    rest = frame.drop(columns=[c for c in ids if c in frame.columns])
    constant = [str(c) for c in rest.columns if rest[c].nunique(dropna=True) <= 1]
    rest = rest.drop(columns=constant)
    aucs = {str(c): single_column_auc(rest[c], y) for c in rest.columns}
    leaky = sorted(((c, a) for c, a in aucs.items() if a is not None and a >= LEAKAGE_AUC), key=lambda t: -t[1])
    rest = rest.drop(columns=[c for c, _a in leaky])
    if rest.shape[1] == 0:
        raise TableProblem(_("{file}: no column is left to learn from once identifiers, constant columns and likely "
                             "leakage are dropped").format(file=source), field=target)  # fmt: skip
    remaining = {c: a for c, a in aucs.items() if c in rest.columns and a is not None}
    # never empty: every column left has two values or more (constant ones were dropped), so its AUC is a number
    best = max(remaining.items(), key=lambda t: t[1])
    schema = Schema.infer(rest)
    per_fold = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        ytr = y[train_idx]
        fit_idx, cal_idx = train_idx, np.array([], dtype=int)
        if min(int(ytr.sum()), len(ytr) - int(ytr.sum())) >= 10:
            fit_idx, cal_idx = train_test_split(train_idx, test_size=0.2, stratify=ytr, random_state=seed)
        model = fit(rest.iloc[fit_idx], y[fit_idx], rest.iloc[cal_idx], y[cal_idx], schema=schema, refit=True)
        p = model.calibration.apply(model.raw(rest.iloc[test_idx]))
        per_fold.append(metrics(y[test_idx], p))
    return TableEvaluation(source, len(y), positives, target, folds, tuple(rest.columns.astype(str)), tuple(ids),
                           tuple(leaky), tuple(constant), tuple(per_fold), best)  # fmt: skip


def split_months(days: Sequence[Any], test_share: float = 1 / 3, calibration_share: float = 0.25) -> tuple[list[Any], list[Any], list[Any]]:
    """Month-ends (sorted) → (fit, calibrate, test): the last third tests, the last
    quarter of the rest calibrates (at least one month each), the earlier ones train.
    No month is in two of them."""
    days = sorted(days)
    if len(days) < 3:
        raise ValueError("at least three month-ends are needed")
    n_test = max(1, round(len(days) * test_share))
    train = days[:-n_test]
    n_cal = max(1, round(len(train) * calibration_share)) if len(train) > 1 else 0
    return train[: len(train) - n_cal], train[len(train) - n_cal:], days[-n_test:]


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, sort_keys=True)
