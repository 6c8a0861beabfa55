"""The rank of each prefix's clicked item under ``SessionEmbed``'s mixture, in one pass over
the catalogue (:class:`embedrec.models.session_embed.SessionEmbed`).

Calibration scores a grid of scoring values on tens of thousands of held-out predictions
(:meth:`SessionEmbed._grid_metrics`). In NumPy each grid point builds the blended explore
distribution, the mixture and two comparison masks as ``(n, n_items)`` temporaries; here
each prefix's row is read once and the mixture value of each item is computed on the fly,
with the same float32 operations in the same order as NumPy's (``_blend``, ``_mix``), so the
ranks are the ones :func:`~embedrec.models.session_embed.target_ranks` gives (equal scores
rank the lower code first). Rows run in parallel (``prange``); each row is one thread's, so
the result does not depend on the number of threads.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, parallel=True)
def mixture_ranks(
    soft, beta, repeat, rule_row, rule_weights, rule_totals, keep, share, targets, out
):
    """Fill ``out[i]`` with the rank of ``targets[i]`` (0 where it is ``-1``) under
    ``beta[i] repeat[i] + (1 - beta[i]) explore[i]``, where ``explore[i] = soft[i]``, or
    ``keep soft[i] + share rule_weights[u] / rule_totals[u]`` for ``u = rule_row[i] >= 0``.

    ``soft``, ``repeat`` ``(n, n_items)`` float32; ``beta`` ``(n,)`` float32; ``rule_row``
    ``(n,)`` int64; ``rule_weights`` ``(n_rules, n_items)`` and ``rule_totals``
    ``(n_rules,)`` float32; ``keep = float32(1 - gamma)``, ``share = float32(gamma)``;
    ``targets`` ``(n,)`` int64; ``out`` ``(n,)`` int64.
    """
    n, n_items = soft.shape
    one = np.float32(1.0)
    for i in prange(n):
        t = targets[i]
        if t < 0:
            out[i] = 0
            continue
        b = beta[i]
        rest = one - b
        u = rule_row[i]
        e = soft[i, t]
        if u >= 0:
            e = keep * e + (share * rule_weights[u, t]) / rule_totals[u]
        own = b * repeat[i, t] + rest * e
        rank = 1
        for j in range(n_items):
            e = soft[i, j]
            if u >= 0:
                e = keep * e + (share * rule_weights[u, j]) / rule_totals[u]
            v = b * repeat[i, j] + rest * e
            if v > own or (v == own and j < t):
                rank += 1
        out[i] = rank
