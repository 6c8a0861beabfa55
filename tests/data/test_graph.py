"""Graph: CSR layout, constructors, readers, labels and persistence."""

from __future__ import annotations

import gzip
import logging

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from embedrec.data import Interactions, build_corpus
from embedrec.data.graph import Graph, read_labels, read_mat_labels


def csr(g: Graph) -> tuple[list[int], list[int]]:
    return g.indptr.tolist(), g.indices.tolist()


def check_invariants(g: Graph) -> None:
    """Re-run the full constructor checks (sorted unique rows, symmetry, key table)."""
    Graph(indptr=g.indptr, indices=g.indices, weights=g.weights, keys=g.keys, directed=g.directed)
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32
    assert g.weights is None or g.weights.dtype == np.float32
    assert g.keys.dtype in (np.dtype(np.int64), np.dtype(object))


# ---------------------------------------------------------------------- known CSR arrays
def test_undirected_triangle_with_self_loop_known_csr():
    # edges a-b, b-c, a-c and the loop c-c; keys by first appearance: a=0, b=1, c=2
    # rows: a -> {b, c}; b -> {a, c}; c -> {a, b, c} (the loop is stored once)
    g = Graph.from_edges(["a", "b", "a", "c"], ["b", "c", "c", "c"])
    assert g.keys.tolist() == ["a", "b", "c"] and g.keys.dtype == object
    assert csr(g) == ([0, 2, 4, 7], [1, 2, 0, 2, 0, 1, 2])
    assert g.weights is None and not g.is_weighted and not g.directed
    # n_edges = (n_arcs + n_self_loops) / 2 = (7 + 1) / 2 = 4
    assert (g.n_nodes, g.n_arcs, g.n_self_loops, g.n_edges) == (3, 7, 1, 4)
    assert g.out_degree().tolist() == [2, 2, 3]
    check_invariants(g)


def test_self_loops_drop():
    g = Graph.from_edges(["a", "b", "a", "c"], ["b", "c", "c", "c"], self_loops="drop")
    assert csr(g) == ([0, 2, 4, 6], [1, 2, 0, 2, 0, 1])
    assert (g.n_arcs, g.n_self_loops, g.n_edges) == (6, 0, 3)


def test_directed_keeps_dangling_nodes():
    # arcs 10->20, 20->30, 10->30: node 30 has out-degree 0 (dangling) but is a node
    g = Graph.from_edges([10, 20, 10], [20, 30, 30], directed=True)
    assert g.keys.tolist() == [10, 20, 30] and g.keys.dtype == np.int64
    assert csr(g) == ([0, 2, 3, 3], [1, 2, 2])
    assert g.out_degree().tolist() == [2, 1, 0]
    assert (g.n_arcs, g.n_edges) == (3, 3)
    assert g.neighbors(2).size == 0
    check_invariants(g)


def test_directed_self_loop_kept_once_per_occurrence_merged():
    g = Graph.from_edges([1, 1], [1, 1], [2.0, 3.0], directed=True)
    assert csr(g) == ([0, 1], [0])
    assert g.weights.tolist() == [5.0] and g.n_edges == 1


@pytest.mark.parametrize(
    ("duplicates", "expected"),
    # rows (1,2,w=1), (2,1,w=3), (1,2,w=2) are one undirected edge three times:
    # sum = 1 + 3 + 2 = 6, max = 3, first (row 0) = 1, the same on both arcs
    [("sum", 6.0), ("max", 3.0), ("first", 1.0)],
)
def test_undirected_duplicates_merge_symmetrically(duplicates, expected):
    g = Graph.from_edges([1, 2, 1], [2, 1, 2], [1.0, 3.0, 2.0], duplicates=duplicates)
    assert csr(g) == ([0, 1, 2], [1, 0])
    assert g.weights.tolist() == [expected, expected]
    assert g.n_edges == 1
    check_invariants(g)


