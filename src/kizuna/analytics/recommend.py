"""Recommendations (レコメンド, issue 16 item 5): which add-on or plan to propose to an
account, from what similar customers hold.

Item-item co-occurrence over current holdings (a 0/1 matrix, accounts × products): the
similarity of two products is the cosine of their holder sets,
``|A ∩ B| / sqrt(|A| · |B|)``; an account's score for a product it does not hold is the
sum of that product's similarities to the products it holds. The baseline ranks by
popularity (holders) alone. :func:`evaluate` hides each account's latest purchase and
counts how often the top three name it (precision@3, recall@3), for both.

Pure numpy/scipy: no I/O, no clock, no store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Holdings:
    """Accounts × products, 1 where the account holds the product today."""

    matrix: sp.csr_matrix
    account_ids: np.ndarray  # row → account id
    product_ids: np.ndarray  # column → product id

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[int, int]], product_ids: Sequence[int] | None = None) -> Holdings:
        """From (account id, product id) pairs (duplicates count once); ``product_ids``:
        the columns (every product of the catalogue, also those nobody holds)."""
        accounts = np.array(sorted({a for a, _p in pairs}), dtype=np.int64)
        products = np.array(sorted(set(product_ids) if product_ids is not None else {p for _a, p in pairs}),
                            dtype=np.int64)  # fmt: skip
        if not len(pairs):
            return cls(sp.csr_matrix((len(accounts), len(products))), accounts, products)
        arr = np.array(pairs, dtype=np.int64)  # pragma: no mutate (pairs of ints: int64 anyway, never empty here)
        keep = np.isin(arr[:, 1], products)
        arr = arr[keep]
        rows = np.searchsorted(accounts, arr[:, 0])
        cols = np.searchsorted(products, arr[:, 1])
        m = sp.csr_matrix((np.ones(len(arr)), (rows, cols)), shape=(len(accounts), len(products)))
        m.data[:] = 1.0  # duplicates summed: back to 0/1
        return cls(m, accounts, products)


def cosine_similarity(matrix: sp.spmatrix) -> np.ndarray:
    """Products × products: ``|A ∩ B| / sqrt(|A| · |B|)``, 0 on the diagonal and for a
    product nobody holds."""
    x = sp.csr_matrix(matrix, dtype=np.float64)
    # float64 already (x is): the dtype is only said again
    co = np.asarray((x.T @ x).todense(), dtype=np.float64)  # pragma: no mutate
    counts = np.diag(co).copy()
    norm = np.sqrt(np.outer(counts, counts))
    with np.errstate(invalid="ignore"):  # 0/0 for a product nobody holds (co > 0 means norm > 0)
        sim = np.where(norm > 0, co / norm, 0.0)
    np.fill_diagonal(sim, 0.0)
    return sim


def popularity(matrix: sp.spmatrix) -> np.ndarray:
    """Holders of each product."""
    return np.asarray(sp.csr_matrix(matrix).sum(axis=0)).ravel()


def scores(matrix: sp.spmatrix, similarity: np.ndarray) -> np.ndarray:
    """Accounts × products: each product's summed similarity to the account's holdings."""
    return np.asarray(sp.csr_matrix(matrix) @ similarity)


def top_k(score: np.ndarray, held: sp.spmatrix, k: int, tiebreak: np.ndarray | None = None,
          allowed: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Column indices of the ``k`` best products per row among those not held (and, with
    ``allowed``, a 0/1 mask per row or per column, allowed); ties go to ``tiebreak``
    (popularity), then to the lower column. -1 pads a row with fewer candidates."""
    s = np.array(score, dtype=np.float64, copy=True)
    if tiebreak is not None:  # a fraction below one step of the score: orders ties only
        t = np.asarray(tiebreak, dtype=np.float64)  # pragma: no mutate (divided by a float below: float anyway)
        s = s + 1e-9 * (t / (t.max() + 1.0))
    h = sp.csr_matrix(held).toarray() > 0
    # NaN (a None assigned) would sort last and be dropped alike: equivalent, marked
    s[h] = -np.inf  # pragma: no mutate
    if allowed is not None:
        s[~np.broadcast_to(np.asarray(allowed, dtype=bool), s.shape)] = -np.inf  # pragma: no mutate
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(s, order, axis=1)
    return np.where(np.isfinite(picked), order, -1)


