"""Graph-embedding benchmarks: multi-label node classification and link prediction.

* :func:`node_classification` follows DeepWalk (Perozzi et al., KDD 2014): one-vs-rest
  logistic regression on the node vectors, trained on a seeded random share of the labelled
  nodes; each test node is given as many labels as it truly has (its top-k labels by predicted
  probability), and Micro- and Macro-F1 are averaged over the repeats.
* :func:`link_prediction` follows node2vec (Grover & Leskovec, KDD 2016): hold out a share of
  the edges while every node keeps at least one (a random spanning forest is never touched),
  sample as many non-edges, embed the residual graph and score held-out edges against
  non-edges by ROC-AUC, both of the cosine similarity and of a logistic regression on the
  Hadamard product of the two vectors.

scikit-learn is imported only when a function runs (extra ``embedrec[graph]``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ..data.graph import Graph
from ..index.topk import top_k
from ..vectors import Embeddings

__all__ = ["EdgeSplit", "link_prediction", "node_classification", "split_edges"]

#: graphs with at most this many node pairs may have their non-edges listed (dense graphs)
_ENUMERATE_PAIRS = 4_000_000


def _sklearn() -> Any:
    """The scikit-learn modules these benchmarks use, or an ImportError naming the extra."""
    try:
        from sklearn import linear_model, metrics, multiclass
    except ImportError as exc:  # pragma: no cover - scikit-learn is a test dependency
        raise ImportError(
            "graph evaluation needs scikit-learn; install it with `pip install 'embedrec[graph]'`"
        ) from exc
    return linear_model, metrics, multiclass


# ---------------------------------------------------------------------------------- node labels
def _labels_csr(labels: Any) -> sp.csr_matrix:
    if sp.issparse(labels):
        mat = sp.csr_matrix(labels)
    else:
        arr = np.asarray(labels)
        if arr.ndim != 2:
            raise ValueError(
                f"labels has shape {arr.shape}; give a (n_nodes, n_labels) sparse or dense matrix"
            )
        mat = sp.csr_matrix(arr)
    mat = mat.astype(bool)
    mat.eliminate_zeros()
    return mat


def _vectors_of(emb: Embeddings, keys: Sequence[Hashable] | npt.NDArray[Any]) -> Any:
    """Rows of ``emb`` for ``keys`` (KeyError listing the keys the embeddings lack)."""
    key_list: list[Any] = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
    return emb.get_vectors(key_list)


def top_k_predictions(
    scores: npt.NDArray[np.floating[Any]], k: npt.NDArray[np.integer[Any]]
) -> npt.NDArray[np.bool_]:
    """Boolean (n, n_labels) mask of each row's ``k[i]`` highest scores.

    Ties go to the lower label index (stable sort), so the result is deterministic.

    Examples
    --------
    >>> top_k_predictions(np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]]), np.array([1, 2]))
    array([[False,  True, False],
           [ True, False,  True]])
    """
    scores = np.asarray(scores)
    k = np.asarray(k)
    if scores.ndim != 2 or k.shape != (scores.shape[0],):
        raise ValueError(
            f"scores has shape {scores.shape} and k has shape {k.shape}; need (n, n_labels) "
            "and (n,)"
        )
    pred = np.zeros(scores.shape, dtype=bool)
    k_max = int(k.max(initial=0))
    if k_max < 1:
        return pred
    # the one ranking path (ties: the lower label first), then each row keeps its own k
    cols, _ = top_k(scores, k_max, drop_inf=False)
    chosen = np.arange(cols.shape[1])[None, :] < k[:, None]
    pred[np.nonzero(chosen)[0], cols[chosen]] = True
    return pred


def node_classification(
    embeddings: Embeddings,
    node_keys: Sequence[Hashable] | npt.NDArray[Any] | None,
    labels: Any,
    *,
    train_fractions: Sequence[float] = (0.1, 0.5, 0.9),
    repeats: int = 10,
    seed: int = 0,
    C: float = 1.0,
) -> dict[str, Any]:
    """Multi-label node classification, DeepWalk's protocol; Micro/Macro-F1 per train share.

    For each train fraction and each of ``repeats`` seeded shuffles of the labelled nodes,
    the first ``round(fraction * n)`` nodes train a one-vs-rest logistic regression
    (liblinear, ``C``) on their vectors; every other node is predicted its ``k`` most
    probable labels, ``k`` being its true label count, and F1 is taken over all test nodes.

    Parameters
    ----------
    embeddings : Embeddings
        Node vectors (raw vectors are the features; the metric is not used).
    node_keys : sequence of keys, length n_nodes, or None
        The node key of each row of ``labels`` (e.g. ``graph.keys``); ``None`` means row ``i``
        of ``labels`` is row ``i`` of ``embeddings``.
    labels : (n_nodes, n_labels) scipy sparse or dense matrix, bool
        ``labels[i, j]`` is true when node ``i`` has label ``j`` (e.g. from
        :func:`embedrec.data.graph.read_labels`). Nodes with no label are left out.
    train_fractions : sequence of float in (0, 1), default (0.1, 0.5, 0.9)
        Shares of the labelled nodes used for training.
    repeats : int, default 10
        Seeded shuffles per fraction; the result holds their mean and (population) std.
    seed : int, default 0
        Seed of the shuffles: the same seed gives the same splits.
    C : float, default 1.0
        Inverse regularisation strength of the logistic regression.

    Returns
    -------
    dict
        JSON-able: ``n_nodes`` (labelled nodes used), ``n_unlabelled`` (left out), ``n_labels``,
        ``repeats``, ``seed``, ``C`` and ``fractions``: for each fraction (key ``f"{f:g}"``)
        ``n_train``, ``n_test``, ``micro_f1`` and ``macro_f1`` (each ``{"mean", "std",
        "runs"}``). Macro-F1 averages over every label column; a label that a test split
        neither holds nor predicts counts as 0 (scikit-learn's ``zero_division=0``, the
        published protocol).

    Raises
    ------
    ValueError
        Shapes that do not match, fewer than 2 labelled nodes, bad fractions or repeats.
    KeyError
        Node keys missing from ``embeddings`` (listed).
    ImportError
        scikit-learn is missing (``pip install 'embedrec[graph]'``).

    Examples
    --------
    >>> emb = Embeddings(list(range(8)), [[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4)
    >>> y = np.array([[1, 0]] * 4 + [[0, 1]] * 4, dtype=bool)
    >>> res = node_classification(emb, None, y, train_fractions=[0.5], repeats=2)
    >>> res["fractions"]["0.5"]["micro_f1"]["mean"]
    1.0
    """
    linear_model, metrics, multiclass = _sklearn()
    mat = _labels_csr(labels)
    n_rows, n_labels = mat.shape
    if node_keys is None:
        if n_rows != len(embeddings):
            raise ValueError(
                f"labels has shape {mat.shape} but embeddings has {len(embeddings)} rows; "
                "pass node_keys (the key of each labels row) when they are not aligned"
            )
        features = np.asarray(embeddings.vectors)
    else:
        if len(node_keys) != n_rows:
            raise ValueError(
                f"node_keys has {len(node_keys)} keys but labels has shape {mat.shape}; "
                "give one key per labels row"
            )
        features = _vectors_of(embeddings, node_keys)
    if repeats < 1:
        raise ValueError(f"repeats={repeats} is invalid; use repeats>=1")
    fractions = [float(f) for f in train_fractions]
    if not fractions or not all(0.0 < f < 1.0 for f in fractions):
        raise ValueError(
            f"train_fractions={list(train_fractions)} is invalid; use fractions in (0, 1)"
        )
    counts = np.diff(mat.indptr)
    labelled = np.flatnonzero(counts > 0)
    n = labelled.size
    if n < 2:
        raise ValueError(
            f"only {n} node(s) have a label; node classification needs at least 2 labelled nodes"
        )
    x_all = np.asarray(features[labelled], dtype=np.float64)
    y_all = mat[labelled]
    k_all = counts[labelled]

    out: dict[str, Any] = {}
    for f_idx, fraction in enumerate(fractions):
        n_train = min(max(round(fraction * n), 1), n - 1)
        micro: list[float] = []
        macro: list[float] = []
        for r in range(repeats):
            # one stream per (seed, fraction, repeat): adding a fraction leaves the others' splits
            perm = np.random.default_rng([seed, f_idx, r]).permutation(n)
            train, test = perm[:n_train], perm[n_train:]
            clf = multiclass.OneVsRestClassifier(
                linear_model.LogisticRegression(solver="liblinear", C=C)
            )
            with warnings.catch_warnings():
                # a label absent from (or present in all of) the train split gets a constant
                # predictor; that is the protocol, not a problem to report
                warnings.filterwarnings("ignore", message="Label .* is present in all")
                warnings.filterwarnings("ignore", message="Label not .* is present in all")
                clf.fit(x_all[train], y_all[train])
            proba = np.asarray(clf.predict_proba(x_all[test]))
            pred = top_k_predictions(proba, k_all[test])
            truth = y_all[test].toarray()
            micro.append(float(metrics.f1_score(truth, pred, average="micro", zero_division=0)))
            macro.append(float(metrics.f1_score(truth, pred, average="macro", zero_division=0)))
        out[f"{fraction:g}"] = {
            "train_fraction": fraction,
            "n_train": int(n_train),
            "n_test": int(n - n_train),
            "micro_f1": _summary(micro),
            "macro_f1": _summary(macro),
        }
    return {
        "n_nodes": int(n),
        "n_unlabelled": int(n_rows - n),
        "n_labels": int(n_labels),
        "repeats": int(repeats),
        "seed": int(seed),
        "C": float(C),
        "fractions": out,
    }


def _summary(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "runs": [float(v) for v in arr]}


# ---------------------------------------------------------------------------------- link split
@dataclass(frozen=True, eq=False)
class EdgeSplit:
    """Held-out edges, as many sampled non-edges, and the graph without the held-out edges.

    Parameters
    ----------
    residual : Graph
        The input graph (same keys, direction and weights) minus every arc of a held-out
        edge; every node that had an edge still has one.
    test_edges : (m, 2) int64
        Held-out node index pairs ``(u, v)``, ``u < v``.
    non_edges : (m, 2) int64
        Distinct node index pairs ``(u, v)``, ``u < v``, with no arc between them in either
        direction of the input graph.
    """

    residual: Graph
    test_edges: npt.NDArray[np.int64]
    non_edges: npt.NDArray[np.int64]


def _undirected_pairs(graph: Graph) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(arc pair codes, sorted unique edge codes): code = min(u, v) * n + max(u, v)."""
    n = graph.n_nodes
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.indptr))
    dst = graph.indices.astype(np.int64)
    codes = np.minimum(src, dst) * n + np.maximum(src, dst)
    loops = src == dst
    edge_codes = np.unique(codes[~loops])
    codes[loops] = -1  # self-loops are never held out
    return codes, edge_codes