@pytest.mark.parametrize(
    ("duplicates", "expected"),
    # arc 1->2 from rows 0 and 2: sum 1 + 2 = 3, max 2, first 1; arc 2->1 (row 1) alone: 3
    [("sum", [3.0, 3.0]), ("max", [2.0, 3.0]), ("first", [1.0, 3.0])],
)
def test_directed_duplicates_merge_per_arc(duplicates, expected):
    g = Graph.from_edges(
        [1, 2, 1], [2, 1, 2], [1.0, 3.0, 2.0], directed=True, duplicates=duplicates
    )
    assert csr(g) == ([0, 1, 2], [1, 0])
    assert g.weights.tolist() == expected


def test_unweighted_duplicates_collapse_and_stay_unweighted():
    for dup in ("sum", "max", "first"):
        g = Graph.from_edges([1, 2, 1, 1], [2, 1, 2, 2], duplicates=dup)
        assert csr(g) == ([0, 1, 2], [1, 0]) and g.weights is None


def test_nodes_fix_order_and_add_isolated_nodes():
    # given nodes first (9, 5), then new keys by first appearance (7, 3)
    g = Graph.from_edges([5, 3], [7, 5], nodes=[9, 5])
    assert g.keys.tolist() == [9, 5, 7, 3]
    assert g.out_degree().tolist() == [0, 2, 1, 1]
    assert g.n_edges == 2
    empty = Graph.from_edges([], [], nodes=["x", "y"])
    assert empty.keys.tolist() == ["x", "y"] and empty.n_arcs == 0
    assert csr(empty) == ([0, 0, 0], [])


def test_key_order_is_first_appearance_interleaved():
    # scan src[0], dst[0], src[1], dst[1]: 3, 2, 1, 3 -> keys 3, 2, 1
    g = Graph.from_edges([3, 1], [2, 3])
    assert g.keys.tolist() == [3, 2, 1]


def test_key_types():
    assert Graph.from_edges(np.array([1, 2], np.uint16), [2, 3]).keys.dtype == np.int64
    g = Graph.from_edges(np.array(["1", "2"]), np.array(["2", "3"]))
    assert g.keys.dtype == object and g.keys.tolist() == ["1", "2", "3"]
    with pytest.raises(TypeError, match="src has int keys but dst has str keys"):
        Graph.from_edges([1, 2], ["a", "b"])
    with pytest.raises(TypeError, match="all int or all str"):
        Graph.from_edges([1, "a"], [2, 3])
    with pytest.raises(TypeError, match="double values; keys must be int or str"):
        Graph.from_edges([1.0, 2.0], [2.0, 3.0])
    with pytest.raises(TypeError, match="dtype float64; keys must be int or str"):
        Graph.from_edges(np.array([1.0]), np.array([2.0]))
    with pytest.raises(TypeError, match="nodes has int keys"):
        Graph.from_edges(["a"], ["b"], nodes=[1])


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_weights_name_the_row(bad):
    with pytest.raises(ValueError, match=r"weights\[2\] = .*\(edge 'c' -> 'd'\).*finite and > 0"):
        Graph.from_edges(["a", "b", "c"], ["b", "c", "d"], [1.0, 2.0, bad])


