"""Sampling kernels: Walker/Vose alias tables and word2vec's subsampling thresholds."""

import numpy as np
from numba import njit

from .rng import LOW32, S32, rng_next


@njit(cache=True, nogil=True)
def build_alias(weights):
    """Vose's alias method for a non-negative weight vector.

    Returns ``(prob float64[n], alias int32[n])``: draw column ``i`` uniformly, keep it with
    probability ``prob[i]``, else take ``alias[i]``. P(i) = weights[i] / weights.sum().
    """
    n = weights.shape[0]
    total = 0.0
    for i in range(n):
        total += weights[i]
    prob = np.empty(n, dtype=np.float64)
    alias = np.arange(n).astype(np.int32)
    scaled = np.empty(n, dtype=np.float64)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        scaled[i] = weights[i] * n / total
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1
    # leftovers are 1 up to rounding
    for i in range(nl):
        prob[large[i]] = 1.0
    for i in range(ns):
        prob[small[i]] = 1.0
    return prob, alias


@njit(cache=True, nogil=True, inline="always")
def alias_draw(prob_u32, alias, state):
    """One draw from an alias table whose probabilities are scaled to ``uint32`` thresholds.

    A single 64-bit random number supplies both the column (high 32 bits, multiply-shift)
    and the coin (low 32 bits).
    """
    r = rng_next(state)
    n = np.uint64(alias.shape[0])
    col = np.int64(((r >> S32) * n) >> S32)
    if (r & LOW32) < prob_u32[col]:
        return col
    return np.int64(alias[col])


@njit(cache=True, nogil=True, inline="always")
def alias_draw_segment(prob_u32, alias, lo, n, state):
    """One draw from the alias table stored in ``prob_u32[lo:lo + n]`` / ``alias[lo:lo + n]``
    (its columns numbered ``0..n-1``, as :func:`build_segment_alias` stores them); returns
    the column in ``0..n-1``. The arithmetic of :func:`alias_draw`."""
    r = rng_next(state)
    col = np.int64(((r >> S32) * np.uint64(n)) >> S32)
    if (r & LOW32) < prob_u32[lo + col]:
        return col
    return np.int64(alias[lo + col])


@njit(cache=True, nogil=True)
def build_segment_alias(weights, offsets):
    """One alias table per segment ``weights[offsets[g]:offsets[g + 1]]``, stored side by side.

    Returns ``(prob float64[n], alias int32[n])`` where segment ``g``'s entries are
    :func:`build_alias` of its weights (alias columns local to the segment). A segment whose
    weights are all zero gets the uniform table.
    """
    n = weights.shape[0]
    prob = np.ones(n, dtype=np.float64)
    alias = np.zeros(n, dtype=np.int32)
    for g in range(offsets.shape[0] - 1):
        lo = offsets[g]
        hi = offsets[g + 1]
        if hi <= lo:
            continue
        seg = weights[lo:hi].copy()
        if seg.sum() <= 0.0:
            seg[:] = 1.0
        p, a = build_alias(seg)
        prob[lo:hi] = p
        alias[lo:hi] = a
    return prob, alias


def alias_thresholds(prob: np.ndarray) -> np.ndarray:
    """Scale alias keep-probabilities in [0, 1] to uint64 thresholds against 32 random bits."""
    return np.minimum(np.round(prob * 2.0**32), 2.0**32).astype(np.uint64)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """word2vec.c / gensim subsampling: P(keep w) = (sqrt(f/t) + 1) * t/f, capped at 1.

    ``f`` is the word count and ``t = sample * total``. ``sample=0`` keeps everything.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0 or counts.size == 0:
        return np.ones(counts.shape, dtype=np.float64)
    t = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(counts / t) + 1.0) * (t / counts)
    p[~np.isfinite(p)] = 1.0
    return np.minimum(p, 1.0)


@njit(cache=True, nogil=True)
def alias_sample(prob_u32, alias, state, n):
    """``n`` independent draws from an alias table (see :func:`alias_draw`), as int64."""
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = alias_draw(prob_u32, alias, state)
    return out
