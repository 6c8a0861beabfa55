"""Ranking metrics: known answers derived by hand."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embedrec.eval.metrics import coverage, hit_matrix, ranking_metrics, recall_plain

# 3 users, items 0..3, top-3 lists (-1 = padding)
TOP = np.array([[2, 0, 1], [3, 1, -1], [0, 1, 2]])
# relevant: user 0 {0}, user 1 {1, 3}, user 2 {3}
REL = np.array([0, 1, 3, 3])
OFF = np.array([0, 1, 3, 4])
N_REL = np.array([1, 2, 1])


def test_hit_matrix():
    h = hit_matrix(TOP, REL, OFF)
    assert h.tolist() == [
        [False, True, False],
        [True, True, False],
        [False, False, False],
    ]


def test_metrics_at_3_by_hand():
    m = ranking_metrics(hit_matrix(TOP, REL, OFF), N_REL, 3)
    assert_allclose(m["HR"], [1, 1, 0])
    # recall: hits / min(|R|, 3): 1/1, 2/2, 0
    assert_allclose(m["Recall"], [1, 1, 0])
    # user 0: hit at rank 1 -> 1/log2(3); ideal 1 hit -> 1 => 0.6309
    # user 1: hits at ranks 0, 1 -> 1 + 1/log2(3); ideal the same => 1
    assert_allclose(m["NDCG"], [1 / np.log2(3), 1.0, 0.0], rtol=1e-12)
    assert_allclose(m["MRR"], [0.5, 1.0, 0.0])


def test_metrics_at_1_and_plain_recall():
    h = hit_matrix(TOP, REL, OFF)
    m = ranking_metrics(h, N_REL, 1)
    assert_allclose(m["HR"], [0, 1, 0])
    assert_allclose(m["Recall"], [0, 1, 0])  # user 1: 1 hit / min(2, 1)
    assert_allclose(recall_plain(h, N_REL, 1), [0, 0.5, 0])
    assert_allclose(m["NDCG"], [0, 1, 0])


def test_coverage():
    # items in the first 2 columns: {2, 0, 3, 1} -> 4 of a 10-item catalogue
    assert coverage(TOP, 2, 10) == 0.4
    assert coverage(TOP, 1, 4) == 0.75  # {2, 3, 0}


def test_bad_k_and_shapes():
    with pytest.raises(ValueError, match="k=0 is invalid"):
        ranking_metrics(hit_matrix(TOP, REL, OFF), N_REL, 0)
    with pytest.raises(ValueError, match="rel_offsets has shape"):
        hit_matrix(TOP, REL, OFF[:-1])
