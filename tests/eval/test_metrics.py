"""Ranking metrics: known answers derived by hand, and a loop-based reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from embedrec.eval.metrics import (
    coverage,
    hit_matrix,
    metrics_from_hits,
    ranking_metrics,
    recall_plain,
)

# 4 users, items 0..3, top-3 lists (-1 = padding: user 1 got only two items)
TOP = np.array([[2, 0, 1], [3, 1, -1], [0, 1, 2], [3, 0, 2]])
# relevant: user 0 {0}, user 1 {1, 3}, user 2 {3}, user 3 {1, 2, 3}
REL = np.array([0, 1, 3, 3, 1, 2, 3])
OFF = np.array([0, 1, 3, 4, 7])
L3 = np.log2(3.0)  # discount of rank 1 (0-based) is 1 / log2(3) = 0.6309


def test_hit_matrix():
    assert hit_matrix(TOP, REL, OFF).tolist() == [
        [False, True, False],
        [True, True, False],
        [False, False, False],
        [True, False, True],
    ]


def test_metrics_at_3_by_hand():
    m = ranking_metrics(TOP, REL, OFF, 3)
    assert_allclose(m["HR"], [1, 1, 0, 1])
    # recall = hits / min(|R|, 3): 1/1, 2/2, 0/1, 2/3
    assert_allclose(m["Recall"], [1, 1, 0, 2 / 3], rtol=1e-12)
    # user 0: one hit at rank 1 -> DCG 1/log2(3); ideal: 1 hit at rank 0 -> 1 => 0.6309
    # user 1: hits at ranks 0, 1 -> 1 + 1/log2(3); ideal the same => 1
    # user 3: hits at ranks 0, 2 -> 1 + 1/log2(4) = 1.5; ideal 3 hits -> 1 + 0.6309 + 0.5
    assert_allclose(m["NDCG"], [1 / L3, 1, 0, 1.5 / (1 + 1 / L3 + 0.5)], rtol=1e-12)
    # first hit at rank 1, 0, none, 0
    assert_allclose(m["MRR"], [0.5, 1, 0, 1])


def test_metrics_at_2_capped_and_plain_recall():
    m = ranking_metrics(TOP, REL, OFF, 2)
    # user 3: hits [T, F] -> 1 / min(3, 2) = 0.5 capped, 1 / 3 plain
    assert_allclose(m["Recall"], [1, 1, 0, 0.5])
    assert_allclose(recall_plain(TOP, REL, OFF, 2), [1, 1, 0, 1 / 3], rtol=1e-12)
    # user 3: DCG 1, ideal DCG of min(3, 2) = 2 hits: 1 + 1/log2(3) => 0.6131
    assert_allclose(m["NDCG"][3], 1 / (1 + 1 / L3), rtol=1e-12)


def test_metrics_at_1():
    m = ranking_metrics(TOP, REL, OFF, 1)
    assert_allclose(m["HR"], [0, 1, 0, 1])
    assert_allclose(m["Recall"], [0, 1, 0, 1])  # user 1: 1 hit / min(2, 1)
    assert_allclose(recall_plain(TOP, REL, OFF, 1), [0, 0.5, 0, 1 / 3], rtol=1e-12)
    assert_allclose(m["NDCG"], [0, 1, 0, 1])
    assert_allclose(m["MRR"], [0, 1, 0, 1])


def test_k_beyond_the_list_and_users_without_relevant_items():
    # k = 5 > width 3: the missing ranks are misses; the ideal still counts min(|R|, 5)
    m = ranking_metrics(TOP, REL, OFF, 5)
    # user 3: DCG 1.5, ideal 3 hits (as at k=3)
    assert_allclose(m["NDCG"][3], 1.5 / (1 + 1 / L3 + 0.5), rtol=1e-12)
    # an empty relevant set scores 0 everywhere (no division by zero)
    e = ranking_metrics([[0, 1]], np.array([], dtype=np.int32), [0, 0], 2)
    assert all(v.tolist() == [0.0] for v in e.values())


def test_unreachable_relevant_items_count_in_the_denominator():
    # one hit of two relevant items at k=1, the other (item 9) never recommended
    m = metrics_from_hits(np.array([[True]]), np.array([2]), 1)
    assert_allclose(m["Recall"], [1.0])  # capped: 1 / min(2, 1)
    m = metrics_from_hits(np.array([[True, False]]), np.array([2]), 2)
    assert_allclose(m["Recall"], [0.5])
    assert_allclose(m["NDCG"], [1 / (1 + 1 / L3)], rtol=1e-12)


def test_coverage():
    # first 2 columns: {2, 0, 3, 1} -> 4 of a 10-item catalogue
    assert coverage(TOP, 2, 10) == 0.4
    # first column: {2, 3, 0} -> 3 of 4
    assert coverage(TOP, 1, 4) == 0.75
    # padding is not an item
    assert coverage([[-1, -1]], 2, 4) == 0.0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="k=0 is invalid"):
        ranking_metrics(TOP, REL, OFF, 0)
    with pytest.raises(ValueError, match="k=0 is invalid"):
        coverage(TOP, 0, 4)
    with pytest.raises(ValueError, match=r"rel_offsets has shape \(4,\) but top_items has shape"):
        hit_matrix(TOP, REL, OFF[:-1])
    with pytest.raises(ValueError, match="rise from 0 to len"):
        hit_matrix(TOP, REL, [0, 1, 3, 4, 6])
    with pytest.raises(ValueError, match="must be 2-D"):
        hit_matrix([1, 2], REL, OFF)
    with pytest.raises(ValueError, match="n_catalogue=0"):
        coverage(TOP, 1, 0)
    with pytest.raises(ValueError, match=r"n_relevant has shape \(2,\) but hits has shape"):
        metrics_from_hits(np.zeros((3, 2), bool), [1, 1], 2)


def _reference(top, rel_sets, k):
    """The definitions, one user at a time."""
    out = {"HR": [], "Recall": [], "NDCG": [], "MRR": [], "plain": []}
    for row, rel in zip(top, rel_sets, strict=True):
        ranked = [int(i) for i in row[:k] if i >= 0]
        hits = [i in rel for i in ranked]
        n = sum(hits)
        dcg = sum(1 / np.log2(j + 2) for j, h in enumerate(hits) if h)
        idcg = sum(1 / np.log2(j + 2) for j in range(min(len(rel), k)))
        out["HR"].append(float(n > 0))
        out["Recall"].append(n / min(len(rel), k) if rel else 0.0)
        out["plain"].append(n / len(rel) if rel else 0.0)
        out["NDCG"].append(dcg / idcg if rel else 0.0)
        out["MRR"].append(1 / (hits.index(True) + 1) if any(hits) else 0.0)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda width: st.lists(
            st.tuples(
                st.lists(st.integers(0, 7), min_size=width, max_size=width, unique=True),
                st.integers(0, width),  # padded tail length
                st.sets(st.integers(0, 7), max_size=5),
            ),
            min_size=1,
            max_size=8,
        )
    ),
    st.integers(1, 7),
)
def test_matches_the_definitions(users, k):
    top = np.array([[*r[: len(r) - pad], *([-1] * pad)] for r, pad, _ in users])
    rel_sets = [s for _, _, s in users]
    rel = np.array([i for s in rel_sets for i in sorted(s)], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum([len(s) for s in rel_sets])])
    got = ranking_metrics(top, rel, off, k)
    want = _reference(top, rel_sets, k)
    for name in ("HR", "Recall", "NDCG", "MRR"):
        assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-15, err_msg=name)
    assert_allclose(recall_plain(top, rel, off, k), want["plain"], rtol=1e-12)
