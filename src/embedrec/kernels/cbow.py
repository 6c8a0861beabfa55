"""The CBOW window kernel: one center predicted from the mean (or sum) of its context.

Mikolov et al. 2013: the hidden row ``h`` is the mean (``cbow_mean``) or the sum of the
window's input vectors, scored against the center's output rows; each context word then gets
the hidden row's whole gradient, for the mean as in word2vec.c and gensim, and for the sum
(where it is the exact gradient).
"""

import numpy as np
from numba import njit

from .sgns import apply_rows_same, batch_update, fill_targets, remap_private


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def cbow_window(
    w_in, w_out, center, ctx, n_in, cbow_mean, tables, use_hs, negative, priv, lr, state, bufs
):
    """Train ``center`` from its ``n_in`` context rows ``ctx[:n_in]``; returns the loss.

    ``h = sum_c w_in[c]`` (divided by ``n_in`` with ``cbow_mean``); ``g_o = lr (label_o -
    sigmoid(h . w_out[o]))``; ``w_out[o] += g_o h``; ``w_in[c] += sum_o g_o w_out[o]`` for every
    context word ``c``. ``tables``, ``priv`` as :func:`.skipgram.skipgram_window`; ``bufs`` is
    ``(out_rows, labels, g_buf, grad_buf, hidden, zero_row)``.
    """
    _, neg_prob_u32, neg_alias, codes, points, code_lens, sig_table, logsig_table = tables
    out_rows, labels, g_buf, grad_buf, hidden, zero_row = bufs
    priv_lo, priv_hi, priv_base = priv
    dim = w_in.shape[1]
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
    loss = batch_update(
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
    return loss