def test_shape_and_choice_errors():
    with pytest.raises(ValueError, match="src has shape"):
        Graph.from_edges([1, 2], [2])
    with pytest.raises(ValueError, match="weights has shape"):
        Graph.from_edges([1, 2], [2, 3], [1.0])
    with pytest.raises(ValueError, match="duplicates='mean' is invalid"):
        Graph.from_edges([1], [2], duplicates="mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="self_loops='no' is invalid"):
        Graph.from_edges([1], [2], self_loops="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"nodes must be unique; repeated: \[4\]"):
        Graph.from_edges([1], [2], nodes=[4, 4])


# ---------------------------------------------------------------------- the constructor checks
def test_constructor_rejects_broken_arrays():
    keys = np.array([0, 1, 2])
    ok = {"indptr": [0, 1, 2, 2], "indices": [1, 2], "weights": None, "keys": keys}
    g = Graph(**ok, directed=True)
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32
    with pytest.raises(ValueError, match="strictly ascending"):
        Graph(indptr=[0, 2, 2, 2], indices=[2, 1], weights=None, keys=keys, directed=True)
    with pytest.raises(ValueError, match="strictly ascending"):
        Graph(indptr=[0, 2, 2, 2], indices=[1, 1], weights=None, keys=keys, directed=True)
    with pytest.raises(ValueError, match="not symmetric"):
        Graph(**ok, directed=False)
    with pytest.raises(ValueError, match="end at n_arcs=2"):
        Graph(indptr=[0, 1, 1, 1], indices=[1, 2], weights=None, keys=keys, directed=True)
    with pytest.raises(ValueError, match="indices must lie in"):
        Graph(indptr=[0, 1, 2, 2], indices=[1, 3], weights=None, keys=keys, directed=True)
    with pytest.raises(ValueError, match="keys must be unique"):
        Graph(**{**ok, "keys": np.array([0, 1, 1])}, directed=True)
    with pytest.raises(ValueError, match="one key per node"):
        Graph(**{**ok, "keys": np.array([0, 1])}, directed=True)
    with pytest.raises(ValueError, match=r"weights\[1\] = 0.0"):
        Graph(**{**ok, "weights": np.array([1.0, 0.0])}, directed=True)
    # symmetric arcs with unequal weights are not an undirected graph
    sym = {"indptr": [0, 1, 2], "indices": [1, 0], "keys": np.array([0, 1])}
    Graph(**sym, weights=np.array([2.0, 2.0]), directed=False)
    with pytest.raises(ValueError, match="not symmetric"):
        Graph(**sym, weights=np.array([2.0, 3.0]), directed=False)


# ---------------------------------------------------------------------- lookups
def test_index_of_and_neighbors():
    g = Graph.from_edges([10, 20, 30], [20, 30, 40], directed=True)
    assert g.index_of(30) == 2 and isinstance(g.index_of(30), int)
    idx = g.index_of([40, 10, np.int64(20)])
    assert idx.dtype == np.int32 and idx.tolist() == [3, 0, 1]
    assert g.index_of(np.array([], dtype=np.int64)).tolist() == []
    with pytest.raises(KeyError, match=r"2 keys are not nodes of the graph: \[5, 99\]"):
        g.index_of([10, 5, 99])
    assert g.key_to_index == {10: 0, 20: 1, 30: 2, 40: 3}
    assert g.key_to_index is g.key_to_index  # cached
    gs = Graph.from_edges(["x", "y"], ["y", "z"])
    assert gs.index_of(["z", "x"]).tolist() == [2, 0] and gs.index_of("y") == 1
    with pytest.raises(KeyError, match=r"\['w'\]"):
        gs.index_of(["w"])
    nb = gs.neighbors(1)
    assert nb.tolist() == [0, 2] and nb.base is not None  # a view, not a copy
    assert gs.neighbors(-1).tolist() == [1]
    with pytest.raises(IndexError, match="out of range for 3 nodes"):
        gs.neighbors(3)
    assert repr(gs) == "Graph(3 nodes, 2 edges, undirected)"


def test_to_scipy_matches_arrays():
    g = Graph.from_edges([0, 0, 1], [1, 2, 2], [0.5, 2.0, 4.0], directed=True)
    dense = g.to_scipy().toarray()
    assert_allclose(dense, [[0, 0.5, 2.0], [0, 0, 4.0], [0, 0, 0]], rtol=0)
    m = Graph.from_edges([0], [1]).to_scipy()
    assert isinstance(m, sps.csr_matrix) and m.dtype == np.float32
    assert_array_equal(m.toarray(), [[0, 1], [1, 0]])


# ---------------------------------------------------------------------- hypothesis properties
edge_lists = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.integers(0, 7),
        st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0]),
    ),
    min_size=0,
    max_size=30,
)


def dense_reference(edges, keys, directed, duplicates, weighted, self_loops):
    """Loop-by-loop adjacency: every arc's weights merged in input order."""
    index = {k: i for i, k in enumerate(keys)}
    cells: dict[tuple[int, int], list[float]] = {}
    for u, v, w in edges:
        if self_loops == "drop" and u == v:
            continue
        cells.setdefault((index[u], index[v]), []).append(w)
        if not directed and u != v:
            cells.setdefault((index[v], index[u]), []).append(w)
    dense = np.zeros((len(keys), len(keys)))
    merge = {"sum": sum, "max": max, "first": lambda ws: ws[0]}[duplicates]
    for (i, j), ws in cells.items():
        dense[i, j] = merge(ws) if weighted else 1.0
    return dense


