"""Top-k ranking metrics from a matrix of recommended item codes (pure NumPy, batched).

Every user ``u`` has a ranked list ``top_items[u]`` (best first, padded with ``-1``) and a
set ``R_u`` of relevant items given in CSR form: ``rel_items[rel_offsets[u]:rel_offsets[u +
1]]``. Metrics come back per user, so means, confidence intervals and paired tests can be
computed from them. Conventions, at cut-off ``K``:

* ``HR@K`` (hit rate): 1 if any of the first ``K`` items is relevant, else 0.
* ``Recall@K``: hits / ``min(|R_u|, K)``, so a perfect list scores 1 even when a user has
  more than ``K`` relevant items (with one test item per user, as in leave-last-out, it
  equals HR@K). The textbook ``hits / |R_u|`` is :func:`recall_plain`; the two differ only
  for users with more than ``K`` relevant items.
* ``NDCG@K``: binary gains, ``DCG = sum_{j<K} hit_j / log2(j + 2)`` over 0-based ranks ``j``,
  divided by the ideal DCG, that of ``min(|R_u|, K)`` hits at the top.
* ``MRR@K``: ``1 / (j + 1)`` for the first relevant rank ``j < K``, else 0.
* ``Coverage@K``: distinct items in anyone's first ``K`` / catalogue size (one number, not
  per user).
* ``Accuracy@K`` (event level, TensorFlow Recommenders'
  ``factorized_top_k/top_K_categorical_accuracy``): over all test *events* (user, item),
  repeats included, the fraction whose item is in that user's first ``K``; a micro average,
  so a user weighs by their number of test events. :func:`event_ranks` gives each event's
  position, and ``Accuracy@K = mean(event_ranks(...) < K)``.

Users with no relevant item score 0 on every per-user metric. Relevant items that can never
be recommended (e.g. not in the catalogue) still count in ``|R_u|``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..index.topk import check_k

__all__ = [
    "coverage",
    "event_ranks",
    "hit_matrix",
    "metrics_from_hits",
    "ranking_metrics",
    "recall_plain",
]


def _as_top(top_items: npt.ArrayLike) -> npt.NDArray[np.int64]:
    top = np.asarray(top_items)
    if top.ndim != 2:
        raise ValueError(f"top_items must be 2-D (n_users, k), got shape {top.shape}")
    if top.size and top.dtype.kind not in "iu":
        raise ValueError(f"top_items must hold integer item codes, got dtype {top.dtype}")
    return top.astype(np.int64, copy=False)


def hit_matrix(
    top_items: npt.ArrayLike, rel_items: npt.ArrayLike, rel_offsets: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Whether each recommended item is relevant to its user.

    Parameters
    ----------
    top_items : (n_users, k) int
        Ranked item codes, best first; ``-1`` is padding and never relevant.
    rel_items : (n_rel,) int
        Relevant item codes of all users (duplicates within a user are harmless).
    rel_offsets : (n_users + 1,) int64
        User ``u``'s relevant items are ``rel_items[rel_offsets[u]:rel_offsets[u + 1]]``.

    Returns
    -------
    (n_users, k) bool
        ``hits[u, j]``: ``top_items[u, j]`` is in ``R_u``.

    Raises
    ------
    ValueError
        ``top_items`` not 2-D, or offsets that do not fit ``top_items`` and ``rel_items``.

    Examples
    --------
    >>> hit_matrix([[2, 0], [1, -1]], [0, 3], [0, 1, 2]).tolist()
    [[False, True], [False, False]]
    """
    top = _as_top(top_items)
    n_users = top.shape[0]
    off = np.asarray(rel_offsets, dtype=np.int64)
    rel = np.asarray(rel_items, dtype=np.int64)
    if off.shape != (n_users + 1,):
        raise ValueError(
            f"rel_offsets has shape {off.shape} but top_items has shape {top.shape}; give "
            f"(n_users + 1,) = {(n_users + 1,)} offsets"
        )
    if rel.ndim != 1 or off[0] != 0 or off[-1] != rel.size or np.any(np.diff(off) < 0):
        raise ValueError(
            f"rel_offsets must rise from 0 to len(rel_items) = {rel.size}; got "
            f"{off[0]}..{off[-1]} for rel_items of shape {rel.shape}"
        )
    if rel.size and rel.min() < 0:
        raise ValueError("rel_items holds negative codes; -1 is reserved for padding")
    # one integer per (user, item) pair, so a single np.isin tests membership for all users
    width = int(max(top.max(initial=-1), rel.max(initial=-1))) + 1
    owner = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(off))
    rel_pairs = owner * width + rel
    top_pairs = np.arange(n_users, dtype=np.int64)[:, None] * width + top
    return np.isin(top_pairs, rel_pairs) & (top >= 0)


