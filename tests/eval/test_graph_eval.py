"""Node classification and link prediction benchmarks on hand-made embeddings and graphs."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import stats

from embedrec.data.graph import Graph
from embedrec.eval.graph import (
    link_prediction,
    node_classification,
    split_edges,
    top_k_predictions,
)
from embedrec.vectors import Embeddings


# ---------------------------------------------------------------------------------- top-k rule
def test_top_k_known_answer():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.3, 0.3, 0.3], [0.9, 0.8, 0.7]])
    k = np.array([1, 2, 1, 3])
    # row 0: best is label 1; row 1: the two best are labels 0 (0.5) and 2 (0.4);
    # row 2: a three-way tie goes to the lowest label index; row 3: k = all labels
    expected = np.array(
        [[0, 1, 0], [1, 0, 1], [1, 0, 0], [1, 1, 1]],
        dtype=bool,
    )
    np.testing.assert_array_equal(top_k_predictions(scores, k), expected)
    assert top_k_predictions(scores, k).sum(axis=1).tolist() == k.tolist()


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_top_k_picks_the_k_largest(n, n_labels, seed):
    rng = np.random.default_rng(seed)
    scores = rng.random((n, n_labels))
    k = rng.integers(0, n_labels + 1, size=n)
    pred = top_k_predictions(scores, k)
    assert pred.sum(axis=1).tolist() == k.tolist()
    for row, kk, p in zip(scores, k, pred, strict=True):
        if 0 < kk < n_labels:  # every chosen score beats every score left out
            assert row[p].min() >= row[~p].max()


# ------------------------------------------------------------------------------ node classification
def two_groups(n_per=10, extra_label=False):
    """Group A (vector 2*e0) has label 0, group B (2*e1) label 1; rows A then B."""
    vectors = np.array([[2.0, 0.0]] * n_per + [[0.0, 2.0]] * n_per)
    y = np.zeros((2 * n_per, 3 if extra_label else 2), dtype=bool)
    y[:n_per, 0] = True
    y[n_per:, 1] = True
    return Embeddings(list(range(2 * n_per)), vectors), y


def test_separable_labels_score_one():
    emb, y = two_groups()
    res = node_classification(emb, None, sp.csr_matrix(y), train_fractions=(0.3, 0.7), repeats=3)
    assert list(res["fractions"]) == ["0.3", "0.7"]
    for part, n_train in zip(res["fractions"].values(), (6, 14), strict=True):
        assert part["n_train"] == n_train and part["n_test"] == 20 - n_train
        for name in ("micro_f1", "macro_f1"):
            assert part[name]["mean"] == 1.0 and part[name]["std"] == 0.0
            assert part[name]["runs"] == [1.0, 1.0, 1.0]
    assert (res["n_nodes"], res["n_unlabelled"], res["n_labels"]) == (20, 0, 2)


def test_multilabel_separable_uses_each_nodes_label_count():
    # A nodes carry labels {0, 2}, B nodes {1}: k = 2 for A and 1 for B; the top-k rule then
    # predicts exactly the true sets, so both F1 are 1
    emb, y = two_groups(extra_label=True)
    y[:10, 2] = True
    res = node_classification(emb, None, y, train_fractions=(0.5,), repeats=2)
    assert res["fractions"]["0.5"]["micro_f1"]["mean"] == 1.0
    assert res["fractions"]["0.5"]["macro_f1"]["mean"] == 1.0


def test_macro_f1_counts_a_label_no_node_has_as_zero():
    # label 2 is a column nobody has: never true, never predicted (k = 1 picks label 0 or 1),
    # so its F1 is 0/0 -> 0 (zero_division=0, as DeepWalk's scoring); the other two are 1:
    # macro = (1 + 1 + 0) / 3 = 2/3, micro = 1 (it pools the counts)
    emb, y = two_groups(extra_label=True)
    res = node_classification(emb, None, y, train_fractions=(0.5,), repeats=2)
    part = res["fractions"]["0.5"]
    assert part["micro_f1"]["mean"] == 1.0
    assert_allclose(part["macro_f1"]["mean"], 2 / 3, rtol=1e-12)


def test_hand_computed_f1_with_misleading_nodes():
    # A: 12 nodes at 2*e0 with label 0; B: 8 nodes at 2*e1 with label 1; X: 2 nodes at 2*e0
    # (they look like A) with label 1. Every train split holds far more A than X, so every
    # node at e0 is predicted label 0: A right, X wrong, B right. With a, b, x test nodes of
    # each group: micro-F1 = (a + b) / (a + b + x) (one label per node, so precision = recall
    # = accuracy); label 0: TP a, FP x, FN 0 -> F1_0 = 2a / (2a + x); label 1: TP b, FP 0,
    # FN x -> F1_1 = 2b / (2b + x); macro = (F1_0 + F1_1) / 2.
    vectors = np.array([[2.0, 0.0]] * 12 + [[0.0, 2.0]] * 8 + [[2.0, 0.0]] * 2)
    group = np.array([0] * 12 + [1] * 8 + [2] * 2)
    y = np.zeros((22, 2), dtype=bool)
    y[group == 0, 0] = True
    y[group != 0, 1] = True
    emb = Embeddings(list(range(22)), vectors)
    seed, repeats = 3, 5
    res = node_classification(emb, None, y, train_fractions=(0.5,), repeats=repeats, seed=seed)
    part = res["fractions"]["0.5"]
    assert part["n_train"] == 11
    for r in range(repeats):
        # the documented split: repeat r of fraction index 0 shuffles with rng([seed, 0, r])
        perm = np.random.default_rng([seed, 0, r]).permutation(22)
        train, test = perm[:11], perm[11:]
        assert (group[train] == 0).sum() >= (group[train] == 2).sum() + 3  # the premise
        a, b, x = ((group[test] == g).sum() for g in (0, 1, 2))
        micro = (a + b) / (a + b + x)
        f1_0 = 2 * a / (2 * a + x)
        f1_1 = 2 * b / (2 * b + x) if b + x else 0.0
        assert_allclose(part["micro_f1"]["runs"][r], micro, rtol=1e-12)
        assert_allclose(part["macro_f1"]["runs"][r], (f1_0 + f1_1) / 2, rtol=1e-12)
    runs = np.array(part["micro_f1"]["runs"])
    assert_allclose(part["micro_f1"]["mean"], runs.mean(), rtol=1e-12)
    assert_allclose(part["micro_f1"]["std"], runs.std(), rtol=1e-12)


def test_unlabelled_nodes_are_left_out():
    emb, y = two_groups()
    base = node_classification(emb, None, y, train_fractions=(0.5,), repeats=3, seed=1)
    # six more nodes, unlabelled, sitting on group A's vector with B's would-be label
    vectors = np.vstack([emb.vectors, [[2.0, 0.0]] * 3, [[0.0, 2.0]] * 3])
    labels = np.vstack([y, np.zeros((6, 2), dtype=bool)])
    emb2 = Embeddings(list(range(26)), vectors)
    res = node_classification(emb2, None, labels, train_fractions=(0.5,), repeats=3, seed=1)
    assert res["n_nodes"] == 20 and res["n_unlabelled"] == 6
    assert res["fractions"] == base["fractions"]


def test_node_keys_align_label_rows_with_embeddings():
    emb, y = two_groups()
    # labels given for the keys in reverse order: row i is key 19 - i
    keys = np.arange(19, -1, -1)
    res = node_classification(emb, keys, y[::-1], train_fractions=(0.5,), repeats=2)
    assert res["fractions"]["0.5"]["micro_f1"]["mean"] == 1.0
    # str keys too, as a list
    emb_s = Embeddings([f"n{i}" for i in range(20)], emb.vectors)
    res_s = node_classification(
        emb_s, [f"n{i}" for i in keys], y[::-1], train_fractions=(0.5,), repeats=2
    )
    assert res_s["fractions"] == res["fractions"]


def test_seed_reproducible_and_json_able():
    import json

    rng = np.random.default_rng(0)
    emb = Embeddings(list(range(40)), rng.normal(size=(40, 4)))
    y = rng.random((40, 3)) < 0.4
    a = node_classification(emb, None, y, train_fractions=(0.5,), repeats=3, seed=7)
    b = node_classification(emb, None, y, train_fractions=(0.5,), repeats=3, seed=7)
    assert a == b
    assert json.loads(json.dumps(a)) == a


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": np.zeros((5, 2), bool)}, "labels has shape"),
        ({"node_keys": [0, 1]}, "node_keys has 2 keys"),
        ({"train_fractions": (0.0,)}, "train_fractions"),
        ({"train_fractions": (1.0,)}, "train_fractions"),
        ({"repeats": 0}, "repeats=0"),
        ({"labels": np.eye(20, 1, dtype=bool)}, "only 1 node"),
    ],
)
def test_bad_input_names_the_problem(kwargs, match):
    emb, y = two_groups()
    args = {"node_keys": None, "labels": y, **kwargs}
    labels = args.pop("labels")
    node_keys = args.pop("node_keys")
    with pytest.raises(ValueError, match=match):
        node_classification(emb, node_keys, labels, **args)


def test_unknown_node_key_is_a_key_error():
    emb, y = two_groups()
    with pytest.raises(KeyError, match="99"):
        node_classification(emb, [*range(19), 99], y)


# ---------------------------------------------------------------------------------- edge split
def random_graph(n, p, seed, *, directed=False, weighted=False):
    rng = np.random.default_rng(seed)
    u, v = np.nonzero(rng.random((n, n)) < p)
    if not directed:
        keep = u < v
        u, v = u[keep], v[keep]
    else:
        keep = u != v
        u, v = u[keep], v[keep]
    w = rng.uniform(0.5, 2.0, size=u.size).astype(np.float32) if weighted else None
    return Graph.from_edges(u, v, w, directed=directed, nodes=np.arange(n))


def undirected_codes(graph):
    n = graph.n_nodes
    src = np.repeat(np.arange(n), np.diff(graph.indptr))
    dst = graph.indices.astype(np.int64)
    keep = src != dst
    return set((np.minimum(src, dst) * n + np.maximum(src, dst))[keep].tolist())


def check_split(graph, split, test_fraction):
    n = graph.n_nodes
    edges = undirected_codes(graph)
    residual = undirected_codes(split.residual)
    test = {int(a) * n + int(b) for a, b in split.test_edges}
    non = [int(a) * n + int(b) for a, b in split.non_edges]
    m = len(test)
    assert m == split.test_edges.shape[0] == round(test_fraction * len(edges))
    # the held-out edges are edges, none is left in the residual graph, together they are all
    assert test <= edges and not (test & residual) and (test | residual) == edges
    assert (split.test_edges[:, 0] < split.test_edges[:, 1]).all()

    # every node that had an edge (an arc either way) still has one
    def touched(codes):
        return {c // n for c in codes} | {c % n for c in codes}

    assert touched(residual) == touched(edges)
    # as many non-edges, distinct, u < v, none an edge in either direction
    assert len(non) == m and len(set(non)) == m
    assert (split.non_edges[:, 0] < split.non_edges[:, 1]).all()
    assert not (set(non) & edges)
    # keys and direction kept
    np.testing.assert_array_equal(split.residual.keys, graph.keys)
    assert split.residual.directed == graph.directed


@settings(max_examples=25, deadline=None)
@given(
    st.integers(8, 40),
    st.floats(0.15, 0.6),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.1, 0.3, 0.5]),
    st.booleans(),
)
def test_split_properties(n, p, seed, test_fraction, directed):
    graph = random_graph(n, p, seed, directed=directed)
    try:
        split = split_edges(graph, test_fraction=test_fraction, seed=seed)
    except ValueError as exc:  # too few spare edges (or none held out) on a sparse draw
        assert "test_fraction" in str(exc)
        return
    check_split(graph, split, test_fraction)


def test_split_keeps_weights_and_both_arcs_go():
    graph = random_graph(30, 0.3, 1, weighted=True)
    split = split_edges(graph, test_fraction=0.4, seed=2)
    check_split(graph, split, 0.4)
    full = graph.to_scipy().toarray()
    res = split.residual.to_scipy().toarray()
    kept = res > 0
    assert_allclose(res[kept], full[kept], rtol=0)  # surviving arcs keep their weights
    for u, v in split.test_edges:
        assert res[u, v] == 0 and res[v, u] == 0 and full[u, v] > 0


def test_split_directed_removes_arcs_either_way():
    # arcs 0->1, 1->0 (a reciprocal pair = one undirected edge), 1->2, 2->3, 3->0, 0->2,
    # 3->4, 4->1: 7 undirected pairs of the 10 -> round(0.3 * 7) = 2 held out, 3 non-edges
    src, dst = [0, 1, 1, 2, 3, 0, 3, 4], [1, 0, 2, 3, 0, 2, 4, 1]
    graph = Graph.from_edges(src, dst, directed=True, nodes=np.arange(5))
    split = split_edges(graph, test_fraction=0.3, seed=0)
    check_split(graph, split, 0.3)
    res = split.residual.to_scipy().toarray()
    for u, v in split.test_edges:
        assert res[u, v] == 0 and res[v, u] == 0


def test_split_seeded():
    graph = random_graph(40, 0.2, 0)
    a, b = split_edges(graph, seed=5), split_edges(graph, seed=5)
    np.testing.assert_array_equal(a.test_edges, b.test_edges)
    np.testing.assert_array_equal(a.non_edges, b.non_edges)
    c = split_edges(graph, seed=6)
    assert not np.array_equal(a.test_edges, c.test_edges)


def test_split_refuses_what_a_tree_cannot_spare():
    # a path 0-1-2-3-4 is its own spanning tree: no edge can go
    path = Graph.from_edges([0, 1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"test_fraction=0\.5 needs 2 held-out edges.*<=0\.000"):
        split_edges(path, test_fraction=0.5)
    with pytest.raises(ValueError, match=r"test_fraction=1\.0 is invalid"):
        split_edges(path, test_fraction=1.0)


def test_non_edges_are_uniform():
    """Each of the N non-edges is drawn with probability m / N per split (chi-square over 400
    seeded splits; the counts of sampling without replacement vary less than the multinomial's,
    so the test is conservative: false-failure rate below 1e-4)."""
    graph = random_graph(14, 0.3, 4)  # sparse: the rejection sampler is used
    n = graph.n_nodes
    edges = undirected_codes(graph)
    non = [u * n + v for u in range(n) for v in range(u + 1, n) if u * n + v not in edges]
    assert 2 * len(edges) < n * (n - 1) // 2
    counts = dict.fromkeys(non, 0)
    n_splits = 400
    m = 0
    for seed in range(n_splits):
        split = split_edges(graph, test_fraction=0.2, seed=seed)
        m = split.non_edges.shape[0]
        for a, b in split.non_edges:
            counts[int(a) * n + int(b)] += 1
    observed = np.array(list(counts.values()), dtype=np.float64)
    expected = n_splits * m / len(non)
    chi2 = ((observed - expected) ** 2 / expected).sum()
    assert chi2 < stats.chi2.ppf(1 - 1e-4, len(non) - 1)


def test_dense_graph_non_edges_enumerated():
    # a 10-clique minus three edges: 42 of 45 pairs are edges, so the only non-edges are the
    # three removed pairs and a 0.05 split (2 edges) must draw 2 of them
    u, v = np.triu_indices(10, k=1)
    drop = {(0, 1), (2, 5), (7, 9)}
    keep = [(a, b) not in drop for a, b in zip(u, v, strict=True)]
    graph = Graph.from_edges(u[keep], v[keep], nodes=np.arange(10))
    split = split_edges(graph, test_fraction=0.05, seed=0)
    check_split(graph, split, 0.05)
    assert {tuple(e) for e in split.non_edges.tolist()} <= drop


# ---------------------------------------------------------------------------------- link AUC
def two_cliques(k=15):
    """Two k-cliques joined by one bridge edge (0, k): nodes 0..k-1 and k..2k-1."""
    u, v = np.triu_indices(k, k=1)
    src = np.concatenate([u, u + k, [0]])
    dst = np.concatenate([v, v + k, [k]])
    return Graph.from_edges(src, dst)


def test_planted_cliques_auc_is_one():
    # vectors = clique indicator. The bridge is in every spanning tree, so it is never held
    # out: every held-out edge joins one clique (cosine 1, Hadamard = the indicator) and every
    # non-edge crosses (cosine 0, Hadamard 0). Both scores separate perfectly: AUC = 1.
    graph = two_cliques()
    seen = []

    def fit(residual):
        seen.append(residual)
        clique = (np.asarray(residual.keys) >= 15).astype(int)
        return Embeddings(np.asarray(residual.keys).tolist(), np.eye(2)[clique])

    res = link_prediction(graph, fit, test_fraction=0.5, seed=0)
    assert res["cosine_auc"] == 1.0 and res["hadamard_auc"] == 1.0
    assert res["n_edges"] == 2 * 105 + 1 and res["n_test_edges"] == round(0.5 * 211)
    assert res["n_non_edges"] == res["n_test_edges"]
    assert res["n_classifier_train"] + res["n_classifier_eval"] == 2 * res["n_test_edges"]
    # fit saw the residual graph: half the edges fewer
    (residual,) = seen
    assert residual.n_edges == 211 - res["n_test_edges"]


def test_random_vectors_auc_is_a_half():
    """Vectors independent of the graph: AUC ~ 0.5. With m = 1,102 edges and as many non-edges
    the null AUC has sd sqrt((2m + 1) / (12 m^2)) = 0.012 (all pairs) and 0.017 (half, for the
    classifier); the tolerances are 5 sd, a false-failure rate below 1e-5 for a new seed."""
    graph = random_graph(300, 0.05, 0)
    rng = np.random.default_rng(1)

    def fit(residual):
        return Embeddings(np.asarray(residual.keys).tolist(), rng.normal(size=(300, 16)))

    res = link_prediction(graph, fit, test_fraction=0.5, seed=3)
    m = res["n_test_edges"]
    sd = np.sqrt((2 * m + 1) / (12 * m * m))
    assert abs(res["cosine_auc"] - 0.5) < 5 * sd
    assert abs(res["hadamard_auc"] - 0.5) < 5 * sd * np.sqrt(2)


def test_link_prediction_needs_every_node_vector():
    graph = two_cliques(5)

    def fit(residual):  # forgets node 9
        return Embeddings(list(range(9)), np.ones((9, 2)))

    with pytest.raises(KeyError, match="9"):
        link_prediction(graph, fit, test_fraction=0.3)
