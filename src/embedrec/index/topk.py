"""The one ranking path: check ``k``, score a block of queries, mask, take the exact top-k.

Everything in embedrec that ranks candidates by score goes through here:
:meth:`Embeddings.most_similar <embedrec.vectors.Embeddings.most_similar>` and
:meth:`~embedrec.vectors.Embeddings.analogy`, :class:`~embedrec.index.exact.ExactIndex` and the
exact fallback of every index, Item2Vec's ``recommend``, and the evaluation loop.

One tie rule
------------
Scores are similarities (higher is better). Equal scores are ordered by column: **the lower
column (row index, i.e. the earlier key or the earlier-added item) first**, also at the
cut-off, so the result never depends on the partition algorithm or on the block size. ``-inf``
marks a masked candidate; :func:`top_k` returns its column as ``-1`` unless asked to keep it.
Scores must not be NaN.

Blocks
------
:func:`blocked_top_k` scores at most :data:`BLOCK_CELLS` (query, candidate) cells at a time
(2**24 float32 = 64 MiB), so a large batch against a large catalogue never builds one huge
score matrix. The result equals the unblocked one exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "BLOCK_CELLS",
    "block_slices",
    "blocked_top_k",
    "check_k",
    "n_candidates",
    "top_k",
    "top_k_exact",
]

#: (query, candidate) cells scored at once by :func:`blocked_top_k` (2**24 float32 = 64 MiB)
BLOCK_CELLS = 1 << 24

ScoreBlock = Callable[[slice], npt.NDArray[Any]]
MaskBlock = Callable[[slice, npt.NDArray[Any]], None]


def check_k(k: int) -> int:
    """``k`` as an ``int`` after checking it is an integer ``>= 1`` (bools are refused).

    Raises
    ------
    ValueError
        Naming the value: ``"k=0 is invalid; use an int k >= 1"``.

    >>> check_k(np.int32(3))
    3
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k={k!r} is invalid; use an int k >= 1")
    return int(k)


