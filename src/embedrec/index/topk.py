"""Exact top-k selection over a score matrix (shared by the exact index and the evaluation)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["top_k_exact"]


def top_k_exact(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Column indices of the ``k`` largest scores of each row, best first.

    Ties are broken by column (the lower index wins), also at the cut-off, so the result does
    not depend on the partition algorithm. ``-inf`` entries are never returned: a row with
    fewer than ``k`` finite scores is padded with ``-1``.

    Parameters
    ----------
    scores : (n_rows, n_cols) float
        No NaN.
    k : int
        ``>= 1``.

    Returns
    -------
    (n_rows, min(k, n_cols)) int64

    Examples
    --------
    >>> top_k_exact(np.array([[1.0, 3.0, 3.0, -np.inf]]), 4).tolist()
    [[1, 2, 0, -1]]
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_rows, n_cols), got shape {scores.shape}")
    n, m = scores.shape
    k = min(int(k), m)
    if k < 1 or n == 0:
        return np.empty((n, max(k, 0)), dtype=np.int64)
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
    out[np.take_along_axis(vals, order, axis=1) == -np.inf] = -1
    return out
