"""A learned re-ranking of :class:`~embedrec.models.session_embed.SessionEmbed`'s candidates.

The mixture ``g P_repeat + (1 - g) P_explore`` is a sound probability model, but its parts
are calibrated one by one, and the best trade-off between re-clicks and new items for the
*ranking* differs from data set to data set. The re-ranker takes the mixture's top
``N_CANDIDATES`` items of each prefix and orders them by a linear score of a few features
of the candidate and the prefix, fitted as a conditional logit (the softmax over a prefix's
candidates, i.e. the likelihood of the clicked one among them; McFadden 1974), on held-out
*training* sessions only. The features:

===================  ==================================================================
``log_mixture``      log of the mixture probability (weight 1 alone = the mixture's order)
``log_explore``      log of the explore probability (0 for session items)
``in_session``       the candidate is already in the session
``log_repeat``       log of its repeat probability (session items)
``gate``             the re-click gate's logit, for session items
``is_last``          the candidate is the latest click
``log_count``        log(1 + its clicks in the session)
``log_rules``        log(1 + the latest click's sequential-rule weight to it)
``popularity``       log(1 + its training clicks) / log(1 + the top item's)
``log_knn_new``      for items not in the session: ``log(v / max v + 0.001)``, ``v`` the
                     votes of the prefix's neighbour sessions found through session
                     vectors (:class:`~embedrec.models.session_vknn.SessionVectorKNN`)
``log_knn_session``  the same for the session's own items
===================  ==================================================================

The neighbour votes enter through their log and separately for new and session items; the
raw votes in one feature gave nothing (benchmarks/README.md, "Session-based
recommendation").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: candidates re-ranked per prefix (the rest keep the mixture's order, below them)
N_CANDIDATES = 50
FEATURES = (
    "log_mixture",
    "log_explore",
    "in_session",
    "log_repeat",
    "gate",
    "is_last",
    "log_count",
    "log_rules",
    "popularity",
    "log_knn_new",
    "log_knn_session",
)
#: the features of re-rankers saved before the neighbour votes (their weights are 0)
LEGACY_FEATURES = 9
_EPS = 1e-9


def candidates(mix: npt.NDArray[np.float32], c: int = N_CANDIDATES) -> npt.NDArray[np.int64]:
    """The ``min(c, n_items)`` highest-scoring columns of each row (unordered)."""
    c = min(c, mix.shape[1])
    if c == mix.shape[1]:
        return np.broadcast_to(np.arange(c, dtype=np.int64), mix.shape).copy()
    return np.argpartition(-mix, c - 1, axis=1)[:, :c].astype(np.int64)


def features(parts: Any, mix: npt.NDArray[np.float32], cand: npt.NDArray[np.int64]) -> Any:
    """``(n, C, len(FEATURES))`` float64 features of the candidates ``cand``."""
    rows = np.arange(cand.shape[0])[:, None]
    counts = parts.counts[rows, cand].astype(np.float64)
    inside = (counts > 0).astype(np.float64)
    beta = np.clip(parts.beta.astype(np.float64), 1e-6, 1 - 1e-6)
    gate = np.log(beta / (1.0 - beta))[:, None]
    pop = parts.item_counts.astype(np.float64)
    f = np.empty((*cand.shape, len(FEATURES)))
    f[..., 0] = np.log(mix[rows, cand].astype(np.float64) + _EPS)
    f[..., 1] = np.log(parts.explore[rows, cand].astype(np.float64) + _EPS) * (1.0 - inside)
    f[..., 2] = inside
    f[..., 3] = np.log(parts.repeat[rows, cand].astype(np.float64) + _EPS) * inside
    f[..., 4] = gate * inside
    f[..., 5] = cand == parts.last[:, None]
    f[..., 6] = np.log1p(counts)
    f[..., 7] = np.log1p(parts.trans[rows, cand].astype(np.float64))
    f[..., 8] = np.log1p(pop[cand]) / max(np.log1p(pop.max()), _EPS)
    knn = getattr(parts, "knn", None)
    if knn is None:
        f[..., 9:11] = 0.0
    else:
        top = np.maximum(knn.max(axis=1, keepdims=True).astype(np.float64), _EPS)
        votes = np.log(knn[rows, cand].astype(np.float64) / top + 1e-3)
        f[..., 9] = votes * (1.0 - inside)
        f[..., 10] = votes * inside
    return f


class Reranker:
    """Linear scores of :data:`FEATURES`, fitted by Newton steps on the conditional logit
    with a ridge pull towards the mixture's own order (weight 1 on ``log_mixture``)."""

    def __init__(self, ridge: float = 1.0, steps: int = 30) -> None:
        self.ridge = ridge
        self.steps = steps
        self.weights_ = np.zeros(len(FEATURES))
        self.weights_[0] = 1.0

    def fit(self, f: npt.NDArray[np.float64], target: npt.NDArray[np.int64]) -> Reranker:
        """``f``: (n, C, d) features; ``target``: the clicked candidate's column (rows whose
        click is not among the candidates are left out)."""
        keep = target >= 0
        f, target = f[keep], target[keep]
        prior = self.weights_.copy()
        w = prior.copy()
        d = w.size
        if target.size == 0:
            return self
        for _ in range(self.steps):
            s = f @ w
            s -= s.max(axis=1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=1, keepdims=True)
            mean = np.einsum("nc,ncd->nd", p, f)
            chosen = f[np.arange(target.size), target]
            grad = (chosen - mean).sum(axis=0) - self.ridge * (w - prior)
            centred = f - mean[:, None, :]
            hess = np.einsum("nc,ncd,nce->de", p, centred, centred) + self.ridge * np.eye(d)
            step = np.linalg.solve(hess, grad)
            w += step
            if np.abs(step).max() < 1e-7:
                break
        self.weights_ = w
        return self

    def rescore(self, parts: Any, mix: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores whose row order puts the candidates first, in the learned order, and the
        other items after them in the mixture's order."""
        cand = candidates(mix)
        s = features(parts, mix, cand) @ self.weights_
        s -= s.max(axis=1, keepdims=True)
        out = mix.astype(np.float32, copy=True)  # probabilities: all <= 1
        rows = np.arange(cand.shape[0])[:, None]
        out[rows, cand] = (1.0 + np.exp(s)).astype(np.float32)  # in (1, 2]
        return out
