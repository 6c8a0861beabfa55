"""``P(the next click re-clicks an item of the session | the session so far)``.

A logistic regression on features of the prefix that need no embedding, fitted on every
prefix of the training sessions (the label: the next item is already in the prefix). It is
the "mode" classifier of RepeatNet (Ren et al. AAAI 2019) with counted features instead of
a network:

- the prefix length (buckets 1, 2, 3, 4, 5-9, 10+, one-hot);
- whether the prefix already holds a re-click, and its share of distinct items;
- whether the last two clicks are the same item (runs of re-clicks);
- ``log(1 + seconds)`` between the last two clicks (a quick click after a slow one);
- how often the latest click's item was re-clicked in training, as a smoothed logit (some
  items are clicked again and again, e.g. a product compared with others).

Fitted by a few Newton (IRLS) steps with a small ridge penalty; a handful of weights, so
held-out data is not needed to keep it honest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..data.interactions import Sequences

#: prefix-length bucket edges: lengths 1, 2, 3, 4, 5-9, 10+
LENGTH_EDGES = np.array([2, 3, 4, 5, 10])
N_FEATURES = 1 + LENGTH_EDGES.size + 5


@dataclass(frozen=True)
class PrefixStats:
    """Per-prefix facts the gate reads (one entry per prefix)."""

    length: npt.NDArray[np.int64]
    has_repeat: npt.NDArray[np.bool_]
    n_distinct: npt.NDArray[np.int64]
    last: npt.NDArray[np.int64]
    last_is_dup: npt.NDArray[np.bool_]
    gap: npt.NDArray[np.float64]


def _is_repeat(owner: npt.NDArray[np.int64], items: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Whether each event's item occurred earlier in the same group (events in order)."""
    order = np.lexsort((np.arange(items.size), items, owner))
    o, it = owner[order], items[order]
    rep = np.zeros(items.size, dtype=bool)
    rep[order[1:]] = (o[1:] == o[:-1]) & (it[1:] == it[:-1])
    return rep


def prefix_stats(prefixes: Sequences) -> PrefixStats:
    """The gate's facts of each prefix (empty prefixes: length 0)."""
    n = len(prefixes)
    lengths = prefixes.lengths()
    owner = np.repeat(np.arange(n), lengths)
    items = prefixes.items.astype(np.int64)
    rep = _is_repeat(owner, items)
    n_rep = np.bincount(owner[rep], minlength=n)
    ends = prefixes.offsets[1:] - 1
    has = lengths > 0
    two = lengths > 1
    last = np.full(n, -1, dtype=np.int64)
    last[has] = items[ends[has]]
    dup = np.zeros(n, dtype=bool)
    dup[two] = items[ends[two]] == items[ends[two] - 1]
    gap = np.zeros(n)
    gap[two] = prefixes.times[ends[two]] - prefixes.times[ends[two] - 1]
    return PrefixStats(lengths, n_rep > 0, lengths - n_rep, last, dup, gap)


def training_prefixes(sessions: Sequences) -> tuple[PrefixStats, npt.NDArray[np.bool_]]:
    """The facts of every prefix of every training session (``e_0..e_{j-1}`` for each event
    ``j >= 1``) and whether its next item is a re-click, computed in one pass over events."""
    lengths = sessions.lengths()
    owner = np.repeat(np.arange(len(sessions)), lengths)
    items = sessions.items.astype(np.int64)
    pos = np.arange(items.size) - np.repeat(sessions.offsets[:-1], lengths)
    rep = _is_repeat(owner, items)
    target = np.flatnonzero(pos >= 1)  # the event each prefix predicts
    # re-clicks among the prefix's events: a session's first event never is one, so the
    # inclusive running count at the session start is the count before the session
    crep = np.cumsum(rep)
    start = np.repeat(sessions.offsets[:-1], lengths)[target]
    before: npt.NDArray[np.int64] = crep[target - 1] - crep[start]
    j = pos[target]
    prev = target - 1
    dup = np.zeros(target.size, dtype=bool)
    deep = j >= 2
    dup[deep] = items[prev[deep]] == items[prev[deep] - 1]
    gap = np.zeros(target.size)
    gap[deep] = sessions.times[prev[deep]] - sessions.times[prev[deep] - 1]
    stats = PrefixStats(j, np.asarray(before > 0), j - before, items[prev], dup, gap)
    return stats, rep[target]


def design(stats: PrefixStats, item_logit: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The ``(n_prefixes, N_FEATURES)`` design matrix of the gate."""
    n = stats.length.size
    x = np.zeros((n, N_FEATURES))
    x[:, 0] = 1.0
    bucket = np.searchsorted(LENGTH_EDGES, stats.length, side="right")
    rows = np.flatnonzero(bucket > 0)
    x[rows, bucket[rows]] = 1.0
    c = 1 + LENGTH_EDGES.size
    x[:, c] = stats.has_repeat
    x[:, c + 1] = stats.n_distinct / np.maximum(stats.length, 1)
    x[:, c + 2] = stats.last_is_dup
    x[:, c + 3] = np.log1p(np.clip(stats.gap, 0.0, None))
    known = stats.last >= 0
    x[known, c + 4] = item_logit[stats.last[known]]
    return x


class RepeatGate:
    """The fitted gate: :meth:`fit` on training sessions, :meth:`predict` per prefix."""

    def __init__(self, ridge: float = 1.0, steps: int = 25) -> None:
        self.ridge = ridge
        self.steps = steps

    def fit(self, sessions: Sequences, n_items: int) -> RepeatGate:
        stats, y = training_prefixes(sessions)
        # per item: how often a prefix ending in it was followed by a re-click (smoothed)
        hits = np.bincount(stats.last, weights=y, minlength=n_items)
        tries = np.bincount(stats.last, minlength=n_items)
        prior = (y.sum() + 1.0) / (y.size + 2.0)
        rate = (hits + 10.0 * prior) / (tries + 10.0)
        self.item_logit_ = np.log(rate / (1.0 - rate))
        x = design(stats, self.item_logit_)
        w = np.zeros(N_FEATURES)
        if y.size:
            w[0] = np.log(prior / (1.0 - prior))
            for _ in range(self.steps):
                p = 1.0 / (1.0 + np.exp(-(x @ w)))
                grad = x.T @ (p - y) + self.ridge * w * (np.arange(N_FEATURES) > 0)
                h = (x * (p * (1 - p))[:, None]).T @ x + self.ridge * np.eye(N_FEATURES)
                step = np.linalg.solve(h, grad)
                w -= step
                if np.abs(step).max() < 1e-8:
                    break
        self.weights_ = w
        return self

    def predict(self, prefixes: Sequences) -> npt.NDArray[np.float64]:
        """``P(re-click)`` of each prefix (0 for an empty one)."""
        stats = prefix_stats(prefixes)
        p = 1.0 / (1.0 + np.exp(-(design(stats, self.item_logit_) @ self.weights_)))
        return np.where(stats.length > 0, p, 0.0)
