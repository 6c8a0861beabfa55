"""Random-walk kernels: DeepWalk (first order) and node2vec (second order) on CSR arrays.

The graph comes in as CSR arrays, never as a ``Graph``: ``indptr`` int64 ``(n_nodes + 1,)``,
``indices`` int32 ``(n_arcs,)`` sorted ascending inside each row, optional ``weights``
``(n_arcs,)`` > 0. Every arc ``v -> x`` is one stored entry; an undirected edge is two arcs.

Walk ``w`` (its position in ``starts``) draws from its own xorshift64* state, seeded by
splitmix64 of ``(seed, w)`` inside the kernel (:func:`.rng.splitmix64_step`, the mix of
:func:`.rng.seed_state`), so the
output is identical for any number of threads (set by the caller with
``numba.set_num_threads``). Walks run in parallel with ``numba.prange`` into a
``(n_walks, walk_length)`` int32 buffer, which is then compacted into ``(tokens, offsets)``
(the layout of :class:`embedrec.data.corpus.Corpus`). A walk of length ``L`` holds ``L`` nodes,
the start included, and stops early at a node with out-degree 0.

node2vec (Grover & Leskovec, KDD 2016, eq. 2): after stepping ``t -> v``, the next node ``x``
among the out-neighbours of ``v`` is drawn with probability proportional to
``alpha_pq(t, x) * w(v, x)``, where ``alpha = 1/p`` if ``x == t``, ``1`` if the arc ``t -> x``
exists, else ``1/q``. The first step has no previous node and is first order. Two exact
samplers are provided: rejection sampling on the fly (memory O(n_arcs)) and one alias table per
arc (PecanPy's PreComp mode; memory O(sum over arcs t->v of deg(v))).

The public functions are thin Python wrappers: they coerce dtypes (so each kernel compiles
once), validate shapes and ranges (numba does not bounds-check), and call the ``@njit``
drivers.
"""

import numpy as np
from numba import njit, prange

from .rng import GOLDEN, MASK64, rng_below, rng_uniform, splitmix64_step
from .sampling import alias_draw, build_alias

_U32_MAX = 4294967295.0


# --------------------------------------------------------------------------------------------
# small inline helpers


@njit(cache=True, nogil=True)
def seed_walk_state(seed, w, state):
    """Seed ``state`` (``uint64[1]``) for walk ``w``: splitmix64 of ``(seed, w)``.

    Same value as ``rng.seed_state(seed, w)`` (``seed`` given as its uint64 two's complement).
    """
    x = splitmix64_step(GOLDEN, seed)
    x = splitmix64_step(x, np.uint64(w))
    if x == np.uint64(0):
        x = GOLDEN
    state[0] = x


@njit(cache=True, nogil=True, inline="always")
def _threshold_u32(prob):
    """Alias keep-probability in [0, 1] as a uint32 threshold against 32 random bits.

    A probability of 1 cannot be represented (2**32); it becomes 2**32 - 1, and the one
    missed coin in 2**32 goes to the alias, which build_alias sets to the column itself for
    every column whose probability is 1, so the draw stays exact.
    """
    t = np.floor(prob * 4294967296.0 + 0.5)
    if t >= _U32_MAX:
        return np.uint32(_U32_MAX)
    return np.uint32(t)


@njit(cache=True, nogil=True, inline="always")
def _first_order_offset(indptr, prob_u32, alias, weighted, v, state):
    """Offset (0..deg-1) of the next arc out of ``v``, or -1 when ``v`` is dangling."""
    lo = indptr[v]
    deg = indptr[v + 1] - lo
    if deg == 0:
        return np.int64(-1)
    if weighted:
        return alias_draw(prob_u32[lo : lo + deg], alias[lo : lo + deg], state)
    return rng_below(state, deg)


