"""The skip-gram kernel: each center of a sentence predicted from each word of its window.

Mikolov et al. 2013 (eq. 4 for negative sampling): every context word ``c`` of the window is
an input row scored against the center's output rows (the center with label 1 and its noise
draws with label 0, or its Huffman path). ``share_mode`` says how the window's pairs use
those rows (:data:`embedrec.kernels.SHARE_NONE` / ``SHARE_BATCH`` / ``SHARE_SEQUENTIAL``).
"""

from numba import njit

from . import SHARE_BATCH, SHARE_NONE
from .sentences import draw_window
from .sgns import apply_rows, batch_update, fill_targets, pair_update, remap_private


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def skipgram_sentence(
    w_in,
    w_out,
    buf,
    n,
    window,
    shrink_windows,
    whole,
    use_hs,
    negative,
    neg_prob_u32,
    neg_alias,
    codes,
    points,
    code_lens,
    sig_table,
    logsig_table,
    share_mode,
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
):
    """Train every center of the kept sentence ``buf[:n]``; returns (loss, examples).

    Center ``i`` sees the words within ``b`` positions: ``b = window``, drawn in ``1..window``
    with ``shrink_windows``, or the whole sentence with ``whole`` (a small basket). Its
    context rows are scored against its output rows according to ``share_mode``:
    ``SHARE_NONE`` draws the output rows for every pair and updates pair after pair (exact
    word2vec.c/gensim order); ``SHARE_BATCH`` draws them once and updates the window's pairs
    as one mini-batch, ``W_out[rows] += G^T W_in[ctx]`` with ``G = lr (labels -
    sigmoid(W_in[ctx] W_out[rows]^T))`` (Ji et al. 2016); ``SHARE_SEQUENTIAL`` draws them once
    and updates pair after pair, so each pair sees the previous pair's update as in
    word2vec.c. ``examples`` counts the (center, context) pairs.

    The targets come from :func:`.sgns.fill_targets` (its tables), output rows in
    ``[priv_lo, priv_hi)`` go to the private block at ``priv_base``
    (:func:`.sgns.remap_private`); ``ctx``, ``out_rows``, ``labels``, ``g_buf``, ``grad_buf``
    are scratch. The kernel runs a whole sentence, not one center, and numba inlines it into
    :func:`.train.train_shard` (``inline="always"``): every array argument of a numba call
    costs two reference-count updates, too many to pay per center (a per-center kernel
    measured 25-50% slower), and the call itself, once per sentence, still cost Item2Vec
    about 6% with two workers (benchmarks/README.md, "Engine refactor").
    """
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
        examples += n_in
    return loss, examples