@settings(max_examples=150, deadline=None)
@given(
    edge_lists,
    st.booleans(),
    st.booleans(),
    st.sampled_from(["sum", "max", "first"]),
    st.sampled_from(["keep", "drop"]),
)
def test_from_edges_matches_dense_reference(edges, directed, weighted, duplicates, self_loops):
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.array([e[2] for e in edges]) if weighted else None
    g = Graph.from_edges(
        src, dst, w, directed=directed, duplicates=duplicates, self_loops=self_loops
    )
    check_invariants(g)
    # keys: first appearance over src[0], dst[0], src[1], ...
    order = list(dict.fromkeys(x for e in edges for x in e[:2]))
    assert g.keys.tolist() == order
    for r in range(g.n_nodes):  # sorted, unique rows
        row = g.neighbors(r)
        assert np.all(np.diff(row) > 0)
    ref = dense_reference(edges, order, directed, duplicates, weighted, self_loops)
    assert_allclose(g.to_scipy().toarray(), ref, rtol=1e-6)
    if not directed:
        dense = g.to_scipy().toarray()
        assert_array_equal(dense, dense.T)
        n_loops = int(np.count_nonzero(np.diag(dense)))
        assert g.n_edges == (np.count_nonzero(dense) + n_loops) // 2
    else:
        assert g.n_edges == np.count_nonzero(ref)


@settings(max_examples=40, deadline=None)
@given(edge_lists, st.booleans(), st.sampled_from([" ", "\t", ","]))
def test_edgelist_file_equals_from_edges(tmp_path_factory, edges, directed, sep):
    path = tmp_path_factory.mktemp("el") / "g.txt"
    path.write_text("".join(f"{u}{sep}{v}{sep}{w}\n" for u, v, w in edges))
    if not edges:
        with pytest.raises(ValueError, match="holds no edges"):
            Graph.from_edgelist(path, directed=directed)
        return
    g = Graph.from_edgelist(path, directed=directed)
    ref = Graph.from_edges(
        [e[0] for e in edges], [e[1] for e in edges], [e[2] for e in edges], directed=directed
    )
    assert_array_equal(g.keys, ref.keys)
    assert_array_equal(g.indptr, ref.indptr)
    assert_array_equal(g.indices, ref.indices)
    assert_array_equal(g.weights, ref.weights)


# ---------------------------------------------------------------------- persistence
@pytest.mark.parametrize(
    "graph",
    [
        Graph.from_edges([1, 2, 3], [2, 3, 3], [1.5, 2.5, 4.0]),
        Graph.from_edges(["é", "b", "long key"], ["b", "c", "é"], directed=True, nodes=["z"]),
        Graph.from_edges([], [], nodes=[]),
    ],
)
def test_save_load_round_trip(tmp_path, graph):
    path = tmp_path / "sub" / "g.npz"
    graph.save(path)
    back = Graph.load(path)
    for name in ("indptr", "indices", "keys"):
        assert_array_equal(getattr(back, name), getattr(graph, name))
        assert getattr(back, name).dtype == getattr(graph, name).dtype
    assert back.directed == graph.directed
    if graph.weights is None:
        assert back.weights is None
    else:
        assert_array_equal(back.weights, graph.weights)
    assert [p.name for p in path.parent.iterdir()] == ["g.npz"]  # no temporary left


def test_load_and_save_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        Graph.load(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(ValueError, match=r"not a graph written by Graph\.save"):
        Graph.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"not a graph \.npz"):
        Graph.load(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match=r"ends with '\\x00'"):
        Graph.from_edges(["a\x00"], ["b"]).save(tmp_path / "nul.npz")


