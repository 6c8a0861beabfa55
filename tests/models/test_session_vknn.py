"""The embedding session-kNN: neighbour sessions through session vectors, votes by hand."""

import numpy as np
import pytest

from embedrec.data.interactions import Sequences
from embedrec.models.session_base import as_sessions, recode
from embedrec.models.session_vknn import SessionVectorKNN, session_items

# items a b c d (codes 0..3): a and b point along x, c and d along y
VECTORS = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])


def train() -> Sequences:
    # S0 = a b, S1 = c d, S2 = a c; no session holds both b and c
    return as_sessions([["a", "b"], ["c", "d"], ["a", "c"]])


def prefixes(train_s: Sequences, rows: list[list[str]]) -> Sequences:
    p, _ = recode(as_sessions(rows), train_s.item_keys)
    return p


def test_votes_by_hand_reach_items_no_session_shares_with_the_prefix():
    s = train()
    knn = SessionVectorKNN(k=2, power=2.0).fit(s, VECTORS)
    # session vectors (sums of unit item vectors): S0 (2, 0), S1 (0, 2), S2 (1, 1)
    # prefix (b): q = (1, 0); cosines S0 1, S1 0, S2 1/sqrt(2): the two nearest are S0, S2
    # votes cos ** 2: S0 1, S2 1/2. a: 1 + 1/2, b: 1, c: 1/2 (S2 shares no item with b), d: 0
    got = knn.score(prefixes(s, [["b"]]), half_life=1.0)
    np.testing.assert_allclose(got[0], [1.5, 1.0, 0.5, 0.0], rtol=1e-6)


def test_recency_weights_move_the_prefix_vector():
    s = train()
    knn = SessionVectorKNN(k=1, power=1.0).fit(s, VECTORS)
    # prefix (c, b), half-life 1: weights c 1/2, b 1 -> q = (1, 1/2), |q| = sqrt(5)/2
    # cos(q, S0) = 1 / |q| = 0.894; cos(q, S2) = (1 + 1/2) / (|q| sqrt 2) = 3 / sqrt(10) = 0.949
    # so S2 = (a, c) is the one neighbour, voting 3 / sqrt(10) for a and c
    got = knn.score(prefixes(s, [["c", "b"]]), half_life=1.0)[0]
    np.testing.assert_allclose(got, [3 / np.sqrt(10), 0, 3 / np.sqrt(10), 0], rtol=1e-5)
    # a long half-life weighs c and b alike: q = (1, 1), S2 has cosine 1
    far = knn.score(prefixes(s, [["c", "b"]]), half_life=1e6)[0]
    np.testing.assert_allclose(far, [1, 0, 1, 0], rtol=1e-5)


def test_empty_prefixes_and_sessions_without_vectors_get_no_votes():
    s = train()
    zero = VECTORS.copy()
    zero[[2, 3]] = 0.0  # c and d have no vector: S1 = (c, d) cannot be indexed
    knn = SessionVectorKNN(k=5, power=1.0).fit(s, zero)
    assert knn.rows_.tolist() == [0, 2]
    empty = Sequences(
        np.zeros(0, dtype=np.int32),
        np.array([0, 0]),
        np.zeros(1, dtype=np.int32),
        s.item_keys,
        np.zeros(0),
    )
    assert not knn.score(empty, half_life=1.0).any()
    assert not knn.score(prefixes(s, [["d"]]), half_life=1.0).any()  # d: no vector


def test_session_items_is_binary_and_the_matrix_route_is_the_same():
    s = as_sessions([["a", "a", "b"], ["b"]])
    m = session_items(s, 2)
    np.testing.assert_array_equal(m.toarray(), [[1, 1], [0, 1]])
    t = train()
    a = SessionVectorKNN(k=2).fit(t, VECTORS)
    b = SessionVectorKNN(k=2).from_matrix(session_items(t, 4), VECTORS)
    p = prefixes(t, [["a", "d"], ["c"]])
    np.testing.assert_array_equal(a.score(p, 1.0), b.score(p, 1.0))


def test_a_faiss_index_finds_the_same_neighbours():
    pytest.importorskip("faiss")
    t = train()
    p = prefixes(t, [["b"], ["c", "b"]])
    exact = SessionVectorKNN(k=2, power=2.0).fit(t, VECTORS).score(p, 1.0)
    hnsw = SessionVectorKNN(k=2, power=2.0, index="hnsw").fit(t, VECTORS).score(p, 1.0)
    np.testing.assert_allclose(hnsw, exact, rtol=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="k=0"):
        SessionVectorKNN(k=0)
    with pytest.raises(ValueError, match="power=0"):
        SessionVectorKNN(power=0.0)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 2\)"):
        SessionVectorKNN().from_matrix(session_items(train(), 4), VECTORS[:3])
