"""Random-walk kernels: DeepWalk and node2vec (on-the-fly rejection and per-arc alias).

Chi-square tests use fixed seeds, so they are deterministic; the thresholds (p-value > 1e-6)
mean a correct sampler would fail for about one seed in a million. Under
``NUMBA_DISABLE_JIT=1`` sample sizes shrink (``_SCALE``) so pure Python stays quick.
"""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from embedrec.kernels.rng import seed_state
from embedrec.kernels.walks import (
    build_node2vec_alias,
    build_row_alias,
    deepwalk_walks,
    node2vec_walks_alias,
    node2vec_walks_otf,
    seed_walk_state,
)
from tests.reference.walks_ref import (
    alias_table_probs,
    node2vec_alias_probs_ref,
    node2vec_probs_ref,
    row_alias_probs_ref,
    walks_ref,
)

# pure-Python uint64 arithmetic (NUMBA_DISABLE_JIT=1) wraps with a numpy overflow warning
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

_SCALE = 0.2 if numba.config.DISABLE_JIT else 1.0
SAMPLERS = ["deepwalk", "otf", "alias"]
N2V_SAMPLERS = ["otf", "alias"]
P_MIN = 1e-6


def csr(n, edges, weights=None, *, directed=False):
    """Sorted CSR arrays (indptr, indices, weights-or-None) from an edge list."""
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    w = np.ones(len(e)) if weights is None else np.asarray(weights, dtype=np.float64)
    src, dst = e[:, 0], e[:, 1]
    if not directed:
        loop = src == dst
        src, dst, w = (
            np.concatenate([src, dst[~loop]]),
            np.concatenate([dst, src[~loop]]),
            np.concatenate([w, w[~loop]]),
        )
    m = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    m.sum_duplicates()
    m.sort_indices()
    return (
        m.indptr.astype(np.int64),
        m.indices.astype(np.int32),
        None if weights is None else m.data.astype(np.float32),
    )


def run(sampler, graph, starts, walk_length, seed, p=1.0, q=1.0):
    """Walks with ``sampler`` on ``graph = (indptr, indices, weights-or-None)``."""
    indptr, indices, weights = graph
    weighted = weights is not None
    pu, al = build_row_alias(indptr, weights) if weighted else (None, None)
    if sampler == "deepwalk":
        return deepwalk_walks(indptr, indices, pu, al, weighted, starts, walk_length, seed)
    if sampler == "otf":
        return node2vec_walks_otf(
            indptr, indices, pu, al, weighted, p, q, starts, walk_length, seed
        )
    n2v = build_node2vec_alias(indptr, indices, weights, p, q)
    return node2vec_walks_alias(indptr, indices, pu, al, weighted, *n2v, starts, walk_length, seed)


def split(tokens, offsets):
    return [tokens[offsets[i] : offsets[i + 1]] for i in range(offsets.size - 1)]


def random_graph(seed, n, density, directed, weighted):
    rng = np.random.default_rng(seed)
    mask = rng.random((n, n)) < density
    if not directed:
        mask = np.triu(mask)
    src, dst = np.nonzero(mask)
    w = rng.uniform(0.1, 5.0, src.size) if weighted else None
    return csr(n, np.column_stack([src, dst]), w, directed=directed)


# A small graph with triangles (0-1-2, 2-3-4), a 4-cycle (1-2-4-5) and a pendant node (6):
# rows mix "return" (x == t), "distance 1" (arc t -> x) and "distance 2" candidates.
SMALL_EDGES = [(0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4), (4, 5), (5, 6), (1, 5)]
SMALL_WEIGHTS = [1.0, 2.0, 0.5, 3.0, 1.0, 1.5, 2.5, 1.0, 4.0]


# --------------------------------------------------------------------------------------------
# seeding and tables


@pytest.mark.parametrize(("seed", "w"), [(0, 0), (1, 5), (123456789, 99_999), (-1, 7)])
def test_walk_state_is_splitmix_of_seed_and_walk_index(seed, w):
    state = np.empty(1, dtype=np.uint64)
    seed_walk_state(np.uint64(seed & (2**64 - 1)), w, state)
    assert state[0] == seed_state(seed, w)[0]