# ---------------------------------------------------------------------- edge-list files
def test_edgelist_whitespace_comments_blank_lines(tmp_path):
    p = tmp_path / "g.edgelist"
    p.write_text("# a comment\n\n1 2   # trailing comment\n  2\t3\n\r\n3 1\n# end")
    g = Graph.from_edgelist(p)
    assert g.keys.tolist() == [1, 2, 3] and g.n_edges == 3 and g.weights is None


def test_edgelist_csv_weighted_and_gz(tmp_path):
    text = "a,b,0.5\nb,c,2\n"
    p = tmp_path / "g.csv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(text)
    g = Graph.from_edgelist(p, directed=True)
    assert g.keys.tolist() == ["a", "b", "c"] and g.weights.tolist() == [0.5, 2.0]
    plain = tmp_path / "g.csv"
    plain.write_text("a, b, 0.5\nb, c, 2\n")  # spaces around fields are trimmed
    assert Graph.from_edgelist(plain, directed=True).weights.tolist() == [0.5, 2.0]
    g_unw = Graph.from_edgelist(plain, directed=True, weighted=False)
    assert g_unw.weights is None


def test_edgelist_weight_column_rules(tmp_path, caplog):
    p = tmp_path / "g.txt"
    p.write_text("1 2 3.0\n2 3\n")
    with caplog.at_level(logging.WARNING, logger="embedrec"):
        g = Graph.from_edgelist(p)
    assert g.weights is None and "line 2 does not" in caplog.text
    with pytest.raises(ValueError, match=r"g.txt, line 2: weighted=True"):
        Graph.from_edgelist(p, weighted=True)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1 2\n3\n", r"line 2: expected 2 or 3 columns .* found 1: '3'"),
        ("1 2\n\n1 2 3 4\n", r"line 3: expected 2 or 3 columns .* found 4"),
        ("1 2 1\n2 3 heavy\n", r"line 2: weight 'heavy' is not a number"),
        ("1 2 1\n2 3 0\n", r"line 2: weight '0' is invalid; weights must be finite and > 0"),
        ("1 2 1\n2 3 -2\n", r"line 2: weight '-2' is invalid"),
        ("1 2 1\n# x\n2 3 nan\n", r"line 3: weight 'nan' is invalid"),
        ("1 2 1\n2 3 inf\n", r"line 2: weight 'inf' is invalid"),
        ("src dst\n1 2\n2 3\n", r"line 1: the first line looks like a header"),
    ],
)
def test_edgelist_malformed_lines_are_named(tmp_path, text, match):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        Graph.from_edgelist(p)


def test_edgelist_node_type_and_delimiter(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("1 x\n2 3\n")
    assert Graph.from_edgelist(p).keys.tolist() == ["1", "x", "2", "3"]
    assert Graph.from_edgelist(p, node_type="str").keys.dtype == object
    with pytest.raises(ValueError, match=r"line 1: id 'x' is not an integer"):
        Graph.from_edgelist(p, node_type="int")
    q = tmp_path / "ints.txt"
    q.write_text("007 8\n")
    assert Graph.from_edgelist(q).keys.tolist() == [7, 8]
    assert Graph.from_edgelist(q, node_type="str").keys.tolist() == ["007", "8"]
    big = tmp_path / "big.txt"
    big.write_text("99999999999999999999 1\n")
    assert Graph.from_edgelist(big).keys.tolist() == ["99999999999999999999", "1"]
    with pytest.raises(ValueError, match="does not fit int64"):
        Graph.from_edgelist(big, node_type="int")
    tsv = tmp_path / "g.tsv"
    tsv.write_text("a\tb\n\tc\n")
    with pytest.raises(ValueError, match=r"line 2: fields must be separated by exactly one '\\t'"):
        Graph.from_edgelist(tsv, delimiter="\t")
    csv = tmp_path / "g.csv"
    csv.write_text("a,b\nc,,d\n")
    with pytest.raises(ValueError, match=r"line 2: fields must be separated"):
        Graph.from_edgelist(csv)
    with pytest.raises(ValueError, match="delimiter='::' is invalid"):
        Graph.from_edgelist(csv, delimiter="::")
    nocomment = tmp_path / "hash.txt"
    nocomment.write_text("#1 #2\n")
    assert Graph.from_edgelist(nocomment, comment=None).keys.tolist() == ["#1", "#2"]


def test_edgelist_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Graph.from_edgelist(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="holds no edges"):
        Graph.from_edgelist(empty)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"a b\nb \xe9\n")
    with pytest.raises(ValueError, match=r"latin.txt, line 2: bytes are not valid UTF-8"):
        Graph.from_edgelist(latin)


