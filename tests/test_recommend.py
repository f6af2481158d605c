"""The recommender (``analytics/recommend.py``) on holdings small enough to work out by
hand: the 0/1 matrix from pairs, the cosine of holder sets, popularity, the scores, the
top k with held, disallowed and tied products, and the hidden-purchase evaluation of
seven accounts (three evaluated, four skipped for each reason).

Each test builds its own holdings: the mutation run (``scripts/mutate.py``) credits a
call made in a shared fixture to the first test only.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from kizuna.analytics import recommend

R6, R12 = math.sqrt(6), math.sqrt(12)


def _four() -> recommend.Holdings:
    # A {1,2}, B {1,2,3}, C {1,3}, D {4}; product 5 in the catalogue, held by nobody
    return recommend.Holdings.from_pairs([(1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (3, 1), (3, 3), (4, 4)],
                                         [5, 4, 3, 2, 1])  # fmt: skip


def test_holdings_from_pairs_count_once_and_keep_the_catalogue() -> None:
    # duplicates count once; product 9 is not in the catalogue (dropped, its account kept
    # as a row of zeros); product 5 nobody holds is a column of zeros
    h = recommend.Holdings.from_pairs([(7, 2), (3, 1), (7, 2), (7, 2), (3, 2), (8, 9)], [5, 1, 2])
    assert h.account_ids.tolist() == [3, 7, 8]
    assert h.product_ids.tolist() == [1, 2, 5]
    assert h.matrix.shape == (3, 3)
    assert h.matrix.toarray().tolist() == [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    # without a catalogue: the products of the pairs
    h = recommend.Holdings.from_pairs([(2, 4), (1, 3), (2, 3)])
    assert (h.account_ids.tolist(), h.product_ids.tolist()) == ([1, 2], [3, 4])
    assert h.matrix.toarray().tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_no_pairs_give_an_empty_matrix_with_the_catalogue_columns() -> None:
    h = recommend.Holdings.from_pairs([], [3, 1, 2])
    assert h.matrix.shape == (0, 3)
    assert h.account_ids.tolist() == []
    assert h.product_ids.tolist() == [1, 2, 3]
    assert (h.account_ids.dtype, h.product_ids.dtype) == (np.int64, np.int64)  # ids, not floats
    h = recommend.Holdings.from_pairs([])
    assert h.matrix.shape == (0, 0)
    assert (h.account_ids.dtype, h.product_ids.dtype) == (np.int64, np.int64)


def test_the_cosine_popularity_and_scores_by_hand() -> None:
    h = _four()
    sim = recommend.cosine_similarity(h.matrix.astype(np.int64))  # 0/1 of any dtype
    # holders: 1 → 3, 2 → 2, 3 → 2, 4 → 1, 5 → 0; |1∩2| = 2, |1∩3| = 2, |2∩3| = 1
    s = 2 / R6
    expected = [[0, s, s, 0, 0], [s, 0, 0.5, 0, 0], [s, 0.5, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert sim.dtype == np.float64
    np.testing.assert_allclose(sim, expected, rtol=1e-12, atol=0)  # 0 on the diagonal, also for 4 alone
    assert recommend.popularity(h.matrix).tolist() == [3.0, 2.0, 2.0, 1.0, 0.0]
    # A {1,2}: 3 scores 2/√6 + 1/2; B {1,2,3}: 1 scores 2·2/√6 …; D {4}: nothing
    got = recommend.scores(h.matrix, sim)
    assert got.shape == (4, 5)
    assert got[0].tolist() == pytest.approx([s, s, s + 0.5, 0, 0])
    assert got[1].tolist() == pytest.approx([2 * s, s + 0.5, s + 0.5, 0, 0])
    assert got[3].tolist() == [0.0] * 5


def test_the_cosine_of_a_boolean_matrix_and_of_one_holder_each_without_warnings() -> None:
    # products 0 and 1 held by the one same account: cosine 1 / √(1 · 1) = 1; product 2 by nobody
    held = np.array([[True, True, False], [False, False, False]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0/0 for the product nobody holds: no RuntimeWarning
        sim = recommend.cosine_similarity(sp.csr_matrix(held))
    assert sim.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    # counts, not "any": three holders of 0 and 1 together, one of 0 alone → 3 / √(4 · 3)
    held = np.array([[True, True], [True, True], [True, True], [True, False]])
    assert recommend.cosine_similarity(sp.csr_matrix(held))[0, 1] == pytest.approx(3 / R12)


def test_top_k_skips_held_products_breaks_ties_by_popularity_then_column_and_pads() -> None:
    score = np.array([[1.0, 2.0, 2.0, 0.0, 2.0]])
    held = sp.csr_matrix(np.array([[0, 0, 0, 0, 1]]))
    # ties at 2.0 (columns 1 and 2; 4 is held): the lower column without a tiebreak
    assert recommend.top_k(score, held, 3).tolist() == [[1, 2, 0]]
    # with popularity: column 2 (5 holders) before 1 (1 holder)
    pop = np.array([0.0, 1.0, 5.0, 0.0, 9.0])
    assert recommend.top_k(score, held, 3, tiebreak=pop).tolist() == [[2, 1, 0]]
    # more places than candidates: -1 pads
    assert recommend.top_k(score, held, 5, tiebreak=pop).tolist() == [[2, 1, 0, 3, -1]]
    # the tiebreak stays below a score step of 1e-8: 5 ÷ (9 + 1) × 1e-9 = 5e-10
    close = np.array([[1.0, 1.0 + 1e-8, 0.0, 0.0, 0.0]])
    assert recommend.top_k(close, held, 2, tiebreak=np.array([9.0, 0.0, 0.0, 0.0, 9.0])).tolist() == [[1, 0]]
    # the popularity's scale does not matter: holders 1 and 0 as 1,000 and 0
    ties = np.zeros((1, 5))
    assert recommend.top_k(ties, held, 2, tiebreak=np.array([0.0, 1.0, 0.0, 0.0, 0.0])).tolist() == [[1, 0]]
    assert recommend.top_k(ties, held, 2, tiebreak=np.array([0.0, 1e3, 0.0, 0.0, 0.0])).tolist() == [[1, 0]]
    # whole-number scores: held products still dropped
    assert recommend.top_k(np.array([[3, 1, 2]]), sp.csr_matrix(np.array([[1, 0, 0]])), 2).tolist() == [[2, 1]]
    # ties among many products keep the column order (a stable sort)
    many = np.tile([0.0, 1.0], 15)[None, :]
    want = [*range(1, 30, 2), *range(0, 30, 2)]
    assert recommend.top_k(many, sp.csr_matrix((1, 30)), 30).tolist() == [want]
    # the input is not changed
    assert score.tolist() == [[1.0, 2.0, 2.0, 0.0, 2.0]]


def test_top_k_with_an_allowed_mask_per_column_or_per_row() -> None:
    score = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    held = sp.csr_matrix((2, 3))
    # per column: product 0 allowed to nobody
    assert recommend.top_k(score, held, 3, allowed=np.array([0, 1, 1])).tolist() == [[1, 2, -1], [2, 1, -1]]
    # per row: row 0 only product 2, row 1 products 0 and 1
    allowed = np.array([[0, 0, 1], [1, 1, 0]])
    assert recommend.top_k(score, held, 2, allowed=allowed).tolist() == [[2, -1], [1, 0]]
    # a row holding everything gets nothing
    all_held = sp.csr_matrix(np.array([[1, 1, 1], [0, 1, 0]]))
    assert recommend.top_k(score, all_held, 2).tolist() == [[-1, -1], [2, 0]]


def _seven() -> tuple[recommend.Holdings, dict[int, int]]:
    # the skipped accounts come first: a skip must not end the loop
    pairs = [(1, 4),  # D: one product, nothing left: skipped
             (2, 1), (2, 2),  # E: latest 9, not in the catalogue: skipped
             (3, 2), (3, 3),  # F: no latest purchase: skipped
             (4, 1), (4, 3),  # G: latest 2, which it does not hold (any more): skipped
             (5, 1), (5, 2),  # A: hides 2
             (6, 1), (6, 2), (6, 3),  # B: hides 3
             (7, 1), (7, 3)]  # C: hides 1  # fmt: skip
    latest = {1: 4, 2: 9, 4: 2, 5: 2, 6: 3, 7: 1}
    return recommend.Holdings.from_pairs(pairs, [1, 2, 3, 4, 5]), latest


def test_the_evaluation_of_seven_accounts_by_hand() -> None:
    holdings, latest = _seven()
    before = holdings.matrix.toarray().copy()
    # trained on A {1}, B {1,2}, C {3}, D {4}, E {1,2}, F {2,3}, G {1,3}:
    # holders 1 → 4, 2 → 3, 3 → 3, 4 → 1, 5 → 0; cos(1,2) = 2/√12, cos(1,3) = 1/√12, cos(2,3) = 1/3
    # top 1 by co-holding: A {1} → 2 (2/√12 > 1/√12) hit; B {1,2} → 3 hit; C {3} → 2 (1/3 > 1/√12) miss
    # top 1 by popularity: A → 2 (3 holders, tied with 3: the lower column) hit; B → 3 hit; C → 1 hit
    ev = recommend.evaluate(holdings, latest, k=1)
    assert (ev.k, ev.accounts, ev.products) == (1, 3, 5)
    assert ev.cooccurrence == recommend.Ranking("cooccurrence", 1, 3, 2, pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert ev.popularity == recommend.Ranking("popularity", 1, 3, 3, 1.0, 1.0)
    assert ev.lift == pytest.approx(2 / 3)
    # top 3: every hidden product found by both; precision 3 ÷ (3 × 3)
    ev = recommend.evaluate(holdings, latest)
    assert ev.k == 3
    assert ev.cooccurrence == recommend.Ranking("cooccurrence", 3, 3, 3, pytest.approx(1 / 3), 1.0)
    assert ev.popularity == recommend.Ranking("popularity", 3, 3, 3, pytest.approx(1 / 3), 1.0)
    assert ev.lift == pytest.approx(1.0)
    assert holdings.matrix.toarray().tolist() == before.tolist()  # hidden in a copy only


def test_co_holding_ties_go_to_the_more_popular_product() -> None:
    # X {1, 3} hides 3: trained on X {1}, nothing is co-held with 1, so 2 and 3 tie at 0;
    # 3 has two holders (Z, W), 2 one (Y): the top 1 is 3, a hit (the lower column, 2, a miss)
    holdings = recommend.Holdings.from_pairs([(1, 1), (1, 3), (2, 2), (3, 3), (4, 3)])
    ev = recommend.evaluate(holdings, {1: 3}, k=1)
    assert ev.cooccurrence == recommend.Ranking("cooccurrence", 1, 1, 1, 1.0, 1.0)
    assert ev.popularity == recommend.Ranking("popularity", 1, 1, 1, 1.0, 1.0)


def test_an_evaluation_with_nothing_to_hide_is_empty_not_an_error() -> None:
    holdings, _latest = _seven()
    ev = recommend.evaluate(holdings, {1: 4, 2: 9, 4: 2}, k=2)
    assert (ev.k, ev.accounts, ev.products) == (2, 0, 5)
    assert ev.cooccurrence == recommend.Ranking("cooccurrence", 2, 0, 0, 0.0, 0.0)
    assert ev.popularity == recommend.Ranking("popularity", 2, 0, 0, 0.0, 0.0)
    assert ev.lift is None


def test_the_generated_holdings_have_bundles_that_go_together() -> None:
    holdings, latest = recommend.structured_holdings(accounts=1_500, products=9, bundles=3, seed=3)
    m = holdings.matrix.toarray()
    assert holdings.account_ids.tolist() == list(range(1, 1_501))
    assert holdings.product_ids.tolist() == list(range(1, 10))
    assert sorted(latest) == list(range(1, 1_501))
    assert all(m[a - 1, p - 1] == 1 for a, p in latest.items())  # the latest purchase is held
    assert m.sum(axis=1).min() >= 1
    # each account holds each of its group's 3 products with p 0.6 (at least one) and each
    # of the 6 others with p 0.08: 3 × 0.6 + 0.4³ × (1 − 0.92⁶) … ≈ 1.8 + 0.06 + 0.48 ≈ 2.3
    assert 2.1 < m.sum(axis=1).mean() < 2.5
    # products 1, 4, 7 are a group (0, 3, 6 modulo 3): co-held far more than across groups
    sim = recommend.cosine_similarity(holdings.matrix)
    same = [sim[i, j] for i in range(9) for j in range(9) if i != j and i % 3 == j % 3]
    other = [sim[i, j] for i in range(9) for j in range(9) if i % 3 != j % 3]
    assert min(same) > 0.45
    assert max(other) < 0.25
    again, latest_again = recommend.structured_holdings(accounts=1_500, products=9, bundles=3, seed=3)
    assert (again.matrix != holdings.matrix).nnz == 0
    assert latest_again == latest


def test_the_generator_keeps_the_whole_catalogue_and_its_documented_defaults() -> None:
    # two accounts hold a few of the 12 products: the columns are still all 12
    few, _latest = recommend.structured_holdings(accounts=2, products=12, bundles=3, seed=0)
    assert few.product_ids.tolist() == list(range(1, 13))
    assert few.matrix.shape == (2, 12)
    # the defaults (the CLI's demo): 2,000 accounts, 12 products in 3 bundles, seed 0
    default, latest = recommend.structured_holdings()
    assert default.matrix.shape == (2_000, 12)
    explicit, latest_explicit = recommend.structured_holdings(accounts=2_000, products=12, bundles=3, seed=0)
    assert (default.matrix != explicit.matrix).nnz == 0
    assert latest == latest_explicit
    sim = recommend.cosine_similarity(default.matrix)
    assert min(sim[i, j] for i in range(12) for j in range(12) if i != j and i % 3 == j % 3) > 0.45
