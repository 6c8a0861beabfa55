"""Plain-Python twins of the session-kNN kernels (``embedrec.kernels.session_knn``).

Written for clarity, not speed: sessions are lists and sets, every prefix is scored on its
own, and each rule is spelled out as in session-rec's description (SKNN ``ContextKNN``,
V-SKNN ``VMContextKNN``, STAN, V-STAN ``VSKNN_STAN``), with the choices documented in
:mod:`embedrec.models.session_knn` (true cosine, corrected ``linear`` weights, the last three
reminders, ``now`` = the prefix's last time clamped to the newest neighbour candidate).

Sums over the prefix's items run in the order of the items' last positions, as in the kernel,
so that equal similarities stay exactly equal on both sides and ties resolve alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAY = 86400.0


@dataclass
class RefIndex:
    lists: list[list[int]]  # each training session, in order, repeats kept
    sets: list[set[int]]
    last_time: list[float]
    item_sessions: dict[int, set[int]]
    idf: dict[int, float]


def build_ref_index(sessions: list[list[int]], times: list[list[float]]) -> RefIndex:
    item_sessions: dict[int, set[int]] = {}
    events: dict[int, int] = {}
    for s, items in enumerate(sessions):
        for i in items:
            item_sessions.setdefault(i, set()).add(s)
            events[i] = events.get(i, 0) + 1
    n = sum(1 for items in sessions if items)
    return RefIndex(
        lists=[list(x) for x in sessions],
        sets=[set(x) for x in sessions],
        last_time=[max(t) if t else -math.inf for t in times],
        item_sessions=item_sessions,
        idf={i: math.log(n / c) for i, c in events.items()},
    )


def _distinct_by_last(prefix: list[int]) -> list[int]:
    """Distinct prefix items, ordered by their last position (oldest first)."""
    last = {i: p for p, i in enumerate(prefix)}
    return sorted(last, key=last.__getitem__)


def _candidates(ix: RefIndex, prefix: list[int], sample_size: int) -> list[int]:
    cand: set[int] = set()
    for i in prefix:
        cand |= ix.item_sessions.get(i, set())
    out = sorted(cand)
    if sample_size and len(out) > sample_size:
        out = sorted(out, key=lambda s: (-ix.last_time[s], s))[:sample_size]
    return out


def _top_k(sims: dict[int, float], k: int) -> list[tuple[int, float]]:
    pos = [(s, v) for s, v in sims.items() if v > 0]
    return sorted(pos, key=lambda sv: (-sv[1], sv[0]))[:k]


def position_weight(kind: str, c: int, length: int) -> float:
    if kind == "div":
        return c / length
    if kind == "linear":
        return max(0.0, 1.0 - 0.1 * (length - c))
    if kind == "quadratic":
        return (c / length) ** 2
    if kind == "log":
        return 1.0 / math.log10(length - c + 1.7)
    return 1.0


def score_decay(kind: str, step: int) -> float:
    if kind == "div":
        return 1.0 / step
    if kind == "linear":
        return max(0.0, 1.0 - 0.1 * step)
    if kind == "quadratic":
        return 1.0 / step**2
    if kind == "log":
        return 1.0 / math.log10(step + 1.7)
    return 1.0


def sknn_ref(
    ix: RefIndex,
    prefix: list[int],
    n_items: int,
    *,
    k: int,
    sample_size: int,
    similarity: str = "jaccard",
    remind: bool = False,
) -> np.ndarray:
    """SKNN: set similarity, every neighbour adds its similarity to each of its items."""
    scores = np.zeros(n_items)
    if not prefix:
        return scores
    s_set = set(prefix)
    sims = {}
    for s in _candidates(ix, prefix, sample_size):
        n_set = ix.sets[s]
        common = float(len(s_set & n_set))
        if similarity == "jaccard":
            sims[s] = common / (len(s_set) + len(n_set) - common)
        else:  # the true cosine, in the kernel's arithmetic
            sims[s] = common / (math.sqrt(float(len(s_set))) * math.sqrt(len(n_set)))
    for s, sim in _top_k(sims, k):
        for i in ix.sets[s]:
            scores[i] += sim
    if remind:
        last = prefix[-3:]
        for c, i in enumerate(last, start=1):
            scores[i] = (scores[i] + 5.0) * 5.0 + c / 100.0
    return scores


def vsknn_ref(
    ix: RefIndex,
    prefix: list[int],
    n_items: int,
    *,
    k: int,
    sample_size: int,
    similarity: str = "vec",
    weighting: str = "div",
    weighting_score: str = "div",
    idf_weighting: float = 0.0,
    remind: bool = True,
    push_reminders: bool = False,
    add_reminders: bool = False,
) -> np.ndarray:
    """V-SKNN: position-weighted similarity, votes decayed by the last shared item's step."""
    scores = np.zeros(n_items)
    if not prefix:
        return scores
    length = len(prefix)
    w: dict[int, float] = {}
    for c, i in enumerate(prefix, start=1):
        w[i] = position_weight(weighting, c, length)  # the last occurrence wins
    order = _distinct_by_last(prefix)
    norm = math.sqrt(sum(w[i] * w[i] for i in order))
    sims = {}
    for s in _candidates(ix, prefix, sample_size):
        acc = 0.0
        for i in order:
            if i in ix.sets[s]:
                acc += w[i]
        if similarity == "vec":
            sims[s] = acc / len(order)
        else:
            sims[s] = acc / (norm * math.sqrt(len(ix.sets[s]))) if norm > 0 else 0.0
    for s, sim in _top_k(sims, k):
        step = next(d for d, i in enumerate(reversed(prefix), start=1) if i in ix.sets[s])
        v = sim * score_decay(weighting_score, step)
        for i in ix.sets[s]:
            if not remind and i in w:
                continue
            scores[i] += v * (1.0 + idf_weighting * ix.idf[i]) if idf_weighting > 0 else v
    if push_reminders:
        for i in order:
            scores[i] *= prefix.count(i) + 1
    if add_reminders and n_items > 16:
        cut = np.sort(scores)[::-1][16]
        recent = [i for i in reversed(order) if scores[i] > 0][:3]
        for i in recent:
            if scores[i] < cut:
                scores[i] = cut + 1e-4
    return scores


