"""Top-k ranking metrics from a matrix of recommended item codes (pure NumPy, batched).

Conventions (each user ``u`` has a set ``R_u`` of relevant test items and a ranked list):

* ``HR@K``: 1 if any of the first ``K`` items is relevant.
* ``Recall@K``: hits / ``min(|R_u|, K)``, so a perfect list scores 1 even when a user has
  more than ``K`` test items (with one test item per user, as in leave-last-out, it equals
  HR@K). ``hits / |R_u|`` is available as :func:`recall_plain`.
* ``NDCG@K``: binary gains, ``DCG = sum_j rel_j / log2(j + 2)`` over ranks ``j = 0..K-1``,
  divided by the ideal DCG of ``min(|R_u|, K)`` hits.
* ``MRR@K``: ``1 / (rank + 1)`` of the first relevant item within ``K``, else 0.
* ``Coverage@K``: distinct items recommended in anyone's first ``K`` / catalogue size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def hit_matrix(
    top_items: npt.NDArray[np.integer], rel_items: npt.NDArray[np.integer], rel_offsets: IntArray
) -> npt.NDArray[np.bool_]:
    """(n_users, k) bool: whether ``top_items[u, j]`` is one of user ``u``'s relevant items.

    Parameters
    ----------
    top_items : (n_users, k) int
        Ranked item codes, best first, padded with -1 (never relevant).
    rel_items : (n_rel,) int
        Relevant item codes of all users, user ``u``'s being
        ``rel_items[rel_offsets[u]:rel_offsets[u + 1]]``.
    rel_offsets : (n_users + 1,) int64
    """
    top = np.asarray(top_items, dtype=np.int64)
    if top.ndim != 2:
        raise ValueError(f"top_items must be 2-D (n_users, k), got shape {top.shape}")
    off = np.asarray(rel_offsets, dtype=np.int64)
    if off.shape != (top.shape[0] + 1,):
        raise ValueError(
            f"rel_offsets has shape {off.shape} but top_items has {top.shape[0]} users; "
            f"give (n_users + 1,) offsets"
        )
    rel = np.asarray(rel_items, dtype=np.int64)
    width = int(max(top.max(initial=-1), rel.max(initial=-1))) + 2
    users = np.repeat(np.arange(top.shape[0], dtype=np.int64), np.diff(off))
    rel_pairs = users * width + rel
    top_pairs = np.arange(top.shape[0], dtype=np.int64)[:, None] * width + top
    hits = np.isin(top_pairs, rel_pairs)
    hits &= top >= 0
    return hits


def ranking_metrics(
    hits: npt.NDArray[np.bool_], n_relevant: IntArray, k: int
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-user ``HR``, ``Recall``, ``NDCG`` and ``MRR`` at ``k`` from a hit matrix.

    Parameters
    ----------
    hits : (n_users, >= k) bool
        From :func:`hit_matrix`; only the first ``k`` columns are used.
    n_relevant : (n_users,) int
        ``|R_u|``; users with none get 0 for every metric.
    k : int
        Cut-off.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k={k!r} is invalid; use an integer k >= 1")
    h = np.asarray(hits, dtype=bool)[:, :k]
    n_rel = np.asarray(n_relevant, dtype=np.int64)
    discounts = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    n_hits = h.sum(axis=1)
    ideal_n = np.minimum(n_rel, k)
    cum_disc = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = cum_disc[ideal_n]
    dcg = h.astype(np.float64) @ discounts[: h.shape[1]]
    first = np.where(h.any(axis=1), h.argmax(axis=1), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "HR": (n_hits > 0).astype(np.float64),
            "Recall": np.where(ideal_n > 0, n_hits / np.maximum(ideal_n, 1), 0.0),
            "NDCG": np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 0.0),
            "MRR": np.where(first >= 0, 1.0 / (first + 1.0), 0.0),
        }


def recall_plain(
    hits: npt.NDArray[np.bool_], n_relevant: IntArray, k: int
) -> npt.NDArray[np.float64]:
    """hits in the first ``k`` / ``|R_u|`` (0 for users without relevant items)."""
    n_rel = np.asarray(n_relevant, dtype=np.int64)
    n_hits = np.asarray(hits, dtype=bool)[:, :k].sum(axis=1)
    return np.where(n_rel > 0, n_hits / np.maximum(n_rel, 1), 0.0)


def coverage(top_items: npt.NDArray[np.integer], k: int, n_catalogue: int) -> float:
    """Distinct items in the first ``k`` columns (ignoring -1 padding) / ``n_catalogue``."""
    if n_catalogue < 1:
        raise ValueError(f"n_catalogue={n_catalogue} is invalid; the catalogue is empty")
    top = np.asarray(top_items)[:, :k]
    return float(np.unique(top[top >= 0]).size / n_catalogue)
