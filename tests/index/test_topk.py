"""Known answers for the one ranking path (embedrec.index.topk): ties, k > n, masks, blocks."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embedrec.index.topk import block_slices, blocked_top_k, check_k, top_k, top_k_exact


def test_ties_lower_column_first_also_at_the_cut_off():
    # scores 2, 5, 5, 5, 1: the three 5s tie; k=2 keeps the first two by column (1, 2),
    # whatever order a partition algorithm would visit them in
    s = np.array([[2.0, 5.0, 5.0, 5.0, 1.0]], dtype=np.float32)
    cols, vals = top_k(s, 2)
    assert cols.tolist() == [[1, 2]] and vals.tolist() == [[5.0, 5.0]]
    cols, _ = top_k(s, 4)
    assert cols.tolist() == [[1, 2, 3, 0]]


def test_all_equal_rows_give_the_first_k_columns():
    s = np.zeros((3, 6), dtype=np.float32)
    assert_array_equal(top_k(s, 3)[0], np.tile([0, 1, 2], (3, 1)))


def test_k_larger_than_n_returns_every_column_sorted():
    s = np.array([[0.1, 0.9, 0.5]], dtype=np.float32)
    cols, vals = top_k(s, 10)
    assert cols.tolist() == [[1, 2, 0]]
    np.testing.assert_allclose(vals, [[0.9, 0.5, 0.1]], rtol=1e-6)


def test_masked_entries_become_minus_one_or_stay():
    s = np.array([[1.0, -np.inf, 3.0, -np.inf]], dtype=np.float32)
    cols, vals = top_k(s, 4)
    assert cols.tolist() == [[2, 0, -1, -1]]
    assert vals[0, 2:].tolist() == [-np.inf, -np.inf]
    kept, _ = top_k(s, 4, drop_inf=False)
    assert kept.tolist() == [[2, 0, 1, 3]]  # -inf ties: lower column first
    assert top_k_exact(s, 4).tolist() == [[2, 0, -1, -1]]


def test_degenerate_shapes():
    assert top_k(np.zeros((2, 0), np.float32), 3)[0].shape == (2, 0)
    assert top_k(np.zeros((0, 5), np.float32), 3)[0].shape == (0, 3)
    with pytest.raises(ValueError, match="2-D"):
        top_k(np.zeros(3, np.float32), 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3", None])
def test_check_k_refuses(bad):
    with pytest.raises(ValueError, match="is invalid; use an int k >= 1"):
        check_k(bad)


def test_check_k_accepts_numpy_ints():
    assert check_k(np.int64(4)) == 4 and type(check_k(np.int64(4))) is int


def test_block_slices_cover_every_row_once():
    assert [(s.start, s.stop) for s in block_slices(5, 4, cells=8)] == [(0, 2), (2, 4), (4, 5)]
    # a row wider than the budget still gets its own block
    assert [(s.start, s.stop) for s in block_slices(2, 100, cells=8)] == [(0, 1), (1, 2)]


@pytest.mark.parametrize("cells", [1, 7, 64, 1 << 24])
def test_blocked_equals_unblocked_with_ties_and_masks(cells):
    rng = np.random.default_rng(0)
    # few distinct values: many ties, also at the cut-off
    s = rng.integers(0, 4, size=(13, 9)).astype(np.float32)
    excl = [rng.choice(9, size=rng.integers(0, 4), replace=False) for _ in range(13)]
    full = s.copy()
    for i, e in enumerate(excl):
        full[i, e] = -np.inf
    want_cols, want_vals = top_k(full, 5)

    def mask(rows, scores):
        for j, e in enumerate(excl[rows]):
            scores[j, e] = -np.inf

    cols, vals = blocked_top_k(13, 9, 5, lambda rows: s[rows].copy(), mask_block=mask, cells=cells)
    assert_array_equal(cols, want_cols)
    assert_array_equal(vals, want_vals)
    assert vals.dtype == np.float32


def test_blocked_top_k_width_and_empty():
    cols, vals = blocked_top_k(0, 5, 3, lambda rows: np.zeros((0, 5)))
    assert cols.shape == (0, 3) and vals.shape == (0, 3)
    cols, _ = blocked_top_k(2, 2, 10, lambda rows: np.ones((rows.stop - rows.start, 2)))
    assert cols.tolist() == [[0, 1], [0, 1]]
