"""The CBOW kernel: each center of a sentence predicted from the mean (or sum) of its context.

Mikolov et al. 2013: the hidden row ``h`` is the mean (``cbow_mean``) or the sum of the
window's input vectors, scored against the center's output rows; each context word then gets
the hidden row's whole gradient, for the mean as in word2vec.c and gensim, and for the sum
(where it is the exact gradient).
"""

import numpy as np
from numba import njit

from .sentences import draw_window
from .sgns import apply_rows_same, batch_update, fill_targets, remap_private


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def cbow_sentence(
    w_in,
    w_out,
    buf,
    n,
    window,
    shrink_windows,
    whole,
    cbow_mean,
    use_hs,
    negative,
    neg_prob_u32,
    neg_alias,
    codes,
    points,
    code_lens,
    sig_table,
    logsig_table,
    priv_lo,
    priv_hi,
    priv_base,
    lr,
    state,
    ctx,
    out_rows,
    labels,
    g_buf,
    grad_buf,
    hidden,
    zero_row,
):
    """Train every center of the kept sentence ``buf[:n]``; returns (loss, examples).

    For center ``i`` with context rows ``c`` (window as :func:`.skipgram.skipgram_sentence`):
    ``h = sum_c w_in[c]`` (divided by their number with ``cbow_mean``); ``g_o = lr (label_o -
    sigmoid(h . w_out[o]))``; ``w_out[o] += g_o h``; ``w_in[c] += sum_o g_o w_out[o]`` for every
    context word ``c``. ``examples`` counts the centers. The other arguments as
    :func:`.skipgram.skipgram_sentence`; ``hidden`` is (1, dim) scratch and ``zero_row``
    ``[0]``. Inlined into :func:`.train.train_shard` like the skip-gram kernel.
    """
    dim = w_in.shape[1]
    loss = 0.0
    examples = 0
    for i in range(n):
        b = n if whole else draw_window(window, shrink_windows, state)
        lo = max(0, i - b)
        hi = min(n, i + b + 1)
        n_in = 0
        for j in range(lo, hi):
            if j != i:
                ctx[n_in] = buf[j]
                n_in += 1
        if n_in == 0:
            continue
        center = buf[i]
        for d in range(dim):
            hidden[0, d] = 0.0
        for c in range(n_in):
            r = ctx[c]
            for d in range(dim):
                hidden[0, d] += w_in[r, d]
        if cbow_mean:
            inv = np.float32(1.0) / np.float32(n_in)
            for d in range(dim):
                hidden[0, d] *= inv
        n_out = fill_targets(
            center,
            use_hs,
            negative,
            neg_prob_u32,
            neg_alias,
            codes,
            points,
            code_lens,
            state,
            out_rows,
            labels,
        )
        if priv_hi > priv_lo:
            remap_private(out_rows, n_out, priv_lo, priv_hi, priv_base)
        loss += batch_update(
            hidden,
            w_out,
            zero_row,
            1,
            out_rows,
            labels,
            n_out,
            lr,
            sig_table,
            logsig_table,
            g_buf,
            grad_buf,
        )
        apply_rows_same(w_in, ctx, n_in, grad_buf)
        examples += 1
    return loss, examples
