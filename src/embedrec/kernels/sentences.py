"""The per-sentence steps every shard driver takes (:mod:`.train`, :mod:`.eges`).

A driver walks its shard sentence by sentence: it sizes one scratch buffer for the longest
sentence, sets the sentence's learning rate on the shard's linear segment, keeps the tokens
that survive subsampling (shuffled for a basket), then visits every kept position with a
window whose half-width is drawn per center.
"""

import numpy as np
from numba import njit

from .rng import S32, rng_below, rng_next

#: a ``keep_u32`` threshold meaning "always kept" (P(keep) = 1 is 2**32, past any 32 bits)
ALWAYS = np.uint64(1) << np.uint64(32)


@njit(cache=True, nogil=True)
def longest_sentence(offsets, s_begin, s_end):
    """Tokens in the longest of sentences ``s_begin..s_end`` (0 for none)."""
    max_len = 0
    for s in range(s_begin, s_end):
        ln = offsets[s + 1] - offsets[s]
        if ln > max_len:
            max_len = ln
    return max_len


@njit(cache=True, nogil=True, inline="always")
def sentence_lr(alpha_begin, alpha_end, raw_done, raw_total):
    """The float32 learning rate after ``raw_done`` of the shard's ``raw_total`` raw tokens:
    linear from ``alpha_begin`` to ``alpha_end``."""
    frac = raw_done / raw_total if raw_total > 0 else 0.0
    return np.float32(alpha_begin + (alpha_end - alpha_begin) * frac)


@njit(cache=True, nogil=True)
def subsample_sentence(tokens, start, stop, keep_u32, state, buf):
    """Copy the kept tokens of ``tokens[start:stop]`` into ``buf``; return how many.

    A token ``w`` is kept when 32 random bits fall below ``keep_u32[w]`` (P(keep) * 2**32).
    """
    n = 0
    for t in range(start, stop):
        w = tokens[t]
        k = keep_u32[w]
        if k >= ALWAYS or (rng_next(state) >> S32) < k:
            buf[n] = w
            n += 1
    return n


@njit(cache=True, nogil=True)
def shuffle_prefix(buf, n, state):
    """Fisher-Yates shuffle of ``buf[:n]`` in place."""
    for i in range(n - 1, 0, -1):
        j = rng_below(state, i + 1)
        t = buf[i]
        buf[i] = buf[j]
        buf[j] = t


@njit(cache=True, nogil=True, inline="always")
def draw_window(window, shrink_windows, state):
    """The half-width of one center's window: ``window``, or with ``shrink_windows`` uniform
    in ``1..window`` (word2vec.c's dynamic window, which weighs near words more)."""
    if shrink_windows:
        return window - rng_below(state, window)
    return window
