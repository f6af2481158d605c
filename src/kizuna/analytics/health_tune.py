"""Measure weights learned from churn history (ヘルススコアの重みの学習).

A regularised logistic model of "churned within the horizon" on the measures' points
(0–100, as the scorecard scores them): ``P(churn) = σ(a − Σ βᵢ·pointsᵢ/100)`` with every
``βᵢ ≥ 0`` — more points never mean more risk, as in a scorecard — and an L2 penalty
``λ/2·Σβᵢ²``. The proposed weights are the β normalised to sum to 1: a scorecard whose
score is ``Σ wᵢ·pointsᵢ`` orders accounts as the model's risk does. A missing point is
imputed with the measure's mean over the training rows (a measure with no data at all
is left out). How uncertain each weight is comes from a bootstrap over accounts (rows
of one account are drawn together: they are not independent).

Pure: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The L2 penalty on the coefficients (per unit of points ÷ 100), against the mean log-loss.
L2 = 0.01
#: Bootstrap draws for the weights' intervals.
BOOTSTRAP = 30


@dataclass(frozen=True)
class WeightFit:
    """The fitted model, its weights and their uncertainty, for ``keys`` in order."""

    keys: tuple[str, ...]
    coef: np.ndarray  # β ≥ 0 per unit of points ÷ 100 (0 for a measure without data)
    intercept: float
    weights: np.ndarray  # β ÷ Σβ
    low: np.ndarray  # 5th percentile of the weight over the bootstrap
    high: np.ndarray  # 95th percentile
    has_data: np.ndarray  # bool: the measure had data in some training row


def _design(points: pd.DataFrame, means: np.ndarray) -> np.ndarray:
    z = points.to_numpy(dtype="float64") / 100.0
    return np.where(np.isnan(z), means, z)


def _fit(z: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    from scipy.optimize import minimize
    from scipy.special import expit

    n, k = z.shape
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = theta[0], theta[1:]
        eta = a - z @ b
        value = float(np.mean(np.logaddexp(0.0, eta) - y * eta) + l2 / 2 * b @ b)
        g = (expit(eta) - y) / n
        return value, np.concatenate([[g.sum()], -(z.T @ g) + l2 * b])

    start = np.concatenate([[np.log(rate / (1 - rate))], np.zeros(k)])
    bounds = [(None, None)] + [(0.0, None)] * k
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return float(result.x[0]), np.maximum(result.x[1:], 0.0)


def _normalised(coef: np.ndarray) -> np.ndarray:
    total = coef.sum()
    return coef / total if total > 0 else np.zeros_like(coef)


def fit_weights(points: pd.DataFrame, churned: np.ndarray, accounts: np.ndarray, *, l2: float = L2,
                bootstrap: int = BOOTSTRAP, seed: int = 0) -> WeightFit:  # fmt: skip
    """Fit on ``points`` (rows: observations; columns: measures; NaN: missing) against
    ``churned`` (bool per row); ``accounts`` (per row) groups the bootstrap draws."""
    y = np.asarray(churned, dtype="float64")
    has_data = points.notna().any(axis=0).to_numpy()
    cols = points.loc[:, has_data]
    means = np.nanmean(cols.to_numpy(dtype="float64") / 100.0, axis=0) if cols.shape[1] else np.zeros(0)
    z = _design(cols, means)
    intercept, coef_used = _fit(z, y, l2)
    coef = np.zeros(points.shape[1])
    coef[has_data] = coef_used
    draws = []
    rng = np.random.default_rng(seed)
    ids = pd.unique(np.asarray(accounts))
    rows_of = pd.Series(np.arange(len(y))).groupby(np.asarray(accounts)).apply(lambda s: s.to_numpy())
    for _ in range(bootstrap):
        pick = rng.choice(ids, size=len(ids), replace=True)
        rows = np.concatenate([rows_of[a] for a in pick])
        if not 0 < y[rows].sum() < len(rows):
            continue
        _a, b = _fit(z[rows], y[rows], l2)
        full = np.zeros(points.shape[1])
        full[has_data] = b
        draws.append(_normalised(full))
    weights = _normalised(coef)
    if draws:
        stacked = np.vstack(draws)
        low, high = np.percentile(stacked, 5, axis=0), np.percentile(stacked, 95, axis=0)
    else:
        low, high = weights.copy(), weights.copy()
    return WeightFit(tuple(str(c) for c in points.columns), coef, intercept, weights, low, high, has_data)
