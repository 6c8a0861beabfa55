"""Huffman tree for hierarchical softmax (Morin & Bengio 2005; Mikolov et al. 2013)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def build_huffman(counts):
    """Build the Huffman tree of ``counts`` (n >= 2) with word2vec.c's two-queue merge.

    Returns ``(codes uint8[n, L], points int32[n, L], lengths int32[n])``: for word ``w`` the
    first ``lengths[w]`` entries of ``points[w]`` are inner-node rows (0..n-2, root = n-2) from
    the root down, and ``codes[w]`` the branch bits taken (0 = first child). The expected code
    length sum(count * length) is minimal; frequent words sit near the root.
    """
    n = counts.shape[0]
    order = np.argsort(counts, kind="mergesort")  # ascending, ties by index
    # nodes 0..n-1 are leaves (in ascending count order), n..2n-2 inner nodes
    weight = np.empty(2 * n - 1, dtype=np.int64)
    for i in range(n):
        weight[i] = counts[order[i]]
    parent = np.zeros(2 * n - 1, dtype=np.int64)
    bit = np.zeros(2 * n - 1, dtype=np.uint8)
    leaf = 0
    inner = n
    for k in range(n - 1):
        # pick the two smallest among the leaf queue front and the inner queue front;
        # on ties prefer the leaf, which keeps the tree shallow for equal weights
        picks = np.empty(2, dtype=np.int64)
        for t in range(2):
            if leaf < n and (inner >= n + k or weight[leaf] <= weight[inner]):
                picks[t] = leaf
                leaf += 1
            else:
                picks[t] = inner
                inner += 1
        node = n + k
        weight[node] = weight[picks[0]] + weight[picks[1]]
        parent[picks[0]] = node
        parent[picks[1]] = node
        bit[picks[0]] = 0
        bit[picks[1]] = 1
    root = 2 * n - 2
    depth = np.zeros(2 * n - 1, dtype=np.int32)
    for node in range(2 * n - 3, -1, -1):  # parents have larger ids
        depth[node] = depth[parent[node]] + 1
    max_len = 0
    for i in range(n):
        if depth[i] > max_len:
            max_len = depth[i]
    codes = np.zeros((n, max_len), dtype=np.uint8)
    points = np.zeros((n, max_len), dtype=np.int32)
    lengths = np.zeros(n, dtype=np.int32)
    for i in range(n):
        w = order[i]
        d = depth[i]
        lengths[w] = d
        node = i
        pos = d - 1
        while node != root:
            codes[w, pos] = bit[node]
            points[w, pos] = parent[node] - n
            node = parent[node]
            pos -= 1
    return codes, points, lengths