# ---------------------------------------------------------------------- adjacency lists
def test_adjlist_known_graph(tmp_path):
    p = tmp_path / "g.adjlist"
    # edge 1-2 listed at both ends, 1-3 only at 1, node 4 isolated, 5-5 a self-loop
    p.write_text("1 2 3\n2 1\n# comment\n4\n5 5\n")
    g = Graph.from_adjlist(p)
    assert g.keys.tolist() == [1, 2, 3, 4, 5]
    assert csr(g) == ([0, 2, 3, 4, 4, 5], [1, 2, 0, 0, 4])
    assert g.n_edges == 3
    d = Graph.from_adjlist(p, directed=True)
    # arcs 1->2, 1->3, 2->1, 5->5
    assert csr(d) == ([0, 2, 3, 3, 3, 4], [1, 2, 0, 4])
    assert Graph.from_adjlist(p, self_loops="drop").n_edges == 2
    s = tmp_path / "s.adjlist"
    s.write_text("b a\nc\n")
    gs = Graph.from_adjlist(s)
    assert gs.keys.tolist() == ["b", "a", "c"] and gs.out_degree().tolist() == [1, 1, 0]


# ---------------------------------------------------------------------- matrices
def test_from_scipy_direction_and_weights():
    sym = np.array([[0, 2, 0], [2, 0, 1], [0, 1, 1]])
    g = Graph.from_scipy(sps.coo_matrix(sym))
    assert not g.directed and g.n_edges == 3 and g.n_self_loops == 1
    assert_array_equal(g.to_scipy().toarray(), sym)
    upper = np.triu(sym)
    d = Graph.from_scipy(upper)
    assert d.directed and d.n_arcs == 3
    u = Graph.from_scipy(upper, directed=False)  # symmetrised with max(A, A.T)
    assert_array_equal(u.to_scipy().toarray(), sym)
    ones = Graph.from_scipy(sps.csr_matrix(np.array([[0, 1], [1, 0]], dtype=float)))
    assert ones.weights is None and ones.keys.tolist() == [0, 1]
    keyed = Graph.from_scipy(sym, keys=["a", "b", "c"])
    assert keyed.keys.tolist() == ["a", "b", "c"]
    # explicit zeros are no arcs; duplicate coo entries are summed
    coo = sps.coo_matrix(([1.0, 1.0, 0.0], ([0, 0, 1], [1, 1, 0])), shape=(2, 2))
    c = Graph.from_scipy(coo)
    assert c.directed and csr(c) == ([0, 1, 1], [1]) and c.weights.tolist() == [2.0]


def test_from_scipy_errors():
    with pytest.raises(ValueError, match="must be square"):
        Graph.from_scipy(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"matrix\[1, 0\] = -1.0 is invalid"):
        Graph.from_scipy(np.array([[0, 1], [-1, 0]]))
    with pytest.raises(ValueError, match=r"matrix\[0, 1\] = nan"):
        Graph.from_scipy(np.array([[0, np.nan], [1, 0]]))
    with pytest.raises(ValueError, match="one key per row"):
        Graph.from_scipy(np.eye(2), keys=[1, 2, 3])


def test_from_mat_and_read_mat_labels(tmp_path):
    net = sps.csc_matrix(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]], dtype=float))
    group = sps.csc_matrix(np.array([[1, 0], [0, 1], [1, 1]], dtype=float))
    p = tmp_path / "toy.mat"
    scipy.io.savemat(p, {"network": net, "group": group})
    g = Graph.from_mat(p)
    assert not g.directed and g.n_edges == 2 and g.keys.tolist() == [0, 1, 2]
    y, names = read_mat_labels(p)
    assert y.dtype == bool and y.toarray().tolist() == [[1, 0], [0, 1], [1, 1]]
    assert names.tolist() == [0, 1]
    with pytest.raises(KeyError, match=r"no variable 'A'; it holds \['group', 'network'\]"):
        Graph.from_mat(p, variable="A")


