"""The skip-gram window kernel: one center predicted from each word of its window.

Mikolov et al. 2013 (eq. 4 for negative sampling): every context word ``c`` of the window is
an input row scored against the center's output rows (the center with label 1 and its noise
draws with label 0, or its Huffman path). ``share_mode`` says how the window's pairs use
those rows (:data:`embedrec.kernels.SHARE_NONE` / ``SHARE_BATCH`` / ``SHARE_SEQUENTIAL``).
"""

from numba import njit

from . import SHARE_BATCH, SHARE_NONE
from .sgns import apply_rows, batch_update, fill_targets, pair_update, remap_private


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def skipgram_window(
    w_in, w_out, center, ctx, n_in, tables, use_hs, negative, share_mode, priv, lr, state, bufs
):
    """Train ``center`` against its ``n_in`` context rows ``ctx[:n_in]``; returns the loss.

    ``SHARE_NONE`` draws the output rows for every pair and updates pair after pair (exact
    word2vec.c/gensim order); ``SHARE_BATCH`` draws them once and updates the window's pairs
    as one mini-batch, ``W_out[rows] += G^T W_in[ctx]`` with ``G = lr (labels - sigmoid(W_in[ctx]
    W_out[rows]^T))`` (Ji et al. 2016); ``SHARE_SEQUENTIAL`` draws them once and updates pair
    after pair, so each pair sees the previous pair's update as in word2vec.c.

    ``tables`` is ``(keep_u32, neg_prob_u32, neg_alias, codes, points, code_lens, sig, logsig)``
    (``keep_u32`` unused here), ``priv`` the private-row block ``(lo, hi, base)`` (see
    :func:`.sgns.remap_private`), ``bufs`` the scratch ``(out_rows, labels, g_buf, grad_buf)``.
    """
    _, neg_prob_u32, neg_alias, codes, points, code_lens, sig_table, logsig_table = tables
    out_rows, labels, g_buf, grad_buf = bufs
    priv_lo, priv_hi, priv_base = priv
    loss = 0.0
    n_out = 0
    # one draw of output rows per center when shared, else per pair
    for c in range(n_in):
        if c == 0 or share_mode == SHARE_NONE:
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
        if share_mode == SHARE_BATCH:
            break
        loss += pair_update(
            w_in,
            w_out,
            ctx[c],
            out_rows,
            labels,
            n_out,
            lr,
            sig_table,
            logsig_table,
            g_buf[0],
            grad_buf[0],
        )
    if share_mode == SHARE_BATCH:
        loss += batch_update(
            w_in,
            w_out,
            ctx,
            n_in,
            out_rows,
            labels,
            n_out,
            lr,
            sig_table,
            logsig_table,
            g_buf,
            grad_buf,
        )
        apply_rows(w_in, ctx, n_in, grad_buf)
    return loss
