"""ExactIndex: known answers, the filter contract, and a brute-force property."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from embedrec import Embeddings
from embedrec.index import ExactIndex, build_index, load_index

ABC = Embeddings(["a", "b", "c"], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])


def test_known_answer_cosine():
    # query (0, 2) normalises to (0, 1): cosines are a: 0, b: 0.6, c: 1
    res = build_index(ABC).search([0.0, 2.0], k=3)
    assert res.keys.tolist() == ["c", "b", "a"]
    np.testing.assert_allclose(res.scores, [1.0, 0.6, 0.0], rtol=1e-6, atol=1e-7)


def test_known_answer_dot_keeps_raw_inner_products():
    emb = Embeddings([1, 2, 3], [[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]], metric="dot")
    # q = (1, 2): 1*2 = 2, 2*3 = 6, 1 + 2 = 3
    res = build_index(emb).search(np.array([[1.0, 2.0]]), k=3)
    assert res.keys.tolist() == [[2, 3, 1]]
    assert res.keys.dtype == np.int64
    np.testing.assert_allclose(res.scores, [[6.0, 3.0, 2.0]], rtol=1e-6)


def test_batch_equals_single_and_shapes():
    index = build_index(ABC)
    q = np.array([[1.0, 0.1], [0.1, 1.0]], dtype=np.float32)
    batch = index.search(q, k=2)
    assert batch.keys.shape == batch.scores.shape == (2, 2)
    for i in range(2):
        one = index.search(q[i], k=2)
        assert one.keys.shape == (2,)
        assert one.keys.tolist() == batch.keys[i].tolist()
        # BLAS may round a matrix-vector product differently from a matrix product (1 ulp)
        np.testing.assert_allclose(one.scores, batch.scores[i], rtol=1e-6)


def test_search_keys_excludes_self_and_pads_when_k_exceeds_candidates():
    index = build_index(ABC)
    res = index.search_keys("a", k=4)
    # two candidates remain (b, c): padded with None / -inf, as documented
    assert res.keys.tolist() == ["b", "c", None, None]
    assert np.isneginf(res.scores[2:]).all()
    assert index.search_keys("a", k=1, exclude_self=False).keys.tolist() == ["a"]
    ints = build_index(Embeddings([7, 8], [[1.0, 0.0], [0.0, 1.0]]))
    assert ints.search_keys([7], k=3).keys.tolist() == [[8, -1, -1]]


def test_ties_go_to_the_earlier_key():
    emb = Embeddings(["x", "y", "z", "w"], [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert build_index(emb).search([1.0, 0.0], k=2).keys.tolist() == ["x", "y"]


def test_filters_exclude_allow_deny_and_unknown_keys_ignored(random_emb):
    index = build_index(random_emb)
    q = random_emb.vectors[:3]
    plain = index.search(q, k=5)
    excl = [plain.keys[0][:2].tolist(), [], [12, 99999, "nope"]]  # unknown keys: ignored
    res = index.search(q, k=5, exclude=excl, deny=[plain.keys[1][0]])
    assert res.keys.shape == (3, 5) and np.isfinite(res.scores).all()
    assert not set(excl[0]) & set(res.keys[0].tolist())
    assert plain.keys[1][0] not in res.keys[1]
    assert 12 not in res.keys[2]
    allow = list(range(10, 3010, 7))
    res = index.search(q, k=5, allow=allow)
    assert set(res.keys.ravel().tolist()) <= set(allow)
    # a flat collection excludes the same keys from every query
    flat = index.search(q, k=5, exclude={int(plain.keys[0][0])})
    assert all(plain.keys[0][0] not in row for row in flat.keys)


def test_exclude_with_the_wrong_number_of_collections_is_refused():
    with pytest.raises(ValueError, match="2 collections but there are 3 queries"):
        build_index(ABC).search(np.eye(2)[[0, 1, 0]], k=1, exclude=[["a"], ["b"]])


def test_dim_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*dim=2"):
        build_index(ABC).search(np.zeros((4, 3)), k=1)


def test_metric_mismatch_names_both_metrics():
    with pytest.raises(ValueError, match=r"metric='dot'.*metric='cosine'"):
        build_index(ABC, metric="dot")


def test_unknown_query_key_raises_or_skips():
    index = build_index(ABC)
    with pytest.raises(KeyError, match="'zz'"):
        index.search_keys(["a", "zz"], k=1)
    assert index.search_keys(["a", "zz"], k=1, missing="skip").keys.tolist() == [["b"]]


def test_add_remove_and_key_types():
    index = build_index(ABC)
    index.add(["d"], [[-1.0, 0.0]])
    assert "d" in index and len(index) == 4
    assert index.search([-1.0, 0.1], k=1).keys.tolist() == ["d"]
    with pytest.raises(ValueError, match="already in the index"):
        index.add(["d"], [[1.0, 1.0]])
    with pytest.raises(TypeError, match="str keys"):
        index.add([5], [[1.0, 1.0]])
    with pytest.raises(ValueError, match=r"shape \(1, 3\)"):
        index.add(["e"], [[1.0, 1.0, 1.0]])
    assert index.remove(["d", "c"]) == 2
    assert index.keys == ["a", "b"] and "c" not in index
    assert index.search([0.0, 1.0], k=3).keys.tolist() == ["b", "a", None]


def test_save_load_round_trip(tmp_path, random_emb):
    index = build_index(random_emb)
    index.remove([10, 11])
    index.save(tmp_path / "ix")
    loaded = load_index(tmp_path / "ix")
    assert isinstance(loaded, ExactIndex) and loaded.keys == index.keys
    q = random_emb.vectors[:20]
    a, b = index.search(q, k=10), loaded.search(q, k=10)
    np.testing.assert_array_equal(a.keys, b.keys)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not list(tmp_path.glob("ix/*.pkl"))


def test_load_refuses_a_model_directory(tmp_path):
    ABC.save(tmp_path / "emb")
    with pytest.raises(ValueError, match="not an embedrec index"):
        load_index(tmp_path / "emb")


def _brute_force(data, queries, k, metric):
    """Plain NumPy reference: full score matrix, stable sort (ties: lower row first)."""
    if metric == "cosine":
        data = data / np.where((n := np.linalg.norm(data, axis=1)) > 0, n, 1)[:, None]
        queries = queries / np.where((m := np.linalg.norm(queries, axis=1)) > 0, m, 1)[:, None]
    scores = (queries.astype(np.float32) @ data.astype(np.float32).T).astype(np.float32)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(scores, order, axis=1)


@settings(max_examples=60, deadline=None)
@given(
    data=arrays(np.float32, st.tuples(st.integers(1, 40), st.just(4)), elements=st.integers(-3, 3)),
    queries=arrays(
        np.float32, st.tuples(st.integers(1, 5), st.just(4)), elements=st.integers(-3, 3)
    ),
    k=st.integers(1, 45),
    metric=st.sampled_from(["cosine", "dot"]),
)
def test_exact_equals_brute_force(data, queries, k, metric):
    # small integer coordinates make many exact ties, so tie-breaking is exercised too
    emb = Embeddings(list(range(data.shape[0])), data, metric=metric)
    res = ExactIndex().build(emb).search(queries, k=k)
    width = min(k, data.shape[0])
    ref_rows, ref_scores = _brute_force(data.copy(), queries.copy(), width, metric)
    np.testing.assert_allclose(res.scores[:, :width], ref_scores, rtol=1e-5, atol=1e-6)
    # keys may differ only between numerically tied scores
    same = res.keys[:, :width] == ref_rows
    assert same.all() or np.allclose(
        ref_scores[~same], res.scores[:, :width][~same], rtol=1e-5, atol=1e-6
    )
    assert (res.keys[:, width:] == -1).all() and np.isneginf(res.scores[:, width:]).all()