def _spanning_forest_codes(
    n: int, edge_codes: npt.NDArray[np.int64], rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Sorted codes of the edges of a random spanning forest (one tree per component)."""
    from scipy.sparse.csgraph import minimum_spanning_tree

    u, v = edge_codes // n, edge_codes % n
    # random positive weights make the minimum spanning tree a random spanning forest
    w = 1.0 + rng.random(edge_codes.size)
    tree = minimum_spanning_tree(sp.csr_matrix((w, (u, v)), shape=(n, n))).tocoo()
    a, b = tree.row.astype(np.int64), tree.col.astype(np.int64)
    return np.sort(np.minimum(a, b) * n + np.maximum(a, b))


def split_edges(graph: Graph, *, test_fraction: float = 0.5, seed: int = 0) -> EdgeSplit:
    """Hold out ``round(test_fraction * n_edges)`` edges and sample as many non-edges.

    Edges are undirected pairs ``{u, v}``, ``u != v`` (in a directed graph, a pair with an arc
    either way; holding it out removes both arcs); self-loops stay in the residual graph.
    The edges of a random spanning forest are never held out, so every node keeps at least one
    edge and the residual graph has the connected components of the input. The others are held
    out uniformly at random. Non-edges are drawn uniformly from the node pairs with no arc
    either way, without repeats.

    Parameters
    ----------
    graph : Graph
        The full graph.
    test_fraction : float in (0, 1), default 0.5
        Share of the (undirected, non-loop) edges held out.
    seed : int, default 0
        Seed of the forest, the held-out edges and the non-edges.

    Returns
    -------
    EdgeSplit

    Raises
    ------
    ValueError
        ``test_fraction`` outside (0, 1), or more held-out edges than the graph can spare
        (the message gives the largest feasible fraction), or too few non-edges to sample.

    Examples
    --------
    >>> g = Graph.from_edges([0, 1, 2, 0], [1, 2, 3, 2])
    >>> s = split_edges(g, test_fraction=0.25, seed=0)
    >>> s.test_edges.shape, s.non_edges.shape, s.residual.n_edges
    ((1, 2), (1, 2), 3)
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction} is invalid; use a value in (0, 1)")
    n = graph.n_nodes
    rng = np.random.default_rng(seed)
    arc_codes, edge_codes = _undirected_pairs(graph)
    n_edges = edge_codes.size
    n_test = round(test_fraction * n_edges)
    if n_test < 1:
        raise ValueError(
            f"test_fraction={test_fraction} holds out no edge of a graph with {n_edges} edges; "
            "use a larger test_fraction or a larger graph"
        )
    forest = _spanning_forest_codes(n, edge_codes, rng)
    candidates = edge_codes[~np.isin(edge_codes, forest, assume_unique=True)]
    if n_test > candidates.size:
        raise ValueError(
            f"test_fraction={test_fraction} needs {n_test} held-out edges, but only "
            f"{candidates.size} of the {n_edges} edges can go while every node keeps an edge "
            f"(a spanning forest of {forest.size} edges stays); use "
            f"test_fraction<={candidates.size / n_edges:.3f}"
        )
    test_codes = np.sort(rng.choice(candidates, size=n_test, replace=False))

    n_pairs = n * (n - 1) // 2
    if n_pairs - n_edges < n_test:
        raise ValueError(
            f"the graph has only {n_pairs - n_edges} non-edges but {n_test} are needed (one per "
            "held-out edge); use a smaller test_fraction"
        )
    non_codes = _sample_non_edges(n, edge_codes, n_test, rng)

    keep = ~np.isin(arc_codes, test_codes)
    residual = _subgraph_arcs(graph, keep)
    return EdgeSplit(
        residual=residual,
        test_edges=np.stack([test_codes // n, test_codes % n], axis=1),
        non_edges=np.stack([non_codes // n, non_codes % n], axis=1),
    )


def _sample_non_edges(
    n: int, edge_codes: npt.NDArray[np.int64], m: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """``m`` distinct uniform unordered pairs {u, v}, u != v, that are not edges (codes)."""
    n_pairs = n * (n - 1) // 2
    if n_pairs <= _ENUMERATE_PAIRS and 2 * edge_codes.size >= n_pairs:
        # dense graph: rejection would mostly reject, so list every non-edge and choose
        u, v = np.triu_indices(n, k=1)
        codes = u.astype(np.int64) * n + v
        codes = codes[~np.isin(codes, edge_codes)]
        return np.asarray(rng.choice(codes, size=m, replace=False), dtype=np.int64)
    found = np.empty(0, dtype=np.int64)
    while found.size < m:
        # draw ordered pairs, reject u == v: each unordered pair then has the same chance
        batch = max(2 * (m - found.size), 64)
        u = rng.integers(0, n, size=batch, dtype=np.int64)
        v = rng.integers(0, n, size=batch, dtype=np.int64)
        ok = u != v
        codes = np.minimum(u, v)[ok] * n + np.maximum(u, v)[ok]
        codes = codes[~np.isin(codes, edge_codes)]
        merged = np.concatenate([found, codes])
        _, first = np.unique(merged, return_index=True)
        found = merged[np.sort(first)]  # keep draw order so the result is one seeded stream
    return found[:m]


def _subgraph_arcs(graph: Graph, keep: npt.NDArray[np.bool_]) -> Graph:
    """The graph with only the arcs where ``keep`` is true (rows stay sorted)."""
    n = graph.n_nodes
    src = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.indptr))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src[keep], minlength=n), out=indptr[1:])
    weights = None if graph.weights is None else graph.weights[keep].copy()
    return Graph(
        indptr=indptr,
        indices=graph.indices[keep].copy(),
        weights=weights,
        keys=graph.keys,
        directed=graph.directed,
    )


# ---------------------------------------------------------------------------------- link AUC
def link_prediction(
    graph: Graph,
    fit: Callable[[Graph], Embeddings],
    *,
    test_fraction: float = 0.5,
    seed: int = 0,
    C: float = 1.0,
) -> dict[str, Any]:
    """Link prediction: embed the graph minus held-out edges; ROC-AUC of edges vs non-edges.

    The split is :func:`split_edges`. ``fit(residual)`` must return vectors for every node key
    of ``graph``. Two scores are reported:

    * ``cosine_auc``: ROC-AUC of the cosine similarity of the two vectors, over all held-out
      edges and non-edges;
    * ``hadamard_auc``: a logistic regression (liblinear, ``C``) on the element-wise product of
      the two vectors, trained on a seeded half of the held-out edges and non-edges and scored
      by ROC-AUC on the other half (``cosine_auc_eval_half`` is the cosine AUC on that half).

    Parameters
    ----------
    graph : Graph
        The full graph.
    fit : callable Graph -> Embeddings
        Trains on the residual graph, e.g. ``lambda g: DeepWalk(cfg).fit(g).embeddings_``.
    test_fraction : float in (0, 1), default 0.5
        Share of the edges held out.
    seed : int, default 0
        Seed of the split and of the classifier halves.
    C : float, default 1.0
        Inverse regularisation strength of the logistic regression.

    Returns
    -------
    dict
        JSON-able: ``n_nodes``, ``n_edges``, ``n_test_edges``, ``n_non_edges``,
        ``test_fraction``, ``seed``, ``cosine_auc``, ``hadamard_auc``,
        ``cosine_auc_eval_half``, ``n_classifier_train``, ``n_classifier_eval``, ``fit_s``.

    Raises
    ------
    ValueError
        See :func:`split_edges`; also fewer than 2 held-out edges (no two halves).
    KeyError
        ``fit`` returned embeddings without some node key (listed).
    ImportError
        scikit-learn is missing (``pip install 'embedrec[graph]'``).
    """
    linear_model, metrics, _ = _sklearn()
    split = split_edges(graph, test_fraction=test_fraction, seed=seed)
    m = split.test_edges.shape[0]
    if m < 2:
        raise ValueError(
            f"test_fraction={test_fraction} holds out {m} edge(s); the classifier needs at least "
            "2 (one per half): use a larger test_fraction or a larger graph"
        )
    t0 = time.perf_counter()
    emb = fit(split.residual)
    fit_s = time.perf_counter() - t0
    if not isinstance(emb, Embeddings):
        raise TypeError(f"fit returned {type(emb).__name__}; it must return an Embeddings")
    vectors = np.asarray(_vectors_of(emb, graph.keys), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]

    pairs = np.concatenate([split.test_edges, split.non_edges])
    y = np.concatenate([np.ones(m, dtype=np.int8), np.zeros(m, dtype=np.int8)])
    cosine = np.einsum("ij,ij->i", unit[pairs[:, 0]], unit[pairs[:, 1]])
    hadamard = vectors[pairs[:, 0]] * vectors[pairs[:, 1]]

    # halves stratified by class, so both hold edges and non-edges
    rng = np.random.default_rng([seed, 1])
    pos, neg = rng.permutation(m), m + rng.permutation(m)
    half = m // 2
    train = np.concatenate([pos[:half], neg[:half]])
    test = np.concatenate([pos[half:], neg[half:]])
    clf = linear_model.LogisticRegression(solver="liblinear", C=C)
    clf.fit(hadamard[train], y[train])
    lr_scores = clf.decision_function(hadamard[test])
    return {
        "n_nodes": int(graph.n_nodes),
        "n_edges": int(graph.n_edges),
        "n_test_edges": int(m),
        "n_non_edges": int(m),
        "test_fraction": float(test_fraction),
        "seed": int(seed),
        "cosine_auc": float(metrics.roc_auc_score(y, cosine)),
        "hadamard_auc": float(metrics.roc_auc_score(y[test], lr_scores)),
        "cosine_auc_eval_half": float(metrics.roc_auc_score(y[test], cosine[test])),
        "n_classifier_train": int(train.size),
        "n_classifier_eval": int(test.size),
        "fit_s": float(fit_s),
    }