def test_row_alias_known_answer():
    # row 0 weights (1, 2, 3, 2), sum 8 -> P = (1/8, 2/8, 3/8, 2/8).
    # Vose: scaled = w * 4 / 8 = (0.5, 1, 1.5, 1); small = [0], large = [1, 2, 3].
    #   pop 0 with 3: prob[0] = 0.5, alias[0] = 3, scaled[3] = 1 + 0.5 - 1 = 0.5 -> small
    #   pop 3 with 2: prob[3] = 0.5, alias[3] = 2, scaled[2] = 1.5 + 0.5 - 1 = 1 -> large
    #   leftovers 1, 2 keep themselves: prob = 1 -> threshold 2**32 - 1 (alias is the column)
    # check: P(2) = 1/4 + 0.5/4 = 3/8, P(3) = 0.5/4 + 0.5/4 = 2/8.
    # row 1 is empty; row 2 has one arc (P = 1).
    indptr = np.array([0, 4, 4, 5])
    weights = np.array([1.0, 2.0, 3.0, 2.0, 5.0])
    prob_u32, alias = build_row_alias(indptr, weights)
    assert prob_u32.dtype == np.uint32 and alias.dtype == np.int32
    np.testing.assert_array_equal(prob_u32[:4], [2**31, 2**32 - 1, 2**32 - 1, 2**31])
    np.testing.assert_array_equal(alias[:4], [3, 1, 2, 2])
    np.testing.assert_allclose(
        alias_table_probs(prob_u32[:4], alias[:4]), [1 / 8, 2 / 8, 3 / 8, 2 / 8], atol=1e-9
    )
    assert alias[4] == 0 and prob_u32[4] == 2**32 - 1


def test_node2vec_alias_known_answer():
    # undirected edges 0-1, 0-2, 1-2, 2-3; p = 0.5 (1/p = 2), q = 2 (1/q = 0.5)
    # arc 0->2, row 2 = (0, 1, 3): x=0 is t -> 2; arc 0->1 exists -> 1; 0->3 absent -> 0.5
    #   (2, 1, 0.5) / 3.5 = (4/7, 2/7, 1/7)
    # arc 3->2: 3->0, 3->1 absent -> 0.5, 0.5; x=3 is t -> 2; (0.5, 0.5, 2) / 3 = (1/6, 1/6, 2/3)
    # arc 1->0, row 0 = (1, 2): x=1 is t -> 2; arc 1->2 exists -> 1; (2/3, 1/3)
    indptr, indices, _ = csr(4, [(0, 1), (0, 2), (1, 2), (2, 3)])
    prob_u32, alias, arc_offsets = build_node2vec_alias(indptr, indices, None, 0.5, 2.0)
    np.testing.assert_array_equal(np.diff(arc_offsets), np.diff(indptr)[indices])

    def table(t, v):
        e = int(indptr[t]) + int(np.searchsorted(indices[indptr[t] : indptr[t + 1]], v))
        lo, hi = arc_offsets[e], arc_offsets[e + 1]
        return alias_table_probs(prob_u32[lo:hi], alias[lo:hi])

    np.testing.assert_allclose(table(0, 2), [4 / 7, 2 / 7, 1 / 7], atol=1e-9)
    np.testing.assert_allclose(table(3, 2), [1 / 6, 1 / 6, 2 / 3], atol=1e-9)
    np.testing.assert_allclose(table(1, 0), [2 / 3, 1 / 3], atol=1e-9)


graphs = st.tuples(
    st.integers(0, 2**32 - 1),  # numpy seed of the graph
    st.integers(1, 9),  # nodes
    st.floats(0.0, 0.9),  # arc density
    st.booleans(),  # directed
    st.booleans(),  # weighted
)


