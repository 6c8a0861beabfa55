"""Plain-NumPy twins of the random-walk kernels (``embedrec.kernels.walks``).

Written for clarity, not speed: every step builds the exact transition distribution and
draws from it with a ``numpy.random.Generator``. Tests compare distributions, not streams.
"""

from __future__ import annotations

import numpy as np


def _row(indptr: np.ndarray, v: int) -> slice:
    return slice(int(indptr[v]), int(indptr[v + 1]))


def _weights(weights: np.ndarray | None, n_arcs: int) -> np.ndarray:
    if weights is None:
        return np.ones(n_arcs, dtype=np.float64)
    return np.asarray(weights, dtype=np.float64)


def first_order_probs_ref(indptr: np.ndarray, weights: np.ndarray | None, v: int) -> np.ndarray:
    """P(next = indices[indptr[v] + j]) = w(v, x_j) / sum_y w(v, y), over row ``v``."""
    w = _weights(weights, int(indptr[-1]))[_row(indptr, v)]
    return w / w.sum()


def node2vec_probs_ref(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray | None,
    p: float,
    q: float,
    t: int,
    v: int,
) -> np.ndarray:
    """node2vec eq. 2 over row ``v`` after the step ``t -> v``.

    P(x) is proportional to alpha(t, x) * w(v, x) with alpha = 1/p if x == t, 1 if the arc
    t -> x exists, else 1/q.
    """
    row_v = indices[_row(indptr, v)]
    nbrs_t = set(indices[_row(indptr, t)].tolist())
    alpha = np.array(
        [1.0 / p if x == t else (1.0 if x in nbrs_t else 1.0 / q) for x in row_v.tolist()]
    )
    b = alpha * _weights(weights, int(indptr[-1]))[_row(indptr, v)]
    return b / b.sum()


def row_alias_probs_ref(indptr: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Twin of ``build_row_alias``: the per-arc probability each row's table must encode."""
    n_nodes = indptr.shape[0] - 1
    out = np.empty(int(indptr[-1]), dtype=np.float64)
    for v in range(n_nodes):
        if indptr[v + 1] > indptr[v]:
            out[_row(indptr, v)] = first_order_probs_ref(indptr, weights, v)
    return out


def node2vec_alias_probs_ref(
    indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray | None, p: float, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """Twin of ``build_node2vec_alias``: per-arc probabilities and ``arc_offsets``."""
    n_nodes = indptr.shape[0] - 1
    chunks = []
    sizes = [0]
    for t in range(n_nodes):
        for v in indices[_row(indptr, t)].tolist():
            probs = (
                node2vec_probs_ref(indptr, indices, weights, p, q, t, v)
                if indptr[v + 1] > indptr[v]
                else np.empty(0)
            )
            chunks.append(probs)
            sizes.append(probs.size)
    flat = np.concatenate(chunks) if chunks else np.empty(0)
    return flat, np.cumsum(sizes, dtype=np.int64)


def alias_table_probs(prob_u32: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """Probabilities encoded by one uint32-threshold alias table (column i kept w.p. t_i/2**32)."""
    n = prob_u32.size
    keep = prob_u32.astype(np.float64) / 2.0**32
    out = keep / n
    np.add.at(out, alias.astype(np.int64), (1.0 - keep) / n)
    return out


def walks_ref(
    indptr: np.ndarray,
    indices: np.ndarray,
    weights: np.ndarray | None,
    starts: np.ndarray,
    walk_length: int,
    rng: np.random.Generator,
    p: float | None = None,
    q: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """DeepWalk walks (``p = q = None``) or node2vec walks, as ``(tokens, offsets)``.

    The first step is first order; with ``p``/``q`` every later step draws from
    :func:`node2vec_probs_ref`. A walk stops early at a node with out-degree 0.
    """
    walks: list[list[int]] = []
    for s in np.asarray(starts).tolist():
        walk = [int(s)]
        while len(walk) < walk_length:
            v = walk[-1]
            row = indices[_row(indptr, v)]
            if row.size == 0:
                break
            if p is None or q is None or len(walk) == 1:
                probs = first_order_probs_ref(indptr, weights, v)
            else:
                probs = node2vec_probs_ref(indptr, indices, weights, p, q, walk[-2], v)
            walk.append(int(row[rng.choice(row.size, p=probs)]))
        walks.append(walk)
    offsets = np.zeros(len(walks) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(w) for w in walks])
    tokens = np.array([x for w in walks for x in w], dtype=np.int32)
    return tokens, offsets