def top_k(
    scores: npt.NDArray[Any], k: int, *, drop_inf: bool = True
) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Columns and values of the ``k`` largest scores of each row, best first.

    Parameters
    ----------
    scores : (n_rows, n_cols) float ndarray
        No NaN; ``-inf`` marks masked entries.
    k : int
        Wanted per row; the result has ``min(k, n_cols)`` columns (``k < 1``: none).
    drop_inf : bool, default True
        ``-inf`` entries that make it into the top ``k`` (rows with fewer than ``k`` finite
        scores) get column ``-1``. ``False`` keeps their columns (lower column first).

    Returns
    -------
    cols : (n_rows, min(k, n_cols)) int64
    values : (n_rows, min(k, n_cols)), the dtype of ``scores``
        Decreasing along each row; equal values keep column order (the lower column first),
        also at the cut-off.

    Examples
    --------
    >>> cols, vals = top_k(np.array([[1.0, 3.0, 3.0, -np.inf]]), 4)
    >>> cols.tolist(), vals.tolist()
    ([[1, 2, 0, -1]], [[3.0, 3.0, 1.0, -inf]])
    >>> top_k(np.array([[2.0, 2.0, 2.0]]), 2)[0].tolist()
    [[0, 1]]
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_rows, n_cols), got shape {scores.shape}")
    n, m = scores.shape
    k = min(int(k), m)
    if k < 1 or n == 0:
        width = max(k, 0)
        return np.empty((n, width), dtype=np.int64), np.empty((n, width), dtype=scores.dtype)
    if k == m:
        cols = np.broadcast_to(np.arange(m, dtype=np.int64), (n, m))
    else:
        # the k-th largest value of each row: every larger score is in, and of the scores
        # equal to it, the first ones by column
        kth = np.partition(scores, m - k, axis=1)[:, m - k, None]
        keep = scores >= kth
        crowded = np.flatnonzero(np.count_nonzero(keep, axis=1) > k)
        if crowded.size:  # rows with surplus ties at the cut-off (only they pay for cumsum)
            sub, sub_kth = scores[crowded], kth[crowded]
            tie = sub == sub_kth
            need = k - np.count_nonzero(sub > sub_kth, axis=1)
            tie &= np.cumsum(tie, axis=1, dtype=np.int32) <= need[:, None]
            keep[crowded] = (sub > sub_kth) | tie
        cols = np.nonzero(keep)[1].reshape(n, k).astype(np.int64)
    vals = np.take_along_axis(scores, cols, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")  # stable: equal scores keep column order
    out = np.take_along_axis(cols, order, axis=1)
    top = np.take_along_axis(vals, order, axis=1)
    if drop_inf:
        out[top == -np.inf] = -1
    return out, top


def top_k_exact(scores: npt.NDArray[Any], k: int) -> npt.NDArray[np.int64]:
    """The columns of :func:`top_k` alone (``-inf`` entries as ``-1``).

    >>> top_k_exact(np.array([[1.0, 3.0, 3.0, -np.inf]]), 4).tolist()
    [[1, 2, 0, -1]]
    """
    return top_k(scores, k)[0]


def block_slices(n_rows: int, n_cols: int, cells: int = BLOCK_CELLS) -> Iterator[slice]:
    """Consecutive row slices of at most ``cells // n_cols`` rows (at least one row each).

    >>> [(s.start, s.stop) for s in block_slices(5, 4, cells=8)]
    [(0, 2), (2, 4), (4, 5)]
    """
    block = max(1, cells // max(n_cols, 1))
    for start in range(0, n_rows, block):
        yield slice(start, min(start + block, n_rows))


def blocked_top_k(
    n_queries: int,
    n_cand: int,
    k: int,
    score_block: ScoreBlock,
    *,
    mask_block: MaskBlock | None = None,
    drop_inf: bool = True,
    cells: int = BLOCK_CELLS,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Top-``k`` candidates of every query, scoring the queries block by block.

    Parameters
    ----------
    n_queries, n_cand : int
        Rows and columns of the full score matrix (never built at once).
    k : int
        Results per query; the result has ``min(k, n_cand)`` columns.
    score_block : callable(slice) -> (len(slice), n_cand) float ndarray
        Scores of a block of queries. May be modified in place (return a fresh array).
    mask_block : callable(slice, scores) -> None, optional
        Sets the scores of excluded candidates of that block to ``-inf`` in place.
    drop_inf : bool, default True
        As in :func:`top_k`: ``-inf`` results get column ``-1``.
    cells : int, default :data:`BLOCK_CELLS`
        Cells scored at once.

    Returns
    -------
    cols : (n_queries, min(k, n_cand)) int64
    scores : (n_queries, min(k, n_cand)) float32
        Best first; ties: the lower column first (see the module docstring).

    Examples
    --------
    >>> s = np.array([[0.5, 0.9, 0.1], [0.3, 0.3, 0.7]], dtype=np.float32)
    >>> cols, top = blocked_top_k(2, 3, 2, lambda rows: s[rows].copy(), cells=3)
    >>> cols.tolist()
    [[1, 0], [2, 0]]
    """
    width = max(0, min(int(k), n_cand))
    out_cols = np.empty((n_queries, width), dtype=np.int64)
    out_scores = np.empty((n_queries, width), dtype=np.float32)
    if width == 0 or n_queries == 0:
        return out_cols, out_scores
    for rows in block_slices(n_queries, n_cand, cells):
        scores = np.asarray(score_block(rows), dtype=np.float32)
        if mask_block is not None:
            mask_block(rows, scores)
        out_cols[rows], out_scores[rows] = top_k(scores, width, drop_inf=drop_inf)
    return out_cols, out_scores


def n_candidates(restrict_vocab: int | None, n_keys: int) -> int:
    """How many of the first keys are candidates: ``restrict_vocab`` capped at ``n_keys``.

    ``None`` means all. Models put the most frequent keys first, so ``restrict_vocab=N``
    everywhere means "only the first ``N`` keys".

    Raises
    ------
    TypeError
        ``restrict_vocab`` is not an int (bools are refused).
    ValueError
        ``restrict_vocab < 1``.

    >>> n_candidates(None, 5), n_candidates(3, 5), n_candidates(9, 5)
    (5, 3, 5)
    """
    if restrict_vocab is None:
        return n_keys
    if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)):
        raise TypeError(f"restrict_vocab must be an int or None, got {restrict_vocab!r}")
    if restrict_vocab < 1:
        raise ValueError(f"restrict_vocab={restrict_vocab} is invalid; use None or >= 1")
    return min(int(restrict_vocab), n_keys)
