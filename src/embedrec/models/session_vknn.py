"""Neighbour sessions found through session vectors: an embedding session-kNN.

The kNN baselines (:mod:`.session_knn`) find neighbour sessions by shared items. Here a
session is a point in the item-embedding space instead, and its neighbours are the nearest
training sessions in an :mod:`embedrec.index` index, so sessions that share no item but
similar ones still vote:

- a training session's vector is the sum of the unit vectors of its distinct items;
- a prefix's vector is the recency-weighted sum of its clicks' unit vectors (weights
  halving every ``half_life`` positions back from the latest click);
- the ``k`` training sessions with the highest cosine to the prefix vote for their items, as
  in V-SKNN: ``score(j) = sum over neighbours n holding j of max(cos(q, n), 0) ** power``.

On its own it ranks below V-SKNN on YOOCHOOSE, so it is not a user-facing model: it is a
part of :class:`~embedrec.models.session_embed.SessionEmbed`, whose re-ranker reads its
scores (figures in benchmarks/README.md, "Session-based recommendation").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sps

from ..data.interactions import Sequences
from ..vectors import Embeddings


def unit_rows(vectors: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """Rows scaled to length 1 (zero rows stay zero)."""
    v = np.asarray(vectors, dtype=np.float32)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = v / np.maximum(norm, np.float32(1e-12))
    return out


def session_items(sessions: Sequences, n_items: int) -> Any:
    """``(n_sessions, n_items)`` CSR float32 matrix: 1 where the session holds the item."""
    owner = np.repeat(np.arange(len(sessions)), sessions.lengths())
    m = sps.csr_array(
        (np.ones(sessions.items.size, dtype=np.float32), (owner, sessions.items.astype(np.int64))),
        shape=(len(sessions), n_items),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


class SessionVectorKNN:
    """Neighbour sessions by the cosine of session vectors (see the module docstring).

    Parameters
    ----------
    k : neighbour sessions that vote
    power : exponent of the cosine in a vote (higher: the nearest neighbours dominate)
    index : kind of :func:`embedrec.index.registry.build_index` that finds the neighbours
        (``"exact"``; ``"hnsw"`` and the other faiss kinds need ``embedrec[faiss]``)

    Examples
    --------
    >>> from embedrec.models.session_base import as_sessions
    >>> train = as_sessions([["a", "b"], ["c", "d"]])
    >>> vectors = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> knn = SessionVectorKNN(k=1).fit(train, vectors)
    >>> prefix = Sequences(np.array([0], dtype=np.int32), np.array([0, 1]),
    ...                    np.zeros(1, dtype=np.int32), train.item_keys, np.zeros(1))
    >>> (knn.score(prefix, half_life=1.0)[0] > 0).tolist()
    [True, True, False, False]
    """

    def __init__(self, k: int = 50, power: float = 4.0, index: str = "exact") -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k={k!r} is invalid; use an int >= 1")
        if not np.isfinite(power) or power <= 0:
            raise ValueError(f"power={power!r} is invalid; use a finite power > 0")
        self.k = k
        self.power = float(power)
        self.index = index

    def fit(
        self, sessions: Sequences, item_vectors: npt.NDArray[np.floating[Any]]
    ) -> SessionVectorKNN:
        """Index the sessions' vectors.

        Parameters
        ----------
        sessions : Sequences
            Training sessions, codes into the rows of ``item_vectors``.
        item_vectors : (n_items, dim) float
            Item vectors (only their direction counts).
        """
        return self.from_matrix(session_items(sessions, item_vectors.shape[0]), item_vectors)

    def from_matrix(
        self, session_items_csr: Any, item_vectors: npt.NDArray[np.floating[Any]]
    ) -> SessionVectorKNN:
        """Index the sessions of a :func:`session_items` matrix (what a saved model keeps).

        Raises
        ------
        ValueError
            The matrix has not one column per row of ``item_vectors`` (both shapes named).
        """
        n_items = item_vectors.shape[0]
        if session_items_csr.shape[1] != n_items:
            raise ValueError(
                f"session_items has shape {session_items_csr.shape} but item_vectors "
                f"{item_vectors.shape}; they need one column per item vector"
            )
        self.unit_ = unit_rows(item_vectors)
        vectors = np.asarray(session_items_csr @ self.unit_, dtype=np.float32)
        # sessions whose items have no vector cannot be found: leave them out of the index
        keep = np.linalg.norm(vectors, axis=1) > 1e-6
        self.session_items_ = sps.csr_array(session_items_csr, dtype=np.float32)
        self.rows_ = np.flatnonzero(keep)
        self.index_ = None
        if self.rows_.size:
            emb = Embeddings(self.rows_.tolist(), vectors[keep], metric="cosine")
            from ..index.registry import build_index  # lazily: importing embedrec builds none

            self.index_ = build_index(emb, self.index)
        return self

    def score(self, prefixes: Sequences, half_life: float) -> npt.NDArray[np.float32]:
        """``(n_prefixes, n_items)`` float32 votes of each prefix's neighbour sessions (0
        for empty prefixes and prefixes without a vector)."""
        n, n_items = len(prefixes), self.unit_.shape[0]
        out = np.zeros((n, n_items), dtype=np.float32)
        if n == 0 or self.index_ is None:
            return out
        lengths = prefixes.lengths()
        owner = np.repeat(np.arange(n), lengths)
        back = (prefixes.offsets[1:][owner] - 1 - np.arange(prefixes.items.size)).astype(np.float64)
        w = np.exp2(-back / half_life).astype(np.float32)
        q = np.zeros((n, self.unit_.shape[1]), dtype=np.float32)
        np.add.at(q, owner, w[:, None] * self.unit_[prefixes.items])
        has = np.flatnonzero(np.linalg.norm(q, axis=1) > 1e-6)
        if has.size == 0:
            return out
        k = min(self.k, self.rows_.size)
        nb = self.index_.search(q[has], k=k)
        found = np.asarray(nb.keys, dtype=np.int64).reshape(has.size, k)
        sims = np.asarray(nb.scores, dtype=np.float64).reshape(has.size, k)
        ok = (found >= 0) & np.isfinite(sims)
        votes = np.where(ok, np.clip(sims, 0.0, None), 0.0) ** self.power
        weights = sps.csr_array(
            (votes[ok], (np.repeat(np.arange(has.size), k)[ok.ravel()], found[ok])),
            shape=(has.size, self.session_items_.shape[0]),
        )
        out[has] = (weights @ self.session_items_).toarray()
        return out