@dataclass(frozen=True)
class Ranking:
    """One method's precision@k and recall@k over the evaluated accounts."""

    method: str
    k: int
    accounts: int
    hits: int
    precision: float
    recall: float


@dataclass(frozen=True)
class Evaluation:
    k: int
    accounts: int  # accounts with a purchase to hide and something left
    products: int
    cooccurrence: Ranking
    popularity: Ranking

    @property
    def lift(self) -> float | None:
        """Co-occurrence precision ÷ popularity precision."""
        return self.cooccurrence.precision / self.popularity.precision if self.popularity.precision else None


def evaluate(holdings: Holdings, latest: dict[int, int], k: int = 3) -> Evaluation:
    """Hide each account's latest purchase (``latest``: account id → product id), fit
    both methods on what is left, and count the hidden product among each account's top
    ``k`` of the products it does not hold. One hidden product per account: recall@k is
    the share found, precision@k the hits ÷ k·accounts."""
    m = sp.lil_matrix(holdings.matrix, copy=True)  # pragma: no mutate (CSR to LIL builds new arrays anyway)
    col = {int(p): i for i, p in enumerate(holdings.product_ids)}
    rows, cols = [], []
    for i, account in enumerate(holdings.account_ids):
        product = latest.get(int(account))
        if product is None or product not in col or m[i, col[product]] == 0:
            continue
        if holdings.matrix[i].nnz < 2:  # nothing left to go on
            continue
        m[i, col[product]] = 0
        rows.append(i)
        cols.append(col[product])
    train = sp.csr_matrix(m)
    # ints: int64 anyway; empty: float64, which indexes and compares alike (nothing)
    rows_a, cols_a = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)  # pragma: no mutate
    pop = popularity(train)
    sim = cosine_similarity(train)
    sub = train[rows_a]
    co_top = top_k(scores(sub, sim), sub, k, tiebreak=pop)
    pop_top = top_k(np.broadcast_to(pop, (len(rows_a), len(pop))), sub, k)

    def ranking(method: str, top: np.ndarray) -> Ranking:
        hits = int((top == cols_a[:, None]).any(axis=1).sum())
        n = len(rows_a)
        return Ranking(method, k, n, hits, hits / (k * n) if n else 0.0, hits / n if n else 0.0)

    return Evaluation(k, len(rows_a), len(holdings.product_ids), ranking("cooccurrence", co_top),
                      ranking("popularity", pop_top))  # fmt: skip


def structured_holdings(accounts: int = 2_000, products: int = 12, bundles: int = 3, seed: int = 0,
                        ) -> tuple[Holdings, dict[int, int]]:  # fmt: skip
    """A generator where co-holding has real structure: the products fall into ``bundles``
    groups that go together (an account draws one group and holds most of it, plus
    now and then a product of another group), and the popular products are spread across
    the groups so popularity alone cannot find the missing one. Returns the holdings and
    each account's latest purchase (a random one of its products)."""
    rng = np.random.default_rng(seed)
    group = np.arange(products) % bundles
    pairs: list[tuple[int, int]] = []
    latest: dict[int, int] = {}
    for a in range(accounts):
        g = rng.integers(bundles)
        mine = [p for p in range(products) if group[p] == g and rng.random() < 0.6]
        mine += [p for p in range(products) if group[p] != g and rng.random() < 0.08]
        if not mine:
            mine = [int(rng.choice(np.flatnonzero(group == g)))]
        for p in mine:
            pairs.append((a + 1, p + 1))
        latest[a + 1] = int(rng.choice(mine)) + 1
    return Holdings.from_pairs(pairs, range(1, products + 1)), latest