@settings(max_examples=25, deadline=None)
@given(graphs, st.sampled_from([0.25, 1.0, 3.0]), st.sampled_from([0.5, 1.0, 4.0]))
def test_alias_tables_encode_reference_probabilities(spec, p, q):
    indptr, indices, weights = random_graph(*spec)
    prob_u32, alias = build_row_alias(indptr, weights)
    want = row_alias_probs_ref(indptr, weights)
    for v in range(indptr.size - 1):
        lo, hi = indptr[v], indptr[v + 1]
        assert np.all((alias[lo:hi] >= 0) & (alias[lo:hi] < hi - lo))
        np.testing.assert_allclose(
            alias_table_probs(prob_u32[lo:hi], alias[lo:hi]), want[lo:hi], atol=1e-8
        )
    n2v_prob, n2v_alias, arc_offsets = build_node2vec_alias(indptr, indices, weights, p, q)
    want, want_offsets = node2vec_alias_probs_ref(indptr, indices, weights, p, q)
    np.testing.assert_array_equal(arc_offsets, want_offsets)
    for e in range(indices.size):
        lo, hi = arc_offsets[e], arc_offsets[e + 1]
        np.testing.assert_allclose(
            alias_table_probs(n2v_prob[lo:hi], n2v_alias[lo:hi]), want[lo:hi], atol=1e-8
        )


# --------------------------------------------------------------------------------------------
# walk structure


@settings(max_examples=30, deadline=None)
@given(graphs, st.sampled_from(SAMPLERS), st.integers(1, 7), st.integers(0, 2**63))
def test_every_step_follows_an_arc(spec, sampler, walk_length, seed):
    graph = random_graph(*spec)
    indptr, indices, _ = graph
    n = indptr.size - 1
    arcs = {(v, int(x)) for v in range(n) for x in indices[indptr[v] : indptr[v + 1]]}
    deg = np.diff(indptr)
    starts = np.tile(np.arange(n), 3)
    tokens, offsets = run(sampler, graph, starts, walk_length, seed, p=0.5, q=2.0)
    assert tokens.dtype == np.int32 and offsets.dtype == np.int64
    assert offsets[0] == 0 and offsets[-1] == tokens.size and offsets.size == starts.size + 1
    for start, walk in zip(starts, split(tokens, offsets), strict=True):
        assert 1 <= walk.size <= walk_length
        assert walk[0] == start
        assert all((int(a), int(b)) in arcs for a, b in itertools.pairwise(walk))
        # shorter than asked only when it ended at a node with out-degree 0
        if walk.size < walk_length:
            assert deg[walk[-1]] == 0


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_walks_stop_at_dangling_nodes(sampler):
    # directed path 0 -> 1 -> 2 (2 has no out-arc) and an isolated node 3
    graph = csr(4, [(0, 1), (1, 2)], directed=True)
    tokens, offsets = run(sampler, graph, np.array([0, 1, 2, 3, 0]), 6, seed=3)
    walks = [w.tolist() for w in split(tokens, offsets)]
    assert walks == [[0, 1, 2], [1, 2], [2], [3], [0, 1, 2]]
    tokens, offsets = run(sampler, graph, np.array([0, 3]), 1, seed=3)
    np.testing.assert_array_equal(tokens, [0, 3])
    np.testing.assert_array_equal(offsets, [0, 1, 2])


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_no_starts_gives_an_empty_corpus(sampler):
    graph = csr(3, [(0, 1), (1, 2)])
    tokens, offsets = run(sampler, graph, np.array([], dtype=np.int64), 5, seed=0)
    assert tokens.size == 0
    np.testing.assert_array_equal(offsets, [0])


# --------------------------------------------------------------------------------------------
# distributions


def _gof(observed, probs):
    """Chi-square statistic and degrees of freedom of counts against probabilities."""
    expected = probs * observed.sum()
    return float(((observed - expected) ** 2 / expected).sum()), observed.size - 1


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_weighted_walks_follow_weights_on_a_star(sampler):
    # star: centre 0, leaves 1..4 with weights 1, 2, 3, 4 -> P(first step = leaf i) = i / 10
    graph = csr(5, [(0, 1), (0, 2), (0, 3), (0, 4)], [1.0, 2.0, 3.0, 4.0])
    n_walks = int(20_000 * _SCALE)
    tokens, offsets = run(sampler, graph, np.zeros(n_walks, dtype=np.int64), 2, seed=11)
    assert np.all(np.diff(offsets) == 2)
    observed = np.bincount(tokens[1::2], minlength=5)[1:]
    assert stats.chisquare(observed, observed.sum() * np.array([0.1, 0.2, 0.3, 0.4])).pvalue > P_MIN


