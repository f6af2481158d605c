"""Pareto (80/20): how concentrated MRR is across paying accounts.

- **Top-20 % share** = MRR of the largest ⌈20 % × n⌉ paying accounts ÷ total MRR.
- **Lorenz curve**: accounts sorted from smallest to largest MRR; the share of MRR held
  by the smallest *x* of accounts.
- **Gini** = 1 − 2 × (area under the Lorenz curve) = Σᵢ (2i − n − 1)·xᵢ ÷ (n · Σ x),
  with *x* sorted ascending and *i* from 1 (0: everyone pays the same; → 1: one account
  pays everything).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Pareto:
    accounts: int
    total_mrr: int
    top_accounts: int
    top_mrr: int
    top_share: float | None
    gini: float | None
    lorenz: list[tuple[float, float]]  # (share of accounts, share of MRR), ≤ 101 points


def pareto(mrr: pd.Series, top: float = 0.2, points: int = 100) -> Pareto:
    """The Pareto figures of per-account MRR (integers, paying accounts only)."""
    values = np.sort(np.asarray(mrr, dtype="int64"))  # ascending
    values = values[values > 0]
    n = len(values)
    total = int(values.sum())
    if total == 0:  # no paying account: every value left is positive
        return Pareto(0, 0, 0, 0, None, None, [(0.0, 0.0), (1.0, 1.0)])
    k = math.ceil(top * n)
    top_mrr = int(values[n - k :].sum())
    i = np.arange(1, n + 1)  # times the int64 values: int64 products
    gini = float(int(((2 * i - n - 1) * values).sum()) / (n * total))
    cum = np.concatenate([[0], np.cumsum(values)])
    idx = sorted({round(j * n / points) for j in range(points + 1)})
    lorenz = [(j / n, int(cum[j]) / total) for j in idx]
    return Pareto(n, total, k, top_mrr, top_mrr / total, gini, lorenz)