# ---------------------------------------------------------------------- sessions
def test_from_sessions_known_counts():
    # transitions: a->b, b->c (b,b repeat ignored), b->c, c->a; 'd' only alone -> isolated
    sessions = [["a", "b", "b", "c"], ["b", "c", "a"], ["d"]]
    g = Graph.from_sessions(sessions)
    assert g.directed and g.keys.tolist() == ["a", "b", "c", "d"]
    assert csr(g) == ([0, 1, 2, 3, 3], [1, 2, 0])
    assert g.weights.tolist() == [1.0, 2.0, 1.0]  # a->b 1, b->c 2, c->a 1
    heavy = Graph.from_sessions(sessions, min_weight=2)
    assert csr(heavy) == ([0, 0, 1, 1, 1], [2]) and heavy.n_nodes == 4
    u = Graph.from_sessions(sessions, directed=False)
    # undirected weights: {a,b} 1, {b,c} 2, {a,c} 1
    assert_array_equal(
        u.to_scipy().toarray(), [[0, 1, 1, 0], [1, 0, 2, 0], [1, 2, 0, 0], [0, 0, 0, 0]]
    )


def test_from_sessions_accepts_sequences_and_corpus():
    inter = Interactions.from_arrays(
        ["u1", "u1", "u1", "u2", "u2", "u3"], [30, 10, 20, 10, 20, 40], times=[0, 1, 2, 0, 1, 0]
    )
    seqs = inter.sequences()  # [[30, 10, 20], [10, 20], [40]]
    g = Graph.from_sessions(seqs)
    # nodes follow the key table (10, 20, 30, 40): arcs 30->10, 10->20 (x2)
    assert g.keys.tolist() == [10, 20, 30, 40]
    assert csr(g) == ([0, 1, 1, 2, 2], [1, 0]) and g.weights.tolist() == [2.0, 1.0]
    vocab, corpus = build_corpus([["x", "y", "x"], ["y", "x"]], min_count=1)
    gc = Graph.from_sessions((corpus, vocab.keys))
    # vocab x (3 tokens) = 0, y = 1; transitions x->y 1, y->x 2
    assert gc.keys.tolist() == ["x", "y"]
    assert csr(gc) == ([0, 1, 2], [1, 0]) and gc.weights.tolist() == [1.0, 2.0]


def test_from_sessions_errors():
    with pytest.raises(ValueError, match="min_weight=0 is invalid"):
        Graph.from_sessions([[1, 2]], min_weight=0)
    with pytest.raises(ValueError, match="no items"):
        Graph.from_sessions([[], []])
    with pytest.raises(TypeError, match="a session is a str"):
        Graph.from_sessions(["abc"])


# ---------------------------------------------------------------------- labels
def test_read_labels_known_matrix(tmp_path):
    g = Graph.from_edges([5, 6], [6, 7])
    p = tmp_path / "labels.txt"
    # node 5 twice (labels united), node 6 without a line -> empty row
    p.write_text("node label\n5 2\n7 10 2\n5 0\n")
    y, names = read_labels(p, g)
    assert names.tolist() == [0, 2, 10]  # sorted numerically, not as text
    assert y.dtype == bool and y.shape == (3, 3)
    assert y.toarray().tolist() == [[1, 1, 0], [0, 0, 0], [0, 1, 1]]
    bad = tmp_path / "unknown.txt"
    bad.write_text("5 a\n8 b\n9 a\n")
    with pytest.raises(KeyError, match=r"2 labelled nodes are not in the graph .*line 2.*\[8, 9\]"):
        read_labels(bad, g)
    y2, names2 = read_labels(bad, g, missing="skip")
    assert names2.tolist() == ["a"] and y2.toarray().tolist() == [[1], [0], [0]]
    notint = tmp_path / "notint.txt"
    notint.write_text("5 a\nsix b\n")
    with pytest.raises(ValueError, match="line 2: the node id is not an integer"):
        read_labels(notint, g)
    gs = Graph.from_edges(["u", "v"], ["v", "w"])
    s = tmp_path / "s.txt"
    s.write_text("w x\nu y x\n")
    ys, ns = read_labels(s, gs)
    assert ns.tolist() == ["x", "y"] and ys.toarray().tolist() == [[1, 1], [0, 0], [1, 0]]


