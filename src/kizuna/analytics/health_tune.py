"""Measure weights learned from churn history (ヘルススコアの重みの学習).

A regularised logistic model of "churned within the horizon" on the measures' points
(0–100, as the scorecard scores them): ``P(churn) = σ(a − Σ βᵢ·pointsᵢ/100)`` with every
``βᵢ ≥ 0`` — more points never mean more risk, as in a scorecard. The penalty pulls the
weights towards a **prior** (the scorecard in force): ``λ/2·min_c ‖β − c·w₀‖²``, the part
of β that is not along the prior's weights ``w₀`` — the prior's *shares* are the centre,
the overall slope ``c`` is free. With a very large λ the proposal is the prior's shares;
with λ → 0 it is the unpenalised fit. Without a prior the penalty is the plain ridge
``λ/2·‖β‖²``. The proposed weights are the β normalised to sum to 1: a scorecard whose
score is ``Σ wᵢ·pointsᵢ`` orders accounts as the model's risk does. A missing point is
imputed with the measure's mean over the training rows (a measure with no data at all
is left out). How uncertain each weight is comes from a bootstrap over accounts (rows
of one account are drawn together: they are not independent); a draw is the same fit
with each row weighted by how many times its account was drawn.

The fits run with one BLAS thread: their products are a matrix of a few columns times a
vector, which threads do not speed up — on a busy machine they slowed each step
fivefold (docs/benchmarks.md, ``health_generators``).

Pure: arrays in, arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The L2 penalty on the coefficients (per unit of points ÷ 100), against the mean log-loss.
L2 = 0.01
#: The penalty strengths the inner validation chooses from (``services.health.tune``).
PENALTIES = (0.001, 0.01, 0.1, 1.0)
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
    z = points.to_numpy(dtype="float64") / 100.0  # pragma: no mutate (points are floats already)
    return np.where(np.isnan(z), means, z)


def _direction(prior: np.ndarray | None, k: int) -> np.ndarray:
    """The prior's unit vector (zeros without a prior or with no prior weight: the plain ridge)."""
    if prior is None:
        return np.zeros(k)
    norm = float(np.linalg.norm(prior))
    return prior / norm if norm > 0 else np.zeros(k)


def _fit(z: np.ndarray, y: np.ndarray, l2: float, prior: np.ndarray | None = None,
         weight: np.ndarray | None = None, start: np.ndarray | None = None) -> tuple[float, np.ndarray]:  # fmt: skip
    """Minimise the weighted mean log-loss + ``l2/2·‖β − (β·u)u‖²`` (u: the prior's unit
    vector) over the intercept and β ≥ 0; ``start`` (intercept, β…) only speeds it."""
    from scipy.optimize import minimize
    from scipy.special import expit

    n, k = z.shape
    u = _direction(prior, k)
    w = np.ones(n) if weight is None else np.asarray(weight, dtype="float64")
    w = w / w.sum()
    if start is None:
        # the starting point (the base rate's log-odds) only speeds the search: the loss is convex (equivalent mutants)
        rate = float(np.clip(w @ y, 1e-6, 1 - 1e-6))  # pragma: no mutate
        start = np.concatenate([[np.log(rate / (1 - rate))], np.zeros(k)])  # pragma: no mutate

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = theta[0], theta[1:]
        off = b - (b @ u) * u  # the part of β not along the prior
        eta = a - z @ b
        value = float(w @ (np.logaddexp(0.0, eta) - y * eta) + l2 / 2 * off @ off)
        g = (expit(eta) - y) * w
        return value, np.concatenate([[g.sum()], -(z.T @ g) + l2 * off])

    bounds = [(None, None)] + [(0.0, None)] * k
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return float(result.x[0]), np.maximum(result.x[1:], 0.0)


def _normalised(coef: np.ndarray) -> np.ndarray:
    total = coef.sum()
    return coef / total if total > 0 else np.zeros_like(coef)


def fit_weights(points: pd.DataFrame, churned: np.ndarray, accounts: np.ndarray, *, l2: float = L2,
                bootstrap: int = BOOTSTRAP, seed: int = 0, prior: np.ndarray | None = None) -> WeightFit:  # fmt: skip  # pragma: no mutate
    """Fit on ``points`` (rows: observations; columns: measures; NaN: missing) against
    ``churned`` (bool per row); ``accounts`` (per row) groups the bootstrap draws;
    ``prior`` (per column, e.g. the weights in force) is what the penalty pulls towards."""
    from threadpoolctl import threadpool_limits

    # the thread count changes the time, not the result (equivalent mutants)
    with threadpool_limits(limits=1, user_api="blas"):  # pragma: no mutate
        return _fit_weights(points, churned, accounts, l2=l2, bootstrap=bootstrap, seed=seed, prior=prior)


def _fit_weights(points: pd.DataFrame, churned: np.ndarray, accounts: np.ndarray, *, l2: float, bootstrap: int,
                 seed: int, prior: np.ndarray | None) -> WeightFit:  # fmt: skip
    y = np.asarray(churned, dtype="float64")  # pragma: no mutate (booleans count as 0/1 either way)
    has_data = points.notna().any(axis=0).to_numpy()
    cols = points.loc[:, has_data]
    # without columns: an empty array of means (nanmean over no column warns of nothing)
    means = np.nanmean(cols.to_numpy(dtype="float64") / 100.0, axis=0)
    z = _design(cols, means)
    centre = None if prior is None else np.asarray(prior, dtype="float64")[has_data]
    intercept, coef_used = _fit(z, y, l2, centre)
    coef = np.zeros(points.shape[1])
    coef[has_data] = coef_used
    draws = []
    rng = np.random.default_rng(seed)
    ids, position = np.unique(np.asarray(accounts), return_inverse=True)
    order = pd.unique(np.asarray(accounts))  # the draws pick among the accounts in their first-seen order
    rank = np.searchsorted(ids, order)
    # the full fit is the start of every draw's: the same convex problem, reached sooner (equivalent mutants)
    warm = np.concatenate([[intercept], coef_used])  # pragma: no mutate
    for _ in range(bootstrap):
        pick = rng.choice(len(order), size=len(order), replace=True)
        times = np.bincount(rank[pick], minlength=len(ids))[position].astype("float64")
        # `>= 0` would be the same: a row drawn 0 times weighs 0 in the loss and its gradient
        rows = times > 0  # pragma: no mutate
        drawn = y[rows] @ times[rows]
        if not 0 < drawn < times.sum():
            continue
        _a, b = _fit(z[rows], y[rows], l2, centre, times[rows], warm)
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