def stan_ref(
    ix: RefIndex,
    prefix: list[int],
    prefix_times: list[float],
    n_items: int,
    *,
    k: int,
    sample_size: int,
    lambda_spw: float,
    lambda_snh: float,
    lambda_inh: float,
    lambda_ipw: float = 0.0,
    lambda_idf: float = 0.0,
    remind: bool = True,
) -> np.ndarray:
    """STAN (``lambda_ipw = lambda_idf = 0``) and V-STAN; ``lambda_snh`` in days."""
    scores = np.zeros(n_items)
    if not prefix:
        return scores
    length = len(prefix)
    w: dict[int, float] = {}
    for c, i in enumerate(prefix, start=1):
        w[i] = float(np.exp((c - length) / lambda_spw))
    order = _distinct_by_last(prefix)
    norm = math.sqrt(sum(w[i] * w[i] for i in order))
    cands = _candidates(ix, prefix, sample_size)
    now = max([prefix_times[-1]] + [ix.last_time[s] for s in cands])
    sims = {}
    for s in cands:
        acc = 0.0
        for i in order:
            if i in ix.sets[s]:
                acc += w[i]
        recency = float(np.exp(-(now - ix.last_time[s]) / (lambda_snh * DAY)))
        sims[s] = acc / (norm * math.sqrt(len(ix.sets[s]))) * recency
    for s, sim in _top_k(sims, k):
        lst = ix.lists[s]
        last_pos = {i: p for p, i in enumerate(lst, start=1)}
        p_star = max(p for p, i in enumerate(lst, start=1) if i in w)
        v = sim
        if lambda_ipw > 0:
            q = max(c for c, i in enumerate(prefix, start=1) if i in ix.sets[s])
            v *= float(np.exp((q - length) / lambda_ipw))
        for i, p in last_pos.items():
            if not remind and i in w:
                continue
            x = v * float(np.exp(-abs(p - p_star) / lambda_inh))
            if lambda_idf > 0:
                x *= 1.0 + lambda_idf * ix.idf[i]
            scores[i] += x
    return scores