@njit(cache=True, nogil=True, inline="always")
def _has_arc(indices, lo, hi, x):
    """Binary search for ``x`` in the sorted ``indices[lo:hi]``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        y = indices[mid]
        if y < x:
            lo = mid + 1
        elif y > x:
            hi = mid
        else:
            return True
    return False


@njit(cache=True, nogil=True, parallel=True)
def _compact(buf, lengths):
    n_walks = lengths.shape[0]
    offsets = np.zeros(n_walks + 1, dtype=np.int64)
    total = 0
    for w in range(n_walks):
        total += lengths[w]
        offsets[w + 1] = total
    tokens = np.empty(total, dtype=np.int32)
    for w in prange(n_walks):
        o = offsets[w]
        for i in range(lengths[w]):
            tokens[o + i] = buf[w, i]
    return tokens, offsets


# --------------------------------------------------------------------------------------------
# alias tables


@njit(cache=True, nogil=True, parallel=True)
def _build_row_alias(indptr, weights):
    n_nodes = indptr.shape[0] - 1
    n_arcs = indptr[n_nodes]
    prob_u32 = np.empty(n_arcs, dtype=np.uint32)
    alias = np.empty(n_arcs, dtype=np.int32)
    for v in prange(n_nodes):
        lo = indptr[v]
        hi = indptr[v + 1]
        if hi == lo:
            continue
        prob, al = build_alias(weights[lo:hi])
        for j in range(hi - lo):
            prob_u32[lo + j] = _threshold_u32(prob[j])
            alias[lo + j] = al[j]
    return prob_u32, alias


@njit(cache=True, nogil=True, parallel=True)
def _build_node2vec_alias(indptr, indices, weights, weighted, inv_p, inv_q):
    n_nodes = indptr.shape[0] - 1
    n_arcs = indptr[n_nodes]
    arc_offsets = np.zeros(n_arcs + 1, dtype=np.int64)
    total = 0
    for e in range(n_arcs):
        v = indices[e]
        total += indptr[v + 1] - indptr[v]
        arc_offsets[e + 1] = total
    prob_u32 = np.empty(total, dtype=np.uint32)
    alias = np.empty(total, dtype=np.int32)
    for t in prange(n_nodes):
        lo_t = indptr[t]
        hi_t = indptr[t + 1]
        for e in range(lo_t, hi_t):
            v = indices[e]
            lo_v = indptr[v]
            deg_v = indptr[v + 1] - lo_v
            if deg_v == 0:
                continue
            bias = np.empty(deg_v, dtype=np.float64)
            # rows t and v are both sorted: one merge pass finds which x are neighbours of t
            i = lo_t
            for j in range(deg_v):
                x = indices[lo_v + j]
                if x == t:
                    a = inv_p
                else:
                    while i < hi_t and indices[i] < x:
                        i += 1
                    if i < hi_t and indices[i] == x:
                        a = 1.0
                    else:
                        a = inv_q
                if weighted:
                    bias[j] = a * weights[lo_v + j]
                else:
                    bias[j] = a
            prob, al = build_alias(bias)
            base = arc_offsets[e]
            for j in range(deg_v):
                prob_u32[base + j] = _threshold_u32(prob[j])
                alias[base + j] = al[j]
    return prob_u32, alias, arc_offsets


# --------------------------------------------------------------------------------------------
# walk drivers


@njit(cache=True, nogil=True, parallel=True)
def _deepwalk_fill(indptr, indices, prob_u32, alias, weighted, starts, walk_length, seed):
    n_walks = starts.shape[0]
    buf = np.empty((n_walks, walk_length), dtype=np.int32)
    lengths = np.empty(n_walks, dtype=np.int64)
    for w in prange(n_walks):
        state = np.empty(1, dtype=np.uint64)
        seed_walk_state(seed, w, state)
        v = starts[w]
        buf[w, 0] = v
        n = 1
        while n < walk_length:
            k = _first_order_offset(indptr, prob_u32, alias, weighted, v, state)
            if k < 0:
                break
            v = indices[indptr[v] + k]
            buf[w, n] = v
            n += 1
        lengths[w] = n
    return buf, lengths


@njit(cache=True, nogil=True, parallel=True)
def _node2vec_otf_fill(
    indptr, indices, prob_u32, alias, weighted, inv_p, inv_q, starts, walk_length, seed
):
    n_walks = starts.shape[0]
    buf = np.empty((n_walks, walk_length), dtype=np.int32)
    lengths = np.empty(n_walks, dtype=np.int64)
    a_max = max(inv_p, 1.0, inv_q)
    # for x != t, alpha is 1 or 1/q: a coin below both accepts and a coin above both rejects
    # without the binary search for the arc t -> x
    a_low = min(1.0, inv_q)
    a_high = max(1.0, inv_q)
    for w in prange(n_walks):
        state = np.empty(1, dtype=np.uint64)
        seed_walk_state(seed, w, state)
        t = starts[w]
        buf[w, 0] = t
        n = 1
        if walk_length > 1:
            k = _first_order_offset(indptr, prob_u32, alias, weighted, t, state)
            if k >= 0:
                v = indices[indptr[t] + k]
                buf[w, 1] = v
                n = 2
                while n < walk_length:
                    lo_v = indptr[v]
                    if indptr[v + 1] == lo_v:
                        break
                    while True:
                        k = _first_order_offset(indptr, prob_u32, alias, weighted, v, state)
                        x = indices[lo_v + k]
                        u = rng_uniform(state) * a_max
                        if x == t:
                            if u < inv_p:
                                break
                        elif u < a_low:
                            break
                        elif u < a_high:
                            if _has_arc(indices, indptr[t], indptr[t + 1], x):
                                if u < 1.0:
                                    break
                            elif u < inv_q:
                                break
                    buf[w, n] = x
                    n += 1
                    t = v
                    v = x
        lengths[w] = n
    return buf, lengths


@njit(cache=True, nogil=True, parallel=True)
def _node2vec_alias_fill(
    indptr,
    indices,
    prob_u32,
    alias,
    weighted,
    n2v_prob_u32,
    n2v_alias,
    arc_offsets,
    starts,
    walk_length,
    seed,
):
    n_walks = starts.shape[0]
    buf = np.empty((n_walks, walk_length), dtype=np.int32)
    lengths = np.empty(n_walks, dtype=np.int64)
    for w in prange(n_walks):
        state = np.empty(1, dtype=np.uint64)
        seed_walk_state(seed, w, state)
        v = starts[w]
        buf[w, 0] = v
        n = 1
        if walk_length > 1:
            k = _first_order_offset(indptr, prob_u32, alias, weighted, v, state)
            if k >= 0:
                e = indptr[v] + k  # the arc just taken, t -> v
                v = indices[e]
                buf[w, 1] = v
                n = 2
                while n < walk_length:
                    lo = arc_offsets[e]
                    hi = arc_offsets[e + 1]
                    if hi == lo:
                        break
                    j = alias_draw(n2v_prob_u32[lo:hi], n2v_alias[lo:hi], state)
                    e = indptr[v] + j
                    v = indices[e]
                    buf[w, n] = v
                    n += 1
        lengths[w] = n
    return buf, lengths


# --------------------------------------------------------------------------------------------
# public wrappers


def _csr(indptr, indices):
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int32)
    if indptr.ndim != 1 or indptr.shape[0] < 1:
        raise ValueError(f"indptr has shape {indptr.shape}; expected (n_nodes + 1,) with n >= 0")
    n_nodes = indptr.shape[0] - 1
    if indptr[0] != 0 or indptr[-1] != indices.shape[0] or np.any(np.diff(indptr) < 0):
        raise ValueError(
            f"indptr (first {indptr[0]}, last {indptr[-1]}) is not a CSR pointer for "
            f"{indices.shape[0]} arcs; expected indptr[0] == 0, non-decreasing, "
            "indptr[-1] == len(indices)"
        )
    if indices.shape[0] and (indices.min() < 0 or indices.max() >= n_nodes):
        raise ValueError(
            f"indices range over [{indices.min()}, {indices.max()}]; expected node indices "
            f"in [0, {n_nodes})"
        )
    return indptr, indices


def _weights(weights, n_arcs, name="weights"):
    if weights is None:
        return np.ones(n_arcs, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    if weights.shape != (n_arcs,):
        raise ValueError(f"{name} has shape {weights.shape}; expected ({n_arcs},), one per arc")
    if weights.size and not (np.all(np.isfinite(weights)) and weights.min() > 0):
        raise ValueError(f"{name} must be finite and > 0 (min {weights.min()}); drop zero arcs")
    return weights


def _tables(prob_u32, alias, weighted, n_arcs, what="prob_u32/alias"):
    if not weighted:
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int32)
    if prob_u32 is None or alias is None:
        raise ValueError(f"weighted=True needs {what} from build_row_alias; got None")
    prob_u32 = np.ascontiguousarray(prob_u32, dtype=np.uint32)
    alias = np.ascontiguousarray(alias, dtype=np.int32)
    if prob_u32.shape != (n_arcs,) or alias.shape != (n_arcs,):
        raise ValueError(
            f"{what} have shapes {prob_u32.shape}/{alias.shape}; expected ({n_arcs},) each "
            "(build them with build_row_alias on the same graph)"
        )
    return prob_u32, alias


def _walk_args(starts, walk_length, seed, n_nodes):
    starts = np.ascontiguousarray(starts, dtype=np.int64).reshape(-1)
    if starts.size and (starts.min() < 0 or starts.max() >= n_nodes):
        raise ValueError(
            f"starts range over [{starts.min()}, {starts.max()}]; expected node indices "
            f"in [0, {n_nodes})"
        )
    walk_length = int(walk_length)
    if walk_length < 1:
        raise ValueError(f"walk_length={walk_length} is invalid; use walk_length>=1")
    return starts, walk_length, np.uint64(int(seed) & MASK64)


def _inverse_pq(p, q):
    p = float(p)
    q = float(q)
    for name, val in (("p", p), ("q", q)):
        if not (np.isfinite(val) and val > 0):
            raise ValueError(f"{name}={val} is invalid; use a finite {name} > 0")
    return 1.0 / p, 1.0 / q


def build_row_alias(indptr, weights):
    """Per-row Vose alias tables for weighted first-order steps.

    Parameters
    ----------
    indptr : (n_nodes + 1,) int64
        CSR row pointer.
    weights : (n_arcs,) float, > 0, or None
        Arc weights; ``None`` builds uniform tables.

    Returns
    -------
    prob_u32 : (n_arcs,) uint32
        Keep thresholds against 32 random bits (``P(keep) * 2**32``, see
        :func:`.sampling.alias_draw`).
    alias : (n_arcs,) int32
        Alias column as an offset within the row (``0 .. deg - 1``).

    Drawing offset ``j`` of row ``v`` has probability ``weights[indptr[v] + j] / sum(row v)``.
    """
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    n_arcs = int(indptr[-1]) if indptr.size else 0
    return _build_row_alias(indptr, _weights(weights, n_arcs))


def deepwalk_walks(indptr, indices, prob_u32, alias, weighted, starts, walk_length, seed):
    """First-order random walks (DeepWalk, Perozzi et al. 2014; weighted as in LINE/node2vec).

    Parameters
    ----------
    indptr, indices : CSR arrays, (n_nodes + 1,) int64 and (n_arcs,) int32
    prob_u32, alias : (n_arcs,) uint32 / int32 from :func:`build_row_alias`
        Used only when ``weighted``; may be ``None`` otherwise.
    weighted : bool
        ``False`` draws a uniform neighbour, ``True`` draws ``x`` with ``P = w(v, x) / sum_y
        w(v, y)``.
    starts : (n_walks,) int
        Start node of each walk.
    walk_length : int
        Nodes per walk (start included), >= 1.
    seed : int
        Walk ``w`` uses the xorshift64* state ``splitmix64(seed, w)``.

    Returns
    -------
    tokens : (total,) int32
        The walks, concatenated.
    offsets : (n_walks + 1,) int64
        Walk ``w`` is ``tokens[offsets[w]:offsets[w + 1]]``; shorter than ``walk_length`` only
        when it reached a node with out-degree 0.
    """
    indptr, indices = _csr(indptr, indices)
    n_nodes = indptr.shape[0] - 1
    weighted = bool(weighted)
    prob_u32, alias = _tables(prob_u32, alias, weighted, indices.shape[0])
    starts, walk_length, seed = _walk_args(starts, walk_length, seed, n_nodes)
    buf, lengths = _deepwalk_fill(
        indptr, indices, prob_u32, alias, weighted, starts, walk_length, seed
    )
    return _compact(buf, lengths)


def node2vec_walks_otf(indptr, indices, prob_u32, alias, weighted, p, q, starts, walk_length, seed):
    """node2vec walks, exact second-order sampling by rejection (memory O(n_arcs)).

    At ``v`` coming from ``t``, propose ``x`` from the first-order distribution of ``v``
    (uniform, or by weight through the row alias table) and accept it with probability
    ``alpha(t, x) / max(1/p, 1, 1/q)``, where ``alpha = 1/p`` if ``x == t``, ``1`` if the arc
    ``t -> x`` exists (binary search in the sorted row ``t``), else ``1/q``. The accepted
    ``x`` then has probability ``alpha(t, x) w(v, x) / sum_y alpha(t, y) w(v, y)`` (node2vec
    eq. 2). The expected number of proposals per step is at most
    ``max(1/p, 1, 1/q) / min(1/p, 1, 1/q)``.

    Parameters and returns as :func:`deepwalk_walks`, plus ``p`` (return) and ``q`` (in-out),
    both finite and > 0. The first step is first order.
    """
    indptr, indices = _csr(indptr, indices)
    n_nodes = indptr.shape[0] - 1
    weighted = bool(weighted)
    prob_u32, alias = _tables(prob_u32, alias, weighted, indices.shape[0])
    inv_p, inv_q = _inverse_pq(p, q)
    starts, walk_length, seed = _walk_args(starts, walk_length, seed, n_nodes)
    buf, lengths = _node2vec_otf_fill(
        indptr, indices, prob_u32, alias, weighted, inv_p, inv_q, starts, walk_length, seed
    )
    return _compact(buf, lengths)


def build_node2vec_alias(indptr, indices, weights, p, q):
    """One alias table per arc ``t -> v`` over the out-neighbours of ``v`` (exact node2vec).

    Entry ``j`` of the table of arc ``e = t -> v`` stands for ``x = indices[indptr[v] + j]``
    with unnormalized probability ``alpha(t, x) * w(v, x)`` (see :func:`node2vec_walks_otf`).
    This is PecanPy's PreComp mode; memory is ``O(sum over arcs t -> v of deg(v))``
    (12 bytes an entry).

    Parameters
    ----------
    indptr, indices : CSR arrays, (n_nodes + 1,) int64 and (n_arcs,) int32, rows sorted
    weights : (n_arcs,) float > 0, or None (unweighted)
    p, q : float
        node2vec return and in-out parameters, finite and > 0.

    Returns
    -------
    prob_u32 : (n_entries,) uint32
    alias : (n_entries,) int32
        Alias offsets within the table (``0 .. deg(v) - 1``).
    arc_offsets : (n_arcs + 1,) int64
        The table of arc ``e`` is ``[arc_offsets[e], arc_offsets[e + 1])``.
    """
    indptr, indices = _csr(indptr, indices)
    inv_p, inv_q = _inverse_pq(p, q)
    weighted = weights is not None
    w = _weights(weights, indices.shape[0])
    return _build_node2vec_alias(indptr, indices, w, weighted, inv_p, inv_q)


def node2vec_walks_alias(
    indptr,
    indices,
    prob_u32,
    alias,
    weighted,
    n2v_prob_u32,
    n2v_alias,
    arc_offsets,
    starts,
    walk_length,
    seed,
):
    """node2vec walks from the per-arc tables of :func:`build_node2vec_alias`.

    The first step is first order (``prob_u32``/``alias`` from :func:`build_row_alias` when
    ``weighted``); every later step is one alias draw in the table of the arc just taken.
    Parameters and returns as :func:`deepwalk_walks`.
    """
    indptr, indices = _csr(indptr, indices)
    n_nodes = indptr.shape[0] - 1
    n_arcs = indices.shape[0]
    weighted = bool(weighted)
    prob_u32, alias = _tables(prob_u32, alias, weighted, n_arcs)
    arc_offsets = np.ascontiguousarray(arc_offsets, dtype=np.int64)
    n2v_prob_u32 = np.ascontiguousarray(n2v_prob_u32, dtype=np.uint32)
    n2v_alias = np.ascontiguousarray(n2v_alias, dtype=np.int32)
    n_entries = int(arc_offsets[-1]) if arc_offsets.size else -1
    if (
        arc_offsets.shape != (n_arcs + 1,)
        or n2v_prob_u32.shape != (n_entries,)
        or n2v_alias.shape != (n_entries,)
    ):
        raise ValueError(
            f"n2v_prob_u32/n2v_alias/arc_offsets have shapes {n2v_prob_u32.shape}/"
            f"{n2v_alias.shape}/{arc_offsets.shape}; expected (arc_offsets[-1],) twice and "
            f"({n_arcs + 1},) (build them with build_node2vec_alias on the same graph)"
        )
    if np.any(np.diff(arc_offsets) != np.diff(indptr)[indices]) or arc_offsets[0] != 0:
        raise ValueError(
            "arc_offsets does not give arc t -> v a table of deg(v) entries; build "
            "n2v_prob_u32/n2v_alias/arc_offsets with build_node2vec_alias on the same graph"
        )
    starts, walk_length, seed = _walk_args(starts, walk_length, seed, n_nodes)
    buf, lengths = _node2vec_alias_fill(
        indptr,
        indices,
        prob_u32,
        alias,
        weighted,
        n2v_prob_u32,
        n2v_alias,
        arc_offsets,
        starts,
        walk_length,
        seed,
    )
    return _compact(buf, lengths)