# ---------------------------------------------------------------------- shared data sets
def test_karate_adjlist_is_zachary(shared_data):
    g = Graph.from_adjlist(shared_data.require("graphs", "karate", "karate.adjlist"))
    assert (g.n_nodes, g.n_edges, g.n_self_loops) == (34, 78, 0)
    check_invariants(g)
    edges = {
        (min(a, b), max(a, b))
        for a, row in zip(g.keys.tolist(), np.split(g.indices, g.indptr[1:-1]), strict=True)
        for b in g.keys[row].tolist()
    }
    try:
        import networkx as nx
    except ImportError:
        assert len(edges) == 78
        return
    ref = {(min(u, v) + 1, max(u, v) + 1) for u, v in nx.karate_club_graph().edges()}
    assert edges == ref


def test_karate_edgelist_keeps_its_erratum(shared_data):
    # the node2vec copy lists (9, 33) twice and lacks (9, 31): 78 lines, 77 distinct edges
    g = Graph.from_edgelist(shared_data.require("graphs", "karate", "karate.edgelist"))
    assert (g.n_nodes, g.n_edges) == (34, 77)


def test_blogcatalog_mat_and_adjlist_agree(shared_data):
    folder = shared_data.require("graphs", "blogcatalog")
    adj = Graph.from_adjlist(folder / "bc_adjlist.txt")
    mat = Graph.from_mat(folder / "blogcatalog.mat")
    for g in (adj, mat):
        assert (g.n_nodes, g.n_edges, g.n_self_loops) == (10312, 333983, 0)
        assert not g.directed and g.weights is None
    check_invariants(adj)
    # the adjlist numbers nodes by first appearance; the .mat by row: align by key
    perm = np.argsort(adj.keys)
    assert_array_equal(adj.keys[perm], mat.keys)
    a = adj.to_scipy()[perm][:, perm]
    assert (a != mat.to_scipy()).nnz == 0
    y, names = read_labels(folder / "bc_labels.txt", adj)
    ym, names_m = read_mat_labels(folder / "blogcatalog.mat")
    assert y.shape == (10312, 39) and y.nnz == 14476 and len(names) == 39
    assert_array_equal(names, names_m)
    assert (y[perm] != ym).nnz == 0


def test_empty_inputs(tmp_path):
    g = Graph.from_edges([], [])
    assert (g.n_nodes, g.n_arcs, g.n_edges) == (0, 0, 0) and g.keys.dtype == np.int64
    assert g.to_scipy().shape == (0, 0) and g.out_degree().size == 0
    blank = tmp_path / "blank.txt"
    blank.write_bytes(b"")
    with pytest.raises(ValueError, match="holds no edges"):
        Graph.from_edgelist(blank)
    with pytest.raises(ValueError, match="holds no nodes"):
        Graph.from_adjlist(blank)
    y, names = read_labels(blank, Graph.from_edges([1], [2]))
    assert y.shape == (2, 0) and names.size == 0


def test_sessions_of_numpy_arrays_and_int_keys():
    # 7->8 twice, 8->9 once; the repeat 8, 8 adds nothing
    g = Graph.from_sessions([np.array([7, 8, 8, 9]), np.array([7, 8])])
    assert g.keys.tolist() == [7, 8, 9] and g.keys.dtype == np.int64
    assert csr(g) == ([0, 1, 2, 2], [1, 2]) and g.weights.tolist() == [2.0, 1.0]
    assert g.out_degree().tolist() == [1, 1, 0]  # 9 is dangling