def event_ranks(
    top_items: npt.ArrayLike, event_users: npt.ArrayLike, event_items: npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """0-based position of each event's item in its user's ranked list, for event-level
    metrics (``Accuracy@K = mean(ranks < K)``).

    Parameters
    ----------
    top_items : (n_users, width) int
        Ranked item codes, best first, ``-1``-padded; an item appears at most once per row.
    event_users : (n_events,) int
        Row of ``top_items`` of each event (repeated events are simply repeated here).
    event_items : (n_events,) int
        Item code of each event, ``>= 0``.

    Returns
    -------
    (n_events,) int64
        The column of the event's item in its user's row, or ``width`` when it is not there
        (so ``ranks < K`` is "in the first K" for every ``K <= width``).

    Raises
    ------
    ValueError
        Mismatched event arrays, users outside ``[0, n_users)`` or negative items.

    Examples
    --------
    >>> event_ranks([[2, 0], [1, -1]], [0, 0, 1, 1], [0, 5, 1, 1]).tolist()
    [1, 2, 0, 0]
    """
    top = _as_top(top_items)
    n_users, width = top.shape
    users = np.asarray(event_users, dtype=np.int64)
    items = np.asarray(event_items, dtype=np.int64)
    if users.ndim != 1 or users.shape != items.shape:
        raise ValueError(
            f"event_users has shape {users.shape} and event_items has shape {items.shape}; "
            "give two 1-D arrays of one entry per event"
        )
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(
            f"event_users must be rows of top_items, in [0, {n_users}); got "
            f"{users.min()}..{users.max()}"
        )
    if items.size and items.min() < 0:
        raise ValueError("event_items holds negative codes; -1 is reserved for padding")
    out = np.full(users.size, width, dtype=np.int64)
    ok = top >= 0
    rows, cols = np.nonzero(ok)
    if rows.size == 0 or users.size == 0:
        return out
    # one integer per (user, item) pair; one sorted search finds every event's slot
    n_codes = int(max(top.max(), items.max())) + 1
    listed = rows * n_codes + top[ok]
    order = np.argsort(listed, kind="stable")
    listed, cols = listed[order], cols[order]
    wanted = users * n_codes + items
    at = np.minimum(np.searchsorted(listed, wanted), listed.size - 1)
    found = listed[at] == wanted
    out[found] = cols[at[found]]
    return out


def metrics_from_hits(
    hits: npt.NDArray[np.bool_], n_relevant: npt.ArrayLike, k: int
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-user ``HR``, ``Recall``, ``NDCG`` and ``MRR`` at ``k`` from a hit matrix.

    Parameters
    ----------
    hits : (n_users, width) bool
        From :func:`hit_matrix`; the first ``min(k, width)`` columns are used (a list shorter
        than ``k``, e.g. a small catalogue, simply has no hits beyond its end).
    n_relevant : (n_users,) int
        ``|R_u|``, including relevant items that can never be hit.
    k : int
        Cut-off, ``>= 1``.

    Returns
    -------
    dict of (n_users,) float64
        Keys ``"HR"``, ``"Recall"``, ``"NDCG"``, ``"MRR"`` (see the module docstring).

    Raises
    ------
    ValueError
        ``k < 1`` or mismatched shapes.
    """
    k = check_k(k)
    h = np.asarray(hits, dtype=bool)
    if h.ndim != 2:
        raise ValueError(f"hits must be 2-D (n_users, k), got shape {h.shape}")
    n_rel = np.asarray(n_relevant, dtype=np.int64)
    if n_rel.shape != (h.shape[0],):
        raise ValueError(
            f"n_relevant has shape {n_rel.shape} but hits has shape {h.shape}; give one "
            f"count per user, shape {(h.shape[0],)}"
        )
    h = h[:, :k]
    width = h.shape[1]
    discounts = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    n_hits = h.sum(axis=1)
    ideal_n = np.minimum(n_rel, k)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_n]
    dcg = h.astype(np.float64) @ discounts[:width]
    if width:
        first = np.where(h.any(axis=1), h.argmax(axis=1), -1)
    else:
        first = np.full(h.shape[0], -1, dtype=np.int64)
    has_rel = ideal_n > 0
    return {
        "HR": (n_hits > 0).astype(np.float64),
        "Recall": np.where(has_rel, n_hits / np.maximum(ideal_n, 1), 0.0),
        "NDCG": np.where(has_rel, dcg / np.where(has_rel, idcg, 1.0), 0.0),
        "MRR": np.where(first >= 0, 1.0 / np.maximum(first + 1.0, 1.0), 0.0),
    }


def ranking_metrics(
    top_items: npt.ArrayLike, rel_items: npt.ArrayLike, rel_offsets: npt.ArrayLike, k: int
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-user ``HR@k``, ``Recall@k``, ``NDCG@k`` and ``MRR@k`` of ranked lists.

    Parameters
    ----------
    top_items : (n_users, width) int
        Ranked item codes, best first, ``-1``-padded; the first ``k`` columns are scored.
    rel_items : (n_rel,) int
        Relevant item codes of all users, without duplicates within a user (a duplicate
        would count twice in ``|R_u|``).
    rel_offsets : (n_users + 1,) int64
        CSR offsets into ``rel_items``.
    k : int
        Cut-off, ``>= 1``.

    Returns
    -------
    dict of (n_users,) float64
        Keys ``"HR"``, ``"Recall"``, ``"NDCG"``, ``"MRR"``.

    Examples
    --------
    >>> m = ranking_metrics([[2, 0, 1], [3, 1, -1]], [0, 1, 3], [0, 1, 3], k=3)
    >>> m["MRR"].tolist(), m["Recall"].tolist()
    ([0.5, 1.0], [1.0, 1.0])
    """
    k = check_k(k)
    hits = hit_matrix(top_items, rel_items, rel_offsets)
    return metrics_from_hits(hits, np.diff(np.asarray(rel_offsets, dtype=np.int64)), k)


def recall_plain(
    top_items: npt.ArrayLike, rel_items: npt.ArrayLike, rel_offsets: npt.ArrayLike, k: int
) -> npt.NDArray[np.float64]:
    """(n_users,) float64 hits in the first ``k`` / ``|R_u|`` (0 for users with no
    relevant item): the textbook recall, which cannot reach 1 when ``|R_u| > k``.

    Parameters are those of :func:`ranking_metrics`.
    """
    k = check_k(k)
    hits = hit_matrix(top_items, rel_items, rel_offsets)[:, :k]
    n_rel = np.diff(np.asarray(rel_offsets, dtype=np.int64))
    return np.where(n_rel > 0, hits.sum(axis=1) / np.maximum(n_rel, 1), 0.0)


def coverage(top_items: npt.ArrayLike, k: int, n_catalogue: int) -> float:
    """Catalogue coverage: distinct items in the first ``k`` columns (``-1`` ignored) /
    ``n_catalogue``.

    Parameters
    ----------
    top_items : (n_users, width) int
        Ranked item codes, ``-1``-padded.
    k : int
        Cut-off, ``>= 1``.
    n_catalogue : int
        Number of items that could have been recommended, ``>= 1``.

    Returns
    -------
    float
        In ``[0, 1]`` when ``top_items`` holds catalogue items only.
    """
    k = check_k(k)
    if n_catalogue < 1:
        raise ValueError(f"n_catalogue={n_catalogue} is invalid; the catalogue is empty")
    top = _as_top(top_items)[:, :k]
    return float(np.unique(top[top >= 0]).size / n_catalogue)