def _transition_counts(tokens, offsets, n, skip_first=False):
    """Counts of consecutive pairs (v, x) inside walks, as an (n, n) matrix."""
    counts = np.zeros((n, n), dtype=np.int64)
    for walk in split(tokens, offsets):
        a = walk[1:-1] if skip_first else walk[:-1]
        b = walk[2:] if skip_first else walk[1:]
        np.add.at(counts, (a, b), 1)
    return counts


@pytest.mark.parametrize("sampler", N2V_SAMPLERS)
@pytest.mark.parametrize("weighted", [False, True])
def test_node2vec_with_p_q_one_matches_deepwalk(sampler, weighted):
    graph = csr(7, SMALL_EDGES, SMALL_WEIGHTS if weighted else None)
    indptr, indices, _ = graph
    starts = np.tile(np.arange(7), int(300 * _SCALE))
    dw = _transition_counts(*run("deepwalk", graph, starts, 30, seed=1), 7)
    n2v = _transition_counts(*run(sampler, graph, starts, 30, seed=2, p=1.0, q=1.0), 7)
    # per source node, a 2 x deg(v) contingency table (DeepWalk vs node2vec); the
    # statistics of the independent tables add up
    stat, dof = 0.0, 0
    for v in range(7):
        row = indices[indptr[v] : indptr[v + 1]]
        res = stats.chi2_contingency(np.stack([dw[v, row], n2v[v, row]]), correction=False)
        stat += res.statistic
        dof += res.dof
    assert stats.chi2.sf(stat, dof) > P_MIN


SECOND_ORDER_CASES = [
    # (directed, weighted, p, q)
    (False, False, 0.25, 4.0),
    (False, False, 4.0, 0.5),
    (False, True, 0.5, 2.0),
    (True, False, 0.25, 0.25),
    (True, True, 2.0, 0.5),
]


@pytest.mark.parametrize("sampler", N2V_SAMPLERS)
@pytest.mark.parametrize(("directed", "weighted", "p", "q"), SECOND_ORDER_CASES)
def test_second_order_transitions_match_the_formula(sampler, directed, weighted, p, q):
    edges = SMALL_EDGES
    weights = SMALL_WEIGHTS if weighted else None
    if directed:
        # both arcs of most edges plus a few one-way arcs, so that "x == t" is sometimes not
        # reachable and "arc t -> x" differs from "arc x -> t"
        edges = [*edges, *[(b, a) for a, b in edges[:6]], (6, 0), (3, 1)]
        weights = None if weights is None else [*weights, *weights[:6], 0.7, 2.0]
    graph = csr(7, edges, weights, directed=directed)
    indptr, indices, w = graph
    starts = np.tile(np.arange(7), int(250 * _SCALE))
    tokens, offsets = run(sampler, graph, starts, 40, seed=5, p=p, q=q)
    triples = np.zeros((7, 7, 7), dtype=np.int64)
    for walk in split(tokens, offsets):
        np.add.at(triples, (walk[:-2], walk[1:-1], walk[2:]), 1)
    stat, dof = 0.0, 0
    for t in range(7):
        for v in indices[indptr[t] : indptr[t + 1]]:
            row = indices[indptr[v] : indptr[v + 1]]
            observed = triples[t, v, row]
            if row.size < 2 or observed.sum() == 0:
                continue
            probs = node2vec_probs_ref(indptr, indices, w, p, q, t, int(v))
            # any x outside row v would be a wrong arc
            assert observed.sum() == triples[t, v].sum()
            s, d = _gof(observed, probs)
            stat += s
            dof += d
    assert dof > 20
    assert stats.chi2.sf(stat, dof) > P_MIN


def _lumped(a, b, min_count=10):
    """Stack two category-count vectors, lumping rare categories into one."""
    rare = (a + b) < min_count
    table = np.stack([a[~rare], b[~rare]])
    if (a[rare] + b[rare]).sum() > 0:
        table = np.column_stack([table, [a[rare].sum(), b[rare].sum()]])
    return table


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_kernel_and_numpy_twin_agree_in_distribution(sampler):
    # directed and weighted, with a dangling node (6 has no out-arc), so walk lengths vary
    edges = [(0, 1), (1, 0), (1, 2), (2, 0), (2, 3), (3, 2), (3, 4), (4, 5), (5, 3), (4, 6)]
    weights = [1.0, 2.0, 1.0, 3.0, 0.5, 1.0, 2.0, 1.0, 1.0, 0.3]
    graph = csr(7, edges, weights, directed=True)
    indptr, indices, w = graph
    p, q = (None, None) if sampler == "deepwalk" else (0.5, 3.0)
    walk_length = 6
    starts_ref = np.tile(np.arange(6), int(100 * _SCALE))
    starts = np.tile(np.arange(6), int(1000 * _SCALE))
    rng = np.random.default_rng(0)
    ref = walks_ref(indptr, indices, w, starts_ref, walk_length, rng, p=p, q=q)
    got = run(sampler, graph, starts, walk_length, seed=9, p=p or 1.0, q=q or 1.0)

    def categories(tokens, offsets):
        # one category per (start, full walk prefix of 3 nodes) and per walk length
        walks = split(tokens, offsets)
        short = 8 * 64  # walks of fewer than 3 nodes
        codes = [
            int(wk[0]) * 64 + int(wk[1]) * 8 + int(wk[2]) if wk.size > 2 else short for wk in walks
        ]
        first = np.bincount(codes, minlength=short + 1)
        lengths = np.bincount([wk.size for wk in walks], minlength=walk_length + 1)
        ends = np.bincount([int(wk[-1]) for wk in walks], minlength=7)
        return np.concatenate([first, lengths, ends])

    table = _lumped(categories(*got), categories(*ref))
    assert stats.chi2_contingency(table, correction=False).pvalue > P_MIN


# --------------------------------------------------------------------------------------------
# reproducibility


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_same_seed_same_walks_for_any_thread_count(sampler):
    graph = random_graph(4, 60, 0.1, False, True)
    starts = np.tile(np.arange(60), 8)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(sampler, graph, starts, 15, seed=42, p=0.5, q=2.0)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = run(sampler, graph, starts, 15, seed=42, p=0.5, q=2.0)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    other = run(sampler, graph, starts, 15, seed=43, p=0.5, q=2.0)
    assert not np.array_equal(one[0], other[0])


# --------------------------------------------------------------------------------------------
# validation


def test_invalid_arguments_name_the_field():
    indptr, indices, _ = csr(3, [(0, 1), (1, 2)])
    starts = np.array([0, 1])
    with pytest.raises(ValueError, match=r"p=0\.0 is invalid"):
        node2vec_walks_otf(indptr, indices, None, None, False, 0.0, 1.0, starts, 5, 0)
    with pytest.raises(ValueError, match=r"q=nan is invalid"):
        build_node2vec_alias(indptr, indices, None, 1.0, float("nan"))
    with pytest.raises(ValueError, match=r"walk_length=0 is invalid"):
        deepwalk_walks(indptr, indices, None, None, False, starts, 0, 0)
    with pytest.raises(ValueError, match=r"starts range over \[0, 3\]"):
        deepwalk_walks(indptr, indices, None, None, False, np.array([0, 3]), 5, 0)
    with pytest.raises(ValueError, match="weighted=True needs"):
        deepwalk_walks(indptr, indices, None, None, True, starts, 5, 0)
    with pytest.raises(ValueError, match="weights must be finite and > 0"):
        build_row_alias(indptr, np.array([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"indices range over \[0, 5\]"):
        deepwalk_walks(indptr, np.array([1, 0, 5, 1]), None, None, False, starts, 5, 0)
    n2v = list(build_node2vec_alias(indptr, indices, None, 1.0, 1.0))
    n2v[2] = n2v[2][:-1]
    with pytest.raises(ValueError, match="build_node2vec_alias on the same graph"):
        node2vec_walks_alias(indptr, indices, None, None, False, *n2v, starts, 5, 0)
